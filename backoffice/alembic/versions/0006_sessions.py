"""Log-in limits, revocable sessions, user deactivation: each user's session epoch (raised to
end all of a user's tokens), the tokens revoked at log-out, and the rate-limit counters that
every office process shares.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backoffice.models.types import UTCDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as table:
        table.add_column(sa.Column("token_epoch", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "revoked_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_revoked_token_expires_at", "revoked_token", ["expires_at"])
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_rate_limit_counter_expires_at", "rate_limit_counter", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_counter_expires_at", table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
    op.drop_index("ix_revoked_token_expires_at", table_name="revoked_token")
    op.drop_table("revoked_token")
    with op.batch_alter_table("app_user") as table:
        table.drop_column("token_epoch")
