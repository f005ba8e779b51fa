"""Report rollups kept by triggers: link, anchor, prospect and spend tallies, value bands.

Revision ID: c858849638b7
Revises: 6f36e661003b
Create Date: 2026-11-24 08:33:23.902238

Triggers on placements, prospects and time_entries add each row's share to the tallies (see
outreach/reports/models.py), so that every write counts: the app's, bulk statements, cascades.
SQLite drops a table's triggers when batch mode recreates the table: a later migration that
recreates placements, prospects or time_entries must create them again. The test holding the
rollups to `reports.rollups.rebuild_rollups` fails when they are missing.
"""

# Every statement here is built from this file's own constants; no value comes from outside.
# ruff: noqa: S608

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c858849638b7"
down_revision: str | Sequence[str] | None = "6f36e661003b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_NOW = "status IN ('live', 'unknown') AND first_live_at IS NOT NULL"
# ValueModel.default()'s bands above DR 0, highest first: for campaigns without value_bands.
DEFAULT_BANDS = (60, 30)
# A placement's share changes only when one of these does.
PLACEMENT_KEYS = (
    "status",
    "first_live_at",
    "found_verdict",
    "found_anchor",
    "link_type",
    "paid",
    "value_override",
    "cost",
    "created_at",
    "owner_id",
    "domain_rating",
    "campaign_id",
    "prospect_id",
)
TIME_KEYS = ("campaign_id", "user_id", "logged_at", "minutes")
# name: (table, function or None) -- PostgreSQL triggers call functions of the same name.
SQLITE_TRIGGERS = (
    "placements_rollup_insert",
    "placements_rollup_update",
    "placements_rollup_delete",
    "prospects_rollup_insert",
    "prospects_rollup_update",
    "prospects_rollup_delete",
    "prospects_copy_to_placements",
    "prospects_days_insert",
    "prospects_days_update",
    "time_entries_rollup_insert",
    "time_entries_rollup_update",
    "time_entries_rollup_delete",
)
POSTGRESQL_TRIGGERS = (
    ("placements_copy_prospect", "placements"),
    ("placements_rollup", "placements"),
    ("placements_rollup_update", "placements"),
    ("prospects_days", "prospects"),
    ("prospects_rollup", "prospects"),
    ("prospects_rollup_update", "prospects"),
    ("prospects_copy_to_placements", "prospects"),
    ("time_entries_rollup", "time_entries"),
    ("time_entries_rollup_update", "time_entries"),
)
POSTGRESQL_FUNCTIONS = (
    "placements_copy_prospect",
    "placements_rollup",
    "prospects_days",
    "prospects_rollup",
    "prospects_copy_to_placements",
    "time_entries_rollup",
)


def _week(dialect: str, column: str) -> str:
    """The Monday of the UTC week a timestamp falls in."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', timezone('UTC', {column})) AS DATE)"
    return f"date({column}, 'weekday 0', '-6 days')"


def _days(dialect: str, row: str, end: str) -> str:
    """Days from contacted to `end`, when both are known and in that order."""
    span = (
        f"EXTRACT(EPOCH FROM ({row}.{end} - {row}.contacted_at)) / 86400.0"
        if dialect == "postgresql"
        else f"julianday({row}.{end}) - julianday({row}.contacted_at)"
    )
    return (
        f"CASE WHEN {row}.contacted_at IS NOT NULL AND {row}.{end} >= {row}.contacted_at "
        f"THEN {span} END"
    )


def _band(row: str) -> str:
    """The lowest DR of the band a link's rating falls in: the campaign's own bands (one starts
    at 0), else the default model's. No rating counts as the lowest band."""
    cases = " ".join(f"WHEN {row}.domain_rating >= {dr} THEN {dr}" for dr in DEFAULT_BANDS)
    return (
        "COALESCE((SELECT MAX(b.min_dr) FROM value_bands b "
        f"WHERE b.campaign_id = {row}.campaign_id "
        f"AND b.min_dr <= COALESCE({row}.domain_rating, 0)), CASE {cases} ELSE 0 END)"
    )


