"""The link pages: recording and checking placements from a prospect's page, a placement's own
page (toxic or not, the reclaim email for a lost link), the Links page's tabs, and a
campaign's earned-link ledger with its CSV and disavow exports. Builders never see money."""

from __future__ import annotations

import csv
import io
from datetime import date
from math import ceil
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import select

from outreach.api.core import field_errors
from outreach.auth.models import Role
from outreach.auth.views import roles_required
from outreach.campaigns.costs import set_value_override
from outreach.campaigns.models import Campaign, ContentAsset
from outreach.campaigns.schemas import ValueOverrideInput
from outreach.campaigns.views import campaign_or_404
from outreach.clock import app_now
from outreach.db import db_session
from outreach.links.checking import check_intervals, link_fetcher
from outreach.links.ledger import (
    TABS,
    LedgerRow,
    alert_counts,
    disavow_text,
    ledger_rows,
    links_page,
)
from outreach.links.models import Placement, PlacementStatus
from outreach.links.monitor import Outcome, outcome_of
from outreach.links.schemas import PlacementInput
from outreach.links.services import (
    PlacementRefusedError,
    ReclaimRefusedError,
    check_history,
    check_now,
    create_placement,
    reclaim_draft,
    send_reclaim,
    set_toxic,
)
from outreach.mail.runner import mail_context
from outreach.prospects.models import Domain, Prospect
from outreach.prospects.views import placement_refused
from outreach.spreadsheets import safe_cell
from outreach.validation import MAX_INT
from outreach.web import same_site_path

bp = Blueprint("links", __name__)

PER_PAGE = 50
MANAGERS = (Role.ADMIN, Role.MANAGER)
# The prospect page's form names these "placement_<field>": its other forms have a page_url.
FORM_PREFIX = "placement_"
MONEY_FIELDS = frozenset({"cost"})
TAB_LABELS = {
    "alerts": "Alerts",
    "promised": "Promised",
    "live": "Live",
    "unknown": "Unknown",
    "lost": "Lost",
    "all": "All",
}
VERDICT_LABELS = {
    "live": "link found, followed",
    "nofollow": "link found, nofollow",
    "ugc": "link found, rel=ugc",
    "sponsored": "link found, rel=sponsored",
    "noindex": "link found on a noindex page",
    "missing": "link missing from the page",
    "page_gone": "page gone (404 or 410)",
    "page_error": "page could not be fetched",
    "not_html": "not an HTML page",
}
FLASH_CATEGORY = {Outcome.FOUND: "success", Outcome.FAILING: "danger", Outcome.UNKNOWN: "warning"}


@bp.app_template_filter("verdict_label")
def verdict_label(code: str) -> str:
    """A check's verdict in words; the prospect page shows them too."""
    return VERDICT_LABELS.get(code, code)


def sees_money() -> bool:
    return current_user.has_role(*MANAGERS)


def _today() -> date:
    return app_now().date()


def _placement(placement_id: int) -> Placement:
    placement = db_session().get(Placement, placement_id)
    if placement is None:
        abort(404, f"There is no placement {placement_id}.")
    return placement


def _back(default: str) -> str:
    return same_site_path(request.form.get("back"), default)


@bp.post("/prospects/<int:prospect_id>/placements")
def new_placement(prospect_id: int) -> tuple[str, int] | Response:
    """The prospect page's "Add placement" form; refused input comes back as typed."""
    session = db_session()
    prospect = session.get(Prospect, prospect_id)
    if prospect is None:
        abort(404, f"There is no prospect {prospect_id}.")
    values: dict[str, Any] = {
        name: request.form.get(FORM_PREFIX + name, "")
        for name in PlacementInput.model_fields
        if name != "paid" and (sees_money() or name not in MONEY_FIELDS)
    }
    values["paid"] = bool(request.form.get(FORM_PREFIX + "paid"))
    try:
        data = PlacementInput.model_validate(values)
        placement = create_placement(session, prospect, data, current_user, app_now())
    except ValidationError as exc:
        errors = {FORM_PREFIX + name: message for name, message in field_errors(exc).items()}
        return placement_refused(prospect, errors)
    except PlacementRefusedError as exc:
        session.rollback()
        return placement_refused(prospect, {FORM_PREFIX + exc.field: str(exc)})
    flash(f"Placement on {placement.page_url} recorded; its first check is due now.", "success")
    return redirect(url_for("prospects.show", prospect_id=prospect.id) + "#links-heading")


