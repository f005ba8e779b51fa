"""Placements end to end: the API, checks against a real HTTP server on 127.0.0.1, the
monitor in `flask outreach run-due`, and `flask links check`."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from outreach.activity.models import Activity
from outreach.auth.models import Role
from outreach.campaigns.models import Campaign
from outreach.clock import FixedClock
from outreach.links.models import Placement, PlacementCheck, PlacementStatus
from outreach.links.services import claim_due_placements, run_due_checks
from outreach.links.verdict import FetchedPage
from outreach.mail.runner import link_checks, mail_context, run_due
from outreach.prospects.models import Prospect, Stage
from outreach.reports.models import LinkTally
from tests.conftest import ApiClient
from tests.httpservers import Site

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LINKED = (
    b'<html><body><p>See <a href="https://www.client.example/guide/?utm_source=x">'
    b"the guide</a></p></body></html>"
)
NOFOLLOW = (
    b'<html><body><a rel="NoFollow" href="https://client.example/guide">the guide</a></body></html>'
)
GONE = b"<html><body><p>Nothing to see.</p></body></html>"


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


@pytest.fixture
def local_app(app: Flask) -> Flask:
    """Pages on 127.0.0.1 are refused unless private addresses are allowed (intranet, tests)."""
    state = app.extensions["outreach"]
    settings = state.settings.model_copy(update={"links_allow_private": True})
    app.extensions["outreach"] = replace(state, settings=settings, clock=FixedClock(NOW))
    return app


@pytest.fixture
def api(local_app: Flask, api_as: Callable[[Role], ApiClient]) -> ApiClient:
    return api_as(Role.BUILDER)


@pytest.fixture
def prospect_id(api: ApiClient, campaign: Campaign) -> int:
    response = api.post(
        f"/api/v1/campaigns/{campaign.id}/prospects", json={"domain": "blog.example"}
    )
    return response.json["id"]


def placement_body(site: Site, **changes: Any) -> dict[str, Any]:
    return {
        "page_url": site.url("/pages/post"),
        "target": "https://client.example/guide",
        "expected_anchor": "the guide",
        "link_type": "guest_post",
        "cost": 120.5,
        "paid": False,
        "promised_on": "2026-11-20",
        **changes,
    }


def test_record_check_and_read_a_placement(
    api: ApiClient, session: Session, site: Site, prospect_id: int
) -> None:
    site.pages["post"] = (200, LINKED)
    created = api.post(f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site))
    assert created.status_code == 201, created.json
    placement = created.json
    assert (placement["status"], placement["cost"], placement["link_type"]) == (
        "promised",
        120.5,
        "guest_post",
    )
    assert placement["next_check_at"].startswith("2026-11-24T09:00:00")

    checked = api.post(f"/api/v1/placements/{placement['id']}/check")
    assert checked.status_code == 200
    verdict = checked.json
    assert verdict["verdict"] == "live"
    assert verdict["found"] is True
    assert verdict["anchor_text"] == "the guide"
    assert verdict["http_status"] == 200
    assert verdict["mismatches"] == []

    detail = api.get(f"/api/v1/placements/{placement['id']}").json
    assert detail["status"] == "live"
    assert detail["last_check"]["verdict"] == "live"
    assert len(detail["history"]) == 1
    assert session.get(Prospect, prospect_id).stage is Stage.LINKED
    listing = api.get(f"/api/v1/prospects/{prospect_id}/placements").json
    assert [p["id"] for p in listing["items"]] == [placement["id"]]


def test_placement_input_errors_are_explained(api: ApiClient, site: Site, prospect_id: int) -> None:
    bad_target = api.post(
        f"/api/v1/prospects/{prospect_id}/placements",
        json=placement_body(site, target="ftp://client.example/"),
    )
    assert bad_target.status_code == 422
    assert "target" in bad_target.json["error"]["fields"]
    backwards = api.post(
        f"/api/v1/prospects/{prospect_id}/placements",
        json=placement_body(site, expires_on="2026-11-01"),
    )
    assert backwards.json["error"]["fields"]["expires_on"] == (
        "the link cannot expire before it was promised"
    )
    no_asset = api.post(
        f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site, asset_id=999)
    )
    assert no_asset.json["error"]["fields"] == {
        "asset_id": "There is no asset 999 in this campaign."
    }
    assert api.get("/api/v1/placements/999").status_code == 404
    assert (
        api.post("/api/v1/prospects/999/placements", json=placement_body(site)).status_code == 404
    )


def test_mismatches_against_what_was_agreed(api: ApiClient, site: Site, prospect_id: int) -> None:
    site.pages["post"] = (200, NOFOLLOW)
    created = api.post(
        f"/api/v1/prospects/{prospect_id}/placements",
        json=placement_body(site, expected_anchor="balcony guide", paid=True),
    ).json
    verdict = api.post(f"/api/v1/placements/{created['id']}/check").json
    assert verdict["verdict"] == "nofollow"
    assert verdict["mismatches"] == [
        "anchor is 'the guide', agreed 'balcony guide'",
        "nofollow where a followed link was agreed",
        'paid link without rel="sponsored"',
    ]


def due_pass(app: Flask, at: datetime) -> dict[str, Any]:
    return run_due(app.extensions["outreach"].engine, mail_context(app), at, link_checks(app))


def test_the_monitor_goes_live_then_lost_after_three_failures(
    local_app: Flask, api: ApiClient, session: Session, site: Site, prospect_id: int
) -> None:
    site.pages["post"] = (200, LINKED)
    placement_id = api.post(
        f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site)
    ).json["id"]
    summary = due_pass(local_app, NOW)
    assert (summary["links_checked"], summary["links_live"]) == (1, 1)
    assert due_pass(local_app, NOW + timedelta(hours=1))["links_checked"] == 0

    site.pages["post"] = (200, GONE)
    moment = NOW + timedelta(days=8)
    statuses = []
    for _ in range(3):
        summary = due_pass(local_app, moment)
        assert summary["links_checked"] == 1
        session.expire_all()
        placement = session.get(Placement, placement_id)
        statuses.append(placement.status)
        moment = placement.next_check_at
    assert statuses == [PlacementStatus.LIVE, PlacementStatus.LIVE, PlacementStatus.LOST]
    assert placement.lost_at == placement.last_checked_at
    assert session.get(Prospect, prospect_id).stage is Stage.LOST
    alerts = session.exec(select(Activity.summary).where(Activity.kind == "placement.lost")).all()
    assert len(alerts) == 1
    assert "3 failing checks in a row" in alerts[0]

    site.pages["post"] = (200, LINKED)
    due_pass(local_app, moment)
    session.expire_all()
    back = session.get(Placement, placement_id)
    assert (back.status, back.lost_at) == (PlacementStatus.LIVE, None)
    assert session.get(Prospect, prospect_id).stage is Stage.LINKED


def test_errors_are_unknown_never_lost(
    local_app: Flask, api: ApiClient, session: Session, site: Site, prospect_id: int
) -> None:
    site.pages["post"] = (200, LINKED)
    placement_id = api.post(
        f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site)
    ).json["id"]
    due_pass(local_app, NOW)
    site.pages["post"] = (500, b"oops")
    moment = NOW + timedelta(days=8)
    for _ in range(5):
        assert due_pass(local_app, moment)["links_checked"] == 1
        session.expire_all()
        placement = session.get(Placement, placement_id)
        assert placement.status is PlacementStatus.UNKNOWN
        moment = placement.next_check_at
    assert session.get(Prospect, prospect_id).stage is Stage.LINKED


def test_a_checker_that_loses_the_race_for_a_batch_claims_the_next(
    local_app: Flask, api: ApiClient, site: Site, prospect_id: int
) -> None:
    """SQLite locks nothing while a checker picks its batch: when another checker claims those
    rows first, this one picks again instead of taking "nothing claimed" for "nothing due"
    (and stopping while placements wait). PostgreSQL locks the rows it picks: no race there."""
    engine = local_app.extensions["outreach"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks the rows it selects (FOR UPDATE SKIP LOCKED)")
    ids = [
        api.post(f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site)).json[
            "id"
        ]
        for _ in range(3)
    ]
    lease = timedelta(minutes=10)
    raced: list[str] = []

    def other_checker_first(connection, cursor, statement, *args: Any) -> None:
        if statement.startswith("UPDATE placements SET next_check_at") and not raced:
            raced.append(statement)
            with engine.begin() as other:
                other.execute(
                    sa.update(Placement)
                    .where(col(Placement.id).in_(ids[:2]))
                    .values(next_check_at=NOW + lease)
                )

    sa.event.listen(engine, "before_cursor_execute", other_checker_first)
    try:
        with Session(engine) as session:
            claimed = claim_due_placements(session, NOW, 2, lease)
    finally:
        sa.event.remove(engine, "before_cursor_execute", other_checker_first)

    assert raced
    assert claimed == ids[2:]


def test_a_link_batch_aborted_in_a_deadlock_is_stored_on_the_next_attempt(
    local_app: Flask,
    api: ApiClient,
    session: Session,
    site: Site,
    prospect_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two checkers storing at once upsert shared tally rows in their own orders; PostgreSQL
    then aborts one of them. Here another transaction holds the tallies the batch needs and
    then waits for the batch's placement: a real deadlock, which the batch loses (its wait
    began first) and survives by storing again."""
    engine = local_app.extensions["outreach"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    site.pages["post"] = (200, LINKED)
    placement_id = api.post(
        f"/api/v1/prospects/{prospect_id}/placements", json=placement_body(site)
    ).json["id"]
    with ThreadPoolExecutor(1) as pool, engine.connect() as other:
        other.execute(sa.text("LOCK TABLE link_tallies IN EXCLUSIVE MODE"))
        checking = pool.submit(due_pass, local_app, NOW)
        blocked = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'UPDATE placements%'"
        )
        # A transaction sees one snapshot of pg_stat_activity: ask afresh each time.
        while not other.execute(blocked).scalar():
            other.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            assert not checking.done(), checking.result()
            time.sleep(0.02)
        # This side waits longer before looking for a deadlock, so the batch is the victim.
        other.execute(sa.text("SET LOCAL deadlock_timeout = '10s'"))
        other.execute(sa.select(Placement.id).where(Placement.id == placement_id).with_for_update())
        other.commit()
        summary = checking.result(timeout=30)

    assert (summary["links_checked"], summary["links_live"]) == (1, 1)
    assert "deadlock, repeating the transaction" in caplog.text
    session.expire_all()
    assert session.get(Placement, placement_id).status is PlacementStatus.LIVE
    checks = session.exec(select(PlacementCheck).where(PlacementCheck.placement_id == placement_id))
    assert len(checks.all()) == 1
    live = session.exec(sa.select(sa.func.sum(LinkTally.links))).scalar()
    assert live == 1


