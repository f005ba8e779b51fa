"""Campaign pages: the list, the create and edit forms, and a campaign's overview."""

from __future__ import annotations

from math import ceil
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import func, select
from werkzeug.wrappers import Response

from outreach.api.core import field_errors
from outreach.auth.models import Role
from outreach.auth.views import roles_required
from outreach.campaigns.models import (
    CAMPAIGN_KIND_LABELS,
    AssetType,
    Campaign,
    CampaignStatus,
    Client,
)
from outreach.campaigns.schemas import AssetInput, CampaignInput
from outreach.campaigns.services import (
    add_asset,
    campaign_assets,
    campaign_input,
    create_campaign,
    list_campaigns,
    update_campaign,
)
from outreach.db import db_session
from outreach.prospects.models import Prospect, Stage

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PER_PAGE = 25
MANAGERS = (Role.ADMIN, Role.MANAGER)


def _form_values() -> dict[str, Any]:
    return {name: request.form.get(name, "") for name in CampaignInput.model_fields}


def _render_form(
    campaign: Campaign | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    return (
        render_template(
            "campaigns/form.html",
            campaign=campaign,
            values=values,
            errors=errors,
            kinds=CAMPAIGN_KIND_LABELS,
            statuses=[(status.value, status.value.capitalize()) for status in CampaignStatus],
            default_timezone=current_app.extensions["outreach"].settings.timezone,
        ),
        status,
    )


@bp.get("/")
def index() -> str:
    try:
        status = CampaignStatus(request.args["status"]) if request.args.get("status") else None
    except ValueError:
        abort(400, "Unknown campaign status.")
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = list_campaigns(
        db_session(), status=status, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return render_template(
        "campaigns/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(ceil(total / PER_PAGE), 1),
        status=status,
        statuses=list(CampaignStatus),
        kinds=CAMPAIGN_KIND_LABELS,
        can_manage=current_user.has_role(*MANAGERS),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _render_form(None, {"status": CampaignStatus.ACTIVE.value}, {})
    values = _form_values()
    try:
        data = CampaignInput.model_validate(values)
    except ValidationError as exc:
        return _render_form(None, values, field_errors(exc), 422)
    settings = current_app.extensions["outreach"].settings
    campaign = create_campaign(
        db_session(),
        data,
        current_user,
        default_timezone=settings.timezone,
        currency=settings.currency,
    )
    flash(f"Campaign {campaign.name} created.", "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


def campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None:
        abort(404, f"There is no campaign {campaign_id}.")
    return campaign


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    if request.method == "GET":
        values = {k: "" if v is None else v for k, v in campaign_input(campaign).items()}
        return _render_form(campaign, values, {})
    values = _form_values()
    try:
        update_campaign(db_session(), campaign, values, current_user)
    except ValidationError as exc:
        db_session().rollback()
        return _render_form(campaign, values, field_errors(exc), 422)
    flash(f"Campaign {campaign.name} saved.", "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.get("/<int:campaign_id>")
def show(campaign_id: int) -> tuple[str, int]:
    return _render_show(campaign_or_404(campaign_id))


@bp.post("/<int:campaign_id>/assets")
def new_asset(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    values = {name: request.form.get(name, "") for name in AssetInput.model_fields}
    try:
        asset = add_asset(db_session(), campaign, AssetInput.model_validate(values), current_user)
    except ValidationError as exc:
        return _render_show(campaign, values, field_errors(exc), 422)
    flash(f"Asset {asset.title} added.", "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id) + "#assets-heading")


def _render_show(
    campaign: Campaign,
    asset_values: dict[str, Any] | None = None,
    asset_errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db_session()
    client = session.get(Client, campaign.client_id)
    stage_counts = dict(
        session.exec(
            select(Prospect.stage, func.count())
            .where(Prospect.campaign_id == campaign.id)
            .group_by(Prospect.stage)
        ).all()
    )
    return (
        render_template(
            "campaigns/show.html",
            campaign=campaign,
            client=client,
            kinds=CAMPAIGN_KIND_LABELS,
            stages=list(Stage),
            stage_counts=stage_counts,
            can_manage=current_user.has_role(*MANAGERS),
            assets=campaign_assets(session, campaign.id),
            asset_types=[(t.value, t.value.replace("_", " ").capitalize()) for t in AssetType],
            asset_values=asset_values or {"asset_type": AssetType.GUIDE.value},
            asset_errors=asset_errors or {},
        ),
        status,
    )
