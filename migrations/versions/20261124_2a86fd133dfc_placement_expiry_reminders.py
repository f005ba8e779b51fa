"""placement expiry reminders

Revision ID: 2a86fd133dfc
Revises: 2d5cf9f3da36
Create Date: 2026-11-24 05:34:26.603431
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2a86fd133dfc"
down_revision: str | Sequence[str] | None = "2d5cf9f3da36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reminders_sent",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_column("reminders_sent")
