"""trigram index for prospect search on postgresql

Revision ID: 4a0ed8505b66
Revises: f5a3ffcc4567
Create Date: 2026-11-24 03:29:43.671972
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4a0ed8505b66"
down_revision: str | Sequence[str] | None = "f5a3ffcc4567"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEX = "ix_pg_prospects_search_trgm"


def upgrade() -> None:
    """On PostgreSQL, let the search box's LIKE '%word%' use a trigram index.

    pg_trgm is a trusted extension, but a locked-down server may still refuse it: then search
    keeps working by scanning, and this migration changes nothing.
    """
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return
    op.execute(f"CREATE INDEX {INDEX} ON prospects USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