def test_a_batch_claimed_late_in_a_long_pass_holds_a_full_lease_from_its_claim(
    local_app: Flask, api: ApiClient, site: Site, prospect_id: int
) -> None:
    """Deep in a backlog, a pass is long past its start: each batch's lease runs from when the
    batch was claimed, or another worker would take it over while this one fetches it."""
    engine = local_app.extensions["outreach"].engine
    ids = {}
    for n in range(3):
        site.pages[f"post{n}"] = (200, LINKED)
        body = placement_body(site, page_url=site.url(f"/pages/post{n}"))
        ids[site.url(f"/pages/post{n}")] = api.post(
            f"/api/v1/prospects/{prospect_id}/placements", json=body
        ).json["id"]
    checks = link_checks(local_app)
    leases: dict[int, datetime] = {}

    class LeaseWatchingFetcher:
        def fetch(self, url: str) -> FetchedPage:
            with Session(engine) as watcher:
                leases[ids[url]] = watcher.get(Placement, ids[url]).next_check_at
            return checks.fetcher.fetch(url)

    # Each batch is claimed 4 minutes after the one before: well within the 10-minute lease.
    minutes = itertools.count(0, 4)
    counts = run_due_checks(
        engine,
        LeaseWatchingFetcher(),
        NOW,
        replace(checks.settings, batch=1),
        clock=lambda: NOW + timedelta(minutes=next(minutes)),
    )

    assert counts["checked"] == 3
    assert [leases[placement_id] for placement_id in ids.values()] == [
        NOW + timedelta(minutes=minute + 10) for minute in (0, 4, 8)
    ]