def _cents(amount: str) -> str:
    return f"CAST(ROUND({amount} * 100) AS BIGINT)"


def _upsert(table: str, keys: dict[str, str], adds: dict[str, str], where: str) -> str:
    columns = ", ".join([*keys, *adds])
    values = ", ".join([*keys.values(), *adds.values()])
    sets = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in adds)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {values} WHERE {where} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )


def _placement_shares(dialect: str, row: str, sign: str) -> list[str]:
    """A placement's share of every rollup, added (sign 1) or taken back (sign -1)."""
    live = f"{row}.status IN ('live', 'unknown') AND {row}.first_live_at IS NOT NULL"
    live_now = f"(CASE WHEN {live} THEN 1 ELSE 0 END)"
    overridden = f"(CASE WHEN {row}.value_override IS NULL THEN 0 ELSE 1 END)"
    override_cents = f"COALESCE({_cents(f'{row}.value_override')}, 0)"
    owner = f"COALESCE({row}.owner_id, 0)"
    campaign = f"{row}.campaign_id"
    return [
        _upsert(
            "link_tallies",
            {
                "campaign_id": campaign,
                "owner_id": owner,
                "link_type": f"{row}.link_type",
                "verdict": f"{row}.found_verdict",
                "paid": f"{row}.paid",
                "band": _band(row),
            },
            {
                "links": sign,
                "overridden": f"{sign} * {overridden}",
                "override_cents": f"{sign} * {override_cents}",
            },
            live,
        ),
        _upsert(
            "link_week_tallies",
            {
                "campaign_id": campaign,
                "week": _week(dialect, f"{row}.first_live_at"),
                "verdict": f"{row}.found_verdict",
                "band": _band(row),
            },
            {
                "ever_live": sign,
                "links": f"{sign} * {live_now}",
                "overridden": f"{sign} * {live_now} * {overridden}",
                "override_cents": f"{sign} * {live_now} * {override_cents}",
            },
            f"{row}.first_live_at IS NOT NULL",
        ),
        _upsert(
            "anchor_tallies",
            {"campaign_id": campaign, "anchor": f"{row}.found_anchor"},
            {"links": sign},
            live,
        ),
        f"UPDATE prospects SET live_links = live_links + {sign} "
        f"WHERE id = {row}.prospect_id AND {live}",
        _upsert(
            "spend_tallies",
            {
                "campaign_id": campaign,
                "week": _week(dialect, f"{row}.created_at"),
                "person_id": owner,
            },
            {"price_cents": f"{sign} * {_cents(f'{row}.cost')}", "minutes": "0"},
            f"{row}.cost IS NOT NULL",
        ),
    ]


def _prospect_shares(row: str, sign: str) -> list[str]:
    return [
        _upsert(
            "prospect_tallies",
            {
                "campaign_id": f"{row}.campaign_id",
                "owner_id": f"COALESCE({row}.owner_id, 0)",
                "stage": f"{row}.stage",
            },
            {"prospects": sign},
            "TRUE",
        )
    ]


def _time_shares(dialect: str, row: str, sign: str) -> list[str]:
    return [
        _upsert(
            "spend_tallies",
            {
                "campaign_id": f"{row}.campaign_id",
                "week": _week(dialect, f"{row}.logged_at"),
                "person_id": f"{row}.user_id",
            },
            {"price_cents": "0", "minutes": f"{sign} * {row}.minutes"},
            "TRUE",
        )
    ]


COPY_TO_PLACEMENTS = (
    "UPDATE placements SET owner_id = NEW.owner_id, domain_rating = NEW.domain_rating "
    "WHERE prospect_id = NEW.id"
)


def _changed(dialect: str, columns: Sequence[str]) -> str:
    if dialect == "postgresql":
        old = ", ".join(f"OLD.{name}" for name in columns)
        new = ", ".join(f"NEW.{name}" for name in columns)
        return f"({old}) IS DISTINCT FROM ({new})"
    return " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in columns)


