"""Settlement: what is not booked yet, stored so that a month's run reads it in one pass.

`settlement_pending` holds each sale line's sale and return that no run has booked;
triggers on sale_line add them (a line inserted, a line's returned_at set) and the run
that books them removes them, so that a run never reads the sales it booked before. The
backfill adds every sale and return of an existing database that has no entry yet.
`settlement_version` counts the changes to what each dealer's statements are computed from,
and a statement keeps the count it was computed at (`basis`), so that a rerun recomputes
only the drafts that can have moved. Indexes for the run's other reads: a dealer's sales by
time, the returned lines, and the entries booked late.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One statement-level trigger per INSERT or UPDATE on PostgreSQL (the counter writes its
# lines with COPY), reading the statement's rows from its transition tables.
_PG_FUNCTION = """
CREATE FUNCTION sale_line_to_settle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO settlement_pending (line_id, kind)
        SELECT id, 'sale' FROM new_lines
        UNION ALL
        SELECT id, 'return' FROM new_lines WHERE returned_at IS NOT NULL
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO settlement_pending (line_id, kind)
        SELECT n.id, 'return' FROM new_lines n JOIN old_lines o ON o.id = n.id
        WHERE o.returned_at IS NULL AND n.returned_at IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER sale_line_settle_insert AFTER INSERT ON sale_line "
    "REFERENCING NEW TABLE AS new_lines "
    "FOR EACH STATEMENT EXECUTE FUNCTION sale_line_to_settle()",
    "CREATE TRIGGER sale_line_settle_return AFTER UPDATE ON sale_line "
    "REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines "
    "FOR EACH STATEMENT EXECUTE FUNCTION sale_line_to_settle()",
)
_SQLITE_TRIGGERS = (
    """
CREATE TRIGGER sale_line_settle_insert AFTER INSERT ON sale_line
BEGIN
    INSERT OR IGNORE INTO settlement_pending (line_id, kind) VALUES (NEW.id, 'sale');
    INSERT OR IGNORE INTO settlement_pending (line_id, kind)
    SELECT NEW.id, 'return' WHERE NEW.returned_at IS NOT NULL;
END
""",
    """
CREATE TRIGGER sale_line_settle_return AFTER UPDATE OF returned_at ON sale_line
WHEN OLD.returned_at IS NULL AND NEW.returned_at IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO settlement_pending (line_id, kind) VALUES (NEW.id, 'return');
END
""",
)
_BACKFILL = """
INSERT INTO settlement_pending (line_id, kind)
SELECT l.id, 'sale' FROM sale_line l
WHERE NOT EXISTS (
    SELECT 1 FROM dealer_account_entry e WHERE e.source_key = 'sale:' || CAST(l.id AS VARCHAR)
)
UNION ALL
SELECT l.id, 'return' FROM sale_line l
WHERE l.returned_at IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM dealer_account_entry e WHERE e.source_key = 'return:' || CAST(l.id AS VARCHAR)
)
"""


def upgrade() -> None:
    op.create_table(
        "settlement_pending",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("line_id", "kind"),
    )
    op.create_table(
        "settlement_version",
        sa.Column("dealer_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealer.id"]),
        sa.PrimaryKeyConstraint("dealer_id"),
    )
    # Existing statements have none: their next run recomputes them.
    op.add_column("settlement_statement", sa.Column("basis", sa.String(length=96), nullable=True))
    op.create_index("ix_sale_dealer_time", "sale", ["dealer_id", "sold_at"])
    op.create_index(
        "ix_sale_line_returned",
        "sale_line",
        ["returned_at"],
        postgresql_where=sa.text("returned_at IS NOT NULL"),
        sqlite_where=sa.text("returned_at IS NOT NULL"),
    )
    op.create_index(
        "ix_account_late",
        "dealer_account_entry",
        ["booked_on"],
        postgresql_where=sa.text("late"),
        sqlite_where=sa.text("late"),
    )
    # The triggers first: creating them locks sale_line against writes until the migration
    # commits, so the backfill sees every line there will be without a trigger.
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in (_PG_FUNCTION, *_PG_TRIGGERS) if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute(_BACKFILL)
    if postgresql:
        op.execute("ANALYZE settlement_pending")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER sale_line_settle_return ON sale_line")
        op.execute("DROP TRIGGER sale_line_settle_insert ON sale_line")
        op.execute("DROP FUNCTION sale_line_to_settle()")
    else:
        op.execute("DROP TRIGGER sale_line_settle_return")
        op.execute("DROP TRIGGER sale_line_settle_insert")
    op.drop_index("ix_account_late", table_name="dealer_account_entry")
    op.drop_index("ix_sale_line_returned", table_name="sale_line")
    op.drop_index("ix_sale_dealer_time", table_name="sale")
    with op.batch_alter_table("settlement_statement") as batch_op:
        batch_op.drop_column("basis")
    op.drop_table("settlement_version")
    op.drop_table("settlement_pending")
