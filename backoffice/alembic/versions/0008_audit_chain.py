"""A tamper-evident audit log: a hash chain over the rows.

Each audit row gets a sequence number `seq` and `hash` = SHA-256(previous hash ‖ canonical
content) from the sealer (services/audit.py), which chains committed rows in id order after
they are written, so concurrent writers never wait for each other; the rows already written
are sealed here. The triggers change with it:

- UPDATE is refused except the sealer's: seq and hash set once on an unsealed row, nothing
  else changed; DELETE stays refused, and on PostgreSQL TRUNCATE too (also on the two dealer
  ledgers, append-only since 0003);
- rows cannot be inserted already sealed;
- `at` is the database's: on PostgreSQL a trigger stamps every new row with the statement's
  time, whatever the writer sent; on SQLite (whose triggers cannot change a row) it defaults
  to the database's clock and a time more than five minutes off it is refused.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.services.audit import seal_pending

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEDGERS = ("dealer_account_entry", "dealer_ledger_entry")

# The audit row's content columns as of this revision (domain/audit.py's CONTENT then),
# spelled out: a column added later changes the triggers in its own migration, and this one
# must still build them on a database that does not have it yet.
_CONTENT = (
    "id",
    "at",
    "actor",
    "entity_type",
    "entity_id",
    "action",
    "from_status",
    "to_status",
    "item_count",
    "document_id",
    "reason",
)

_PG_NOW = "(statement_timestamp() AT TIME ZONE 'UTC')"


def _sealing(same: str) -> str:
    """The one UPDATE allowed: seq and hash set on an unsealed row, every other column
    unchanged (`same`: the database's null-safe equality)."""
    unchanged = " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in _CONTENT)
    return (
        "(OLD.seq IS NULL AND OLD.hash IS NULL AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL"
        f" AND {unchanged})"
    )


_PG_STAMP = f"""
CREATE FUNCTION audit_entry_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_entry is append-only: rows are written unsealed';
    END IF;
    NEW.at := {_PG_NOW};
    RETURN NEW;
END $$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER audit_entry_stamp BEFORE INSERT ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_stamp()",
    # The condition is evaluated by the executor, not in PL/pgSQL: sealing stays cheap.
    "CREATE TRIGGER audit_entry_seal_only BEFORE UPDATE ON audit_entry FOR EACH ROW "
    f"WHEN (NOT {_sealing('IS NOT DISTINCT FROM')}) EXECUTE FUNCTION audit_entry_append_only()",
    "CREATE TRIGGER audit_entry_append_only BEFORE DELETE OR TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        for table in _LEDGERS
    ),
)

# The format SQLAlchemy stores our timestamps in: microseconds, six digits.
_SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"
_SQLITE_TRIGGERS = (
    """
CREATE TRIGGER audit_entry_unsealed BEFORE INSERT ON audit_entry
WHEN NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: rows are written unsealed'); END
""",
    """
CREATE TRIGGER audit_entry_at BEFORE INSERT ON audit_entry
WHEN NEW.at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-5 minutes')
  OR NEW.at > strftime('%Y-%m-%d %H:%M:%f', 'now', '+5 minutes')
BEGIN SELECT RAISE(ABORT, 'audit_entry.at is the time of writing, by the database clock'); END
""",
    f"""
CREATE TRIGGER audit_entry_seal_only BEFORE UPDATE ON audit_entry
WHEN NOT {_sealing("IS")}
BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: a row can only be sealed, once'); END
""",
    """
CREATE TRIGGER audit_entry_no_DELETE BEFORE DELETE ON audit_entry
BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END
""",
)
_SQLITE_OLD_TRIGGERS = tuple(
    f"""
CREATE TRIGGER audit_entry_no_{statement} BEFORE {statement} ON audit_entry
BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END
"""
    for statement in ("UPDATE", "DELETE")
)


def _indexes() -> None:
    op.create_index("ix_audit_seq", "audit_entry", ["seq"], unique=True)
    op.create_index(
        "ix_audit_unsealed",
        "audit_entry",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # The statement-level trigger refused every UPDATE, the sealer's too.
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.add_column("audit_entry", sa.Column("seq", sa.BigInteger(), nullable=True))
        op.add_column("audit_entry", sa.Column("hash", sa.String(length=64), nullable=True))
        op.execute(f"ALTER TABLE audit_entry ALTER COLUMN at SET DEFAULT {_PG_NOW}")
        # Statistics on the new, empty columns: otherwise the sealer's reads scan the table.
        op.execute("ANALYZE audit_entry")
        # Every row gets a new version: building the index afresh is cheaper than updating it.
        op.drop_index("ix_audit_entity", table_name="audit_entry")
        seal_pending(bind)
        op.create_index("ix_audit_entity", "audit_entry", ["entity_type", "entity_id"])
        _indexes()
        # Again, now that every row is sealed: the sealer's plans rely on it.
        op.execute("ANALYZE audit_entry")
        for statement in (_PG_STAMP, *_PG_TRIGGERS):
            op.execute(statement)
        return
    for statement in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER audit_entry_no_{statement}")
    # SQLite changes a column's default only by copying the table.
    with op.batch_alter_table("audit_entry", schema=None, recreate="always") as batch_op:
        batch_op.alter_column("at", server_default=sa.text(_SQLITE_NOW))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    seal_pending(bind)
    _indexes()
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _LEDGERS:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        for trigger in ("append_only", "seal_only", "stamp"):
            op.execute(f"DROP TRIGGER audit_entry_{trigger} ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_stamp()")
        op.drop_index("ix_audit_unsealed", table_name="audit_entry")
        op.drop_index("ix_audit_seq", table_name="audit_entry")
        op.drop_column("audit_entry", "hash")
        op.drop_column("audit_entry", "seq")
        op.execute("ALTER TABLE audit_entry ALTER COLUMN at DROP DEFAULT")
        op.execute(
            "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
        )
        return
    for trigger in ("unsealed", "at", "seal_only", "no_DELETE"):
        op.execute(f"DROP TRIGGER audit_entry_{trigger}")
    op.drop_index("ix_audit_unsealed", table_name="audit_entry")
    op.drop_index("ix_audit_seq", table_name="audit_entry")
    with op.batch_alter_table("audit_entry", schema=None, recreate="always") as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("seq")
        batch_op.alter_column("at", server_default=None)
    for statement in _SQLITE_OLD_TRIGGERS:
        op.execute(statement)