def _sqlite_trigger(
    name: str, event: str, table: str, statements: list[str], when: str = ""
) -> str:
    condition = f" WHEN {when}" if when else ""
    body = "".join(f"  {statement};\n" for statement in statements)
    return f"CREATE TRIGGER {name} AFTER {event} ON {table}{condition}\nBEGIN\n{body}END"


def _sqlite_ddl() -> list[str]:
    days = (
        f"UPDATE prospects SET reply_days = {_days('sqlite', 'NEW', 'replied_at')}, "
        f"live_days = {_days('sqlite', 'NEW', 'linked_at')} WHERE id = NEW.id"
    )
    copy_from_prospect = (
        "UPDATE placements SET "
        "owner_id = (SELECT p.owner_id FROM prospects p WHERE p.id = NEW.prospect_id), "
        "domain_rating = (SELECT p.domain_rating FROM prospects p WHERE p.id = NEW.prospect_id) "
        "WHERE id = NEW.id"
    )
    return [
        # The share is added with the row as inserted, then moved by the update trigger when
        # the prospect's owner and rating are copied in.
        _sqlite_trigger(
            "placements_rollup_insert",
            "INSERT",
            "placements",
            [*_placement_shares("sqlite", "NEW", "1"), copy_from_prospect],
        ),
        _sqlite_trigger(
            "placements_rollup_update",
            "UPDATE",
            "placements",
            [*_placement_shares("sqlite", "OLD", "-1"), *_placement_shares("sqlite", "NEW", "1")],
            _changed("sqlite", PLACEMENT_KEYS),
        ),
        _sqlite_trigger(
            "placements_rollup_delete",
            "DELETE",
            "placements",
            _placement_shares("sqlite", "OLD", "-1"),
        ),
        _sqlite_trigger(
            "prospects_rollup_insert", "INSERT", "prospects", _prospect_shares("NEW", "1")
        ),
        # New prospects rarely come with first-reached times (an import never does).
        _sqlite_trigger(
            "prospects_days_insert", "INSERT", "prospects", [days], "NEW.contacted_at IS NOT NULL"
        ),
        _sqlite_trigger(
            "prospects_rollup_update",
            "UPDATE",
            "prospects",
            [*_prospect_shares("OLD", "-1"), *_prospect_shares("NEW", "1")],
            _changed("sqlite", ("stage", "owner_id")),
        ),
        _sqlite_trigger(
            "prospects_rollup_delete", "DELETE", "prospects", _prospect_shares("OLD", "-1")
        ),
        _sqlite_trigger(
            "prospects_copy_to_placements",
            "UPDATE",
            "prospects",
            [COPY_TO_PLACEMENTS],
            _changed("sqlite", ("owner_id", "domain_rating")),
        ),
        _sqlite_trigger(
            "prospects_days_update",
            "UPDATE",
            "prospects",
            [days],
            _changed("sqlite", ("contacted_at", "replied_at", "linked_at")),
        ),
        _sqlite_trigger(
            "time_entries_rollup_insert",
            "INSERT",
            "time_entries",
            _time_shares("sqlite", "NEW", "1"),
        ),
        _sqlite_trigger(
            "time_entries_rollup_update",
            "UPDATE",
            "time_entries",
            [*_time_shares("sqlite", "OLD", "-1"), *_time_shares("sqlite", "NEW", "1")],
            _changed("sqlite", TIME_KEYS),
        ),
        _sqlite_trigger(
            "time_entries_rollup_delete",
            "DELETE",
            "time_entries",
            _time_shares("sqlite", "OLD", "-1"),
        ),
    ]


def _plpgsql(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}END\n$$"


