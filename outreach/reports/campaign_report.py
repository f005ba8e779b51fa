"""A campaign's report: the figures gathered with a few aggregate queries, the arithmetic done
by reports.figures. Nothing here is per-row work in Python except over live links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from outreach.auth.models import User
from outreach.campaigns.models import Campaign, Client, ContentAsset, CostEntry
from outreach.db import days_between, utc_week
from outreach.links.models import Placement
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
    survival_share,
    to_cents,
    value_model_from_json,
    weekly_totals,
)
from outreach.reports.models import (
    NO_OWNER,
    AnchorTally,
    LinkTally,
    LinkWeekTally,
    ProspectTally,
    SpendTally,
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
class WeekOfLiveLinks(CountedLinks):
    """Links live now that first went live in one week (its Monday)."""

    week: date


BURST_LIMIT = 3
SURVIVAL_DAYS = (30, 90, 180)


def _rel(verdict: str) -> str:
    return REL_OF_VERDICT.get(verdict or "live", "follow")


def _owner(owner_id: int) -> int | None:
    return None if owner_id == NO_OWNER else owner_id


def _amount(cents: int) -> Decimal:
    return Decimal(cents) / 100


def _live_link_groups(session: Session, campaign_id: int) -> list[LinkGroup]:
    return [
        LinkGroup(
            owner_id=_owner(owner_id),
            link_type=link_type,
            rel=_rel(verdict),
            paid=bool(paid),
            domain_rating=band,
            links=links,
            overridden=overridden,
            override_total=_amount(override_cents),
        )
        for owner_id, link_type, verdict, paid, band, links, overridden, override_cents in (
            session.execute(
                sa.select(
                    LinkTally.owner_id,
                    LinkTally.link_type,
                    LinkTally.verdict,
                    LinkTally.paid,
                    LinkTally.band,
                    LinkTally.links,
                    LinkTally.overridden,
                    LinkTally.override_cents,
                ).where(LinkTally.campaign_id == campaign_id, LinkTally.links > 0)
            )
        )
    ]


@dataclass(frozen=True)
class WeekOfLinks:
    """A row of LinkWeekTally."""

    week: date
    verdict: str
    band: int
    ever_live: int
    links: int
    overridden: int
    override_cents: int


def _link_weeks(session: Session, campaign_id: int) -> list[WeekOfLinks]:
    return [
        WeekOfLinks(*row)
        for row in session.execute(
            sa.select(
                LinkWeekTally.week,
                LinkWeekTally.verdict,
                LinkWeekTally.band,
                LinkWeekTally.ever_live,
                LinkWeekTally.links,
                LinkWeekTally.overridden,
                LinkWeekTally.override_cents,
            ).where(LinkWeekTally.campaign_id == campaign_id, LinkWeekTally.ever_live > 0)
        )
    ]


def live_links_by_week(session: Session, campaign_id: int) -> list[WeekOfLiveLinks]:
    """Live links by the week (its Monday) they first went live, by DR band and rel, so that
    each week's value can be summed."""
    return _live_weeks(_link_weeks(session, campaign_id))


def _live_weeks(weeks: Iterable[WeekOfLinks]) -> list[WeekOfLiveLinks]:
    return [
        WeekOfLiveLinks(
            week=tally.week,
            rel=_rel(tally.verdict),
            domain_rating=tally.band,
            links=tally.links,
            overridden=tally.overridden,
            override_total=_amount(tally.override_cents),
        )
        for tally in weeks
        if tally.links
    ]


def _live_anchors(session: Session, campaign_id: int) -> dict[str, int]:
    return dict(
        session.exec(
            select(AnchorTally.anchor, AnchorTally.links).where(
                AnchorTally.campaign_id == campaign_id, AnchorTally.links > 0
            )
        ).all()
    )


def _referring_domains(session: Session, campaign_id: int) -> tuple[int, dict[str, int]]:
    """How many domains link (a campaign has one prospect per domain), and the domains with
    more live links than the burst limit."""
    # Spelled as the partial index's predicate, so that SQLite uses it.
    linking = (Prospect.campaign_id == campaign_id, sa.text("live_links > 0"))
    domains = session.exec(select(func.count()).select_from(Prospect).where(*linking)).one()
    bursts = dict(
        session.exec(
            select(Domain.name, Prospect.live_links)
            .join(Domain, col(Domain.id) == Prospect.domain_id)
            .where(*linking, col(Prospect.live_links) > BURST_LIMIT)
        ).all()
    )
    return domains, bursts


