"""Campaign pages: the list, the create and edit forms, a campaign's overview, and its costs and
value model."""

from __future__ import annotations

from dataclasses import replace
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
from outreach.campaigns.costs import (
    add_cost,
    campaign_costs,
    campaign_spend,
    campaign_time,
    delete_cost,
    format_minutes,
    reset_value_model,
    set_value_model,
    value_model_of,
)
from outreach.campaigns.models import (
    CAMPAIGN_KIND_LABELS,
    AssetType,
    Campaign,
    CampaignStatus,
    Client,
    CostEntry,
    CostKind,
)
from outreach.campaigns.schemas import AssetInput, CampaignInput, CostInput
from outreach.campaigns.services import (
    add_asset,
    campaign_assets,
    campaign_input,
    create_campaign,
    list_campaigns,
    update_campaign,
)
from outreach.clock import app_now
from outreach.db import db_session
from outreach.prospects.models import Prospect, Stage
from outreach.reports.figures import ValueModel
from outreach.validation import MAX_INT

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PER_PAGE = 25
MANAGERS = (Role.ADMIN, Role.MANAGER)
# The value model editor shows at least this many DR band rows; empty rows are ignored.
BAND_ROWS = 6
WEIGHT_FIELDS = ("nofollow_weight", "sponsored_weight", "ugc_weight", "noindex_weight")


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
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_INT)
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
    # A number no id can be (a query parameter) is no campaign, not a database error.
    campaign = db_session().get(Campaign, campaign_id) if 1 <= campaign_id <= MAX_INT else None
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


# --- Costs and value ------------------------------------------------------------------------


@bp.app_template_filter("duration")
def duration(minutes: int) -> str:
    return format_minutes(minutes)


def _model_values(model: ValueModel) -> dict[str, Any]:
    """The editor's fields for a model: one row per band, in the shape the form posts."""
    data = model.as_json()
    return {
        "bands": [(str(band["min_dr"]), band["value"]) for band in data["bands"]],
        **{name: data[name] for name in WEIGHT_FIELDS},
    }


def _posted_model() -> dict[str, Any]:
    rows = zip(
        request.form.getlist("band_min_dr"), request.form.getlist("band_value"), strict=False
    )
    return {
        "bands": [(min_dr.strip(), value.strip()) for min_dr, value in rows],
        **{name: request.form.get(name, "").strip() for name in WEIGHT_FIELDS},
    }


def _model_json(values: dict[str, Any]) -> dict[str, Any]:
    """The editor's rows as value_model_from_json reads them. Empty rows are the editor's room
    to add bands and are skipped; an empty weight takes its default."""
    bands = []
    for number, (min_dr, value) in enumerate(values["bands"], 1):
        if not min_dr and not value:
            continue
        if not min_dr or not value:
            raise ValueError(f"row {number} needs both a minimum DR and a value")
        whole = min_dr.isascii() and min_dr.isdigit()
        bands.append({"min_dr": int(min_dr) if whole else min_dr, "value": value})
    return {"bands": bands, **{name: values[name] for name in WEIGHT_FIELDS if values[name]}}


def _render_costs(
    campaign: Campaign,
    *,
    cost_values: dict[str, Any] | None = None,
    cost_errors: dict[str, str] | None = None,
    model_values: dict[str, Any] | None = None,
    model_error: str = "",
    status: int = 200,
) -> tuple[str, int]:
    """The Costs & value page. Builders get no hourly rate and no figure derived from one:
    the rates are taken out here, not only hidden by the template."""
    session = db_session()
    can_manage = current_user.has_role(*MANAGERS)
    time = campaign_time(session, campaign.id)
    if not can_manage:
        time = [replace(row, hourly_rate=None) for row in time]
    model_values = model_values or _model_values(value_model_of(campaign))
    blank_rows = max(BAND_ROWS - len(model_values["bands"]), 1)
    return (
        render_template(
            "campaigns/costs.html",
            campaign=campaign,
            can_manage=can_manage,
            costs=campaign_costs(session, campaign.id),
            spend=campaign_spend(session, campaign) if can_manage else None,
            time=time,
            time_minutes=sum(row.minutes for row in time),
            kinds=[(kind.value, kind.value.capitalize()) for kind in CostKind],
            cost_values=cost_values
            or {"kind": CostKind.FEE.value, "incurred_on": app_now().date().isoformat()},
            cost_errors=cost_errors or {},
            model_is_default=not campaign.value_model,
            band_rows=[*model_values["bands"], *[("", "")] * blank_rows],
            model_values=model_values,
            model_error=model_error,
        ),
        status,
    )


@bp.get("/<int:campaign_id>/costs")
def costs(campaign_id: int) -> tuple[str, int]:
    return _render_costs(campaign_or_404(campaign_id))


@bp.post("/<int:campaign_id>/costs")
@roles_required(*MANAGERS)
def new_cost(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    values = {name: request.form.get(name, "") for name in CostInput.model_fields}
    try:
        data = CostInput.model_validate(values, context={"today": app_now().date()})
    except ValidationError as exc:
        return _render_costs(
            campaign, cost_values=values, cost_errors=field_errors(exc), status=422
        )
    entry = add_cost(db_session(), campaign, data, current_user)
    flash(f"Cost of {entry.amount:,.2f} {campaign.currency} added.", "success")
    return redirect(url_for("campaigns.costs", campaign_id=campaign.id) + "#entries-heading")


@bp.post("/<int:campaign_id>/costs/<int:cost_id>/delete")
@roles_required(*MANAGERS)
def remove_cost(campaign_id: int, cost_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    entry = db_session().get(CostEntry, cost_id)
    if entry is None or entry.campaign_id != campaign.id:
        abort(404, f"Campaign {campaign.id} has no cost {cost_id}.")
    delete_cost(db_session(), entry, current_user)
    flash(f"Cost of {entry.amount:,.2f} {campaign.currency} deleted.", "success")
    return redirect(url_for("campaigns.costs", campaign_id=campaign.id) + "#entries-heading")


@bp.post("/<int:campaign_id>/value-model")
@roles_required(*MANAGERS)
def value_model(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    values = _posted_model()
    try:
        set_value_model(db_session(), campaign, _model_json(values), current_user)
    except ValueError as exc:
        db_session().rollback()
        return _render_costs(
            campaign,
            model_values=values,
            model_error=f"The value model was not saved: {exc}.",
            status=422,
        )
    flash("Value model saved.", "success")
    return redirect(url_for("campaigns.costs", campaign_id=campaign.id) + "#value-heading")


@bp.post("/<int:campaign_id>/value-model/reset")
@roles_required(*MANAGERS)
def reset_model(campaign_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    reset_value_model(db_session(), campaign, current_user)
    flash("Value model reset to the default.", "success")
    return redirect(url_for("campaigns.costs", campaign_id=campaign.id) + "#value-heading")
