"""Mailbox pages: the list everyone may read, the form managers connect a mailbox with, and
the test email that proves its settings before a sequence depends on them."""

from __future__ import annotations

import enum
from datetime import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import select
from werkzeug.wrappers import Response

from outreach.api.core import field_errors
from outreach.auth.views import roles_required
from outreach.campaigns.models import Campaign
from outreach.campaigns.views import MANAGERS
from outreach.db import db_session
from outreach.mail.mailboxes import (
    MailboxRefusedError,
    campaign_ids_of,
    create_mailbox,
    list_mailboxes,
    send_test_email,
    update_mailbox,
    window_days_of,
)
from outreach.mail.models import Mailbox, TransportSecurity
from outreach.mail.schedule import WEEKDAY_NAMES, describe_window, parse_weekdays
from outreach.mail.schemas import MailboxInput
from outreach.mail.transport import MailTransportError
from outreach.validation import normalise_email

bp = Blueprint("mailboxes", __name__, url_prefix="/mailboxes")

PASSWORDS = ("smtp_password", "imap_password")
# Checkbox groups: the form sends one value per ticked box.
LISTS = ("window_days", "campaign_ids")
SECURITY_LABELS = {
    TransportSecurity.STARTTLS: "STARTTLS (usually port 587)",
    TransportSecurity.TLS: "TLS from the start (usually 465 or 993)",
    TransportSecurity.NONE: "None (only for a server on this machine)",
}


def _mailbox(mailbox_id: int) -> Mailbox:
    mailbox = db_session().get(Mailbox, mailbox_id)
    if mailbox is None:
        abort(404, f"There is no mailbox {mailbox_id}.")
    return mailbox


def _campaigns() -> list[tuple[int, str]]:
    return list(db_session().exec(select(Campaign.id, Campaign.name).order_by(Campaign.name)).all())


@bp.get("/")
def index() -> str:
    session = db_session()
    names = dict(_campaigns())
    rows = [
        {
            "mailbox": mailbox,
            "campaigns": [names[cid] for cid in campaign_ids_of(session, mailbox.id)],
            "window": describe_window(
                parse_weekdays(mailbox.window_days), mailbox.window_start, mailbox.window_end
            ),
        }
        for mailbox in list_mailboxes(session)
    ]
    return render_template(
        "mail/mailboxes.html", rows=rows, can_manage=current_user.has_role(*MANAGERS)
    )


def _shown(value: Any) -> Any:
    """A stored or default value as the form shows it (and as the browser sends it back)."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


def _defaults() -> dict[str, Any]:
    return {
        name: "" if field.is_required() else _shown(field.get_default(call_default_factory=True))
        for name, field in MailboxInput.model_fields.items()
        if name not in PASSWORDS
    }


def _stored(mailbox: Mailbox) -> dict[str, Any]:
    values = {name: _shown(getattr(mailbox, name)) for name in _defaults() if name not in LISTS}
    values["window_days"] = _shown(window_days_of(mailbox))
    values["campaign_ids"] = _shown(campaign_ids_of(db_session(), mailbox.id))
    return values


def _submitted() -> dict[str, Any]:
    """What the user typed, passwords left out: they are never sent back to the browser."""
    values: dict[str, Any] = {name: request.form.get(name, "") for name in _defaults()}
    for name in LISTS:
        values[name] = request.form.getlist(name)
    values["active"] = "active" in request.form
    return values


def _input(values: dict[str, Any]) -> MailboxInput:
    passwords = {name: request.form.get(name) or None for name in PASSWORDS}
    return MailboxInput.model_validate({**values, **passwords})


def _errors(exc: ValidationError, values: dict[str, Any]) -> dict[str, str]:
    errors = {name.split(".")[0]: message for name, message in field_errors(exc).items()}
    if "window_days" in errors and not values["window_days"]:
        errors["window_days"] = "Tick at least one day to send on."
    return errors


def _form(
    mailbox: Mailbox | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    test_address: str = "",
    test_error: str = "",
) -> tuple[str, int]:
    return (
        render_template(
            "mail/mailbox_form.html",
            mailbox=mailbox,
            values=values,
            errors=errors,
            # Typed passwords are not shown again, so say they must be typed again.
            retype=[name for name in PASSWORDS if errors and request.form.get(name)],
            securities=[(security.value, label) for security, label in SECURITY_LABELS.items()],
            weekdays=list(enumerate(WEEKDAY_NAMES, start=1)),
            campaigns=_campaigns(),
            test_address=test_address or current_user.email,
            test_error=test_error,
        ),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _form(None, _defaults(), {})
    values = _submitted()
    state = current_app.extensions["outreach"]
    try:
        mailbox = create_mailbox(db_session(), _input(values), state.mail_key, current_user)
    except ValidationError as exc:
        return _form(None, values, _errors(exc, values), 422)
    except MailboxRefusedError as exc:
        db_session().rollback()
        return _form(None, values, {exc.field: str(exc)}, 422)
    flash(f"Mailbox {mailbox.email} saved. Send a test email to check its settings.", "success")
    return redirect(url_for("mailboxes.edit", mailbox_id=mailbox.id))


@bp.route("/<int:mailbox_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(mailbox_id: int) -> tuple[str, int] | Response:
    mailbox = _mailbox(mailbox_id)
    if request.method == "GET":
        return _form(mailbox, _stored(mailbox), {})
    values = _submitted()
    state = current_app.extensions["outreach"]
    try:
        update_mailbox(db_session(), mailbox, _input(values), state.mail_key, current_user)
    except ValidationError as exc:
        return _form(mailbox, values, _errors(exc, values), 422)
    except MailboxRefusedError as exc:
        db_session().rollback()
        return _form(mailbox, values, {exc.field: str(exc)}, 422)
    flash(f"Mailbox {mailbox.email} saved.", "success")
    return redirect(url_for("mailboxes.edit", mailbox_id=mailbox.id))


@bp.post("/<int:mailbox_id>/test")
@roles_required(*MANAGERS)
def test_email(mailbox_id: int) -> tuple[str, int] | Response:
    """Send through the saved settings; a refusal is shown with the server's own words."""
    mailbox = _mailbox(mailbox_id)
    typed = request.form.get("to_address", "")
    state = current_app.extensions["outreach"]
    try:
        address = normalise_email(typed)
        send_test_email(
            db_session(),
            mailbox,
            state.mail_key,
            address,
            state.clock.now(),
            state.settings.smtp_timeout_seconds,
        )
    except (ValueError, MailTransportError) as exc:
        return _form(mailbox, _stored(mailbox), {}, 422, test_address=typed, test_error=str(exc))
    flash(f"Test email sent to {address} from {mailbox.email}.", "success")
    return redirect(url_for("mailboxes.edit", mailbox_id=mailbox.id))