def _both_ways(shares: object) -> str:
    """The body of a row trigger taking back the old row's share and adding the new one's."""
    old = "".join(f"    {statement};\n" for statement in shares("OLD", "-1"))  # type: ignore[operator]
    new = "".join(f"    {statement};\n" for statement in shares("NEW", "1"))  # type: ignore[operator]
    return (
        f"  IF TG_OP <> 'INSERT' THEN\n{old}  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n{new}  END IF;\n  RETURN NULL;\n"
    )


def _postgresql_ddl() -> list[str]:
    def row_trigger(name: str, when: str, table: str, function: str, condition: str = "") -> str:
        clause = f" WHEN ({condition})" if condition else ""
        return (
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW{clause} "
            f"EXECUTE FUNCTION {function}()"
        )

    return [
        _plpgsql(
            "placements_copy_prospect",
            "  SELECT p.owner_id, p.domain_rating INTO NEW.owner_id, NEW.domain_rating\n"
            "    FROM prospects p WHERE p.id = NEW.prospect_id;\n  RETURN NEW;\n",
        ),
        row_trigger(
            "placements_copy_prospect", "BEFORE INSERT", "placements", "placements_copy_prospect"
        ),
        _plpgsql(
            "placements_rollup",
            _both_ways(lambda row, sign: _placement_shares("postgresql", row, sign)),
        ),
        row_trigger(
            "placements_rollup", "AFTER INSERT OR DELETE", "placements", "placements_rollup"
        ),
        row_trigger(
            "placements_rollup_update",
            "AFTER UPDATE",
            "placements",
            "placements_rollup",
            _changed("postgresql", PLACEMENT_KEYS),
        ),
        _plpgsql(
            "prospects_days",
            f"  NEW.reply_days := {_days('postgresql', 'NEW', 'replied_at')};\n"
            f"  NEW.live_days := {_days('postgresql', 'NEW', 'linked_at')};\n  RETURN NEW;\n",
        ),
        row_trigger(
            "prospects_days",
            "BEFORE INSERT OR UPDATE OF contacted_at, replied_at, linked_at",
            "prospects",
            "prospects_days",
        ),
        _plpgsql("prospects_rollup", _both_ways(_prospect_shares)),
        row_trigger("prospects_rollup", "AFTER INSERT OR DELETE", "prospects", "prospects_rollup"),
        row_trigger(
            "prospects_rollup_update",
            "AFTER UPDATE",
            "prospects",
            "prospects_rollup",
            _changed("postgresql", ("stage", "owner_id")),
        ),
        _plpgsql("prospects_copy_to_placements", f"  {COPY_TO_PLACEMENTS};\n  RETURN NULL;\n"),
        row_trigger(
            "prospects_copy_to_placements",
            "AFTER UPDATE",
            "prospects",
            "prospects_copy_to_placements",
            _changed("postgresql", ("owner_id", "domain_rating")),
        ),
        _plpgsql(
            "time_entries_rollup",
            _both_ways(lambda row, sign: _time_shares("postgresql", row, sign)),
        ),
        row_trigger(
            "time_entries_rollup", "AFTER INSERT OR DELETE", "time_entries", "time_entries_rollup"
        ),
        row_trigger(
            "time_entries_rollup_update",
            "AFTER UPDATE",
            "time_entries",
            "time_entries_rollup",
            _changed("postgresql", TIME_KEYS),
        ),
    ]


