"""mail engine: errors, handled replies, one email per step, custom fields

Revision ID: 2d5cf9f3da36
Revises: 4a0ed8505b66
Create Date: 2026-11-24 04:31:08.126868
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2d5cf9f3da36"
down_revision: str | Sequence[str] | None = "4a0ed8505b66"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_error", sa.Text(), server_default=sa.text("''"), nullable=False)
        )

    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_error", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_messages_direction_kind_received",
            ["direction", "inbound_kind", "received_at"],
            unique=False,
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_enrolment_id_step_id"), ["enrolment_id", "step_id"]
        )

    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "custom_fields",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_column("custom_fields")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_enrolment_id_step_id"), type_="unique")
        batch_op.drop_index("ix_messages_direction_kind_received")
        batch_op.drop_column("handled_at")

    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")

    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_column("last_error")
