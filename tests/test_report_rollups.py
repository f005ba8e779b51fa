"""The report rollups that triggers keep, held to `rebuild_rollups` (which counts the rows
afresh) after every kind of write: through the ORM, bulk statements, cascades, owner and rating
changes, value model changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.auth.models import Role, User
from outreach.campaigns.costs import reset_value_model, set_value_model, value_model_of
from outreach.campaigns.models import Campaign, TimeEntry
from outreach.links.models import LinkType, Placement, PlacementStatus
from outreach.prospects.models import Domain, Prospect, Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect, move_stage
from outreach.reports.campaign_report import campaign_report
from outreach.reports.figures import ValueModel
from outreach.reports.models import LinkTally, LinkWeekTally
from outreach.reports.rollups import ROLLUPS, rebuild_rollups

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
COUNTS = {
    "links",
    "overridden",
    "override_cents",
    "ever_live",
    "prospects",
    "price_cents",
    "minutes",
}


def rollups(session: Session, campaign_id: int) -> dict[str, Any]:
    """Every rollup row of the campaign (rows counting nothing left out: a trigger leaves them
    at zero where a rebuild writes none), and the per-row copies the triggers keep."""
    session.expire_all()
    state: dict[str, Any] = {}
    for rollup in ROLLUPS:
        rows = session.exec(select(rollup).where(col(rollup.campaign_id) == campaign_id)).all()
        state[rollup.__tablename__] = sorted(
            tuple(sorted(row.model_dump().items()))
            for row in rows
            if any(value for name, value in row.model_dump().items() if name in COUNTS)
        )
    state["prospects"] = sorted(
        (p.id, p.live_links, p.reply_days and round(p.reply_days, 6), p.live_days)
        for p in session.exec(select(Prospect).where(Prospect.campaign_id == campaign_id))
    )
    state["placements"] = sorted(
        session.exec(
            select(Placement.id, Placement.owner_id, Placement.domain_rating).where(
                Placement.campaign_id == campaign_id
            )
        ).all()
    )
    return state


def assert_rollups_hold(session: Session, campaign: Campaign) -> dict[str, Any]:
    kept = rollups(session, campaign.id)
    rebuild_rollups(session, campaign.id, value_model_of(campaign))
    session.flush()
    assert kept == rollups(session, campaign.id)
    return kept


def go_live(placement: Placement, when: datetime, verdict: str = "live", anchor: str = "") -> None:
    placement.status = PlacementStatus.LIVE
    placement.first_live_at = when
    placement.found_verdict = verdict
    placement.found_anchor = anchor


def test_rollups_follow_every_kind_of_write(
    session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    bea, cal = make_user(Role.BUILDER, name="Bea"), make_user(Role.BUILDER, name="Cal")
    manager = make_user(Role.MANAGER)
    # Ratings on both sides of the default bands' edges, and none.
    ratings = [None, 0, 29, 30, 59, 60, 95]
    prospects = [
        add_prospect(
            session,
            campaign,
            ProspectInput(domain=f"site{n}.example", domain_rating=rating),
            bea if n % 2 else cal,
        )
        for n, rating in enumerate(ratings)
    ]
    session.commit()
    assert rollups(session, campaign.id)["prospect_tallies"], "the prospect triggers are missing"
    placements = []
    for n, prospect in enumerate(prospects):
        for k in range(2):
            placement = Placement(
                prospect_id=prospect.id,
                campaign_id=campaign.id,
                page_url=f"https://{n}.example/{k}",
                target="https://client.example/",
                link_type=[LinkType.GUEST_POST, LinkType.RESOURCE_PAGE][k],
                cost=Decimal("120.10") if k else None,
                paid=bool(k),
            )
            session.add(placement)
            placements.append(placement)
    session.commit()
    kept = assert_rollups_hold(session, campaign)
    assert kept["placements"][0][1] is not None, "the placement owner was not copied"

    # Links go live through the ORM, one with a value of its own; one is lost later.
    for n, placement in enumerate(placements):
        if n % 3:
            go_live(placement, NOW - timedelta(days=n * 20), ["live", "nofollow"][n % 2], f"a{n}")
    placements[1].value_override = Decimal("75.55")
    session.commit()
    kept = assert_rollups_hold(session, campaign)
    assert all(kept[name] for name in ("link_tallies", "anchor_tallies", "link_week_tallies"))

    # Bulk statements, as the link checker writes them.
    session.execute(
        sa.update(Placement)
        .where(col(Placement.id).in_([placements[2].id, placements[4].id]))
        .values(status=PlacementStatus.LOST, lost_at=NOW - timedelta(days=3))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    assert_rollups_hold(session, campaign)

    # Stages, first-reached times, owners and ratings change.
    for prospect in prospects[:5]:
        move_stage(session, prospect, MoveReason.MANUAL, to=Stage.CONTACTED, actor=manager)
    move_stage(session, prospects[1], MoveReason.MANUAL, to=Stage.REPLIED, actor=manager)
    move_stage(session, prospects[3], MoveReason.MANUAL, to=Stage.LINKED, actor=manager)
    prospects[3].contacted_at = NOW - timedelta(days=9, hours=6)
    prospects[5].owner_id = None
    prospects[1].owner_id = cal.id
    prospects[6].domain_rating = 12
    prospects[0].domain_rating = 61
    session.commit()
    kept = assert_rollups_hold(session, campaign)
    assert any(days is not None for _, _, days, _ in kept["prospects"]), "no days to reply kept"

    # One statement moving several prospects at once, as bulk moves and assignments write:
    # the contacted ones go back and the rest forward, so some shares cancel out.
    session.execute(
        sa.update(Prospect)
        .where(col(Prospect.id).in_([prospect.id for prospect in prospects[:6]]))
        .values(
            stage=sa.case(
                (col(Prospect.stage) == Stage.CONTACTED, Stage.PROSPECT), else_=Stage.CONTACTED
            ),
            owner_id=bea.id,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire_all()
    assert_rollups_hold(session, campaign)

    # Time, edited and deleted; a placement and a whole prospect deleted (a cascade).
    entries = [
        TimeEntry(user_id=user.id, campaign_id=campaign.id, minutes=30, logged_at=NOW)
        for user in (bea, cal, bea)
    ]
    session.add_all(entries)
    session.commit()
    entries[0].minutes = 45
    entries[1].logged_at = NOW - timedelta(days=2)
    session.delete(entries[2])
    session.delete(placements[5])
    session.commit()
    session.delete(prospects[4])
    session.commit()
    assert_rollups_hold(session, campaign)

    # A value model of the campaign's own re-bands its links; resetting it goes back.
    bands = {"bands": [{"min_dr": 0, "value": "10"}, {"min_dr": 50, "value": "500"}]}
    set_value_model(session, campaign, bands, manager)
    kept = assert_rollups_hold(session, campaign)
    assert {dict(row)["band"] for row in kept["link_tallies"]} == {0, 50}
    live_after_new_bands = [
        dict(row) for row in kept["link_tallies"] if dict(row)["links"] and dict(row)["band"] == 50
    ]
    assert live_after_new_bands, "no link counted in the DR 50+ band"
    reset_value_model(session, campaign, manager)
    assert_rollups_hold(session, campaign)


def test_the_triggers_band_links_like_the_default_model(
    session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    """The triggers spell the default model's bands out; they must be the model's."""
    owner = make_user(Role.BUILDER)
    for rating in range(0, 101):
        prospect = add_prospect(
            session,
            campaign,
            ProspectInput(domain=f"dr{rating}.example", domain_rating=rating),
            owner,
        )
        placement = Placement(
            prospect_id=prospect.id,
            campaign_id=campaign.id,
            page_url=f"https://dr{rating}.example/",
            target="https://client.example/",
        )
        go_live(placement, NOW)
        session.add(placement)
    session.commit()
    starts = sorted(dr for dr, _ in ValueModel.default().bands)
    counted = {
        tally.band: tally.links
        for tally in session.exec(select(LinkTally).where(LinkTally.campaign_id == campaign.id))
    }
    expected = {
        start: (starts[n + 1] if n + 1 < len(starts) else 101) - start
        for n, start in enumerate(starts)
    }
    assert counted == expected
    weeks = session.exec(
        select(LinkWeekTally).where(LinkWeekTally.campaign_id == campaign.id)
    ).all()
    monday = NOW.date() - timedelta(days=NOW.weekday())
    assert {(week.week, week.band): (week.ever_live, week.links) for week in weeks} == {
        (monday, band): (links, links) for band, links in expected.items()
    }


def test_the_report_reads_the_rollups(
    session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    owner = make_user(Role.BUILDER)
    prospect = add_prospect(
        session, campaign, ProspectInput(domain="one.example", domain_rating=70), owner
    )
    for n in range(5):
        placement = Placement(
            prospect_id=prospect.id,
            campaign_id=campaign.id,
            page_url=f"https://one.example/{n}",
            target="https://client.example/",
        )
        go_live(placement, NOW - timedelta(days=100), anchor="client")
        session.add(placement)
    session.commit()
    report = campaign_report(session, campaign, NOW)
    assert (report["links_live"], report["referring_domains"]) == (5, 1)
    assert report["value_total"] == 5 * 400
    assert report["survival"] == {"30d": 1.0, "90d": 1.0, "180d": None}
    assert "5 links come from one domain: one.example" in report["warnings"]


def links_gone_live(
    session: Session, campaign: Campaign, owner: User, lives: list[tuple[datetime, datetime | None]]
) -> None:
    """One placement per (first live, lost) pair; None: still live."""
    prospect = add_prospect(session, campaign, ProspectInput(domain="two.example"), owner)
    for n, (live, lost) in enumerate(lives):
        placement = Placement(
            prospect_id=prospect.id,
            campaign_id=campaign.id,
            page_url=f"https://two.example/{n}",
            target="https://client.example/",
        )
        go_live(placement, live)
        if lost is not None:
            placement.status, placement.lost_at = PlacementStatus.LOST, lost
        session.add(placement)
    session.commit()


def test_survival_counts_only_links_old_enough(
    session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    day = timedelta(days=1)
    links_gone_live(
        session,
        campaign,
        make_user(Role.BUILDER),
        [
            (NOW - 100 * day, None),  # survived
            (NOW - 40 * day, NOW - 5 * day),  # lost after 35 days: survived 30
            (NOW - 50 * day, NOW - 30 * day),  # lost after 20 days
            (NOW - 30 * day, NOW),  # live exactly 30 days ago, lost exactly at day 30: did not
            (NOW - 10 * day, None),  # too young to judge
        ],
    )
    report = campaign_report(session, campaign, NOW)
    assert report["survival"] == {"30d": 0.5, "90d": 1.0, "180d": None}


@pytest.mark.parametrize(
    ("live", "lost", "survived_30_days"),
    [
        (NOW - timedelta(days=30), NOW + timedelta(seconds=1), 1.0),
        (NOW - timedelta(days=30), NOW, 0.0),
        (NOW - timedelta(days=30) + timedelta(seconds=1), None, None),
    ],
    ids=["lost a second after day 30", "lost at day 30", "live a second short of 30 days"],
)
def test_survival_at_the_second(
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
    live: datetime,
    lost: datetime | None,
    survived_30_days: float | None,
) -> None:
    links_gone_live(session, campaign, make_user(Role.BUILDER), [(live, lost)])
    assert campaign_report(session, campaign, NOW)["survival"]["30d"] == survived_30_days


def test_rebuild_rollups_cli_repairs_lost_counts(
    app, session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    owner = make_user(Role.BUILDER)
    prospect = add_prospect(session, campaign, ProspectInput(domain="one.example"), owner)
    placement = Placement(
        prospect_id=prospect.id,
        campaign_id=campaign.id,
        page_url="https://one.example/",
        target="https://client.example/",
    )
    go_live(placement, NOW)
    session.add(placement)
    session.commit()
    for rollup in ROLLUPS:
        session.execute(sa.delete(rollup))
    session.commit()
    assert campaign_report(session, campaign, NOW)["links_live"] == 0

    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "rebuild-rollups", "--campaign", str(campaign.id)])
    assert result.exit_code == 0, result.output
    assert "1 campaign(s)" in result.output
    session.expire_all()
    assert campaign_report(session, campaign, NOW)["links_live"] == 1
    missing = runner.invoke(args=["reports", "rebuild-rollups", "--campaign", "999999"])
    assert missing.exit_code != 0
    assert "There is no campaign 999999." in missing.output


def test_prospects_written_with_their_first_reached_times(
    session: Session, campaign: Campaign
) -> None:
    """Rows that arrive with their history (a restore, bulk loads) count their days too."""
    domain = Domain(name="history.example")
    session.add(domain)
    session.flush()
    session.add(
        Prospect(
            campaign_id=campaign.id,
            domain_id=domain.id,
            stage=Stage.REPLIED,
            contacted_at=NOW - timedelta(days=3),
            replied_at=NOW - timedelta(days=1, hours=12),
        )
    )
    session.commit()
    kept = assert_rollups_hold(session, campaign)
    [(_, live_links, reply_days, live_days)] = kept["prospects"]
    assert (live_links, reply_days, live_days) == (0, 1.5, None)
