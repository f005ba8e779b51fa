"""Benchmark: server time of a campaign's report at 100k prospects, 1M messages, 50k placements.

    .venv/bin/python bench/report.py
    .venv/bin/python bench/report.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

The data is written with bulk inserts (not through the services: that is not what is measured)
over a year: prospects at every stage with their stage history, a sequence's emails, replies
threaded to them, placements with a check each, cost and time entries. A second campaign of the
same size shares the tables, so no query gets away with reading all of them. Timed: the report
function, the JSON API and the report page through the app, each the median and the worst of
several runs after one warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prospects import drop_database, fresh_database, setup  # noqa: E402

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
START = NOW - timedelta(days=364)
CHUNK = 20_000


def chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk(
    engine: Any, table: Any, rows: Iterator[dict[str, Any]], rebuild_indexes: bool = False
) -> int:
    """Insert generated rows in one transaction: COPY on PostgreSQL (executemany there is
    several times slower, and a million messages would take most of the run), executemany on
    SQLite. Every row of a table names the same columns. With `rebuild_indexes` (big tables
    without triggers), PostgreSQL's plain indexes are dropped for the COPY and built again
    after it, in the same transaction: faster than growing them row by row once they no longer
    fit in shared_buffers, and the same indexes in the end."""
    import sqlalchemy as sa

    count = 0
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            rebuilt = plain_indexes(connection, table.name) if rebuild_indexes else []
            for name, _ in rebuilt:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
            count = copy_rows(connection, table, rows)
            for _, definition in rebuilt:
                connection.exec_driver_sql(definition)
            # As autovacuum would, later: the next steps' queries are planned on real numbers.
            connection.exec_driver_sql(f'ANALYZE "{table.name}"')
            return count
        for batch in chunks(rows):
            connection.execute(sa.insert(table), batch)
            count += len(batch)
    return count


def plain_indexes(connection: Any, table: str) -> list[tuple[str, str]]:
    """A PostgreSQL table's indexes that back no constraint and are not unique: name and
    definition."""
    return list(
        connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %(table)s "
            "AND indexdef NOT LIKE 'CREATE UNIQUE %%' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            {"table": table},
        ).tuples()
    )


def copy_rows(connection: Any, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    """COPY the rows, each value through its column type's bind processing, as an INSERT
    would send it, with the model's scalar defaults for the columns they leave out (COPY
    knows only server defaults)."""
    first = next(rows, None)
    if first is None:
        return 0
    defaults = {
        column.name: column.default.arg
        for column in table.c
        if column.name not in first and column.default is not None and column.default.is_scalar
    }
    names = [*first, *defaults]
    dialect = connection.dialect
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    count = 0
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in itertools.chain([first], rows):
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(
                        [{**defaults, **row}[name] for name in names], processors, strict=True
                    )
                ]
            )
            count += 1
    return count


def fill_campaign(
    engine: Any,
    campaign_id: int,
    users: list[int],
    template_ids: list[int],
    prospects: int,
    messages: int,
    placements: int,
    tag: str,
    imported: bool = False,
) -> None:
    """One campaign's year of work, ids read back so the rows reference each other. With
    `imported`, the campaign's prospects are already there (a CSV import): they are given the
    same mix of stages and owners instead of new ones being written."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from outreach.campaigns.models import CostEntry, TimeEntry
    from outreach.links.models import Placement, PlacementCheck
    from outreach.mail.models import Message
    from outreach.mail.tallies import recount_tallies
    from outreach.prospects.models import Prospect, StageChange

    rng = random.Random(campaign_id)  # noqa: S311  (sample data)
    # Stages in proportions a healthy campaign has after a year.
    stage_pool = ["prospect"] * 30 + ["contacted"] * 45 + ["replied"] * 8 + ["declined"] * 5
    stage_pool += ["linked"] * 11 + ["lost"] * 1
    if imported:
        prospect_ids, stages = assign_stages(engine, campaign_id, users, stage_pool)
    else:
        prospect_ids, stages = add_prospects(
            engine, campaign_id, users, rng, stage_pool, prospects, tag
        )
    contacted = [
        (pid, stage) for pid, stage in zip(prospect_ids, stages, strict=True) if stage != "prospect"
    ]
    first_contact = {
        pid: START + timedelta(minutes=rng.randint(0, 340 * 24 * 60)) for pid, _ in contacted
    }

    def history() -> Iterator[dict[str, Any]]:
        for pid, stage in contacted:
            at = first_contact[pid]
            yield {
                "prospect_id": pid,
                "to_stage": "contacted",
                "changed_at": at,
                "reason": "email_sent",
            }
            if stage in ("replied", "declined", "linked", "lost"):
                at += timedelta(hours=rng.randint(2, 240))
                yield {
                    "prospect_id": pid,
                    "to_stage": "replied",
                    "changed_at": at,
                    "reason": "reply",
                }
            if stage in ("declined", "linked", "lost"):
                at += timedelta(hours=rng.randint(2, 480))
                yield {"prospect_id": pid, "to_stage": stage, "changed_at": at, "reason": "manual"}

    changes = list(history())
    bulk(engine, StageChange.__table__, iter(changes))
    # What move_stage stamps on the prospect: the first time it reached each stage.
    stamps: dict[int, dict[str, Any]] = {}
    for change in changes:
        column = {"contacted": "contacted_at", "replied": "replied_at", "linked": "linked_at"}
        if change["to_stage"] in column:
            stamps.setdefault(change["prospect_id"], {})[column[change["to_stage"]]] = change[
                "changed_at"
            ]
    with engine.begin() as connection:
        for batch in chunks(
            {"pid": pid, "contacted_at": None, "replied_at": None, "linked_at": None, **values}
            for pid, values in stamps.items()
        ):
            connection.execute(
                sa.update(Prospect.__table__)
                .where(Prospect.__table__.c.id == sa.bindparam("pid"))
                .values(
                    contacted_at=sa.bindparam("contacted_at"),
                    replied_at=sa.bindparam("replied_at"),
                    linked_at=sa.bindparam("linked_at"),
                ),
                batch,
            )

    last_sent: dict[int, datetime] = {}

    def emails() -> Iterator[dict[str, Any]]:
        made = 0
        replied = {pid for pid, stage in contacted if stage != "contacted"}
        while made < messages:
            for pid, _ in contacted:
                if made >= messages:
                    return
                step = made // len(contacted)
                sent_at = min(first_contact[pid] + timedelta(days=3 * step), NOW)
                message_id = f"<{tag}{made}@client.example>"
                last_sent[pid] = sent_at
                yield {
                    "direction": "outbound",
                    "status": "sent",
                    "message_id": message_id,
                    "in_reply_to": "",
                    "references": "",
                    "prospect_id": pid,
                    "template_id": template_ids[step % len(template_ids)],
                    "from_address": "me@client.example",
                    "to_address": f"editor@{tag}{pid}.example",
                    "subject": "Hello",
                    "body_text": "A short pitch.",
                    "attempts": 1,
                    "claimed_by": "",
                    "error": "",
                    "sent_at": sent_at,
                    "created_at": sent_at,
                }
                made += 1
                if step == 0 and pid in replied and made < messages:
                    yield {
                        "direction": "inbound",
                        "status": "received",
                        "inbound_kind": "reply",
                        "message_id": f"<re-{tag}{made}@prospect.example>",
                        "in_reply_to": message_id,
                        "references": message_id,
                        "prospect_id": pid,
                        "from_address": f"editor@{tag}{pid}.example",
                        "to_address": "me@client.example",
                        "subject": "Re: Hello",
                        "body_text": "Sounds good.",
                        "attempts": 0,
                        "claimed_by": "",
                        "error": "",
                        "received_at": sent_at + timedelta(hours=30),
                        "created_at": sent_at + timedelta(hours=30),
                    }
                    made += 1

    every = ("inbound_kind", "template_id", "sent_at", "received_at")
    bulk(
        engine,
        Message.__table__,
        ({**dict.fromkeys(every), **row} for row in emails()),
        rebuild_indexes=True,
    )
    stamp_last_contacts(
        engine, campaign_id, {pid: last_sent.get(pid, first_contact[pid]) for pid, _ in contacted}
    )
    with Session(engine) as session:
        recount_tallies(session, campaign_id)
        session.commit()
    linked = [pid for pid, stage in contacted if stage in ("linked", "lost", "replied")]
    agreed = (linked * (placements // max(len(linked), 1) + 1))[:placements]
    types = ["guest_post", "resource_page", "expert_roundup", "local_citation", "mention"]
    anchors = ["Client", "best balcony tomatoes", "click here", "client.example", "this guide"]
    verdicts = ["live"] * 6 + ["nofollow", "sponsored", "ugc"]
    found = [(rng.choice(verdicts), rng.choice(anchors)) for _ in agreed]
    bulk(
        engine,
        Placement.__table__,
        (
            {
                "prospect_id": pid,
                "campaign_id": campaign_id,
                "page_url": f"https://{tag}{pid}.example/post/{n}",
                "target": "domain:client.example",
                "expected_anchor": "",
                "expected_rel": "follow",
                "link_type": rng.choice(types),
                "cost": Decimal(rng.choice([0, 50, 120, 300])) if n % 3 == 0 else None,
                "paid": n % 3 == 0,
                "toxic": False,
                "status": "live" if n % 10 else "lost",
                "last_verdict": found[n][0] if n % 10 else "missing",
                "found_verdict": found[n][0],
                "found_anchor": found[n][1],
                "first_live_at": first_contact[pid] + timedelta(days=20),
                "lost_at": None if n % 10 else NOW - timedelta(days=5),
                "next_check_at": NOW + timedelta(days=3),
                "consecutive_failures": 0,
                "reminders_sent": [],
                "created_at": first_contact[pid] + timedelta(days=10),
            }
            for n, pid in enumerate(agreed)
        ),
    )
    with engine.connect() as connection:
        placement_rows = list(
            connection.execute(
                sa.select(
                    Placement.id,
                    Placement.found_verdict,
                    Placement.found_anchor,
                    Placement.first_live_at,
                ).where(Placement.campaign_id == campaign_id)
            )
        )
    bulk(
        engine,
        PlacementCheck.__table__,
        (
            {
                "placement_id": pid,
                "checked_at": first_live + timedelta(days=week * 7),
                "verdict": verdict,
                "found": True,
                "rel": [],
                "anchor_text": anchor,
                "final_url": "",
                "canonical": "",
                "error": "",
                "mismatches": [],
            }
            for pid, verdict, anchor, first_live in placement_rows
            for week in range(2)
        ),
    )
    bulk(
        engine,
        CostEntry.__table__,
        (
            {
                "campaign_id": campaign_id,
                "kind": "content",
                "amount": Decimal(rng.randint(50, 900)),
                "incurred_on": (START + timedelta(days=n)).date(),
                "note": "",
                "created_at": START,
            }
            for n in range(0, 364, 2)
        ),
    )
    bulk(
        engine,
        TimeEntry.__table__,
        (
            {
                "user_id": rng.choice(users),
                "campaign_id": campaign_id,
                "minutes": rng.choice([15, 30, 60]),
                "logged_at": START + timedelta(hours=n),
                "note": "",
            }
            for n in range(0, 364 * 24, 1)
        ),
    )


def stamp_last_contacts(engine: Any, campaign_id: int, last_contact: dict[int, datetime]) -> None:
    """What moving a prospect to contacted and each email sent stamp on its site: when it was
    last contacted (the list's contacted filters read it)."""
    import sqlalchemy as sa

    from outreach.prospects.models import Domain, Prospect

    domains = Domain.__table__
    with engine.begin() as connection:
        domain_of = dict(
            connection.execute(
                sa.select(Prospect.id, Prospect.domain_id).where(
                    Prospect.campaign_id == campaign_id
                )
            ).all()
        )
        for batch in chunks(
            {"domain_row_id": domain_of[pid], "at": at} for pid, at in last_contact.items()
        ):
            connection.execute(
                sa.update(domains)
                .where(domains.c.id == sa.bindparam("domain_row_id"))
                .values(last_contacted_at=sa.bindparam("at")),
                batch,
            )


def add_prospects(
    engine: Any,
    campaign_id: int,
    users: list[int],
    rng: random.Random,
    stage_pool: list[str],
    prospects: int,
    tag: str,
) -> tuple[list[int], list[str]]:
    """New domains and prospects at the pool's stages; their ids in order, and the stages."""
    import sqlalchemy as sa

    from outreach.prospects.models import Domain, Prospect

    bulk(
        engine,
        Domain.__table__,
        ({"name": f"{tag}site{n}.example", "created_at": START} for n in range(prospects)),
    )
    with engine.connect() as connection:
        domain_ids = [
            row[0]
            for row in connection.execute(
                sa.select(Domain.id).where(Domain.name.like(f"{tag}site%")).order_by(Domain.id)
            )
        ]
    stages = [rng.choice(stage_pool) for _ in range(prospects)]
    bulk(
        engine,
        Prospect.__table__,
        (
            {
                "campaign_id": campaign_id,
                "domain_id": domain_id,
                "page_url": "",
                "stage": stage,
                "stage_changed_at": NOW,
                "owner_id": rng.choice(users),
                "domain_rating": rng.randint(0, 90),
                "timezone": "",
                "notes": "",
                "custom_fields": {},
                "search_text": "",
                "created_at": START,
                "updated_at": START,
            }
            for domain_id, stage in zip(domain_ids, stages, strict=True)
        ),
    )
    return campaign_prospects(engine, campaign_id), stages


def assign_stages(
    engine: Any, campaign_id: int, users: list[int], stage_pool: list[str]
) -> tuple[list[int], list[str]]:
    """The campaign's prospects moved to the pool's stages and owners in one UPDATE each
    (the rollup triggers follow, as they would one move at a time)."""
    import sqlalchemy as sa

    from outreach.prospects.models import Prospect

    table = Prospect.__table__
    prospect_ids = campaign_prospects(engine, campaign_id)
    stages = [stage_pool[(pid * 37) % len(stage_pool)] for pid in prospect_ids]
    slot = (table.c.id * 37) % len(stage_pool)
    bounds = list(itertools.accumulate(stage_pool.count(s) for s in dict.fromkeys(stage_pool)))
    stage = sa.case(
        *[
            (slot < bound, name)
            for bound, name in zip(bounds, dict.fromkeys(stage_pool), strict=True)
        ]
    )
    owner = sa.case(*[(table.c.id % len(users) == n, user) for n, user in enumerate(users)])
    with engine.begin() as connection:
        connection.execute(
            sa.update(table)
            .where(table.c.campaign_id == campaign_id)
            .values(stage=stage, owner_id=owner, stage_changed_at=NOW)
        )
    return prospect_ids, stages


def campaign_prospects(engine: Any, campaign_id: int) -> list[int]:
    import sqlalchemy as sa

    from outreach.prospects.models import Prospect

    with engine.connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                sa.select(Prospect.id)
                .where(Prospect.campaign_id == campaign_id)
                .order_by(Prospect.id)
            )
        ]


