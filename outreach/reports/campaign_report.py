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
from outreach.db import days_between, utc_date
from outreach.links.models import LIVE_NOW, LinkType, Placement
from outreach.mail.models import MailTally, Template
from outreach.mail.tallies import NO_TEMPLATE
from outreach.prospects.models import Domain, Prospect, Stage
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


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(CENT))


@dataclass(frozen=True, kw_only=True)
class CountedLinks:
    """Live links counted together: of one rel and DR band (`domain_rating` is the band's
    lowest DR), `overridden` of them with their own value summing to `override_total`."""

    rel: str
    domain_rating: int | None
    links: int
    overridden: int
    override_total: Decimal

    def value(self, model: ValueModel) -> Decimal:
        """Links with a per-link value count that; the rest count the model's."""
        modelled = self.links - self.overridden
        each = link_value(model, self.domain_rating, self.rel, None) if modelled else Decimal(0)
        return each * modelled + self.override_total


@dataclass(frozen=True, kw_only=True)
class LinkGroup(CountedLinks):
    """Live links alike in everything the report tells apart."""

    owner_id: int | None
    link_type: str
    paid: bool


@dataclass(frozen=True, kw_only=True)
class DayOfLinks(CountedLinks):
    """Live links that first went live on one day."""

    day: date


# Spelled as in the partial indexes' predicate: SQLite uses such an index only then.
LIVE = sa.text(LIVE_NOW)
BURST_LIMIT = 3
SURVIVAL_DAYS = (30, 90, 180)


def _rel(verdict: str) -> str:
    return REL_OF_VERDICT.get(verdict or "live", "follow")


def _band_of(model: ValueModel) -> Any:
    """The DR band a prospect's rating falls in, as the band's lowest DR, in SQL: links are
    then counted per band rather than per rating. No rating counts as the lowest band."""
    return sa.case(
        *[
            (col(Prospect.domain_rating) >= min_dr, min_dr)
            for min_dr, _ in reversed(model.bands)
            if min_dr
        ],
        else_=0,
    )


def _live_link_groups(session: Session, campaign_id: int, model: ValueModel) -> list[LinkGroup]:
    band = _band_of(model)
    rows = session.exec(
        select(
            Prospect.owner_id,
            Placement.link_type,
            Placement.found_verdict,
            Placement.paid,
            band,
            func.count(),
            func.count(Placement.value_override),
            func.coalesce(func.sum(Placement.value_override), 0),
        )
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Placement.campaign_id == campaign_id, LIVE)
        .group_by(
            Prospect.owner_id, Placement.link_type, Placement.found_verdict, Placement.paid, band
        )
    )
    return [
        LinkGroup(
            owner_id=owner,
            link_type=LinkType(kind).value,
            rel=_rel(verdict),
            paid=bool(paid),
            domain_rating=band_start,
            links=links,
            overridden=overridden,
            override_total=Decimal(override_total),
        )
        for owner, kind, verdict, paid, band_start, links, overridden, override_total in rows
    ]


def live_links_by_day(
    session: Session, campaign_id: int, model: ValueModel | None = None
) -> list[DayOfLinks]:
    """Live links by the day they first went live (and, given a value model, by DR band and
    rel, so each day's value can be summed)."""
    day = utc_date(Placement.first_live_at)
    if model is None:
        return [
            DayOfLinks(
                day=on,
                rel="follow",
                domain_rating=None,
                links=links,
                overridden=0,
                override_total=Decimal(0),
            )
            for on, links in session.exec(
                select(day, func.count())
                .where(Placement.campaign_id == campaign_id, LIVE)
                .group_by(day)
            )
        ]
    band = _band_of(model)
    rows = session.exec(
        select(
            day,
            Placement.found_verdict,
            band,
            func.count(),
            func.count(Placement.value_override),
            func.coalesce(func.sum(Placement.value_override), 0),
        )
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Placement.campaign_id == campaign_id, LIVE)
        .group_by(day, Placement.found_verdict, band)
    )
    return [
        DayOfLinks(
            day=on,
            rel=_rel(verdict),
            domain_rating=band_start,
            links=links,
            overridden=overridden,
            override_total=Decimal(override_total),
        )
        for on, verdict, band_start, links, overridden, override_total in rows
    ]


def _live_anchors(session: Session, campaign_id: int) -> dict[str, int]:
    return dict(
        session.exec(
            select(Placement.found_anchor, func.count())
            .where(Placement.campaign_id == campaign_id, LIVE)
            .group_by(Placement.found_anchor)
        ).all()
    )


