"""GET /api/v1/campaigns/{id}/report on a small campaign whose figures are counted by hand,
and on an empty one (no division by zero: undefined figures are null)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.auth.services import issue_api_token
from outreach.campaigns.models import Campaign, CostEntry, CostKind, TimeEntry
from outreach.clock import FixedClock
from outreach.links.models import LinkType, Placement, PlacementCheck, PlacementStatus
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus, Template
from outreach.mail.tallies import recount_tallies
from outreach.prospects.models import Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect, move_stage
from outreach.reports.campaign_report import campaign_report
from tests.conftest import ApiClient

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_an_empty_campaign_has_no_rates(api_as, campaign: Campaign) -> None:
    report = api_as(Role.MANAGER).get(f"/api/v1/campaigns/{campaign.id}/report").json
    assert report["prospects_by_stage"]["prospect"] == 0
    assert (report["emails_sent"], report["links_live"], report["referring_domains"]) == (0, 0, 0)
    for name in ("reply_rate", "publish_rate", "cost_per_link", "roi", "median_days_to_reply"):
        assert report[name] is None, name
    assert report["cost_total"] == 0
    assert report["rel_mix"] == {"follow": 0, "nofollow": 0, "sponsored": 0, "ugc": 0}
    # One quiet week to chart, no one's row, no template's row.
    [week] = report["over_time"]
    assert (week["emails_sent"], week["cumulative_cost"], week["cumulative_value"]) == (0, 0, 0)
    assert (report["builders"], report["templates"]) == ([], [])


def test_figures_counted_by_hand(
    app: Flask,
    client: FlaskClient,
    api_as,
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
) -> None:
    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=FixedClock(NOW))
    builder = make_user(Role.BUILDER, name="Bea")
    builder.hourly_rate = Decimal("30")
    pitch = Template(name="Pitch", subject="Hello", body="Hi")
    session.add(pitch)
    session.flush()
    stages = [Stage.PROSPECT, Stage.CONTACTED, Stage.CONTACTED, Stage.REPLIED, Stage.LINKED]
    prospects = []
    for number, stage in enumerate(stages):
        prospect = add_prospect(
            session,
            campaign,
            ProspectInput(domain=f"site{number}.example", domain_rating=40),
            builder,
        )
        if stage is not Stage.PROSPECT:
            move_stage(session, prospect, MoveReason.MANUAL, to=stage, actor=builder)
        prospects.append(prospect)
    for prospect in prospects[1:]:
        session.add(
            Message(
                direction=Direction.OUTBOUND,
                status=MessageStatus.SENT,
                message_id=f"<{prospect.id}@client.example>",
                prospect_id=prospect.id,
                template_id=pitch.id,
                from_address="a@client.example",
                to_address="b@site.example",
                sent_at=NOW,
            )
        )
    session.add(
        Message(
            direction=Direction.INBOUND,
            status=MessageStatus.RECEIVED,
            inbound_kind=InboundKind.REPLY,
            message_id="<reply@site3.example>",
            in_reply_to=f"<{prospects[3].id}@client.example>",
            template_id=pitch.id,
            received_at=NOW,
            prospect_id=prospects[3].id,
            from_address="b@site3.example",
            to_address="a@client.example",
        )
    )
    live = Placement(
        prospect_id=prospects[4].id,
        campaign_id=campaign.id,
        page_url="https://site4.example/post",
        target="domain:client.example",
        link_type=LinkType.GUEST_POST,
        cost=Decimal("100"),
        status=PlacementStatus.LIVE,
        last_verdict="live",
        found_verdict="live",
        found_anchor="here",
        first_live_at=NOW - timedelta(days=40),
        created_at=NOW - timedelta(days=45),
    )
    session.add(live)
    session.flush()
    session.add(
        PlacementCheck(
            placement_id=live.id, checked_at=NOW, verdict="live", found=True, anchor_text="here"
        )
    )
    session.add(
        CostEntry(
            campaign_id=campaign.id,
            kind=CostKind.CONTENT,
            amount=Decimal("50"),
            incurred_on=NOW.date(),
        )
    )
    session.add(TimeEntry(user_id=builder.id, campaign_id=campaign.id, minutes=90, logged_at=NOW))
    session.flush()
    # The messages were written around the mail engine: count them as a repair would.
    recount_tallies(session, campaign.id)
    session.commit()

    report = api_as(Role.MANAGER).get(f"/api/v1/campaigns/{campaign.id}/report").json
    assert report["prospects_by_stage"] == {
        "prospect": 1,
        "contacted": 2,
        "replied": 1,
        "linked": 1,
        "declined": 0,
        "lost": 0,
    }
    assert (report["emails_sent"], report["replies"]) == (4, 1)
    # Contacted: 4 (everyone but the prospect); replied: 2 (replied + linked).
    assert report["reply_rate"] == 0.5
    assert report["publish_rate"] == 0.25
    assert report["links_live"] == 1
    assert report["links_by_type"] == {"guest_post": 1}
    assert report["rel_mix"]["follow"] == 1
    assert report["referring_domains"] == 1
    assert report["anchor_mix"]["generic"] == 1
    assert report["survival"] == {"30d": 1.0, "90d": None, "180d": None}
    # 50 content + 100 link + 1.5 h at 30 = 195; DR 40 followed link = 150 by default.
    assert report["cost_total"] == 195.0
    assert report["cost_per_link"] == 195.0
    assert report["value_total"] == 150.0
    assert report["roi"] == (150 - 195) / 195

    # Weeks from the link's agreement (Sat 10 Oct, week of Mon 5 Oct) to this week.
    weeks = report["over_time"]
    assert [week["week"] for week in weeks][:2] == ["2026-10-05", "2026-10-12"]
    assert weeks[-1]["week"] == "2026-11-23"
    assert len(weeks) == 8
    assert [week["cost"] for week in weeks if week["cost"]] == [100.0, 95.0]
    assert [week["links_live"] for week in weeks] == [0, 1, 0, 0, 0, 0, 0, 0]
    assert weeks[1]["value"] == 150.0
    assert (weeks[-1]["emails_sent"], weeks[-1]["replies"]) == (4, 1)
    assert (weeks[-1]["cumulative_cost"], weeks[-1]["cumulative_value"]) == (195.0, 150.0)
    assert sum(week["emails_sent"] for week in weeks) == report["emails_sent"]

    # Bea owns every prospect: her time (45) and her link's price (100) for one link.
    assert report["builders"] == [
        {
            "user_id": builder.id,
            "name": "Bea",
            "prospects": 5,
            "contacted": 4,
            "replies": 2,
            "links": 1,
            "cost": 145.0,
            "cost_per_link": 145.0,
        }
    ]
    assert report["templates"] == [
        {"template_id": pitch.id, "name": "Pitch", "sent": 4, "replies": 1, "reply_rate": 0.25}
    ]

    # A builder in the campaign sees its money, but not what anyone's time costs.
    as_builder = ApiClient(client, issue_api_token(session, builder))
    seen = as_builder.get(f"/api/v1/campaigns/{campaign.id}/report").json
    assert (seen["cost_total"], seen["roi"]) == (report["cost_total"], report["roi"])
    assert (seen["builders"][0]["cost"], seen["builders"][0]["cost_per_link"]) == (None, None)


def test_builders_see_only_campaigns_they_work_in(
    api_as, session: Session, campaign: Campaign
) -> None:
    builder_api = api_as(Role.BUILDER)
    refused = builder_api.get(f"/api/v1/campaigns/{campaign.id}/report")
    assert refused.status_code == 403
    assert api_as(Role.MANAGER).get("/api/v1/campaigns/999/report").status_code == 404


def test_portfolio_lists_what_each_user_may_see(
    app: Flask,
    client: FlaskClient,
    api_as,
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
) -> None:
    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=FixedClock(NOW))
    euro = Campaign(
        name="Round-ups",
        kind=campaign.kind,
        client_id=campaign.client_id,
        client_url=campaign.client_url,
        currency="EUR",
    )
    session.add(euro)
    builder = make_user(Role.BUILDER)
    prospect = add_prospect(session, campaign, ProspectInput(domain="blog.example"), builder)
    session.add(
        Placement(
            prospect_id=prospect.id,
            campaign_id=campaign.id,
            page_url="https://blog.example/post",
            target="domain:client.example",
            cost=Decimal("80"),
            status=PlacementStatus.LIVE,
            last_verdict="live",
            first_live_at=NOW - timedelta(days=8),
        )
    )
    session.commit()

    figures = api_as(Role.MANAGER).get("/api/v1/reports/portfolio").json
    guest_posts, round_ups = figures["campaigns"]
    assert (guest_posts["name"], round_ups["name"]) == ("Guest posts", "Round-ups")
    assert (guest_posts["links_live"], guest_posts["cost_total"]) == (1, 80.0)
    # DR unknown: the lowest band, 50 by default.
    assert guest_posts["value_total"] == 50.0
    assert guest_posts["trend"] == [0] * 10 + [1, 0]
    assert round_ups["roi"] is None
    # Two currencies under one client: no money total that would add dollars to euros.
    [client_row] = figures["clients"]
    assert (client_row["campaigns"], client_row["links_live"]) == (2, 1)
    assert (client_row["currency"], client_row["cost_total"], client_row["roi"]) == (
        None,
        None,
        None,
    )

    mine = ApiClient(client, issue_api_token(session, builder)).get("/api/v1/reports/portfolio")
    assert [row["name"] for row in mine.json["campaigns"]] == ["Guest posts"]
    assert api_as(Role.BUILDER).get("/api/v1/reports/portfolio").json["campaigns"] == []


def test_recount_mail_cli_rebuilds_the_counts(
    app: Flask, session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    prospect = add_prospect(
        session, campaign, ProspectInput(domain="blog.example"), make_user(Role.BUILDER)
    )
    session.add(
        Message(
            direction=Direction.OUTBOUND,
            status=MessageStatus.SENT,
            message_id="<old@client.example>",
            prospect_id=prospect.id,
            from_address="a@client.example",
            to_address="b@blog.example",
            sent_at=NOW,
        )
    )
    session.commit()
    assert campaign_report(session, campaign, NOW)["emails_sent"] == 0

    result = app.test_cli_runner().invoke(args=["reports", "recount-mail"])
    assert result.exit_code == 0, result.output
    assert "1 day and template row(s)" in result.output
    session.expire_all()
    assert campaign_report(session, campaign, NOW)["emails_sent"] == 1


def test_median_days_come_from_the_first_time_each_stage_was_reached(
    session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    builder = make_user(Role.BUILDER)
    for number, (contacted, replied) in enumerate(((10, 4), (4, 1), (6, None))):
        prospect = add_prospect(
            session, campaign, ProspectInput(domain=f"site{number}.example"), builder
        )
        move_stage(session, prospect, MoveReason.EMAIL_SENT, at=NOW - timedelta(days=contacted))
        if replied is not None:
            move_stage(
                session, prospect, MoveReason.REPLY_RECEIVED, at=NOW - timedelta(days=replied)
            )
            # A second trip through "replied" does not move the first-reached time.
            move_stage(session, prospect, MoveReason.MANUAL, to=Stage.CONTACTED, actor=builder)
            move_stage(session, prospect, MoveReason.REPLY_RECEIVED, at=NOW)
    session.commit()
    report = campaign_report(session, campaign, NOW)
    # 6 and 3 days: the third prospect has not replied.
    assert report["median_days_to_reply"] == 4.5
    assert report["median_days_to_live"] is None