def build(url: str, workdir: Path, prospects: int, messages: int, placements: int) -> Any:
    app, campaign_id, owner_id, email, password = setup(url, workdir)
    populate(app, campaign_id, owner_id, prospects, messages, placements)
    return app, campaign_id, email, password


def populate(
    app: Any,
    campaign_id: int,
    owner_id: int,
    prospects: int,
    messages: int,
    placements: int,
    imported: bool = False,
    other_scale: float = 1.0,
) -> None:
    """Builders, templates, a year of work in the campaign and in a second one `other_scale`
    times its size, then `settle`. With `imported`, the campaign's prospects are already there."""
    from sqlmodel import Session

    from outreach.auth.models import Role
    from outreach.auth.services import create_user
    from outreach.campaigns.models import Campaign, CampaignKind
    from outreach.mail.models import Template

    engine = app.extensions["outreach"].engine
    with Session(engine) as session:
        builders = [
            create_user(session, f"builder{n}@agency.example", "bench password", Role.BUILDER)
            for n in range(5)
        ]
        for number, builder in enumerate(builders):
            builder.hourly_rate = Decimal(25 + 5 * number)
        templates = [Template(name=f"Pitch {n}", subject="Hello", body="Hi") for n in range(4)]
        session.add_all(templates)
        other = Campaign(
            name="Other",
            kind=CampaignKind.RESOURCE_PAGE,
            client_id=session.get(Campaign, campaign_id).client_id,
            client_url="https://client.example/",
            owner_id=owner_id,
        )
        session.add(other)
        session.commit()
        users = [builder.id for builder in builders]
        template_ids = [template.id for template in templates]
        other_id = other.id
    for target, tag, existing, scale in (
        (campaign_id, "a", imported, 1.0),
        (other_id, "b", False, other_scale),
    ):
        started = time.perf_counter()
        fill_campaign(
            engine,
            target,
            users,
            template_ids,
            int(prospects * scale),
            int(messages * scale),
            int(placements * scale),
            tag,
            existing,
        )
        print(f"  filled campaign {target} in {time.perf_counter() - started:.0f} s", flush=True)
    settle(engine)