def _referring_domains(session: Session, campaign_id: int) -> tuple[int, dict[str, int]]:
    """How many domains link (a campaign has one prospect per domain), and the domains with
    more live links than the burst limit."""
    domains = session.exec(
        select(func.count(sa.distinct(Placement.prospect_id))).where(
            Placement.campaign_id == campaign_id, LIVE
        )
    ).one()
    crowded = (
        select(Placement.prospect_id, func.count().label("links"))
        .where(Placement.campaign_id == campaign_id, LIVE)
        .group_by(Placement.prospect_id)
        .having(func.count() > BURST_LIMIT)
        .subquery()
    )
    bursts = dict(
        session.exec(
            select(Domain.name, crowded.c.links)
            .join(Prospect, col(Prospect.id) == crowded.c.prospect_id)
            .join(Domain, col(Domain.id) == Prospect.domain_id)
        ).all()
    )
    return domains, bursts


def _durations(session: Session, campaign_id: int, start: Any, end: Any) -> list[timedelta]:
    """For each prospect that reached both stages, the time from the first to the second (the
    days computed in SQL, so only numbers cross the wire)."""
    days = days_between(start, end)
    rows = session.exec(
        select(days).where(
            Prospect.campaign_id == campaign_id,
            col(start).is_not(None),
            col(end).is_not(None),
            end >= start,
        )
    )
    return [timedelta(days=float(value)) for value in rows]


@dataclass(frozen=True)
class Tally:
    day: date
    template_id: int
    sent: int
    replies: int


def _tallies(session: Session, campaign_id: int) -> list[Tally]:
    """The campaign's mail counts per day and template (a few hundred rows a year)."""
    return [
        Tally(day, template_id, sent, replies)
        for day, template_id, sent, replies in session.exec(
            select(MailTally.day, MailTally.template_id, MailTally.sent, MailTally.replies).where(
                MailTally.campaign_id == campaign_id
            )
        )
    ]


@dataclass(frozen=True)
class CampaignCore:
    """The figures both the campaign report and the portfolio are built on."""

    by_owner_stage: dict[int | None, dict[str, int]]
    by_stage: dict[str, int]
    stages: Funnel
    tallies: list[Tally]
    emails_sent: int
    replies: int
    model: ValueModel
    link_groups: list[LinkGroup]
    links_live: int
    referring_domains: int
    bursts: dict[str, int]
    value_total: Decimal
    daily_costs: list[tuple[date, Decimal]]
    cost_total: Decimal


def _owner_stage_counts(session: Session, campaign_id: int) -> dict[int | None, dict[str, int]]:
    counts: dict[int | None, dict[str, int]] = defaultdict(dict)
    for owner_id, stage, count in session.exec(
        select(Prospect.owner_id, Prospect.stage, func.count())
        .where(Prospect.campaign_id == campaign_id)
        .group_by(Prospect.owner_id, Prospect.stage)
    ):
        counts[owner_id][stage.value] = count
    return dict(counts)


def campaign_core(session: Session, campaign: Campaign) -> CampaignCore:
    by_owner_stage = _owner_stage_counts(session, campaign.id)
    by_stage = {stage.value: 0 for stage in Stage}
    for stages_of_owner in by_owner_stage.values():
        for stage, count in stages_of_owner.items():
            by_stage[stage] += count
    tallies = _tallies(session, campaign.id)
    model = (
        value_model_from_json(campaign.value_model)
        if campaign.value_model
        else ValueModel.default()
    )
    groups = _live_link_groups(session, campaign.id, model)
    referring, bursts = _referring_domains(session, campaign.id)
    daily_costs = _daily_costs(session, campaign.id)
    return CampaignCore(
        by_owner_stage=by_owner_stage,
        by_stage=by_stage,
        stages=funnel(by_stage),
        tallies=tallies,
        emails_sent=sum(tally.sent for tally in tallies),
        replies=sum(tally.replies for tally in tallies),
        model=model,
        link_groups=groups,
        links_live=sum(group.links for group in groups),
        referring_domains=referring,
        bursts=bursts,
        value_total=sum((group.value(model) for group in groups), Decimal(0)),
        daily_costs=daily_costs,
        cost_total=sum((amount for _, amount in daily_costs), Decimal(0)),
    )


def _count_by(groups: Iterable[LinkGroup], key: Any) -> dict[Any, int]:
    counts: dict[Any, int] = defaultdict(int)
    for group in groups:
        counts[key(group)] += group.links
    return dict(counts)


