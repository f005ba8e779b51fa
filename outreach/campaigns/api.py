"""/api/v1/campaigns"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, ValidationError

from outreach.api.core import (
    ApiError,
    Money,
    PageQuery,
    api_blueprint,
    api_user,
    dump,
    field_errors,
    require_role,
)
from outreach.auth.models import Role
from outreach.campaigns.models import AssetType, Campaign, CampaignKind, CampaignStatus
from outreach.campaigns.schemas import AssetInput, CampaignInput
from outreach.campaigns.services import (
    add_asset,
    campaign_assets,
    create_campaign,
    list_campaigns,
    update_campaign,
)
from outreach.config import Settings
from outreach.db import db_session
from outreach.validation import RowId

api = api_blueprint("campaigns_api", __name__)

MANAGERS = (Role.ADMIN, Role.MANAGER)


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: CampaignKind
    status: CampaignStatus
    client_id: int
    client_url: str
    goal: str
    target_links: int | None
    budget: Money | None
    currency: str
    starts_on: date | None
    ends_on: date | None
    timezone: str
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    total: int


class CampaignListQuery(PageQuery):
    status: CampaignStatus | None = None


class CampaignPath(BaseModel):
    campaign_id: RowId


class CampaignPatch(BaseModel):
    """Any subset of the campaign's fields; the result must still be a valid campaign."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: CampaignKind | None = None
    client_url: str | None = None
    status: CampaignStatus | None = None
    goal: str | None = None
    target_links: int | None = None
    budget: Decimal | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    timezone: str | None = None


def _settings() -> Settings:
    return current_app.extensions["outreach"].settings


def campaign_or_error(campaign_id: int) -> Campaign:
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", f"There is no campaign {campaign_id}.")
    return campaign


def _invalid(exc: ValidationError) -> ApiError:
    return ApiError(422, "validation_error", "The campaign is not valid.", field_errors(exc))


@api.get("/campaigns", responses={200: CampaignPage}, summary="List campaigns, newest first")
def list_(query: CampaignListQuery) -> tuple[dict[str, Any], int]:
    rows, total = list_campaigns(
        db_session(), status=query.status, offset=query.offset, limit=query.per_page
    )
    items = [CampaignOut.model_validate(row.campaign) for row in rows]
    return dump(CampaignPage(items=items, total=total))


@api.post("/campaigns", responses={201: CampaignOut}, summary="Create a campaign")
@require_role(*MANAGERS)
def create(body: CampaignInput) -> tuple[dict[str, Any], int]:
    settings = _settings()
    campaign = create_campaign(
        db_session(),
        body,
        api_user(),
        default_timezone=settings.timezone,
        currency=settings.currency,
    )
    return dump(CampaignOut.model_validate(campaign), 201)


@api.get("/campaigns/<int:campaign_id>", responses={200: CampaignOut}, summary="One campaign")
def get(path: CampaignPath) -> tuple[dict[str, Any], int]:
    return dump(CampaignOut.model_validate(campaign_or_error(path.campaign_id)))


@api.patch(
    "/campaigns/<int:campaign_id>", responses={200: CampaignOut}, summary="Change a campaign"
)
@require_role(*MANAGERS)
def patch(path: CampaignPath, body: CampaignPatch) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    try:
        update_campaign(db_session(), campaign, body.model_dump(exclude_unset=True), api_user())
    except ValidationError as exc:
        raise _invalid(exc) from None
    return dump(CampaignOut.model_validate(campaign))


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    title: str
    url: str
    asset_type: AssetType
    target_keywords: str
    notes: str
    created_at: datetime


class AssetList(BaseModel):
    items: list[AssetOut]
    total: int


@api.get(
    "/campaigns/<int:campaign_id>/assets",
    responses={200: AssetList},
    summary="The content assets of a campaign",
)
def list_assets(path: CampaignPath) -> tuple[dict[str, Any], int]:
    assets = campaign_assets(db_session(), campaign_or_error(path.campaign_id).id)
    items = [AssetOut.model_validate(asset) for asset in assets]
    return dump(AssetList(items=items, total=len(items)))


@api.post(
    "/campaigns/<int:campaign_id>/assets",
    responses={201: AssetOut},
    summary="Add a content asset to a campaign",
)
def create_asset(path: CampaignPath, body: AssetInput) -> tuple[dict[str, Any], int]:
    asset = add_asset(db_session(), campaign_or_error(path.campaign_id), body, api_user())
    return dump(AssetOut.model_validate(asset), 201)