def _backfill(dialect: str) -> None:
    """The rollups of the rows already there, before the triggers keep them."""
    op.execute(
        "UPDATE placements SET "
        "owner_id = (SELECT p.owner_id FROM prospects p WHERE p.id = placements.prospect_id), "
        "domain_rating = "
        "(SELECT p.domain_rating FROM prospects p WHERE p.id = placements.prospect_id)"
    )
    connection = op.get_bind()
    bands = []
    for campaign_id, model in connection.execute(
        sa.text("SELECT id, value_model FROM campaigns WHERE value_model IS NOT NULL")
    ):
        settings = json.loads(model) if isinstance(model, str) else model
        bands += [
            {"campaign_id": campaign_id, "min_dr": int(band["min_dr"])}
            for band in (settings or {}).get("bands", [])
        ]
    if bands:
        connection.execute(
            sa.text("INSERT INTO value_bands (campaign_id, min_dr) VALUES (:campaign_id, :min_dr)"),
            bands,
        )
    op.execute(
        f"UPDATE prospects SET reply_days = {_days(dialect, 'prospects', 'replied_at')}, "
        f"live_days = {_days(dialect, 'prospects', 'linked_at')}, "
        "live_links = (SELECT COUNT(*) FROM placements pl "
        "WHERE pl.prospect_id = prospects.id "
        "AND pl.status IN ('live', 'unknown') AND pl.first_live_at IS NOT NULL)"
    )
    live = "pl.status IN ('live', 'unknown') AND pl.first_live_at IS NOT NULL"
    live_now = f"CASE WHEN {live} THEN 1 ELSE 0 END"
    overridden = "CASE WHEN pl.value_override IS NULL THEN 0 ELSE 1 END"
    override_cents = f"COALESCE({_cents('pl.value_override')}, 0)"
    banded = f"(SELECT pl.*, {_band('pl')} AS band FROM placements pl) pl"
    op.execute(
        "INSERT INTO link_tallies (campaign_id, owner_id, link_type, verdict, paid, band, "
        "links, overridden, override_cents) "
        "SELECT pl.campaign_id, COALESCE(pl.owner_id, 0), pl.link_type, pl.found_verdict, "
        f"pl.paid, pl.band, COUNT(*), SUM({overridden}), SUM({override_cents}) "
        f"FROM {banded} WHERE {live} "
        "GROUP BY pl.campaign_id, COALESCE(pl.owner_id, 0), pl.link_type, pl.found_verdict, "
        "pl.paid, pl.band"
    )
    first_live_week = _week(dialect, "pl.first_live_at")
    op.execute(
        "INSERT INTO link_week_tallies (campaign_id, week, verdict, band, ever_live, links, "
        "overridden, override_cents) "
        f"SELECT pl.campaign_id, {first_live_week}, pl.found_verdict, pl.band, COUNT(*), "
        f"SUM({live_now}), SUM(({live_now}) * ({overridden})), "
        f"SUM(({live_now}) * {override_cents}) "
        f"FROM {banded} WHERE pl.first_live_at IS NOT NULL "
        f"GROUP BY pl.campaign_id, {first_live_week}, pl.found_verdict, pl.band"
    )
    op.execute(
        "INSERT INTO anchor_tallies (campaign_id, anchor, links) "
        f"SELECT pl.campaign_id, pl.found_anchor, COUNT(*) FROM placements pl WHERE {live} "
        "GROUP BY pl.campaign_id, pl.found_anchor"
    )
    op.execute(
        "INSERT INTO prospect_tallies (campaign_id, owner_id, stage, prospects) "
        "SELECT campaign_id, COALESCE(owner_id, 0), stage, COUNT(*) FROM prospects "
        "GROUP BY campaign_id, COALESCE(owner_id, 0), stage"
    )
    agreed_week = _week(dialect, "pl.created_at")
    logged_week = _week(dialect, "t.logged_at")
    op.execute(
        "INSERT INTO spend_tallies (campaign_id, week, person_id, price_cents, minutes) "
        "SELECT campaign_id, week, person_id, SUM(price_cents), SUM(minutes) FROM ("
        f"SELECT pl.campaign_id, {agreed_week} AS week, COALESCE(pl.owner_id, 0) AS person_id, "
        f"{_cents('pl.cost')} AS price_cents, 0 AS minutes "
        "FROM placements pl WHERE pl.cost IS NOT NULL "
        f"UNION ALL SELECT t.campaign_id, {logged_week}, t.user_id, 0, t.minutes "
        "FROM time_entries t) spend GROUP BY campaign_id, week, person_id"
    )