def test_links_check_cli_prints_the_verdict_object(local_app: Flask, site: Site) -> None:
    site.pages["post"] = (200, LINKED)
    runner = local_app.test_cli_runner()
    args = ["links", "check", site.url("/pages/post"), "domain:client.example", "--json"]
    result = runner.invoke(args=[*args, "--allow-private"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert list(verdict) == [
        "verdict",
        "found",
        "http_status",
        "final_url",
        "rel",
        "anchor_text",
        "indexable",
        "canonical",
        "error",
    ]
    assert (verdict["verdict"], verdict["anchor_text"]) == ("live", "the guide")

    bad = runner.invoke(args=["links", "check", site.url("/pages/post"), "nowhere", "--json"])
    assert bad.exit_code == 2
    assert "target 'nowhere'" in bad.output
    not_a_page = runner.invoke(args=["links", "check", "ftp://x.example/", "domain:a.example"])
    assert not_a_page.exit_code == 2
    assert "page URL 'ftp://x.example/': 'ftp://x.example/' is not an http or https URL" in (
        not_a_page.output
    )


def test_links_check_cli_refuses_private_addresses_by_default(app: Flask, site: Site) -> None:
    site.pages["post"] = (200, LINKED)
    result = app.test_cli_runner().invoke(
        args=["links", "check", site.url("/pages/post"), "domain:client.example", "--json"]
    )
    assert result.exit_code == 0
    verdict = json.loads(result.output)
    assert verdict["verdict"] == "page_error"
    assert "refused address 127.0.0.1" in verdict["error"]
    assert site.connections == []