def settle(engine: Any) -> None:
    """What a live database has long done by itself to data a year old: statistics for the
    planner (ANALYZE) and, on PostgreSQL, the visibility map that lets index-only scans skip
    the table (VACUUM; autovacuum's work). Bulk-loaded and measured at once, it has neither."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def measure(app: Any, campaign_id: int, email: str, password: str, repeat: int) -> None:
    import re
    from dataclasses import replace

    from sqlmodel import Session, select

    from outreach.auth.models import User
    from outreach.auth.services import issue_api_token
    from outreach.campaigns.models import Campaign
    from outreach.clock import FixedClock
    from outreach.reports.campaign_report import campaign_report

    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=FixedClock(NOW))
    engine = app.extensions["outreach"].engine
    with Session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        manager = session.exec(select(User).where(User.email == email)).one()
        figures = campaign_report(session, campaign, NOW, viewer=manager)
        print(
            f"  the report: {figures['funnel']['total']:,} prospects, "
            f"{figures['emails_sent']:,} emails sent, {figures['replies']:,} replies, "
            f"{figures['links_live']:,} links live, {len(figures['over_time'])} weeks"
        )

        def direct() -> None:
            campaign_report(session, campaign, NOW, viewer=manager)

        rows = [("report function (campaign_report)", *timed(direct, repeat))]
        bearer = {"Authorization": f"Bearer {issue_api_token(session, manager)}"}
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    for label, path, headers in (
        ("GET /api/v1/campaigns/{id}/report", f"/api/v1/campaigns/{campaign_id}/report", bearer),
        ("GET /campaigns/{id}/report (page)", f"/campaigns/{campaign_id}/report", {}),
    ):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            print(f"  {label}: HTTP {response.status_code}, skipped")
            continue
        rows.append((label, *timed(lambda p=path, h=headers: client.get(p, headers=h), repeat)))
    print(f"  {'':<40} {'median ms':>10} {'worst ms':>10}")
    for label, median, worst in rows:
        print(f"  {label:<40} {median:>10.1f} {worst:>10.1f}")


def run(name: str, base_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(base_url, workdir)
        try:
            print(
                f"\n== {name}: {args.prospects:,} prospects, {args.messages:,} messages, "
                f"{args.placements:,} placements per campaign, two campaigns"
            )
            app, campaign_id, email, password = build(
                url, workdir, args.prospects, args.messages, args.placements
            )
            measure(app, campaign_id, email, password, args.repeat)
            app.extensions["outreach"].engine.dispose()
        finally:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--placements", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("SQLite", None, args)
    if args.postgres:
        run("PostgreSQL", args.postgres, args)


if __name__ == "__main__":
    main()
