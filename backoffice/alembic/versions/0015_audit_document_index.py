"""The audit log's rows of a stock document, by an index of only those rows (the audit search
page and a number's timeline ask for them).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_document",
        "audit_entry",
        ["document_id", "id"],
        postgresql_where=sa.text("document_id IS NOT NULL"),
        sqlite_where=sa.text("document_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_document", table_name="audit_entry")
