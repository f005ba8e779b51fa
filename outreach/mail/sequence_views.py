"""Sequence pages: a campaign's sequences, the step editor (adding and removing steps works
without JavaScript), and enrolling and stopping one prospect from its page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import Session
from werkzeug.wrappers import Response

from outreach.api.core import field_errors
from outreach.campaigns.models import Campaign
from outreach.campaigns.views import campaign_or_404
from outreach.clock import app_now
from outreach.db import db_session
from outreach.mail.models import Enrolment, EnrolmentStatus, Sequence, SequenceStep
from outreach.mail.schedule import zone
from outreach.mail.schemas import MAX_STEPS, SequenceInput
from outreach.mail.sequences import (
    SequenceRefusedError,
    create_sequence,
    enrol,
    enrolment_counts,
    enrolments_of,
    list_sequences,
    steps_of,
    stop_enrolment,
    update_sequence,
)
from outreach.mail.services import list_templates
from outreach.mail.stopping import STOP_LABELS
from outreach.prospects.models import Contact, Prospect
from outreach.web import same_site_path

bp = Blueprint("sequences", __name__)

STEP_FIELD = re.compile(r"steps-(\d+)-(template_id|delay_days)")
# A follow-up a few business days after the email before it is the usual rhythm.
FOLLOW_UP_DELAY = "3"


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def steps_summary(steps: list[SequenceStep], names: dict[int, str]) -> str:
    """ "Pitch → +3 days Nudge → +4 days Last": each template after its delay."""
    parts = []
    for step in steps:
        name = names.get(step.template_id, f"template {step.template_id}")
        parts.append(f"+{_days(step.delay_days)} {name}" if step.delay_days else name)
    return " → ".join(parts)


def _sequence(campaign: Campaign, sequence_id: int) -> Sequence:
    sequence = db_session().get(Sequence, sequence_id)
    if sequence is None or sequence.campaign_id != campaign.id:
        abort(404, f"There is no sequence {sequence_id} in {campaign.name}.")
    return sequence


@bp.get("/campaigns/<int:campaign_id>/sequences/")
def index(campaign_id: int) -> str:
    session = db_session()
    campaign = campaign_or_404(campaign_id)
    sequences = list_sequences(session, campaign.id)
    names = {t.id: t.name for t in list_templates(session, campaign.id)}
    counts = enrolment_counts(session, [s.id for s in sequences])
    return render_template(
        "mail/sequences.html",
        campaign=campaign,
        rows=[(s, steps_summary(steps_of(session, s.id), names), counts[s.id]) for s in sequences],
        statuses=list(EnrolmentStatus),
    )


def _submitted() -> dict[str, Any]:
    rows: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        if match := STEP_FIELD.fullmatch(key):
            rows.setdefault(int(match[1]), {})[match[2]] = value
    return {
        "name": request.form.get("name", ""),
        "auto_reply_delay_days": request.form.get("auto_reply_delay_days", ""),
        "steps": [
            {"template_id": row.get("template_id", ""), "delay_days": row.get("delay_days", "")}
            for _, row in sorted(rows.items())
        ],
    }


def _input(campaign: Campaign, values: dict[str, Any]) -> SequenceInput:
    steps = [{**step, "template_id": step["template_id"] or None} for step in values["steps"]]
    return SequenceInput.model_validate({**values, "campaign_id": campaign.id, "steps": steps})


def _errors(exc: ValidationError) -> dict[str, str]:
    """Field names as the form's ids: steps.1.template_id becomes steps-1-template_id."""
    errors = {name.replace(".", "-"): message for name, message in field_errors(exc).items()}
    for name in errors:
        if name.endswith("-template_id"):
            errors[name] = "Choose a template."
    return errors


def _form(
    campaign: Campaign,
    sequence: Sequence | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    focus: int | None = None,
) -> tuple[str, int]:
    templates = list_templates(db_session(), campaign.id)
    return (
        render_template(
            "mail/sequence_form.html",
            campaign=campaign,
            sequence=sequence,
            values=values,
            errors=errors,
            templates=[(str(t.id), t.name) for t in templates],
            max_steps=MAX_STEPS,
            focus=focus,
        ),
        status,
    )


def _edit_steps(
    campaign: Campaign, sequence: Sequence | None, values: dict[str, Any], action: str
) -> tuple[str, int]:
    """Add or remove a step and show the form again, everything typed kept."""
    steps = values["steps"]
    if action == "add_step":
        if len(steps) >= MAX_STEPS:
            return _form(campaign, sequence, values, {"steps": f"At most {MAX_STEPS} steps."}, 422)
        steps.append({"template_id": "", "delay_days": FOLLOW_UP_DELAY if steps else "0"})
        return _form(campaign, sequence, values, {}, focus=len(steps) - 1)
    index = action.removeprefix("remove_step-")
    if index.isdigit() and int(index) < len(steps) and len(steps) > 1:
        del steps[int(index)]
    return _form(campaign, sequence, values, {})


