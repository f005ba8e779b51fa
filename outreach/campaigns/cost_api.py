"""/api/v1: a campaign's costs and logged time, logging time on a prospect, the value model.

Builders get the cost entries and everyone's hours, never an hourly rate or a figure derived
from one (what time cost, the total spent, what remains of the budget)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from outreach.api.core import ApiError, Money, api_blueprint, api_user, dump, require_role
from outreach.auth.models import Role
from outreach.campaigns.api import CampaignPath, campaign_or_error
from outreach.campaigns.costs import (
    add_cost,
    campaign_costs,
    campaign_spend,
    campaign_time,
    delete_cost,
    log_time,
    set_value_model,
    value_model_of,
)
from outreach.campaigns.models import CostEntry, CostKind
from outreach.campaigns.schemas import CostInput, TimeInput
from outreach.clock import app_now
from outreach.db import db_session
from outreach.prospects.api import ProspectPath, prospect_or_error
from outreach.reports.figures import ValueModel
from outreach.validation import RowId

api = api_blueprint("costs_api", __name__)

MANAGERS = (Role.ADMIN, Role.MANAGER)


class CostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    kind: CostKind
    amount: Money
    incurred_on: date
    note: str
    created_by_id: int | None
    created_at: datetime


class UserTimeOut(BaseModel):
    user_id: int
    name: str
    minutes: int
    cost: Money | None = Field(description="At the user's hourly rate; null for builders.")


class CostTotals(BaseModel):
    """Money is in the campaign's currency. The figures that depend on hourly rates, and the
    link prices, are null for builders."""

    entries: Money
    by_kind: dict[CostKind, Money]
    placements: Money | None = Field(description="Sum of the campaign's link prices.")
    time_minutes: int
    time_cost: Money | None
    spent: Money | None = Field(description="Entries + link prices + time cost.")
    remaining: Money | None = Field(description="Budget - spent; null without a budget.")


class CampaignCostsOut(BaseModel):
    campaign_id: int
    currency: str
    budget: Money | None
    items: list[CostOut] = Field(description="Cost entries, newest first.")
    total: int
    totals: CostTotals
    time: list[UserTimeOut] = Field(description="Minutes logged per user, most first.")


class CostPath(BaseModel):
    cost_id: RowId


class TimeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    campaign_id: int
    prospect_id: int | None
    minutes: int
    logged_at: datetime
    note: str


class ValueModelBody(BaseModel):
    """A value model as reports.figures reads it. It is checked as a whole, so every problem
    comes back as one message (422) rather than per field."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"example": ValueModel.default().as_json()}
    )

    bands: Any = Field(
        default=None,
        description='[{"min_dr": 0, "value": "50"}, ...]: a followed link\'s value from that DR'
        " up; the first band starts at DR 0.",
    )
    nofollow_weight: Any = Field(default=None, description="0..1; missing: 0.25.")
    sponsored_weight: Any = Field(default=None, description="0..1; missing: 0.5.")
    ugc_weight: Any = Field(default=None, description="0..1; missing: 0.25.")
    noindex_weight: Any = Field(default=None, description="0..1; missing: 0.")


class ValueModelOut(BaseModel):
    bands: list[dict[str, Any]]
    nofollow_weight: str
    sponsored_weight: str
    ugc_weight: str
    noindex_weight: str
    is_default: bool = Field(description="True when the campaign uses the default model.")


@api.get(
    "/campaigns/<int:campaign_id>/costs",
    responses={200: CampaignCostsOut},
    summary="A campaign's cost entries, logged time and spend",
)
def list_(path: CampaignPath) -> tuple[dict[str, Any], int]:
    session = db_session()
    campaign = campaign_or_error(path.campaign_id)
    sees_money = api_user().has_role(*MANAGERS)
    costs = campaign_costs(session, campaign.id)
    time = campaign_time(session, campaign.id)
    if not sees_money:
        time = [replace(row, hourly_rate=None) for row in time]
    spend = campaign_spend(session, campaign) if sees_money else None
    totals = CostTotals(
        entries=costs.total,
        by_kind=costs.by_kind,
        placements=spend.placements if spend else None,
        time_minutes=sum(row.minutes for row in time),
        time_cost=spend.time_cost if spend else None,
        spent=spend.spent if spend else None,
        remaining=spend.remaining if spend else None,
    )
    out = CampaignCostsOut(
        campaign_id=campaign.id,
        currency=campaign.currency,
        budget=campaign.budget,
        items=[CostOut.model_validate(row.entry) for row in costs.rows],
        total=len(costs.rows),
        totals=totals,
        time=[
            UserTimeOut(user_id=row.user_id, name=row.name, minutes=row.minutes, cost=row.cost)
            for row in time
        ],
    )
    return dump(out)


@api.post(
    "/campaigns/<int:campaign_id>/costs",
    responses={201: CostOut},
    summary="Add a cost entry (fee, content, tool, other)",
)
@require_role(*MANAGERS)
def create(path: CampaignPath, body: CostInput) -> tuple[dict[str, Any], int]:
    entry = add_cost(db_session(), campaign_or_error(path.campaign_id), body, api_user())
    return dump(CostOut.model_validate(entry), 201)


@api.delete("/costs/<int:cost_id>", responses={204: None}, summary="Delete a cost entry")
@require_role(*MANAGERS)
def delete(path: CostPath) -> tuple[str, int]:
    entry = db_session().get(CostEntry, path.cost_id)
    if entry is None:
        raise ApiError(404, "not_found", f"There is no cost {path.cost_id}.")
    delete_cost(db_session(), entry, api_user())
    return "", 204


@api.post(
    "/prospects/<int:prospect_id>/time",
    responses={201: TimeOut},
    summary="Log time on a prospect, as the token's user, in the prospect's campaign",
)
def create_time(path: ProspectPath, body: TimeInput) -> tuple[dict[str, Any], int]:
    session = db_session()
    prospect = prospect_or_error(path.prospect_id)
    campaign = campaign_or_error(prospect.campaign_id)
    entry = log_time(session, api_user(), campaign, body, app_now(), prospect=prospect)
    return dump(TimeOut.model_validate(entry), 201)


def _model_out(model: ValueModel, is_default: bool) -> ValueModelOut:
    return ValueModelOut(**model.as_json(), is_default=is_default)


@api.get(
    "/campaigns/<int:campaign_id>/value-model",
    responses={200: ValueModelOut},
    summary="What a campaign's live links are worth, by DR band and rel",
)
def get_value_model(path: CampaignPath) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    return dump(_model_out(value_model_of(campaign), not campaign.value_model))


@api.put(
    "/campaigns/<int:campaign_id>/value-model",
    responses={200: ValueModelOut},
    summary="Replace a campaign's value model",
)
@require_role(*MANAGERS)
def put_value_model(path: CampaignPath, body: ValueModelBody) -> tuple[dict[str, Any], int]:
    session = db_session()
    campaign = campaign_or_error(path.campaign_id)
    try:
        model = set_value_model(session, campaign, body.model_dump(exclude_unset=True), api_user())
    except ValueError as exc:
        session.rollback()
        raise ApiError(422, "validation_error", str(exc)) from None
    return dump(_model_out(model, False))
