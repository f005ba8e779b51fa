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


def bulk(engine: Any, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    import sqlalchemy as sa

    count = 0
    with engine.begin() as connection:
        for batch in chunks(rows):
            connection.execute(sa.insert(table), batch)
            count += len(batch)
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
) -> None:
    """One campaign's year of work, ids read back so the rows reference each other."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from outreach.campaigns.models import CostEntry, TimeEntry
    from outreach.links.models import Placement, PlacementCheck
    from outreach.mail.models import Message
    from outreach.mail.tallies import recount_tallies
    from outreach.prospects.models import Domain, Prospect, StageChange

    rng = random.Random(campaign_id)  # noqa: S311  (sample data)
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
    # Stages in proportions a healthy campaign has after a year.
    stage_pool = ["prospect"] * 30 + ["contacted"] * 45 + ["replied"] * 8 + ["declined"] * 5
    stage_pool += ["linked"] * 11 + ["lost"] * 1
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
    with engine.connect() as connection:
        prospect_ids = [
            row[0]
            for row in connection.execute(
                sa.select(Prospect.id)
                .where(Prospect.campaign_id == campaign_id)
                .order_by(Prospect.id)
            )
        ]
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
    bulk(engine, Message.__table__, ({**dict.fromkeys(every), **row} for row in emails()))
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


def build(url: str, workdir: Path, prospects: int, messages: int, placements: int) -> Any:
    from sqlmodel import Session

    from outreach.auth.models import Role
    from outreach.auth.services import create_user
    from outreach.campaigns.models import Campaign, CampaignKind
    from outreach.mail.models import Template

    app, campaign_id, owner_id, email, password = setup(url, workdir)
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
    for target, tag in ((campaign_id, "a"), (other_id, "b")):
        started = time.perf_counter()
        fill_campaign(engine, target, users, template_ids, prospects, messages, placements, tag)
        print(f"  filled campaign {target} in {time.perf_counter() - started:.0f} s", flush=True)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return app, campaign_id, email, password


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