@bp.post("/placements/<int:placement_id>/check")
def check(placement_id: int) -> Response:
    """Fetch the page now and say what was found; back to the page the button was on."""
    placement = _placement(placement_id)
    result = check_now(
        db_session(), placement, link_fetcher(current_app), app_now(), check_intervals(current_app)
    )
    details = [*result.mismatches, result.error]
    message = f"{placement.page_url}: {verdict_label(result.verdict)}"
    message += "".join(f"; {detail}" for detail in details if detail)
    category = "warning" if result.mismatches else FLASH_CATEGORY[outcome_of(result.verdict)]
    flash(f"{message}.", category)
    return redirect(_back(url_for("links.show", placement_id=placement.id)))


@bp.post("/placements/<int:placement_id>/toxic")
def toxic(placement_id: int) -> Response:
    placement = _placement(placement_id)
    value = request.form.get("toxic") == "1"
    set_toxic(db_session(), placement, value, current_user)
    if value:
        flash(f"{placement.page_url} marked toxic: it is in the disavow file now.", "warning")
    else:
        flash(f"{placement.page_url} is no longer marked toxic.", "success")
    return redirect(url_for("links.show", placement_id=placement.id))


@bp.get("/placements/<int:placement_id>")
def show(placement_id: int) -> tuple[str, int]:
    return _placement_page(_placement(placement_id))


@bp.post("/placements/<int:placement_id>/reclaim")
def reclaim(placement_id: int) -> tuple[str, int] | Response:
    """Queue the (edited) reclaim email of a lost link."""
    session = db_session()
    placement = _placement(placement_id)
    if placement.status is not PlacementStatus.LOST:
        flash("Only a lost link can be reclaimed.", "warning")
        return redirect(url_for("links.show", placement_id=placement.id))
    subject, body = request.form.get("subject", ""), request.form.get("body", "")
    try:
        message = send_reclaim(
            session, placement, subject, body, current_user, app_now(), mail_context(current_app)
        )
    except ReclaimRefusedError as exc:
        session.rollback()
        return _placement_page(placement, {"subject": subject, "body": body}, str(exc), 422)
    flash(f"Reclaim email queued to {message.to_address}.", "success")
    return redirect(url_for("links.show", placement_id=placement.id))


@bp.post("/placements/<int:placement_id>/value")
@roles_required(*MANAGERS)
def value_override(placement_id: int) -> tuple[str, int] | Response:
    """What this one link is worth; empty hands it back to the campaign's value model."""
    placement = _placement(placement_id)
    typed = request.form.get("value_override", "")
    try:
        data = ValueOverrideInput.model_validate({"value_override": typed.strip()})
    except ValidationError as exc:
        errors = field_errors(exc)
        return _placement_page(
            placement, status=422, value_input=typed, value_error=errors["value_override"]
        )
    set_value_override(db_session(), placement, data, current_user)
    if data.value_override is None:
        flash("This link's value now comes from the campaign's value model.", "success")
    else:
        flash("This link's value is saved.", "success")
    return redirect(url_for("links.show", placement_id=placement.id))


