"""What the link pages read: the Links page's tabs, a campaign's earned-link ledger, its disavow
file, and a prospect's placements with their last check. Queries only; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from outreach.campaigns.models import Campaign, ContentAsset
from outreach.links.models import Placement, PlacementCheck, PlacementStatus
from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.prospects.models import Domain, Prospect

TABS = ("alerts", "promised", "live", "unknown", "lost", "all")
# A paid link is an alert this many days before it expires (the first expiry reminder).
EXPIRY_WARNING = timedelta(days=7)


def _latest_check_id(found_only: bool = False) -> sa.ScalarSelect[int]:
    """The id of a placement's newest check (or newest that found the link), for a join."""
    query = sa.select(PlacementCheck.id).where(col(PlacementCheck.placement_id) == Placement.id)
    if found_only:
        query = query.where(col(PlacementCheck.found).is_(True))
    return (
        query.order_by(sa.desc(PlacementCheck.checked_at), sa.desc(PlacementCheck.id))
        .limit(1)
        .correlate(Placement)
        .scalar_subquery()
    )


# mismatches is JSON: an empty list is stored as "[]" on SQLite and PostgreSQL alike.
_HAS_MISMATCHES = sa.cast(PlacementCheck.mismatches, sa.Text).not_in(["[]", "null"])


def _expiring(today: date) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Placement.paid).is_(True),
        col(Placement.expires_on) >= today,
        col(Placement.expires_on) <= today + EXPIRY_WARNING,
    )


def _tab_condition(tab: str, today: date) -> sa.ColumnElement[bool]:
    """Which placements a tab holds; alerts: lost links, live ones whose last check differed
    from the agreement, and paid ones about to expire."""
    if tab == "alerts":
        return sa.or_(
            col(Placement.status) == PlacementStatus.LOST,
            sa.and_(col(Placement.status) == PlacementStatus.LIVE, _HAS_MISMATCHES),
            _expiring(today),
        )
    if tab == "all":
        return sa.true()
    return col(Placement.status) == PlacementStatus(tab)


def _tab_order(tab: str, today: date) -> list[sa.ColumnElement[object]]:
    if tab == "promised":
        overdue = sa.case((col(Placement.promised_on) < today, 0), else_=1)
        return [overdue, col(Placement.promised_on).asc().nulls_last(), col(Placement.id)]
    return [col(Placement.last_checked_at).desc().nulls_last(), col(Placement.id).desc()]


@dataclass(frozen=True)
class LinkRow:
    """One line of the Links page."""

    placement: Placement
    domain: str
    campaign_id: int
    campaign_name: str
    mismatches: list[str]
    # Why the row is an alert, in words (empty outside alerts).
    alerts: list[str]
    overdue: bool


def _alerts(placement: Placement, mismatches: list[str], today: date) -> list[str]:
    found: list[str] = []
    if placement.status is PlacementStatus.LOST:
        found.append(f"lost after {placement.consecutive_failures} failing checks")
    if placement.status is PlacementStatus.LIVE:
        found.extend(mismatches)
    expires = placement.expires_on
    if placement.paid and expires is not None and today <= expires <= today + EXPIRY_WARNING:
        days = (expires - today).days
        found.append(f"paid link expires {'today' if not days else f'in {days} days'}")
    return found


def _scoped(query: sa.Select[object], campaign_id: int | None) -> sa.Select[object]:
    query = query.join(Prospect, col(Prospect.id) == Placement.prospect_id).outerjoin(
        PlacementCheck, col(PlacementCheck.id) == _latest_check_id()
    )
    return query if campaign_id is None else query.where(Prospect.campaign_id == campaign_id)


def links_page(
    session: Session, tab: str, campaign_id: int | None, offset: int, limit: int, today: date
) -> tuple[list[LinkRow], int]:
    """One page of a tab, optionally of one campaign, and how many rows the tab has in all."""
    condition = _tab_condition(tab, today)
    total = session.exec(
        _scoped(sa.select(func.count(col(Placement.id))), campaign_id).where(condition)
    ).one()[0]
    columns = (Placement, Domain.name, Campaign.id, Campaign.name, PlacementCheck.mismatches)
    query = (
        _scoped(sa.select(*columns), campaign_id)
        .join(Domain, col(Domain.id) == Prospect.domain_id)
        .join(Campaign, col(Campaign.id) == Prospect.campaign_id)
        .where(condition)
        .order_by(*_tab_order(tab, today))
        .offset(offset)
        .limit(limit)
    )
    rows = [
        LinkRow(
            placement=placement,
            domain=domain,
            campaign_id=campaign,
            campaign_name=campaign_name,
            mismatches=mismatches or [],
            alerts=_alerts(placement, mismatches or [], today) if tab == "alerts" else [],
            overdue=placement.status is PlacementStatus.PROMISED
            and placement.promised_on is not None
            and placement.promised_on < today,
        )
        for placement, domain, campaign, campaign_name, mismatches in session.exec(query)
    ]
    return rows, total


