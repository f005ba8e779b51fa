"""The report rollups (reports.models) recomputed from the rows, and the value bands they are
counted by.

Triggers keep the rollups as rows are written (migration c858849638b7). This is the other way
to the same numbers, written apart from the triggers on purpose: it rebuilds a campaign after its
value model changes the DR bands, repairs data written with the triggers off, and is what the
tests hold the triggers to."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from outreach.campaigns.models import Campaign, TimeEntry
from outreach.db import days_between, utc_week
from outreach.links.models import Placement, PlacementStatus
from outreach.prospects.models import Prospect
from outreach.reports.figures import ValueModel
from outreach.reports.models import (
    NO_OWNER,
    AnchorTally,
    LinkTally,
    LinkWeekTally,
    ProspectTally,
    SpendTally,
    ValueBand,
)

ROLLUPS = (LinkTally, LinkWeekTally, AnchorTally, ProspectTally, SpendTally)
LIVE = sa.and_(
    col(Placement.status).in_([PlacementStatus.LIVE, PlacementStatus.UNKNOWN]),
    col(Placement.first_live_at).is_not(None),
)


def band_of(model: ValueModel, rating: Any) -> Any:
    """The DR band a rating falls in, as the band's lowest DR, in SQL. No rating counts as the
    lowest band."""
    return sa.case(
        *[(rating >= min_dr, min_dr) for min_dr, _ in reversed(model.bands) if min_dr],
        else_=0,
    )


def _cents(amount: Any) -> Any:
    return sa.cast(func.round(amount * 100), sa.BigInteger)


def set_value_bands(session: Session, campaign: Campaign, model: ValueModel | None) -> None:
    """Store the bands of a campaign's own value model (none for the default one) and recount
    its links by them. The caller commits."""
    session.execute(sa.delete(ValueBand).where(col(ValueBand.campaign_id) == campaign.id))
    if model is not None:
        session.add_all(ValueBand(campaign_id=campaign.id, min_dr=dr) for dr, _ in model.bands)
    session.flush()
    rebuild_rollups(session, campaign.id, model or ValueModel.default())


def rebuild_rollups(session: Session, campaign_id: int, model: ValueModel) -> None:
    """Recompute every rollup of one campaign from its placements, prospects and time entries.
    The caller commits."""
    prospect_of = col(Prospect.id) == Placement.prospect_id
    session.execute(
        sa.update(Placement)
        .where(col(Placement.campaign_id) == campaign_id)
        .values(
            owner_id=select(Prospect.owner_id).where(prospect_of).scalar_subquery(),
            domain_rating=select(Prospect.domain_rating).where(prospect_of).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    for rollup in ROLLUPS:
        session.execute(sa.delete(rollup).where(col(rollup.campaign_id) == campaign_id))
    live = (col(Placement.campaign_id) == campaign_id, LIVE)
    band = band_of(model, col(Placement.domain_rating))
    owner = func.coalesce(Placement.owner_id, NO_OWNER)
    overridden = func.count(Placement.value_override)
    override_cents = func.coalesce(func.sum(_cents(Placement.value_override)), 0)
    session.execute(
        sa.insert(LinkTally).from_select(
            [
                "campaign_id",
                "owner_id",
                "link_type",
                "verdict",
                "paid",
                "band",
                "links",
                "overridden",
                "override_cents",
            ],
            select(
                Placement.campaign_id,
                owner,
                Placement.link_type,
                Placement.found_verdict,
                Placement.paid,
                band,
                func.count(),
                overridden,
                override_cents,
            )
            .where(*live)
            .group_by(
                Placement.campaign_id,
                owner,
                Placement.link_type,
                Placement.found_verdict,
                Placement.paid,
                band,
            ),
        )
    )
    is_live = sa.case((LIVE, 1), else_=0)
    week = utc_week(Placement.first_live_at)
    session.execute(
        sa.insert(LinkWeekTally).from_select(
            [
                "campaign_id",
                "week",
                "verdict",
                "band",
                "ever_live",
                "links",
                "overridden",
                "override_cents",
            ],
            select(
                Placement.campaign_id,
                week,
                Placement.found_verdict,
                band,
                func.count(),
                func.sum(is_live),
                func.sum(is_live * sa.case((col(Placement.value_override).is_(None), 0), else_=1)),
                func.sum(is_live * func.coalesce(_cents(Placement.value_override), 0)),
            )
            .where(
                col(Placement.campaign_id) == campaign_id,
                col(Placement.first_live_at).is_not(None),
            )
            .group_by(Placement.campaign_id, week, Placement.found_verdict, band),
        )
    )
    session.execute(
        sa.insert(AnchorTally).from_select(
            ["campaign_id", "anchor", "links"],
            select(Placement.campaign_id, Placement.found_anchor, func.count())
            .where(*live)
            .group_by(Placement.campaign_id, Placement.found_anchor),
        )
    )
    prospect_owner = func.coalesce(Prospect.owner_id, NO_OWNER)
    session.execute(
        sa.insert(ProspectTally).from_select(
            ["campaign_id", "owner_id", "stage", "prospects"],
            select(Prospect.campaign_id, prospect_owner, Prospect.stage, func.count())
            .where(col(Prospect.campaign_id) == campaign_id)
            .group_by(Prospect.campaign_id, prospect_owner, Prospect.stage),
        )
    )
    _rebuild_spend(session, campaign_id)
    _rebuild_prospect_figures(session, campaign_id)


def _rebuild_spend(session: Session, campaign_id: int) -> None:
    spend: dict[tuple[Any, int], list[int]] = {}
    agreed_week = utc_week(Placement.created_at)
    owner = func.coalesce(Placement.owner_id, NO_OWNER)
    for week, person, cents in session.exec(
        select(agreed_week, owner, func.sum(_cents(Placement.cost)))
        .where(col(Placement.campaign_id) == campaign_id, col(Placement.cost).is_not(None))
        .group_by(agreed_week, owner)
    ):
        spend.setdefault((week, person), [0, 0])[0] += int(cents)
    logged_week = utc_week(TimeEntry.logged_at)
    for week, person, minutes in session.exec(
        select(logged_week, TimeEntry.user_id, func.sum(TimeEntry.minutes))
        .where(col(TimeEntry.campaign_id) == campaign_id)
        .group_by(logged_week, TimeEntry.user_id)
    ):
        spend.setdefault((week, person), [0, 0])[1] += int(minutes)
    session.add_all(
        SpendTally(
            campaign_id=campaign_id, week=week, person_id=person, price_cents=cents, minutes=minutes
        )
        for (week, person), (cents, minutes) in spend.items()
    )
    session.flush()


def _rebuild_prospect_figures(session: Session, campaign_id: int) -> None:
    """Each prospect's live links and its days to reply and to link."""

    def days_to(end: Any) -> Any:
        known = sa.and_(
            col(Prospect.contacted_at).is_not(None),
            col(end).is_not(None),
            end >= Prospect.contacted_at,
        )
        return sa.case((known, days_between(Prospect.contacted_at, end)), else_=None)

    live_links = (
        select(func.count())
        .where(col(Placement.prospect_id) == Prospect.id, LIVE)
        .scalar_subquery()
    )
    session.execute(
        sa.update(Prospect)
        .where(col(Prospect.campaign_id) == campaign_id)
        .values(
            live_links=live_links,
            reply_days=days_to(Prospect.replied_at),
            live_days=days_to(Prospect.linked_at),
        )
        .execution_options(synchronize_session=False)
    )