def _median_days(session: Session, campaign_id: int, days: Any, predicate: str) -> float | None:
    """The median of a per-prospect number of days, read from its index: a count, then the
    one or two values in the middle."""
    # Spelled as the partial index's predicate, so that SQLite uses it.
    known = (Prospect.campaign_id == campaign_id, sa.text(predicate))
    count = session.exec(select(func.count()).select_from(Prospect).where(*known)).one()
    if not count:
        return None
    middle = session.exec(
        select(days).where(*known).order_by(days).offset((count - 1) // 2).limit(2 - count % 2)
    ).all()
    return median_days([timedelta(days=value) for value in middle])


@dataclass(frozen=True)
class Tally:
    day: date
    template_id: int
    sent: int
    replies: int


def _tallies(session: Session, campaign_id: int) -> list[Tally]:
    """The campaign's mail counts per week (its Monday) and template."""
    week = utc_week(MailTally.day)
    return [
        Tally(day, template_id, sent, replies)
        for day, template_id, sent, replies in session.execute(
            sa.select(
                week, MailTally.template_id, func.sum(MailTally.sent), func.sum(MailTally.replies)
            )
            .where(MailTally.campaign_id == campaign_id)
            .group_by(week, MailTally.template_id)
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
    for owner_id, stage, prospects in session.execute(
        sa.select(ProspectTally.owner_id, ProspectTally.stage, ProspectTally.prospects).where(
            ProspectTally.campaign_id == campaign_id, ProspectTally.prospects > 0
        )
    ):
        counts[_owner(owner_id)][stage] = prospects
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
    groups = _live_link_groups(session, campaign.id)
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
    weeks_of_links = _link_weeks(session, campaign.id)
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
        "median_days_to_reply": _median_days(
            session, campaign.id, Prospect.reply_days, "reply_days IS NOT NULL"
        ),
        "median_days_to_live": _median_days(
            session, campaign.id, Prospect.live_days, "live_days IS NOT NULL"
        ),
        "links_live": core.links_live,
        "links_by_type": dict(sorted(_count_by(groups, lambda group: group.link_type).items())),
        "rel_mix": rels,
        "referring_domains": core.referring_domains,
        "anchor_mix": anchors,
        "survival": _survival(session, campaign.id, weeks_of_links, now),
        "cost_total": money(core.cost_total),
        "cost_per_link": money(cost_per_link(core.cost_total, core.links_live)),
        "value_total": money(core.value_total),
        "roi": roi(core.value_total, core.cost_total),
        "over_time": _over_time(campaign, now, core, _live_weeks(weeks_of_links)),
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


def _survival(
    session: Session, campaign_id: int, weeks_of_links: list[WeekOfLinks], now: datetime
) -> dict[str, float | None]:
    """Links that went live before the cutoff's week are counted from the week tallies, those
    of that week and the lost ones from indexes."""
    shares = {}
    for days in SURVIVAL_DAYS:
        cutoff = now - timedelta(days=days)
        monday = cutoff.date() - timedelta(days=cutoff.weekday())
        old_enough = sum(tally.ever_live for tally in weeks_of_links if tally.week < monday)
        old_enough += session.exec(
            select(func.count()).where(
                Placement.campaign_id == campaign_id,
                col(Placement.first_live_at) >= datetime.combine(monday, time(), tzinfo=UTC),
                col(Placement.first_live_at) <= cutoff,
            )
        ).one()
        died = session.exec(
            select(func.count()).where(
                Placement.campaign_id == campaign_id,
                # Spelled as the partial index's predicate, so that SQLite uses it.
                sa.text("lost_at IS NOT NULL"),
                col(Placement.first_live_at) <= cutoff,
                days_between(Placement.first_live_at, Placement.lost_at) <= days,
            )
        ).one()
        shares[f"{days}d"] = survival_share(old_enough, died)
    return shares


def _daily_costs(session: Session, campaign_id: int) -> list[tuple[date, Decimal]]:
    """The campaign's costs by the day they were incurred (entries) or by its week's Monday
    (link prices, when agreed, and logged time at each user's rate)."""
    entries = session.exec(
        select(CostEntry.incurred_on, func.sum(CostEntry.amount))
        .where(CostEntry.campaign_id == campaign_id)
        .group_by(CostEntry.incurred_on)
    ).all()
    spend = session.exec(
        select(SpendTally.week, SpendTally.price_cents, SpendTally.minutes, User.hourly_rate)
        .outerjoin(User, col(User.id) == SpendTally.person_id)
        .where(SpendTally.campaign_id == campaign_id)
    ).all()
    return [
        *((day, Decimal(amount)) for day, amount in entries),
        *(
            (week, _amount(cents) + (minutes * rate / 60 if rate is not None else 0))
            for week, cents, minutes, rate in spend
        ),
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
    campaign: Campaign, now: datetime, core: CampaignCore, weeks_of_links: list[WeekOfLiveLinks]
) -> list[dict[str, Any]]:
    """Weekly links gone live, emails, replies, cost and value, with running cost and value
    totals that end at the report's totals. From the campaign's start (or its first event) to
    this week, at most WEEKS_SHOWN weeks."""
    sent = [(tally.day, tally.sent) for tally in core.tallies]
    replies = [(tally.day, tally.replies) for tally in core.tallies]
    costs = core.daily_costs
    gone_live = [(group.week, group.links) for group in weeks_of_links]
    earned = [(group.week, group.value(core.model)) for group in weeks_of_links]
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
        for person, cents, minutes, rate in session.exec(
            select(
                SpendTally.person_id,
                func.sum(SpendTally.price_cents),
                func.sum(SpendTally.minutes),
                User.hourly_rate,
            )
            .outerjoin(User, col(User.id) == SpendTally.person_id)
            .where(SpendTally.campaign_id == campaign_id)
            .group_by(SpendTally.person_id, User.hourly_rate)
        ):
            spent = _amount(cents) + (minutes * rate / 60 if rate is not None else 0)
            if cents or (minutes and rate is not None):
                costs[_owner(person)] += spent
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