def _placement_page(
    placement: Placement,
    reclaim_values: dict[str, str] | None = None,
    reclaim_error: str = "",
    status: int = 200,
    *,
    value_input: str | None = None,
    value_error: str = "",
) -> tuple[str, int]:
    session = db_session()
    prospect = session.get(Prospect, placement.prospect_id)
    history = check_history(session, placement.id)
    draft = None
    if placement.status is PlacementStatus.LOST:
        try:
            draft = reclaim_draft(session, placement)
        except ReclaimRefusedError as exc:
            reclaim_error = reclaim_error or str(exc)
    if reclaim_values is None and draft is not None:
        reclaim_values = {"subject": draft.subject, "body": draft.body}
    return (
        render_template(
            "links/placement.html",
            placement=placement,
            prospect=prospect,
            domain=session.get(Domain, prospect.domain_id),
            campaign=session.get(Campaign, prospect.campaign_id),
            asset=session.get(ContentAsset, placement.asset_id) if placement.asset_id else None,
            last=history[0] if history else None,
            history=history,
            draft=draft,
            reclaim_values=reclaim_values or {},
            reclaim_error=reclaim_error,
            sees_money=sees_money(),
            value_input=value_input,
            value_error=value_error,
        ),
        status,
    )


def _campaign_filter() -> Campaign | None:
    value = request.args.get("campaign", "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        abort(400, "The campaign must be a number.")
    return campaign_or_404(int(value))


@bp.get("/links/")
def index() -> str:
    session = db_session()
    tab = request.args.get("tab", "alerts")
    if tab not in TABS:
        abort(404, f"There is no Links tab {tab!r}.")
    campaign = _campaign_filter()
    campaign_id = campaign.id if campaign else None
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_INT)
    today = _today()
    rows, total = links_page(session, tab, campaign_id, (page - 1) * PER_PAGE, PER_PAGE, today)
    return render_template(
        "links/index.html",
        tab=tab,
        tabs=TAB_LABELS,
        counts=alert_counts(session, campaign_id, today),
        campaign=campaign,
        campaigns=session.exec(select(Campaign.id, Campaign.name).order_by(Campaign.name)).all(),
        rows=rows,
        total=total,
        page=page,
        pages=max(ceil(total / PER_PAGE), 1),
    )


@bp.get("/campaigns/<int:campaign_id>/ledger")
def ledger(campaign_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    return render_template(
        "links/ledger.html",
        campaign=campaign,
        rows=ledger_rows(db_session(), campaign.id),
        today=_today(),
        sees_money=sees_money(),
    )


def _ledger_columns() -> list[str]:
    columns = ["status", "link_type", "page_url", "domain", "domain_rating", "traffic"]
    columns += ["anchor_text", "rel", "target", "asset"]
    columns += ["cost"] if sees_money() else []
    return [*columns, "first_seen", "last_checked", "survival_days"]


def _ledger_line(row: LedgerRow, today: date) -> list[object]:
    p = row.placement
    line: list[object] = [p.status.value, p.link_type.value, p.page_url, row.domain]
    line += [row.domain_rating, row.traffic, row.anchor_text, row.rel_text, p.target]
    line += [row.asset_title]
    line += [p.cost] if sees_money() else []
    seen = p.first_live_at.isoformat() if p.first_live_at else ""
    checked = p.last_checked_at.isoformat() if p.last_checked_at else ""
    return [*line, seen, checked, row.survival_days(today)]


@bp.get("/campaigns/<int:campaign_id>/ledger.csv")
def ledger_csv(campaign_id: int) -> Response:
    """The ledger for a spreadsheet: UTF-8 with a byte-order mark, so Excel reads accents."""
    campaign = campaign_or_404(campaign_id)
    today = _today()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(_ledger_columns())
    for row in ledger_rows(db_session(), campaign.id):
        writer.writerow([safe_cell(value) for value in _ledger_line(row, today)])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ledger-{campaign.id}.csv"'},
    )


@bp.get("/campaigns/<int:campaign_id>/disavow.txt")
def disavow(campaign_id: int) -> Response:
    """The file to upload to Google's disavow tool, for the links marked toxic."""
    campaign = campaign_or_404(campaign_id)
    return Response(
        disavow_text(db_session(), campaign, _today()),
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="disavow-{campaign.id}.txt"'},
    )