def campaign_report(
    session: Session, campaign: Campaign, now: datetime, viewer: User | None = None
) -> dict[str, Any]:
    """Every figure of the report, under the names the API and the page share. What each
    builder costs is left out unless the viewer is a manager or admin: it would reveal rates."""
    core = campaign_core(session, campaign)
    stages, groups = core.stages, core.link_groups
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
        _live_anchors(session, campaign.id),
        brand_terms=brand,
        target_keywords=keywords,
        target_url=campaign.client_url,
    )
    rels = rel_mix(_count_by(groups, lambda group: group.rel))
    return {
        "campaign_id": campaign.id,
        "currency": campaign.currency,
        "budget": money(campaign.budget),
        "prospects_by_stage": core.by_stage,
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
        "publish_rate": rate(core.links_live, stages.contacted),
        "median_days_to_reply": median_days(
            _durations(session, campaign.id, Prospect.contacted_at, Prospect.replied_at)
        ),
        "median_days_to_live": median_days(
            _durations(session, campaign.id, Prospect.contacted_at, Prospect.linked_at)
        ),
        "links_live": core.links_live,
        "links_by_type": dict(sorted(_count_by(groups, lambda group: group.link_type).items())),
        "rel_mix": rels,
        "referring_domains": core.referring_domains,
        "anchor_mix": anchors,
        "survival": _survival(session, campaign.id, now),
        "cost_total": money(core.cost_total),
        "cost_per_link": money(cost_per_link(core.cost_total, core.links_live)),
        "value_total": money(core.value_total),
        "roi": roi(core.value_total, core.cost_total),
        "over_time": _over_time(session, campaign, now, core),
        "builders": _builders(
            session, campaign.id, core, show_cost=viewer is not None and sees_everything(viewer)
        ),
        "templates": _templates(session, core.tallies),
        "warnings": profile_warnings(
            anchors=anchors,
            rels=rels,
            paid_without_sponsored=sum(
                group.links for group in groups if group.paid and group.rel != "sponsored"
            ),
            links_per_domain=core.bursts,
            burst_limit=BURST_LIMIT,
        ),
    }


def _survival(session: Session, campaign_id: int, now: datetime) -> dict[str, float | None]:
    """Links that went live long enough ago are counted in SQL; only lost ones are read."""
    shares = {}
    for days in SURVIVAL_DAYS:
        cutoff = now - timedelta(days=days)
        ever_live = (
            Placement.campaign_id == campaign_id,
            col(Placement.first_live_at).is_not(None),
            col(Placement.first_live_at) <= cutoff,
        )
        old_enough = session.exec(select(func.count()).where(*ever_live)).one()
        lost = session.exec(
            select(Placement.first_live_at, Placement.lost_at).where(
                *ever_live, col(Placement.lost_at).is_not(None)
            )
        ).all()
        still_counted = [(cutoff, None)] * (old_enough - len(lost))
        shares[f"{days}d"] = survival([*still_counted, *lost], now, days)
    return shares


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
        .where(Placement.campaign_id == campaign_id, col(Placement.cost).is_not(None))
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
    core: CampaignCore,
) -> list[dict[str, Any]]:
    """Weekly links gone live, emails, replies, cost and value, with running cost and value
    totals that end at the report's totals. From the campaign's start (or its first event) to
    this week, at most WEEKS_SHOWN weeks."""
    sent = [(tally.day, tally.sent) for tally in core.tallies]
    replies = [(tally.day, tally.replies) for tally in core.tallies]
    costs = core.daily_costs
    days_of_links = live_links_by_day(session, campaign.id, core.model)
    gone_live = [(group.day, group.links) for group in days_of_links]
    earned = [(group.day, group.value(core.model)) for group in days_of_links]
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
        weekly_totals(gone_live, start, end, 0),
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
    session: Session, campaign_id: int, core: CampaignCore, *, show_cost: bool
) -> list[dict[str, Any]]:
    """Per prospect owner: the funnel, live links and, for managers, what their time and their
    prospects' link prices cost per link. Unassigned prospects are a row of their own."""
    stages = core.by_owner_stage
    live = _count_by(core.link_groups, lambda group: group.owner_id)
    costs: dict[int | None, Decimal] = defaultdict(Decimal)
    if show_cost:
        for owner_id, amount in session.exec(
            select(Prospect.owner_id, func.sum(Placement.cost))
            .join(Prospect, col(Prospect.id) == Placement.prospect_id)
            .where(Placement.campaign_id == campaign_id, col(Placement.cost).is_not(None))
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


def _templates(session: Session, tallies: list[Tally]) -> list[dict[str, Any]]:
    """Emails sent per template, and the replies to them: a reply counts for the template of
    the email it answers."""
    sent: dict[int, int] = defaultdict(int)
    replies: dict[int, int] = defaultdict(int)
    for tally in tallies:
        if tally.template_id != NO_TEMPLATE:
            sent[tally.template_id] += tally.sent
            replies[tally.template_id] += tally.replies
    names = dict(
        session.exec(
            select(Template.id, Template.name).where(col(Template.id).in_(list(sent)))
        ).all()
    )
    rows = [
        {
            "template_id": template_id,
            "name": names.get(template_id, "(deleted template)"),
            "sent": count,
            "replies": replies[template_id],
            "reply_rate": rate(replies[template_id], count),
        }
        for template_id, count in sent.items()
        if count
    ]
    rows.sort(key=lambda row: (-row["sent"], row["name"]))
    return rows
