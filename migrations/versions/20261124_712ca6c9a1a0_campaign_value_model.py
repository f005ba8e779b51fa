"""campaign value model, when a link was lost

Revision ID: 712ca6c9a1a0
Revises: 2a86fd133dfc
Create Date: 2026-11-24 06:03:14.459403
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "712ca6c9a1a0"
down_revision: str | Sequence[str] | None = "2a86fd133dfc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "value_model",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_column("lost_at")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("value_model")
