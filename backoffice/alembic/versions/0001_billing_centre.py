"""Billing centre: users, audit log, grading, numbers, SIM cards, top-up cards, documents.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.domain.billing import DEFAULT_GRADES, DEFAULT_RULES

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_entry_no_{op} BEFORE {op} ON audit_entry
BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END
"""
_APPEND_ONLY_PG_FUNCTION = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END $$
"""
_APPEND_ONLY_PG_TRIGGER = """
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()
"""


def _make_audit_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG_FUNCTION)
        op.execute(_APPEND_ONLY_PG_TRIGGER)
    else:
        for statement in ("UPDATE", "DELETE"):
            op.execute(_APPEND_ONLY_SQLITE.format(op=statement))


def _seed_grading() -> None:
    grades = sa.table(
        "number_grade",
        sa.column("code"),
        sa.column("name"),
        sa.column("rank"),
        sa.column("selection_fee_fen"),
        sa.column("prestore_fen"),
        sa.column("min_monthly_fen"),
        sa.column("lockin_months"),
    )
    op.bulk_insert(grades, [g.__dict__ for g in DEFAULT_GRADES])
    rules = sa.table(
        "grading_rule",
        sa.column("position"),
        sa.column("name"),
        sa.column("pattern"),
        sa.column("grade_code"),
        sa.column("active"),
    )
    op.bulk_insert(
        rules,
        [
            {
                "position": i,
                "name": r.name,
                "pattern": r.pattern,
                "grade_code": r.grade_code,
                "active": True,
            }
            for i, r in enumerate(DEFAULT_RULES, start=1)
        ],
    )


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "document_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "day"),
    )
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("accepted_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("errors_json", sa.Text(), nullable=False),
        sa.Column("rejected_csv", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "number_batch",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("first_msisdn", sa.String(length=11), nullable=False),
        sa.Column("last_msisdn", sa.String(length=11), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("release_document_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "number_grade",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("selection_fee_fen", sa.Integer(), nullable=False),
        sa.Column("prestore_fen", sa.Integer(), nullable=False),
        sa.Column("min_monthly_fen", sa.Integer(), nullable=False),
        sa.Column("lockin_months", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "sim_batch",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "stock_document",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=17), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "voucher_batch",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("face_value_fen", sa.Integer(), nullable=False),
        sa.Column("dealer_price_fen", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("first_serial", sa.String(length=17), nullable=False),
        sa.Column("last_serial", sa.String(length=17), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("release_document_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "grading_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pattern", sa.String(length=64), nullable=False),
        sa.Column("grade_code", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grade_code"],
            ["number_grade.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grading_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grading_rule_position"), ["position"], unique=False)

    op.create_table(
        "mobile_number",
        sa.Column("msisdn", sa.String(length=11), nullable=False),
        sa.Column("msisdn_rev", sa.String(length=11), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("grade_code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_from", sa.String(length=16), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["number_batch.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grade_code"],
            ["number_grade.code"],
        ),
        sa.PrimaryKeyConstraint("msisdn"),
        sa.UniqueConstraint("iccid"),
    )
    with op.batch_alter_table("mobile_number", schema=None) as batch_op:
        batch_op.create_index("ix_number_batch", ["batch_id"], unique=False)
        batch_op.create_index("ix_number_rev", ["msisdn_rev"], unique=False)
        batch_op.create_index(
            "ix_number_status_grade", ["status", "grade_code", "msisdn"], unique=False
        )

    op.create_table(
        "sim_card",
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("msisdn", sa.String(length=11), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["sim_batch.id"],
        ),
        sa.PrimaryKeyConstraint("iccid"),
        sa.UniqueConstraint("imsi"),
        sa.UniqueConstraint("msisdn"),
    )
    with op.batch_alter_table("sim_card", schema=None) as batch_op:
        batch_op.create_index("ix_sim_batch", ["batch_id"], unique=False)

    op.create_table(
        "stock_document_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("first_item", sa.String(length=20), nullable=False),
        sa.Column("last_item", sa.String(length=20), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["stock_document.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stock_document_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_document_line_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "voucher",
        sa.Column("serial", sa.String(length=17), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("face_value_fen", sa.Integer(), nullable=False),
        sa.Column("pin_cipher", sa.String(length=96), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_from", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["voucher_batch.id"],
        ),
        sa.PrimaryKeyConstraint("serial"),
    )
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.create_index("ix_voucher_batch", ["batch_id"], unique=False)
        batch_op.create_index("ix_voucher_status", ["status"], unique=False)

    _make_audit_append_only()
    _seed_grading()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_status")
        batch_op.drop_index("ix_voucher_batch")

    op.drop_table("voucher")
    with op.batch_alter_table("stock_document_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_document_line_document_id"))

    op.drop_table("stock_document_line")
    with op.batch_alter_table("sim_card", schema=None) as batch_op:
        batch_op.drop_index("ix_sim_batch")

    op.drop_table("sim_card")
    with op.batch_alter_table("mobile_number", schema=None) as batch_op:
        batch_op.drop_index("ix_number_status_grade")
        batch_op.drop_index("ix_number_rev")
        batch_op.drop_index("ix_number_batch")

    op.drop_table("mobile_number")
    with op.batch_alter_table("grading_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grading_rule_position"))

    op.drop_table("grading_rule")
    op.drop_table("voucher_batch")
    op.drop_table("stock_document")
    op.drop_table("sim_batch")
    op.drop_table("number_grade")
    op.drop_table("number_batch")
    op.drop_table("import_job")
    op.drop_table("document_counter")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entity")

    op.drop_table("audit_entry")
    op.drop_table("app_user")
