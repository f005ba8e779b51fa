"""What a campaign costs and what its links are worth: cost entries, logged time, hourly rates,
the campaign's value model and per-link value overrides.

A campaign's spend is its cost entries, its link prices and its logged time at each user's
hourly rate, the same three parts as the report's cost. Builders never see rates or what time
cost, so the figures that depend on rates are kept apart (see Spend) for the pages to leave out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign, CostEntry, CostKind, TimeEntry
from outreach.campaigns.schemas import CostInput, HourlyRateInput, TimeInput, ValueOverrideInput
from outreach.db import utcnow
from outreach.links.models import Placement
from outreach.prospects.models import Prospect
from outreach.reports.figures import ValueModel, to_cents, value_model_from_json
from outreach.reports.rollups import set_value_bands


def format_minutes(minutes: int) -> str:
    """90 -> "1 h 30 min": how logged time reads on the pages and in flashes."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


# --- Cost entries ---------------------------------------------------------------------------


def add_cost(session: Session, campaign: Campaign, data: CostInput, actor: User) -> CostEntry:
    entry = CostEntry(campaign_id=campaign.id, created_by_id=actor.id, **data.model_dump())
    session.add(entry)
    session.flush()
    record_activity(
        session,
        "cost.added",
        f"Cost added: {entry.kind.value} {entry.amount:,.2f} {campaign.currency}",
        actor=actor,
        campaign_id=campaign.id,
        data={"cost_id": entry.id, "amount": str(entry.amount), "kind": entry.kind.value},
    )
    session.commit()
    return entry


def delete_cost(session: Session, entry: CostEntry, actor: User) -> None:
    """Remove a cost entered by mistake; the activity log keeps what it was."""
    campaign = session.get(Campaign, entry.campaign_id)
    record_activity(
        session,
        "cost.deleted",
        f"Cost deleted: {entry.kind.value} {entry.amount:,.2f} {campaign.currency}"
        f" of {entry.incurred_on.isoformat()}",
        actor=actor,
        campaign_id=entry.campaign_id,
        data={"amount": str(entry.amount), "kind": entry.kind.value, "note": entry.note},
    )
    session.delete(entry)
    session.commit()


@dataclass(frozen=True)
class CostRow:
    entry: CostEntry
    created_by: str


@dataclass(frozen=True)
class CampaignCosts:
    """A campaign's cost entries, newest first, with their sum per kind (every kind present)."""

    rows: list[CostRow]
    by_kind: dict[CostKind, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.by_kind.values(), Decimal(0))


def campaign_costs(session: Session, campaign_id: int) -> CampaignCosts:
    rows = session.exec(
        select(CostEntry, User)
        .outerjoin(User, col(User.id) == CostEntry.created_by_id)
        .where(CostEntry.campaign_id == campaign_id)
        .order_by(
            col(CostEntry.incurred_on).desc(),
            col(CostEntry.created_at).desc(),
            col(CostEntry.id).desc(),
        )
    ).all()
    by_kind = dict.fromkeys(CostKind, Decimal(0))
    for entry, _user in rows:
        by_kind[entry.kind] += entry.amount
    return CampaignCosts(
        rows=[CostRow(entry, user.display_name if user else "") for entry, user in rows],
        by_kind=by_kind,
    )


# --- Logged time ----------------------------------------------------------------------------


def log_time(
    session: Session,
    user: User,
    campaign: Campaign,
    data: TimeInput,
    now: datetime,
    *,
    prospect: Prospect | None = None,
) -> TimeEntry:
    """Time `user` spent on the campaign, on one of its prospects if given, as of `now`."""
    if prospect is not None and prospect.campaign_id != campaign.id:
        raise ValueError(f"prospect {prospect.id} is not in campaign {campaign.id}")
    entry = TimeEntry(
        user_id=user.id,
        campaign_id=campaign.id,
        prospect_id=prospect.id if prospect else None,
        minutes=data.minutes,
        logged_at=now,
        note=data.note,
    )
    session.add(entry)
    session.flush()
    summary = f"Logged {format_minutes(data.minutes)}" + (f": {data.note}" if data.note else "")
    record_activity(
        session,
        "time.logged",
        summary,
        actor=user,
        campaign_id=campaign.id,
        prospect_id=entry.prospect_id,
        data={"time_entry_id": entry.id, "minutes": data.minutes},
        at=now,
    )
    session.commit()
    return entry


@dataclass(frozen=True)
class UserTime:
    """One user's time on a campaign. `hourly_rate` and `cost` are for managers' eyes only;
    cost is None when the user has no rate."""

    user_id: int
    name: str
    minutes: int
    hourly_rate: Decimal | None

    @property
    def cost(self) -> Decimal | None:
        if self.hourly_rate is None:
            return None
        return to_cents(self.hourly_rate * self.minutes / 60)