def _save(
    campaign: Campaign, sequence: Sequence | None, values: dict[str, Any]
) -> tuple[str, int] | Response:
    session = db_session()
    try:
        data = _input(campaign, values)
        if sequence is None:
            sequence = create_sequence(session, data, current_user)
            flash(f"Sequence {sequence.name} created.", "success")
        else:
            update_sequence(session, sequence, data, current_user, app_now())
            flash(f"Sequence {sequence.name} saved.", "success")
    except ValidationError as exc:
        return _form(campaign, sequence, values, _errors(exc), 422)
    except SequenceRefusedError as exc:
        session.rollback()
        return _form(campaign, sequence, values, {exc.field: str(exc)}, 422)
    return redirect(url_for("sequences.index", campaign_id=campaign.id))


def _post(campaign: Campaign, sequence: Sequence | None) -> tuple[str, int] | Response:
    values = _submitted()
    action = request.form.get("action", "save")
    if action == "save":
        return _save(campaign, sequence, values)
    return _edit_steps(campaign, sequence, values, action)


@bp.route("/campaigns/<int:campaign_id>/sequences/new", methods=["GET", "POST"])
def new(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    if request.method == "POST":
        return _post(campaign, None)
    values = {
        "name": "",
        "auto_reply_delay_days": str(SequenceInput.model_fields["auto_reply_delay_days"].default),
        "steps": [{"template_id": "", "delay_days": "0"}],
    }
    return _form(campaign, None, values, {})


@bp.route("/campaigns/<int:campaign_id>/sequences/<int:sequence_id>", methods=["GET", "POST"])
def edit(campaign_id: int, sequence_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id)
    sequence = _sequence(campaign, sequence_id)
    if request.method == "POST":
        return _post(campaign, sequence)
    values = {
        "name": sequence.name,
        "auto_reply_delay_days": str(sequence.auto_reply_delay_days),
        "steps": [
            {"template_id": str(step.template_id), "delay_days": str(step.delay_days)}
            for step in steps_of(db_session(), sequence.id)
        ],
    }
    return _form(campaign, sequence, values, {})


@bp.post("/prospects/<int:prospect_id>/enrol")
def enrol_prospect(prospect_id: int) -> Response:
    session = db_session()
    prospect = session.get(Prospect, prospect_id)
    if prospect is None:
        abort(404, f"There is no prospect {prospect_id}.")
    back = same_site_path(
        request.form.get("back"),
        url_for("prospects.show", prospect_id=prospect.id) + "#sequences-heading",
    )
    value = request.form.get("sequence_id", "")
    sequence = session.get(Sequence, int(value)) if value.isdigit() else None
    if sequence is None or sequence.campaign_id != prospect.campaign_id:
        flash("Choose a sequence of this prospect's campaign.", "warning")
        return redirect(back)
    result = enrol(session, sequence, [prospect.id], current_user, app_now())
    if result.enrolled:
        flash(f"Enrolled in {sequence.name}.", "success")
    else:
        flash(f"Not enrolled in {sequence.name}: {result.skipped[0]['reason']}.", "warning")
    return redirect(back)


@bp.post("/enrolments/<int:enrolment_id>/stop")
def stop(enrolment_id: int) -> Response:
    session = db_session()
    enrolment = session.get(Enrolment, enrolment_id)
    if enrolment is None:
        abort(404, f"There is no enrolment {enrolment_id}.")
    sequence = session.get(Sequence, enrolment.sequence_id)
    if enrolment.status is EnrolmentStatus.ACTIVE:
        stop_enrolment(session, enrolment, current_user)
        flash(f"Sequence {sequence.name} stopped: no more emails from it.", "success")
    else:
        flash(f"Sequence {sequence.name} was already {enrolment.status.value}.", "info")
    return redirect(
        url_for("prospects.show", prospect_id=enrolment.prospect_id) + "#sequences-heading"
    )


@dataclass(frozen=True)
class EnrolmentCard:
    """One enrolment as the prospect page shows it."""

    enrolment: Enrolment
    sequence: Sequence
    step_count: int
    # The next step's time where the recipient is, and in UTC ("" when none is scheduled).
    due_local: str
    due_utc: str
    stop_reason: str


def _moment(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {tz.key}"


def enrolment_cards(session: Session, prospect: Prospect) -> list[EnrolmentCard]:
    """Newest first; due times in the zone the sending window uses for this recipient."""
    campaign = session.get(Campaign, prospect.campaign_id)
    cards = []
    for enrolment, sequence in enrolments_of(session, prospect.id):
        contact = session.get(Contact, enrolment.contact_id)
        tz = zone(contact.timezone if contact else "", prospect.timezone, campaign.timezone)
        due = enrolment.next_due_at
        cards.append(
            EnrolmentCard(
                enrolment=enrolment,
                sequence=sequence,
                step_count=len(steps_of(session, sequence.id)),
                due_local=_moment(due, tz) if due else "",
                due_utc=_moment(due, ZoneInfo("UTC")) if due else "",
                stop_reason=STOP_LABELS.get(enrolment.stop_reason, enrolment.stop_reason),
            )
        )
    return cards
