"""Prospect rollups on PostgreSQL counted per statement, not per row

Revision ID: 21b4ad9d6681
Revises: 10dbf2a27f0f
Create Date: 2026-11-24 12:00:00

A row trigger upserts one of a campaign's few prospect_tallies rows (campaign x owner x stage)
for every prospect written. Within one transaction PostgreSQL keeps each version of such a row,
and every upsert walks the versions before it: moving or importing N prospects in a transaction
cost O(N^2) (100k prospects moved at once took minutes, a 1,000-row import batch ~0.1 s). Statement
triggers with transition tables add each statement's net change once per key, in key order (so
two transactions lock the tally rows in the same order). SQLite updates rows in place and keeps
its row triggers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "21b4ad9d6681"
down_revision: str | Sequence[str] | None = "10dbf2a27f0f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADD_SHARES = (
    "INSERT INTO prospect_tallies (campaign_id, owner_id, stage, prospects) "
    "SELECT campaign_id, owner_id, stage, sum(share) FROM ({shares}) AS shares "
    "GROUP BY campaign_id, owner_id, stage HAVING sum(share) <> 0 "
    "ORDER BY campaign_id, owner_id, stage "
    "ON CONFLICT (campaign_id, owner_id, stage) "
    "DO UPDATE SET prospects = prospect_tallies.prospects + excluded.prospects"
)
TAKEN_BACK = (
    "SELECT campaign_id, COALESCE(owner_id, 0) AS owner_id, stage, -1 AS share FROM old_rows"
)
ADDED = "SELECT campaign_id, COALESCE(owner_id, 0) AS owner_id, stage, 1 AS share FROM new_rows"
# event: (transition tables, the rows whose shares count)
STATEMENT_TRIGGERS = {
    "insert": ("NEW TABLE AS new_rows", ADDED),
    "update": ("OLD TABLE AS old_rows NEW TABLE AS new_rows", f"{TAKEN_BACK} UNION ALL {ADDED}"),
    "delete": ("OLD TABLE AS old_rows", TAKEN_BACK),
}
ROW_UPSERT = (
    "INSERT INTO prospect_tallies (campaign_id, owner_id, stage, prospects) "
    "SELECT {row}.campaign_id, COALESCE({row}.owner_id, 0), {row}.stage, {sign} WHERE TRUE "
    "ON CONFLICT (campaign_id, owner_id, stage) "
    "DO UPDATE SET prospects = prospect_tallies.prospects + excluded.prospects"
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute("DROP TRIGGER prospects_rollup ON prospects")
    op.execute("DROP TRIGGER prospects_rollup_update ON prospects")
    op.execute("DROP FUNCTION prospects_rollup()")
    for event, (tables, shares) in STATEMENT_TRIGGERS.items():
        name = f"prospects_rollup_{event}"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"  {ADD_SHARES.format(shares=shares)};\n  RETURN NULL;\nEND\n$$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON prospects REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    if not _postgresql():
        return
    for event in STATEMENT_TRIGGERS:
        op.execute(f"DROP TRIGGER prospects_rollup_{event} ON prospects")
        op.execute(f"DROP FUNCTION prospects_rollup_{event}()")
    op.execute(
        "CREATE FUNCTION prospects_rollup() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"  IF TG_OP <> 'INSERT' THEN\n    {ROW_UPSERT.format(row='OLD', sign='-1')};\n  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n    {ROW_UPSERT.format(row='NEW', sign='1')};\n  END IF;\n"
        "  RETURN NULL;\nEND\n$$"
    )
    op.execute(
        "CREATE TRIGGER prospects_rollup AFTER INSERT OR DELETE ON prospects FOR EACH ROW "
        "EXECUTE FUNCTION prospects_rollup()"
    )
    op.execute(
        "CREATE TRIGGER prospects_rollup_update AFTER UPDATE ON prospects FOR EACH ROW "
        "WHEN ((OLD.stage, OLD.owner_id) IS DISTINCT FROM (NEW.stage, NEW.owner_id)) "
        "EXECUTE FUNCTION prospects_rollup()"
    )
