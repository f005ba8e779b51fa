"""A campaign's report: the figures gathered with a few aggregate queries, the arithmetic done
by reports.figures. Nothing here is per-row work in Python except over live links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from outreach.auth.models import User
from outreach.campaigns.models import Campaign, Client, ContentAsset, CostEntry, TimeEntry
from outreach.db import utc_date
from outreach.links.models import Placement, PlacementCheck, PlacementStatus
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus, Template
from outreach.prospects.models import Domain, Prospect, Stage, StageChange
from outreach.reports.access import sees_everything
from outreach.reports.figures import (
    Funnel,
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
    to_cents,
    value_model_from_json,
    weekly_totals,
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


# The over-time charts show at most this many weeks, ending with the current one.
WEEKS_SHOWN = 52


@dataclass(frozen=True)
class LiveLink:
    owner_id: int | None
    domain: str
    link_type: str
    rel: str
    anchor: str
    domain_rating: int | None
    cost: Decimal | None
    value_override: Decimal | None
    paid: bool
    first_live_at: datetime


def money(value: Decimal | None) -> float | None:
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
            Prospect.owner_id,
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
            owner_id=owner,
            domain=domain,
            link_type=kind.value,
            rel=REL_OF_VERDICT.get(verdict or "live", "follow"),
            anchor=anchor or "",
            domain_rating=rating,
            cost=cost,
            value_override=override,
            paid=paid,
            first_live_at=first_live,
        )
        for owner, domain, kind, verdict, anchor, rating, cost, override, paid, first_live in rows
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


@dataclass(frozen=True)
class CampaignCore:
    """The figures both the campaign report and the portfolio are built on."""

    by_stage: dict[str, int]
    stages: Funnel
    emails_sent: int
    replies: int
    links: list[LiveLink]
    values: list[Decimal]
    value_total: Decimal
    cost_total: Decimal


def campaign_core(session: Session, campaign: Campaign) -> CampaignCore:
    by_stage = _stage_counts(session, campaign.id)
    emails_sent, replies = _message_counts(session, campaign.id)
    links = _live_links(session, campaign.id)
    model = (
        value_model_from_json(campaign.value_model)
        if campaign.value_model
        else ValueModel.default()
    )
    values = [
        link_value(model, link.domain_rating, link.rel, link.value_override) for link in links
    ]
    return CampaignCore(
        by_stage=by_stage,
        stages=funnel(by_stage),
        emails_sent=emails_sent,
        replies=replies,
        links=links,
        values=values,
        value_total=sum(values, Decimal(0)),
        cost_total=_costs(session, campaign.id),
    )


def campaign_report(
    session: Session, campaign: Campaign, now: datetime, viewer: User | None = None
) -> dict[str, Any]:
    """Every figure of the report, under the names the API and the page share. What each
    builder costs is left out unless the viewer is a manager or admin: it would reveal rates."""
    core = campaign_core(session, campaign)
    by_stage, stages, links, values = core.by_stage, core.stages, core.links, core.values
    value_total, cost_total = core.value_total, core.cost_total
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
        "budget": money(campaign.budget),
        "prospects_by_stage": by_stage,
        "funnel": {
            "total": stages.total,
            "contacted": stages.contacted,
            "replied": stages.replied,
            "linked": stages.linked,
            "conversion": stages.conversion,
        },
        "emails_sent": core.emails_sent,
        "replies": core.replies,
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
        "cost_total": money(cost_total),
        "cost_per_link": money(cost_per_link(cost_total, len(links))),
        "value_total": money(value_total),
        "roi": roi(value_total, cost_total),
        "over_time": _over_time(session, campaign, now, links, values),
        "builders": _builders(
            session, campaign.id, links, show_cost=viewer is not None and sees_everything(viewer)
        ),
        "templates": _templates(session, campaign.id),
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


def _daily_messages(session: Session, campaign_id: int) -> tuple[list[Any], list[Any]]:
    """(day, count) of emails sent and of replies received."""
    in_campaign = select(Prospect.id).where(Prospect.campaign_id == campaign_id)
    sent_day = utc_date(Message.sent_at)
    sent = session.exec(
        select(sent_day, func.count())
        .where(
            col(Message.prospect_id).in_(in_campaign),
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.SENT,
        )
        .group_by(sent_day)
    ).all()
    received_day = utc_date(Message.received_at)
    replies = session.exec(
        select(received_day, func.count())
        .where(
            col(Message.prospect_id).in_(in_campaign),
            Message.direction == Direction.INBOUND,
            Message.inbound_kind == InboundKind.REPLY,
        )
        .group_by(received_day)
    ).all()
    return list(sent), list(replies)


def _daily_costs(session: Session, campaign_id: int) -> list[tuple[date, Decimal]]:
    """The campaign's costs by the day they were incurred: entries, link prices (when agreed)
    and logged time at each user's rate."""
    entries = session.exec(
        select(CostEntry.incurred_on, func.sum(CostEntry.amount))
        .where(CostEntry.campaign_id == campaign_id)
        .group_by(CostEntry.incurred_on)
    ).all()
    agreed_day = utc_date(Placement.created_at)
    prices = session.exec(
        select(agreed_day, func.sum(Placement.cost))
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Prospect.campaign_id == campaign_id, col(Placement.cost).is_not(None))
        .group_by(agreed_day)
    ).all()
    logged_day = utc_date(TimeEntry.logged_at)
    time_cost = session.exec(
        select(logged_day, func.sum(TimeEntry.minutes * User.hourly_rate))
        .join(User, col(User.id) == TimeEntry.user_id)
        .where(TimeEntry.campaign_id == campaign_id, col(User.hourly_rate).is_not(None))
        .group_by(logged_day)
    ).all()
    return [
        *((day, Decimal(amount)) for day, amount in entries),
        *((day, Decimal(amount)) for day, amount in prices),
        *((day, Decimal(amount) / 60) for day, amount in time_cost),
    ]