def campaign_time(session: Session, campaign_id: int) -> list[UserTime]:
    """Minutes logged on a campaign per user, most first."""
    minutes = func.sum(TimeEntry.minutes)
    rows = session.exec(
        select(User, minutes)
        .join(TimeEntry, col(TimeEntry.user_id) == User.id)
        .where(TimeEntry.campaign_id == campaign_id)
        .group_by(col(User.id))
        .order_by(minutes.desc(), col(User.id))
    ).all()
    return [
        UserTime(user.id, user.display_name, int(total), user.hourly_rate) for user, total in rows
    ]


def prospect_minutes(session: Session, prospect_id: int) -> int:
    """Minutes logged on one prospect by everyone."""
    total = session.exec(
        select(func.coalesce(func.sum(TimeEntry.minutes), 0)).where(
            TimeEntry.prospect_id == prospect_id
        )
    ).one()
    return int(total)


def set_hourly_rate(session: Session, user: User, data: HourlyRateInput, actor: User) -> User:
    """Change what an hour of `user` costs; the log says that it changed, never the rate,
    since builders read the log."""
    if user.hourly_rate == data.hourly_rate:
        return user
    user.hourly_rate = data.hourly_rate
    record_activity(
        session,
        "user.hourly_rate",
        f"Hourly rate of {user.display_name} changed",
        actor=actor,
        data={"user_id": user.id},
    )
    session.commit()
    return user


# --- Spend ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    """What a campaign has spent so far. `placements`, `time_cost`, `spent` and `remaining`
    are for managers: spent minus the parts a builder sees would give away the time cost."""

    budget: Decimal | None
    entries: Decimal
    placements: Decimal
    time_minutes: int
    time_cost: Decimal

    @property
    def spent(self) -> Decimal:
        return self.entries + self.placements + self.time_cost

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.spent


def campaign_spend(session: Session, campaign: Campaign) -> Spend:
    costs = campaign_costs(session, campaign.id)
    prices = session.exec(
        select(func.coalesce(func.sum(Placement.cost), 0)).where(
            Placement.campaign_id == campaign.id
        )
    ).one()
    time = campaign_time(session, campaign.id)
    return Spend(
        budget=campaign.budget,
        entries=costs.total,
        placements=Decimal(prices),
        time_minutes=sum(user.minutes for user in time),
        # Rounded once, from the exact sum, so the figure agrees with the report's.
        time_cost=to_cents(
            sum(
                (user.hourly_rate * user.minutes for user in time if user.hourly_rate is not None),
                Decimal(0),
            )
            / 60
        ),
    )


# --- Value ----------------------------------------------------------------------------------


def value_model_of(campaign: Campaign) -> ValueModel:
    """The campaign's own model, or the default when it has none."""
    if not campaign.value_model:
        return ValueModel.default()
    return value_model_from_json(campaign.value_model)


def set_value_model(
    session: Session, campaign: Campaign, raw: Mapping[str, Any], actor: User
) -> ValueModel:
    """Store the model in its normal form (sorted bands, amounts as strings).

    Raises ValueError, with a message for the user, when `raw` is not a usable model.
    """
    model = value_model_from_json(raw)
    campaign.value_model = model.as_json()
    campaign.updated_at = utcnow()
    set_value_bands(session, campaign, model)
    record_activity(
        session, "campaign.value_model", "Value model changed", actor=actor, campaign_id=campaign.id
    )
    session.commit()
    return model


def reset_value_model(session: Session, campaign: Campaign, actor: User) -> None:
    """Back to the default model, and to whatever the default becomes later."""
    campaign.value_model = {}
    campaign.updated_at = utcnow()
    set_value_bands(session, campaign, None)
    record_activity(
        session,
        "campaign.value_model",
        "Value model reset to the default",
        actor=actor,
        campaign_id=campaign.id,
    )
    session.commit()


def set_value_override(
    session: Session, placement: Placement, data: ValueOverrideInput, actor: User
) -> Placement:
    """Fix what one link is worth (an agreed price, say), or hand it back to the value model.
    The log names the link, not the amount: the prospect's timeline is shown to builders."""
    if placement.value_override == data.value_override:
        return placement
    placement.value_override = data.value_override
    prospect = session.get(Prospect, placement.prospect_id)
    record_activity(
        session,
        "placement.value",
        f"Value of the link on {placement.page_url} "
        + ("set" if data.value_override is not None else "left to the value model"),
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
    )
    session.commit()
    return placement