def alert_counts(session: Session, campaign_id: int | None, today: date) -> dict[str, int]:
    """How many placements each tab holds (the tab badges), with "overdue" promises apart."""
    conditions = {name: _tab_condition(name, today) for name in TABS}
    conditions["overdue"] = sa.and_(
        col(Placement.status) == PlacementStatus.PROMISED, col(Placement.promised_on) < today
    )
    columns = [
        func.coalesce(func.sum(sa.case((condition, 1), else_=0)), 0).label(name)
        for name, condition in conditions.items()
    ]
    row = session.exec(_scoped(sa.select(*columns), campaign_id)).one()
    return {name: int(value) for name, value in row._mapping.items()}


@dataclass(frozen=True)
class LedgerRow:
    """A link the campaign earned, with what its site is worth and what the checks found."""

    placement: Placement
    domain: str
    domain_rating: int | None
    traffic: int | None
    asset_title: str
    # From the newest check that found the link: an unknown link's last check found nothing.
    anchor_text: str
    rel: list[str]

    @property
    def was_live(self) -> bool:
        """Unknown now (the last check could not tell), live before."""
        return self.placement.status is PlacementStatus.UNKNOWN

    @property
    def rel_text(self) -> str:
        return " ".join(self.rel) or "follow"

    def survival_days(self, today: date) -> int:
        first = self.placement.first_live_at
        return (today - first.date()).days if first else 0


def ledger_rows(session: Session, campaign_id: int) -> list[LedgerRow]:
    """Every live link of a campaign, and the unknown ones that were live, oldest first."""
    found_check = aliased(PlacementCheck)
    query = (
        sa.select(
            Placement,
            Domain.name,
            Prospect.domain_rating,
            Prospect.traffic,
            ContentAsset.title,
            found_check.anchor_text,
            found_check.rel,
        )
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .join(Domain, col(Domain.id) == Prospect.domain_id)
        .outerjoin(ContentAsset, col(ContentAsset.id) == Placement.asset_id)
        .outerjoin(found_check, found_check.id == _latest_check_id(found_only=True))
        .where(
            Prospect.campaign_id == campaign_id,
            sa.or_(
                col(Placement.status) == PlacementStatus.LIVE,
                sa.and_(
                    col(Placement.status) == PlacementStatus.UNKNOWN,
                    col(Placement.first_live_at).is_not(None),
                ),
            ),
        )
        .order_by(col(Placement.first_live_at).asc().nulls_last(), col(Placement.id))
    )
    return [
        LedgerRow(
            placement=placement,
            domain=domain,
            domain_rating=rating,
            traffic=traffic,
            asset_title=asset or "",
            anchor_text=anchor or "",
            rel=rel or [],
        )
        for placement, domain, rating, traffic, asset, anchor, rel in session.exec(query)
    ]


def disavow_text(session: Session, campaign: Campaign, today: date) -> str:
    """Google's disavow file for the campaign's toxic placements: one `domain:` line per site;
    a page on a bare IP address or an intranet host has no domain, so its URL is listed."""
    pages = session.exec(
        select(Placement.page_url)
        .join(Prospect, col(Prospect.id) == Placement.prospect_id)
        .where(Prospect.campaign_id == campaign.id, col(Placement.toxic).is_(True))
    ).all()
    entries: set[str] = set()
    for page_url in pages:
        try:
            entries.add(f"domain:{registrable_domain(page_url)}")
        except InvalidDomainError:
            entries.add(page_url)
    name = " ".join(campaign.name.split())
    lines = [f"# disavow file for {name} generated {today.isoformat()}", *sorted(entries)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PlacementCard:
    """A placement on its prospect's page, with the newest check (None before the first)."""

    placement: Placement
    last_check: PlacementCheck | None


def placement_cards(session: Session, prospect_id: int) -> list[PlacementCard]:
    query = (
        select(Placement, PlacementCheck)
        .outerjoin(PlacementCheck, col(PlacementCheck.id) == _latest_check_id())
        .where(Placement.prospect_id == prospect_id)
        .order_by(col(Placement.created_at), col(Placement.id))
    )
    return [PlacementCard(placement, check) for placement, check in session.exec(query)]
