"""messages: a partial index on enrolment_id, created_at

Revision ID: 7c41d2e9a8b3
Revises: 21b4ad9d6681
Create Date: 2026-11-24 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c41d2e9a8b3"
down_revision: str | Sequence[str] | None = "21b4ad9d6681"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENROLLED = sa.text("enrolment_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_enrolment_created",
            ["enrolment_id", "created_at"],
            unique=False,
            sqlite_where=ENROLLED,
            postgresql_where=ENROLLED,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_enrolment_created")
