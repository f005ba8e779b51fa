"""Email template pages: the list, the editor, and a preview for a real prospect."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import select
from werkzeug.wrappers import Response

from outreach.api.core import field_errors
from outreach.campaigns.models import Campaign
from outreach.db import db_session
from outreach.mail.models import Template
from outreach.mail.schemas import TemplateInput
from outreach.mail.services import (
    Sender,
    TemplateRefusedError,
    create_template,
    list_templates,
    preview_email,
    update_template,
)
from outreach.mail.templating import MERGE_FIELDS, TemplateError
from outreach.prospects.models import Domain, Prospect

bp = Blueprint("templates", __name__, url_prefix="/templates")

PREVIEW_CHOICES = 50


def _template(template_id: int) -> Template:
    template = db_session().get(Template, template_id)
    if template is None:
        abort(404, f"There is no template {template_id}.")
    return template


def _campaigns() -> dict[int, str]:
    return dict(db_session().exec(select(Campaign.id, Campaign.name).order_by(Campaign.name)).all())


@bp.get("/")
def index() -> str:
    return render_template(
        "mail/templates.html", templates=list_templates(db_session()), campaigns=_campaigns()
    )


def _preview_prospects(campaign_id: int | None) -> list[tuple[int, str]]:
    statement = (
        select(Prospect.id, Domain.name)
        .join(Domain, Domain.id == Prospect.domain_id)
        .order_by(Prospect.updated_at.desc())
        .limit(PREVIEW_CHOICES)
    )
    if campaign_id is not None:
        statement = statement.where(Prospect.campaign_id == campaign_id)
    return list(db_session().exec(statement).all())


def _form(
    template: Template | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    campaign_id = values.get("campaign_id")
    campaign_id = int(campaign_id) if str(campaign_id or "").isdigit() else None
    return (
        render_template(
            "mail/template_form.html",
            template=template,
            values=values,
            errors=errors,
            campaigns=[(str(cid), name) for cid, name in _campaigns().items()],
            prospects=_preview_prospects(campaign_id),
            merge_fields=MERGE_FIELDS,
        ),
        status,
    )


def _values() -> dict[str, Any]:
    return {name: request.form.get(name, "") for name in TemplateInput.model_fields}


def _input(values: dict[str, Any]) -> TemplateInput:
    return TemplateInput.model_validate({**values, "campaign_id": values["campaign_id"] or None})


@bp.route("/new", methods=["GET", "POST"])
def new() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _form(None, {"campaign_id": request.args.get("campaign", "")}, {})
    values = _values()
    try:
        template = create_template(db_session(), _input(values), current_user)
    except ValidationError as exc:
        return _form(None, values, field_errors(exc), 422)
    except TemplateRefusedError as exc:
        return _form(None, values, {"campaign_id": str(exc)}, 422)
    flash(f"Template {template.name} saved.", "success")
    return redirect(url_for("templates.edit", template_id=template.id))


@bp.route("/<int:template_id>", methods=["GET", "POST"])
def edit(template_id: int) -> tuple[str, int] | Response:
    template = _template(template_id)
    if request.method == "GET":
        values = {name: getattr(template, name) for name in TemplateInput.model_fields}
        values["campaign_id"] = "" if template.campaign_id is None else str(template.campaign_id)
        return _form(template, values, {})
    values = _values()
    try:
        update_template(db_session(), template, _input(values), current_user)
    except ValidationError as exc:
        db_session().rollback()
        return _form(template, values, field_errors(exc), 422)
    except TemplateRefusedError as exc:
        db_session().rollback()
        return _form(template, values, {"campaign_id": str(exc)}, 422)
    flash(f"Template {template.name} saved.", "success")
    return redirect(url_for("templates.edit", template_id=template.id))


@bp.post("/preview")
def preview() -> str:
    """The email, as the chosen prospect would get it, from the editor's unsaved text (htmx)."""
    prospect_id = request.form.get("prospect_id", "")
    prospect = db_session().get(Prospect, int(prospect_id)) if prospect_id.isdigit() else None
    if prospect is None:
        return render_template("mail/_preview.html", problem="Choose a prospect to preview with.")
    try:
        email = preview_email(
            db_session(),
            request.form.get("subject", ""),
            request.form.get("body", ""),
            prospect,
            Sender(current_user.name, current_user.email),
        )
    except TemplateError as exc:
        return render_template("mail/_preview.html", problem=str(exc))
    return render_template("mail/_preview.html", problem="", email=email)
