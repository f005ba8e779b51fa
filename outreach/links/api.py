"""/api/v1: a prospect's placements, one placement with its check history, and "check now"."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field

from outreach.api.core import ApiError, Money, api_blueprint, api_user, dump
from outreach.clock import app_now
from outreach.db import db_session
from outreach.links.checking import check_intervals, link_fetcher
from outreach.links.models import LinkType, Placement, PlacementCheck, PlacementStatus, Rel
from outreach.links.schemas import PlacementInput
from outreach.links.services import (
    PlacementRefusedError,
    check_history,
    check_now,
    create_placement,
    placements_of,
)
from outreach.prospects.api import ProspectPath, prospect_or_error
from outreach.validation import RowId

api = api_blueprint("links_api", __name__)


class CheckOut(BaseModel):
    """The verdict object of one check, as `flask links check --json` prints it, plus when
    and how it differed from what was agreed."""

    model_config = ConfigDict(from_attributes=True)

    verdict: str
    found: bool
    http_status: int | None
    final_url: str
    rel: list[str]
    anchor_text: str
    indexable: bool | None
    canonical: str
    error: str
    mismatches: list[str]
    checked_at: datetime


class PlacementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prospect_id: int
    page_url: str
    target: str
    expected_anchor: str
    expected_rel: Rel
    link_type: LinkType
    asset_id: int | None
    cost: Money | None
    paid: bool
    promised_on: date | None
    expires_on: date | None
    status: PlacementStatus
    first_live_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    consecutive_failures: int
    created_at: datetime


class PlacementList(BaseModel):
    items: list[PlacementOut]
    total: int


class PlacementDetail(PlacementOut):
    last_check: CheckOut | None = Field(description="The latest verdict object, if checked.")
    history: list[CheckOut] = Field(description="Checks, newest first (at most 50).")


class PlacementPath(BaseModel):
    placement_id: RowId


def _placement(placement_id: int) -> Placement:
    placement = db_session().get(Placement, placement_id)
    if placement is None:
        raise ApiError(404, "not_found", f"There is no placement {placement_id}.")
    return placement


@api.get(
    "/prospects/<int:prospect_id>/placements",
    responses={200: PlacementList},
    summary="A prospect's placements",
)
def list_(path: ProspectPath) -> tuple[dict[str, Any], int]:
    prospect = prospect_or_error(path.prospect_id)
    items = [PlacementOut.model_validate(p) for p in placements_of(db_session(), prospect.id)]
    return dump(PlacementList(items=items, total=len(items)))


@api.post(
    "/prospects/<int:prospect_id>/placements",
    responses={201: PlacementOut},
    summary="Record a promised or found link; its first check is due at once",
)
def create(path: ProspectPath, body: PlacementInput) -> tuple[dict[str, Any], int]:
    prospect = prospect_or_error(path.prospect_id)
    try:
        placement = create_placement(db_session(), prospect, body, api_user(), app_now())
    except PlacementRefusedError as exc:
        raise ApiError(422, "validation_error", str(exc), {exc.field: str(exc)}) from None
    return dump(PlacementOut.model_validate(placement), 201)


def _detail(placement: Placement) -> PlacementDetail:
    history = [CheckOut.model_validate(c) for c in check_history(db_session(), placement.id)]
    return PlacementDetail.model_validate(
        {
            **PlacementOut.model_validate(placement).model_dump(),
            "last_check": history[0] if history else None,
            "history": history,
        }
    )


@api.get(
    "/placements/<int:placement_id>",
    responses={200: PlacementDetail},
    summary="A placement with its status, last verdict and check history",
)
def get(path: PlacementPath) -> tuple[dict[str, Any], int]:
    return dump(_detail(_placement(path.placement_id)))


@api.post(
    "/placements/<int:placement_id>/check",
    responses={200: CheckOut},
    summary="Check a placement now; answers the verdict object",
)
def check(path: PlacementPath) -> tuple[dict[str, Any], int]:
    placement = _placement(path.placement_id)
    result: PlacementCheck = check_now(
        db_session(), placement, link_fetcher(current_app), app_now(), check_intervals(current_app)
    )
    return dump(CheckOut.model_validate(result))