def upgrade() -> None:
    op.create_table(
        "anchor_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.String(length=500), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_anchor_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "anchor", name=op.f("pk_anchor_tallies")),
    )
    op.create_table(
        "link_week_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("ever_live", sa.Integer(), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("overridden", sa.Integer(), nullable=False),
        sa.Column("override_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_link_week_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "week", "verdict", "band", name=op.f("pk_link_week_tallies")
        ),
    )
    op.create_table(
        "link_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("overridden", sa.Integer(), nullable=False),
        sa.Column("override_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_link_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id",
            "owner_id",
            "link_type",
            "verdict",
            "paid",
            "band",
            name=op.f("pk_link_tallies"),
        ),
    )
    op.create_table(
        "prospect_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("prospects", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_prospect_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "owner_id", "stage", name=op.f("pk_prospect_tallies")
        ),
    )
    op.create_table(
        "spend_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_spend_tallies_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "week", "person_id", name=op.f("pk_spend_tallies")),
    )
    op.create_table(
        "value_bands",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("min_dr", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_value_bands_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "min_dr", name=op.f("pk_value_bands")),
    )
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("domain_rating", sa.Integer(), nullable=True))
        batch_op.drop_index(
            batch_op.f("ix_placements_campaign_live"),
            sqlite_where=sa.text(LIVE_NOW),
            postgresql_where=sa.text(LIVE_NOW),
        )
        batch_op.create_index(
            "ix_placements_campaign_lost",
            ["campaign_id", "first_live_at", "lost_at"],
            unique=False,
            sqlite_where=sa.text("lost_at IS NOT NULL"),
            postgresql_where=sa.text("lost_at IS NOT NULL"),
        )

    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_days", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("live_days", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("live_links", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            "ix_prospects_campaign_live_days",
            ["campaign_id", "live_days"],
            unique=False,
            sqlite_where=sa.text("live_days IS NOT NULL"),
            postgresql_where=sa.text("live_days IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_prospects_campaign_live_links",
            ["campaign_id", "live_links"],
            unique=False,
            sqlite_where=sa.text("live_links > 0"),
            postgresql_where=sa.text("live_links > 0"),
        )
        batch_op.create_index(
            "ix_prospects_campaign_reply_days",
            ["campaign_id", "reply_days"],
            unique=False,
            sqlite_where=sa.text("reply_days IS NOT NULL"),
            postgresql_where=sa.text("reply_days IS NOT NULL"),
        )
    dialect = op.get_bind().dialect.name
    _backfill(dialect)
    for statement in _postgresql_ddl() if dialect == "postgresql" else _sqlite_ddl():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in POSTGRESQL_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for name in POSTGRESQL_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_prospects_campaign_reply_days",
            sqlite_where=sa.text("reply_days IS NOT NULL"),
            postgresql_where=sa.text("reply_days IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_prospects_campaign_live_links",
            sqlite_where=sa.text("live_links > 0"),
            postgresql_where=sa.text("live_links > 0"),
        )
        batch_op.drop_index(
            "ix_prospects_campaign_live_days",
            sqlite_where=sa.text("live_days IS NOT NULL"),
            postgresql_where=sa.text("live_days IS NOT NULL"),
        )
        batch_op.drop_column("live_links")
        batch_op.drop_column("live_days")
        batch_op.drop_column("reply_days")

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_placements_campaign_lost",
            sqlite_where=sa.text("lost_at IS NOT NULL"),
            postgresql_where=sa.text("lost_at IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_placements_campaign_live"),
            ["campaign_id", "link_type", "found_verdict", "paid", "prospect_id", "value_override"],
            unique=False,
            sqlite_where=sa.text(LIVE_NOW),
            postgresql_where=sa.text(LIVE_NOW),
        )
        batch_op.drop_column("domain_rating")
        batch_op.drop_column("owner_id")

    op.drop_table("value_bands")
    op.drop_table("spend_tallies")
    op.drop_table("prospect_tallies")
    op.drop_table("link_tallies")
    op.drop_table("link_week_tallies")
    op.drop_table("anchor_tallies")
