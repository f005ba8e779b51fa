"""A campaign's report: the figures gathered with a few aggregate queries, the arithmetic done
by reports.figures. Nothing here is per-row work in Python except over live links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from outreach.auth.models import User
from outreach.campaigns.models import Campaign, Client, ContentAsset, CostEntry, TimeEntry
from outreach.links.models import Placement, PlacementCheck, PlacementStatus
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus
from outreach.prospects.models import Domain, Prospect, Stage, StageChange
from outreach.reports.figures import (
    ValueModel,
    anchor_distribution,
    cost_per_link,
    funnel,
    link_value,
    median_days,
    profile_warnings,
    rate,
    rel_mix,
    roi,
    survival,
    value_model_from_json,
)

# The rel of a live link, from its last verdict.
REL_OF_VERDICT = {
    "live": "follow",
    "nofollow": "nofollow",
    "sponsored": "sponsored",
    "ugc": "ugc",
    "noindex": "noindex",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LiveLink:
    domain: str
    link_type: str
    rel: str
    anchor: str
    domain_rating: int | None
    cost: Decimal | None
    value_override: Decimal | None
    paid: bool
    first_live_at: datetime


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(CENT))


def _stage_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Prospect.stage, func.count())
        .where(Prospect.campaign_id == campaign_id)
        .group_by(Prospect.stage)
    ).all()
    counts = {stage.value: 0 for stage in Stage}
    counts.update({stage.value: count for stage, count in rows})
    return counts


def _message_counts(session: Session, campaign_id: int) -> tuple[int, int]:
    in_campaign = select(Prospect.id).where(Prospect.campaign_id == campaign_id)
    sent = session.exec(
        select(func.count())
        .select_from(Message)
        .where(
            col(Message.prospect_id).in_(in_campaign),
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.SENT,
        )
    ).one()
    replies = session.exec(
        select(func.count())
        .select_from(Message)
        .where(
            col(Message.prospect_id).in_(in_campaign),
            Message.direction == Direction.INBOUND,
            Message.inbound_kind == InboundKind.REPLY,
        )
    ).one()
    return sent, replies


def _live_links(session: Session, campaign_id: int) -> list[LiveLink]:
    """Links live now (or unsure since, but seen live), with the verdict and anchor of the
    last check that found them."""

    def last_found(column: Any) -> Any:
        return (
            select(column)
            .where(PlacementCheck.placement_id == Placement.id, PlacementCheck.found)
            .order_by(sa.desc(PlacementCheck.checked_at), sa.desc(PlacementCheck.id))
            .limit(1)
            .scalar_subquery()
        )

    rows = session.exec(
        select(
            Domain.name,
            Placement.link_type,
            last_found(PlacementCheck.verdict),
            last_found(PlacementCheck.anchor_text),
            Prospect.domain_rating,
            Placement.cost,
            Placement.value_override,
            Placement.paid,
            Placement.first_live_at,
        )
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .join(Domain, col(Domain.id) == Prospect.domain_id)
        .where(
            Prospect.campaign_id == campaign_id,
            col(Placement.status).in_([PlacementStatus.LIVE, PlacementStatus.UNKNOWN]),
            col(Placement.first_live_at).is_not(None),
        )
    ).all()
    return [
        LiveLink(
            domain=domain,
            link_type=link_type.value,
            rel=REL_OF_VERDICT.get(verdict or "live", "follow"),
            anchor=anchor or "",
            domain_rating=rating,
            cost=cost,
            value_override=override,
            paid=paid,
            first_live_at=first_live,
        )
        for domain, link_type, verdict, anchor, rating, cost, override, paid, first_live in rows
    ]


def _costs(session: Session, campaign_id: int) -> Decimal:
    """Cost entries, link prices and logged time at each user's rate."""
    entries = session.exec(
        select(func.coalesce(func.sum(CostEntry.amount), 0)).where(
            CostEntry.campaign_id == campaign_id
        )
    ).one()
    prices = session.exec(
        select(func.coalesce(func.sum(Placement.cost), 0))
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Prospect.campaign_id == campaign_id)
    ).one()
    time_cost = session.exec(
        select(func.coalesce(func.sum(TimeEntry.minutes * User.hourly_rate), 0))
        .join(User, col(User.id) == TimeEntry.user_id)
        .where(TimeEntry.campaign_id == campaign_id)
    ).one()
    return Decimal(entries) + Decimal(prices) + Decimal(time_cost) / 60


