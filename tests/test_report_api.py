"""GET /api/v1/campaigns/{id}/report on a small campaign whose figures are counted by hand,
and on an empty one (no division by zero: undefined figures are null)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CostEntry, CostKind, TimeEntry
from outreach.links.models import LinkType, Placement, PlacementCheck, PlacementStatus
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus
from outreach.prospects.models import Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect, move_stage

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_an_empty_campaign_has_no_rates(api_as, campaign: Campaign) -> None:
    report = api_as(Role.MANAGER).get(f"/api/v1/campaigns/{campaign.id}/report").json
    assert report["prospects_by_stage"]["prospect"] == 0
    assert (report["emails_sent"], report["links_live"], report["referring_domains"]) == (0, 0, 0)
    for name in ("reply_rate", "publish_rate", "cost_per_link", "roi", "median_days_to_reply"):
        assert report[name] is None, name
    assert report["cost_total"] == 0
    assert report["rel_mix"] == {"follow": 0, "nofollow": 0, "sponsored": 0, "ugc": 0}


def test_figures_counted_by_hand(
    api_as, session: Session, campaign: Campaign, make_user: Callable[..., User]
) -> None:
    builder = make_user(Role.BUILDER)
    builder.hourly_rate = Decimal("30")
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
            prospect_id=prospects[3].id,
            from_address="b@site3.example",
            to_address="a@client.example",
        )
    )
    live = Placement(
        prospect_id=prospects[4].id,
        page_url="https://site4.example/post",
        target="domain:client.example",
        link_type=LinkType.GUEST_POST,
        cost=Decimal("100"),
        status=PlacementStatus.LIVE,
        last_verdict="live",
        first_live_at=NOW - timedelta(days=40),
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


def test_builders_see_only_campaigns_they_work_in(
    api_as, session: Session, campaign: Campaign
) -> None:
    builder_api = api_as(Role.BUILDER)
    refused = builder_api.get(f"/api/v1/campaigns/{campaign.id}/report")
    assert refused.status_code == 403
    assert api_as(Role.MANAGER).get("/api/v1/campaigns/999/report").status_code == 404
