"""Background jobs with their progress and result (imports, releases, regrades).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_params_json", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("params_json", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("payload_name", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(120), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("result_link", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_params_json", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("runner", sa.String(120), nullable=True),
        sa.Column("created_by", sa.String(96), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_job_state", "job", ["state", "created_at"])
    op.create_index("ix_job_created_by", "job", ["created_by", "created_at"])


def downgrade() -> None:
    op.drop_table("job")
