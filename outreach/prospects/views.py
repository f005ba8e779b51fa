"""Prospect pages: the list with filters and bulk actions, the board, a prospect's page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from math import ceil
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import select
from werkzeug.datastructures import MultiDict

from outreach.api.core import field_errors
from outreach.auth.models import Role, User
from outreach.campaigns.costs import format_minutes, log_time, prospect_minutes
from outreach.campaigns.models import Campaign, ContentAsset
from outreach.campaigns.schemas import TimeInput
from outreach.campaigns.views import campaign_or_404
from outreach.clock import app_now
from outreach.db import db_session
from outreach.links.ledger import placement_cards
from outreach.links.models import LinkType, Rel
from outreach.mail.models import Sequence
from outreach.mail.sequence_views import enrolment_cards
from outreach.mail.sequences import enrol, list_sequences
from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.prospects.models import Contact, Domain, Prospect, Stage
from outreach.prospects.pipeline import (
    BOARD_COLUMNS,
    STAGE_LABELS,
    MoveReason,
    StageMoveError,
    parse_stage,
)
from outreach.prospects.schemas import (
    ContactInput,
    ProspectInput,
    ProspectMetrics,
    ProspectQuery,
    normalise_tags,
)
from outreach.prospects.services import (
    ProspectError,
    add_contact,
    add_note,
    add_prospect,
    board_columns,
    bulk_assign,
    bulk_delete,
    bulk_do_not_contact,
    bulk_move,
    bulk_tag,
    domain_history,
    list_prospects,
    matching_ids,
    move_stage,
    stage_counts,
    tags_of,
    update_prospect,
)
from outreach.prospects.timeline import prospect_timeline
from outreach.spreadsheets import safe_cell
from outreach.web import same_site_path

bp = Blueprint("prospects", __name__)

BOARD_CARDS = 50
# Form fields named after the schemas, so forms and schemas cannot drift apart.
# Custom fields are a key/value editor of their own, not one form field.
METRIC_FIELDS = tuple(name for name in ProspectMetrics.model_fields if name != "custom_fields")
CONTACT_FIELDS = tuple(name for name in ContactInput.model_fields if name != "primary")
EXPORT_BATCH = 1000
EXPORT_COLUMNS = [
    "domain",
    "page_url",
    "stage",
    "domain_rating",
    "traffic",
    "relevance",
    "owner",
    "contact_name",
    "contact_email",
    "tags",
    "last_contacted_at",
    "added_at",
    "notes",
]


def _prospect(prospect_id: int) -> Prospect:
    prospect = db_session().get(Prospect, prospect_id)
    if prospect is None:
        abort(404, f"There is no prospect {prospect_id}.")
    return prospect


def _list_query(values: MultiDict[str, str] | None = None) -> tuple[ProspectQuery, dict[str, str]]:
    """The list's query from the URL (or a form repeating it); invalid filters are reported
    and left out, so "all matching" in a bulk action means exactly the rows the list showed."""
    source = request.args if values is None else values
    raw: dict[str, Any] = source.to_dict()
    raw["stage"] = source.getlist("stage")
    try:
        return ProspectQuery.model_validate(raw), {}
    except ValidationError as exc:
        errors = field_errors(exc)
        for name in errors:
            raw.pop(name.split(".")[0], None)
        return ProspectQuery.model_validate(raw), errors


def _campaign_arg() -> Campaign | None:
    value = request.values.get("campaign", "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        abort(400, "The campaign must be a number.")
    return campaign_or_404(int(value))


def _deliverability() -> bool:
    return current_app.extensions["outreach"].settings.email_check_deliverability


def _safe_back(default: str) -> str:
    """The page a form came from, when it is on this site; else `default`."""
    return same_site_path(request.form.get("back"), default)


def _users() -> list[User]:
    return list(db_session().exec(select(User).where(User.active).order_by(User.name, User.email)))


@bp.get("/prospects/")
def index() -> str:
    session = db_session()
    campaign = _campaign_arg()
    query, errors = _list_query()
    rows, total = list_prospects(session, campaign.id if campaign else None, query, current_user.id)
    campaign_names = dict(session.exec(select(Campaign.id, Campaign.name)).all())
    return render_template(
        "prospects/list.html",
        campaign=campaign,
        campaigns=campaign_names,
        query=query,
        errors=errors,
        rows=rows,
        total=total,
        pages=max(ceil(total / query.per_page), 1),
        users=_users(),
        stages=list(Stage),
        labels=STAGE_LABELS,
        sequences=list_sequences(session, campaign.id) if campaign else [],
        args={k: request.args.getlist(k) for k in request.args if k != "page"},
    )


BULK_ACTIONS = {"assign", "tag", "stage", "do_not_contact", "delete", "enrol"}


@bp.post("/prospects/bulk")
def bulk() -> Response:
    session = db_session()
    campaign = _campaign_arg()
    campaign_id = campaign.id if campaign else None
    action = request.form.get("action", "")
    back = _safe_back(url_for("prospects.index"))
    if action not in BULK_ACTIONS:
        flash("Choose what to do with the selected prospects.", "warning")
        return redirect(back)
    if request.form.get("scope") == "all":
        query, _errors = _list_query(request.form)
        ids = matching_ids(session, campaign_id, query, current_user.id)
    else:
        ids = [int(v) for v in request.form.getlist("ids") if v.isdigit()]
    if not ids:
        flash("Select at least one prospect first.", "warning")
        return redirect(back)
    try:
        if action == "enrol":
            message, category = _bulk_enrol(campaign_id, ids)
        else:
            message, category = _run_bulk(action, campaign_id, ids), "success"
    except (ProspectError, StageMoveError) as exc:
        flash(str(exc), "danger")
        return redirect(back)
    flash(message, category)
    return redirect(back)


def _bulk_enrol(campaign_id: int | None, ids: list[int]) -> tuple[str, str]:
    """Start a sequence for the selection; the flash says why any prospect was left out."""
    session = db_session()
    value = request.form.get("sequence_id", "")
    sequence = session.get(Sequence, int(value)) if value.isdigit() else None
    if sequence is None or sequence.campaign_id != campaign_id:
        raise ProspectError("Choose a sequence of this campaign to enrol in.")
    now = app_now()
    result = enrol(session, sequence, ids, current_user, now)
    return f"{sequence.name}: {result.summary()}.", "success" if result.enrolled else "warning"


def _run_bulk(action: str, campaign_id: int | None, ids: list[int]) -> str:
    session = db_session()
    value = request.form.get("value", "").strip()
    if action == "assign":
        owner = None
        if value:
            owner = session.get(User, int(value)) if value.isdigit() else None
            if owner is None:
                raise ProspectError("Choose a user to assign to.")
        count = bulk_assign(session, campaign_id, ids, owner, current_user)
        return f"Assigned {count} prospects to {owner.display_name if owner else 'nobody'}."
    if action == "tag":
        tags = normalise_tags(value)
        count = bulk_tag(session, campaign_id, ids, tags, current_user)
        return f"Tagged {count} prospects with {', '.join(tags)}."
    if action == "stage":
        stage = parse_stage(value)
        count = bulk_move(session, campaign_id, ids, stage, current_user)
        return f"Moved {count} prospects to {STAGE_LABELS[stage]}."
    if action == "do_not_contact":
        count = bulk_do_not_contact(session, campaign_id, ids, value, current_user)
        return f"Marked {count} domains do-not-contact in every campaign."
    if request.form.get("confirm") != "delete":
        raise ProspectError(f"Type delete to confirm deleting {len(ids)} prospects.")
    count = bulk_delete(session, campaign_id, ids, current_user)
    return f"Deleted {count} prospects."


@bp.get("/prospects/export.csv")
def export() -> Response:
    """The filtered list as CSV, every matching row, streamed in batches."""
    campaign = _campaign_arg()
    query, _errors = _list_query()
    campaign_id = campaign.id if campaign else None
    user_id = current_user.id

    def generate() -> Iterator[str]:
        yield "\ufeff"  # so that Excel reads the accents right
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        page = 1
        while True:
            batch = query.model_copy(update={"page": page, "per_page": EXPORT_BATCH})
            rows, _total = list_prospects(
                db_session(), campaign_id, batch, user_id, with_total=False
            )
            for row in rows:
                p = row.prospect
                cells = [
                    row.domain,
                    p.page_url,
                    p.stage.value,
                    p.domain_rating,
                    p.traffic,
                    p.relevance,
                    row.owner_name,
                    row.contact_name,
                    row.contact_email,
                    ", ".join(row.tags),
                    row.last_contacted_at.isoformat() if row.last_contacted_at else "",
                    p.created_at.isoformat(),
                    p.notes,
                ]
                writer.writerow([safe_cell(cell) for cell in cells])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < EXPORT_BATCH:
                return
            page += 1

    name = f"prospects-{campaign.id}.csv" if campaign else "prospects.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _form_values() -> dict[str, Any]:
    return request.form.to_dict()


def _prospect_form(
    campaign: Campaign, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    assets = (
        db_session().exec(select(ContentAsset).where(ContentAsset.campaign_id == campaign.id)).all()
    )
    return (
        render_template(
            "prospects/new.html",
            campaign=campaign,
            values=values,
            errors=errors,
            users=[(str(u.id), u.display_name) for u in _users()],
            assets=[(str(a.id), a.title) for a in assets],
        ),
        status,
    )


def _prospect_input(values: dict[str, Any]) -> dict[str, Any]:
    contact = {name: values.get(f"contact_{name}", "") for name in CONTACT_FIELDS}
    data: dict[str, Any] = {name: values.get(name, "") for name in ("domain", *METRIC_FIELDS)}
    if any(contact.values()):
        data["contact"] = contact
    return data


def _flatten_contact_errors(errors: dict[str, str]) -> dict[str, str]:
    return {name.replace("contact.", "contact_"): message for name, message in errors.items()}


@bp.route("/campaigns/<int:campaign_id>/prospects/new", methods=["GET", "POST"])
def new(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    if request.method == "GET":
        return _prospect_form(campaign, {"owner_id": str(current_user.id)}, {})
    values = _form_values()
    try:
        data = ProspectInput.model_validate(_prospect_input(values))
        prospect = add_prospect(
            db_session(), campaign, data, current_user, check_deliverability=_deliverability()
        )
    except ValidationError as exc:
        return _prospect_form(campaign, values, _flatten_contact_errors(field_errors(exc)), 422)
    except ProspectError as exc:
        db_session().rollback()
        return _prospect_form(campaign, values, {exc.field or "domain": str(exc)}, 422)
    flash(f"{data.domain} added to {campaign.name}.", "success")
    if request.form.get("next") == "another":
        return redirect(url_for("prospects.new", campaign_id=campaign.id))
    return redirect(url_for("prospects.show", prospect_id=prospect.id))


@bp.get("/campaigns/<int:campaign_id>/prospects/domain-check")
def domain_check(campaign_id: int) -> str:
    """What is known of a domain, shown under the field while the user types (htmx)."""
    value = request.args.get("domain", "") or request.args.get("page_url", "")
    if not value.strip():
        return ""
    try:
        name = registrable_domain(value)
    except InvalidDomainError as exc:
        return render_template("prospects/_domain_check.html", error=str(exc), history=None)
    history = domain_history(db_session(), name, exclude_campaign_id=campaign_id)
    in_campaign = (
        db_session()
        .exec(
            select(Prospect.id)
            .join(Domain, Domain.id == Prospect.domain_id)
            .where(Prospect.campaign_id == campaign_id, Domain.name == name)
        )
        .first()
    )
    return render_template(
        "prospects/_domain_check.html",
        error="",
        history=history,
        in_campaign=in_campaign,
        labels=STAGE_LABELS,
    )


@bp.get("/campaigns/<int:campaign_id>/board")
def board(campaign_id: int) -> str:
    session = db_session()
    campaign = campaign_or_404(campaign_id)
    counts = stage_counts(session, campaign.id)
    return render_template(
        "prospects/board.html",
        campaign=campaign,
        columns=board_columns(session, campaign.id, BOARD_COLUMNS, BOARD_CARDS),
        counts=counts,
        labels=STAGE_LABELS,
        stages=BOARD_COLUMNS,
        per_column=BOARD_CARDS,
        sequences=list_sequences(session, campaign.id),
    )


@bp.post("/prospects/<int:prospect_id>/stage")
def change_stage(prospect_id: int) -> Response | tuple[Response, int]:
    """Move one prospect; the board calls it with fetch (JSON back), forms get a redirect."""
    session = db_session()
    prospect = _prospect(prospect_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        stage = parse_stage(request.form.get("stage", ""))
        move_stage(session, prospect, MoveReason.MANUAL, to=stage, actor=current_user)
        session.commit()
    except StageMoveError as exc:
        if wants_json:
            return jsonify(error=str(exc)), 422
        flash(str(exc), "danger")
        return redirect(_safe_back(url_for("prospects.show", prospect_id=prospect_id)))
    if wants_json:
        return jsonify(
            stage=prospect.stage.value,
            counts={s.value: n for s, n in stage_counts(session, prospect.campaign_id).items()},
        )
    domain = session.get(Domain, prospect.domain_id)
    flash(f"{domain.name} moved to {STAGE_LABELS[prospect.stage]}.", "success")
    return redirect(_safe_back(url_for("prospects.show", prospect_id=prospect_id)))


def _show(
    prospect: Prospect,
    errors: dict[str, str] | None = None,
    status: int = 200,
    placement_values: Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    session = db_session()
    domain = session.get(Domain, prospect.domain_id)
    campaign = session.get(Campaign, prospect.campaign_id)
    contacts = session.exec(
        select(Contact).where(Contact.domain_id == domain.id).order_by(Contact.id)
    ).all()
    assets = session.exec(select(ContentAsset).where(ContentAsset.campaign_id == campaign.id)).all()
    return (
        render_template(
            "prospects/show.html",
            prospect=prospect,
            domain=domain,
            campaign=campaign,
            contacts=contacts,
            contact_errors=any(name.startswith("contact_") for name in errors or {}),
            user_options=[(str(u.id), u.display_name) for u in _users()],
            asset_options=[(str(a.id), a.title) for a in assets],
            asset=session.get(ContentAsset, prospect.asset_id) if prospect.asset_id else None,
            placements=placement_cards(session, prospect.id),
            placement_values=placement_values or _placement_defaults(prospect, campaign),
            placement_form_open=placement_values is not None,
            link_types=[(t.value, t.value.replace("_", " ").capitalize()) for t in LinkType],
            rels=[(r.value, r.value) for r in Rel],
            sees_money=current_user.has_role(Role.ADMIN, Role.MANAGER),
            time_logged=prospect_minutes(session, prospect.id),
            tags=tags_of(session, [prospect.id])[prospect.id],
            owner=session.get(User, prospect.owner_id) if prospect.owner_id else None,
            history=domain_history(session, domain.name, exclude_campaign_id=campaign.id),
            timeline=prospect_timeline(session, prospect.id),
            enrolments=enrolment_cards(session, prospect),
            sequences=list_sequences(session, campaign.id),
            labels=STAGE_LABELS,
            stages=BOARD_COLUMNS,
            errors=errors or {},
            values=request.form if request.method == "POST" and placement_values is None else {},
            # Only a refused Details form shows what was typed there; after any other form the
            # Details keep the saved values, so saving them next loses nothing.
            details_values=request.form if request.endpoint == "prospects.edit" else None,
        ),
        status,
    )


def _placement_defaults(prospect: Prospect, campaign: Campaign) -> dict[str, Any]:
    """The add-placement form before anything is typed: the asset pitched, and the link type
    the campaign is about when there is one."""
    kinds = {t.value for t in LinkType}
    kind = campaign.kind.value
    return {
        "placement_asset_id": prospect.asset_id,
        "placement_expected_rel": Rel.FOLLOW.value,
        "placement_link_type": kind if kind in kinds else LinkType.OTHER.value,
    }


def placement_refused(prospect: Prospect, errors: dict[str, str]) -> tuple[str, int]:
    """The prospect page again when the Links card's add-placement form (links.new_placement)
    was refused: what was typed stays, the details form keeps the saved values."""
    return _show(prospect, errors, 422, placement_values=request.form)


@bp.get("/prospects/<int:prospect_id>")
def show(prospect_id: int) -> tuple[str, int]:
    return _show(_prospect(prospect_id))


@bp.post("/prospects/<int:prospect_id>")
def edit(prospect_id: int) -> tuple[str, int] | Response:
    prospect = _prospect(prospect_id)
    changes = {name: request.form.get(name, "") for name in METRIC_FIELDS if name in request.form}
    try:
        update_prospect(db_session(), prospect, changes, current_user)
    except ValidationError as exc:
        db_session().rollback()
        return _show(prospect, field_errors(exc), 422)
    except ProspectError as exc:
        db_session().rollback()
        return _show(prospect, {exc.field or "prospect": str(exc)}, 422)
    flash("Prospect saved.", "success")
    return redirect(url_for("prospects.show", prospect_id=prospect.id))


@bp.post("/prospects/<int:prospect_id>/contacts")
def new_contact(prospect_id: int) -> tuple[str, int] | Response:
    prospect = _prospect(prospect_id)
    values = {name: request.form.get(f"contact_{name}", "") for name in CONTACT_FIELDS}
    try:
        data = ContactInput.model_validate(
            {**values, "primary": bool(request.form.get("contact_primary"))}
        )
        contact = add_contact(
            db_session(), prospect, data, current_user, check_deliverability=_deliverability()
        )
    except ValidationError as exc:
        errors = {f"contact_{k}": v for k, v in field_errors(exc).items()}
        return _show(prospect, errors, 422)
    except ProspectError as exc:
        return _show(prospect, {exc.field: str(exc)}, 422)
    flash(f"Contact {contact.full_name or contact.email} saved.", "success")
    return redirect(url_for("prospects.show", prospect_id=prospect.id))


@bp.post("/prospects/<int:prospect_id>/notes")
def new_note(prospect_id: int) -> tuple[str, int] | Response:
    prospect = _prospect(prospect_id)
    try:
        add_note(db_session(), prospect, request.form.get("note", ""), current_user)
    except ProspectError as exc:
        return _show(prospect, {"note": str(exc)}, 422)
    flash("Note added.", "success")
    return redirect(url_for("prospects.show", prospect_id=prospect.id))


@bp.post("/prospects/<int:prospect_id>/time")
def new_time(prospect_id: int) -> tuple[str, int] | Response:
    """Log time for the signed-in user: a quick button ("time_quick") or typed minutes."""
    session = db_session()
    prospect = _prospect(prospect_id)
    values = {
        "minutes": request.form.get("time_quick") or request.form.get("time_minutes", ""),
        "note": request.form.get("time_note", ""),
    }
    try:
        data = TimeInput.model_validate(values)
    except ValidationError as exc:
        return _show(prospect, {f"time_{k}": v for k, v in field_errors(exc).items()}, 422)
    campaign = session.get(Campaign, prospect.campaign_id)
    log_time(session, current_user, campaign, data, app_now(), prospect=prospect)
    flash(f"Logged {format_minutes(data.minutes)}.", "success")
    return redirect(url_for("prospects.show", prospect_id=prospect.id) + "#time-heading")