def _split_period(
    daily: Iterable[tuple[date, Decimal]], start: date, end: date
) -> tuple[Decimal, list[tuple[date, Decimal]]]:
    """What lies before the charted weeks (the running totals' opening balance), and the rest
    with days after `end` (costs booked ahead) counted on `end`."""
    opening = Decimal(0)
    rest = []
    for day, amount in daily:
        if day < start:
            opening += amount
        else:
            rest.append((min(day, end), amount))
    return opening, rest


def _over_time(
    session: Session,
    campaign: Campaign,
    now: datetime,
    links: list[LiveLink],
    values: list[Decimal],
) -> list[dict[str, Any]]:
    """Weekly links gone live, emails, replies, cost and value, with running cost and value
    totals that end at the report's totals. From the campaign's start (or its first event) to
    this week, at most WEEKS_SHOWN weeks."""
    sent, replies = _daily_messages(session, campaign.id)
    costs = _daily_costs(session, campaign.id)
    earned = [(link.first_live_at.date(), value) for link, value in zip(links, values, strict=True)]
    end = now.date()
    firsts = [day for day, _ in (*sent, *replies, *costs, *earned) if day is not None]
    if campaign.starts_on:
        firsts.append(campaign.starts_on)
    start = min(min(firsts, default=end), end)
    start = max(start, end - timedelta(weeks=WEEKS_SHOWN - 1))
    start -= timedelta(days=start.weekday())
    cost_opening, costs_shown = _split_period(costs, start, end)
    value_opening, earned_shown = _split_period(earned, start, end)
    weekly = zip(
        weekly_totals(((link.first_live_at.date(), 1) for link in links), start, end, 0),
        weekly_totals(((day, n) for day, n in sent if day is not None), start, end, 0),
        weekly_totals(((day, n) for day, n in replies if day is not None), start, end, 0),
        weekly_totals(costs_shown, start, end, Decimal(0)),
        weekly_totals(earned_shown, start, end, Decimal(0)),
        strict=True,
    )
    rows = []
    running_cost, running_value = cost_opening, value_opening
    for (week, live), (_, emails), (_, answered), (_, cost), (_, value) in weekly:
        running_cost += cost
        running_value += value
        rows.append(
            {
                "week": week.isoformat(),
                "links_live": live,
                "emails_sent": emails,
                "replies": answered,
                "cost": float(to_cents(cost)),
                "value": float(to_cents(value)),
                "cumulative_cost": float(to_cents(running_cost)),
                "cumulative_value": float(to_cents(running_value)),
            }
        )
    return rows