def _stage_durations(session: Session, campaign_id: int, start: Stage, end: Stage) -> list[Any]:
    """For each prospect that reached `end`, the time since it first reached `start`."""
    reached = (
        select(StageChange.prospect_id, func.min(StageChange.changed_at).label("at"))
        .join(Prospect, col(Prospect.id) == StageChange.prospect_id)
        .where(Prospect.campaign_id == campaign_id)
    )
    first = (
        reached.where(StageChange.to_stage == start).group_by(StageChange.prospect_id).subquery()
    )
    last = reached.where(StageChange.to_stage == end).group_by(StageChange.prospect_id).subquery()
    rows = session.exec(
        select(first.c.at, last.c.at).join(last, last.c.prospect_id == first.c.prospect_id)
    ).all()
    return [ended - started for started, ended in rows if ended >= started]


def campaign_report(session: Session, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Every figure of the report, under the names the API and the page share."""
    by_stage = _stage_counts(session, campaign.id)
    stages = funnel(by_stage)
    emails_sent, replies = _message_counts(session, campaign.id)
    links = _live_links(session, campaign.id)
    model = (
        value_model_from_json(campaign.value_model)
        if campaign.value_model
        else ValueModel.default()
    )
    value_total = sum(
        (link_value(model, link.domain_rating, link.rel, link.value_override) for link in links),
        Decimal(0),
    )
    cost_total = _costs(session, campaign.id)
    client = session.get(Client, campaign.client_id)
    keywords = [
        word.strip()
        for asset in session.exec(
            select(ContentAsset.target_keywords).where(ContentAsset.campaign_id == campaign.id)
        )
        for word in asset.split(",")
        if word.strip()
    ]
    brand = [term.strip() for term in client.brand_terms.split(",") if term.strip()] or [
        client.name
    ]
    anchors = anchor_distribution(
        [link.anchor for link in links],
        brand_terms=brand,
        target_keywords=keywords,
        target_url=campaign.client_url,
    )
    rels = rel_mix(link.rel for link in links)
    per_domain: dict[str, int] = {}
    for link in links:
        per_domain[link.domain] = per_domain.get(link.domain, 0) + 1
    by_type: dict[str, int] = {}
    for link in links:
        by_type[link.link_type] = by_type.get(link.link_type, 0) + 1
    lifetimes = _survival_inputs(session, campaign.id)
    return {
        "campaign_id": campaign.id,
        "currency": campaign.currency,
        "prospects_by_stage": by_stage,
        "funnel": {
            "total": stages.total,
            "contacted": stages.contacted,
            "replied": stages.replied,
            "linked": stages.linked,
            "conversion": stages.conversion,
        },
        "emails_sent": emails_sent,
        "replies": replies,
        "reply_rate": rate(stages.replied, stages.contacted),
        "publish_rate": rate(len(links), stages.contacted),
        "median_days_to_reply": median_days(
            _stage_durations(session, campaign.id, Stage.CONTACTED, Stage.REPLIED)
        ),
        "median_days_to_live": median_days(
            _stage_durations(session, campaign.id, Stage.CONTACTED, Stage.LINKED)
        ),
        "links_live": len(links),
        "links_by_type": dict(sorted(by_type.items())),
        "rel_mix": rels,
        "referring_domains": len(per_domain),
        "anchor_mix": anchors,
        "survival": {f"{days}d": survival(lifetimes, now, days) for days in (30, 90, 180)},
        "cost_total": _money(cost_total),
        "cost_per_link": _money(cost_per_link(cost_total, len(links))),
        "value_total": _money(value_total),
        "roi": roi(value_total, cost_total),
        "warnings": profile_warnings(
            anchors=anchors,
            rels=rels,
            paid_without_sponsored=sum(
                1 for link in links if link.paid and link.rel != "sponsored"
            ),
            links_per_domain=per_domain,
        ),
    }


def _survival_inputs(session: Session, campaign_id: int) -> list[tuple[datetime, datetime | None]]:
    """Each link that was ever live: when it went live and, if lost now, when it was lost."""
    rows = session.exec(
        select(Placement.first_live_at, Placement.lost_at)
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Prospect.campaign_id == campaign_id, col(Placement.first_live_at).is_not(None))
    ).all()
    return [(first_live, lost) for first_live, lost in rows]