def _builders(
    session: Session, campaign_id: int, links: list[LiveLink], *, show_cost: bool
) -> list[dict[str, Any]]:
    """Per prospect owner: the funnel, live links and, for managers, what their time and their
    prospects' link prices cost per link. Unassigned prospects are a row of their own."""
    stages: dict[int | None, dict[str, int]] = defaultdict(dict)
    for owner_id, stage, count in session.exec(
        select(Prospect.owner_id, Prospect.stage, func.count())
        .where(Prospect.campaign_id == campaign_id)
        .group_by(Prospect.owner_id, Prospect.stage)
    ):
        stages[owner_id][stage.value] = count
    live: dict[int | None, int] = defaultdict(int)
    for link in links:
        live[link.owner_id] += 1
    costs: dict[int | None, Decimal] = defaultdict(Decimal)
    if show_cost:
        for owner_id, amount in session.exec(
            select(Prospect.owner_id, func.sum(Placement.cost))
            .join(Prospect, col(Prospect.id) == Placement.prospect_id)
            .where(Prospect.campaign_id == campaign_id, col(Placement.cost).is_not(None))
            .group_by(Prospect.owner_id)
        ):
            costs[owner_id] += Decimal(amount)
        for user_id, amount in session.exec(
            select(TimeEntry.user_id, func.sum(TimeEntry.minutes * User.hourly_rate))
            .join(User, col(User.id) == TimeEntry.user_id)
            .where(TimeEntry.campaign_id == campaign_id, col(User.hourly_rate).is_not(None))
            .group_by(TimeEntry.user_id)
        ):
            costs[user_id] += Decimal(amount) / 60
    people = set(stages) | set(live) | set(costs)
    names = dict(
        session.exec(
            select(User.id, func.coalesce(func.nullif(User.name, ""), User.email)).where(
                col(User.id).in_([person for person in people if person is not None])
            )
        ).all()
    )
    rows = []
    for person in people:
        reached = funnel(stages.get(person, {}))
        cost = costs.get(person, Decimal(0))
        rows.append(
            {
                "user_id": person,
                "name": names.get(person, "Unassigned") if person else "Unassigned",
                "prospects": reached.total,
                "contacted": reached.contacted,
                "replies": reached.replied,
                "links": live.get(person, 0),
                "cost": money(cost) if show_cost else None,
                "cost_per_link": money(cost_per_link(cost, live.get(person, 0)))
                if show_cost
                else None,
            }
        )
    rows.sort(key=lambda row: (-row["links"], -row["contacted"], row["name"]))
    return rows


def _templates(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Emails sent per template, and the replies to them: a reply counts for the template of
    the email it answers (its In-Reply-To), so unthreaded replies count for none."""
    in_campaign = select(Prospect.id).where(Prospect.campaign_id == campaign_id)
    sent = dict(
        session.exec(
            select(Message.template_id, func.count())
            .where(
                col(Message.prospect_id).in_(in_campaign),
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.SENT,
                col(Message.template_id).is_not(None),
            )
            .group_by(Message.template_id)
        ).all()
    )
    answered = sa.orm.aliased(Message)
    replies = dict(
        session.exec(
            select(answered.template_id, func.count())
            .select_from(Message)
            .join(answered, answered.message_id == Message.in_reply_to)
            .where(
                col(Message.prospect_id).in_(in_campaign),
                Message.direction == Direction.INBOUND,
                Message.inbound_kind == InboundKind.REPLY,
                col(answered.template_id).is_not(None),
            )
            .group_by(answered.template_id)
        ).all()
    )
    names = dict(
        session.exec(
            select(Template.id, Template.name).where(col(Template.id).in_(list(sent)))
        ).all()
    )
    rows = [
        {
            "template_id": template_id,
            "name": names.get(template_id, f"Template {template_id}"),
            "sent": count,
            "replies": replies.get(template_id, 0),
            "reply_rate": rate(replies.get(template_id, 0), count),
        }
        for template_id, count in sent.items()
    ]
    rows.sort(key=lambda row: (-row["sent"], row["name"]))
    return rows
