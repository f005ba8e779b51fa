"""/api/v1: templates, mailboxes, sequences and enrolment, and a prospect's messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field

from outreach.api.core import ApiError, api_blueprint, api_user, dump, require_role
from outreach.auth.models import Role
from outreach.clock import app_now
from outreach.db import db_session
from outreach.mail.mailboxes import (
    MailboxRefusedError,
    campaign_ids_of,
    create_mailbox,
    list_mailboxes,
    window_days_of,
)
from outreach.mail.models import (
    Direction,
    InboundKind,
    Mailbox,
    MessageStatus,
    Sequence,
    TransportSecurity,
)
from outreach.mail.schemas import EnrolInput, MailboxInput, SequenceInput, TemplateInput, WallTime
from outreach.mail.sequences import (
    SequenceRefusedError,
    create_sequence,
    enrol,
    list_sequences,
    messages_of,
    steps_of,
    update_sequence,
)
from outreach.mail.services import TemplateRefusedError, create_template, list_templates
from outreach.prospects.api import ProspectPath, prospect_or_error
from outreach.validation import RowId

api = api_blueprint("mail_api", __name__)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    subject: str
    body: str
    campaign_id: int | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class TemplateList(BaseModel):
    items: list[TemplateOut]
    total: int


class TemplateQuery(BaseModel):
    campaign_id: RowId | None = Field(
        default=None, description="Only templates usable in this campaign (its own and shared)."
    )


@api.get("/templates", responses={200: TemplateList}, summary="Email templates")
def list_(query: TemplateQuery) -> tuple[dict[str, Any], int]:
    templates = list_templates(db_session(), query.campaign_id)
    items = [TemplateOut.model_validate(template) for template in templates]
    return dump(TemplateList(items=items, total=len(items)))


@api.post("/templates", responses={201: TemplateOut}, summary="Create an email template")
def create(body: TemplateInput) -> tuple[dict[str, Any], int]:
    try:
        template = create_template(db_session(), body, api_user())
    except TemplateRefusedError as exc:
        raise ApiError(422, "validation_error", str(exc), {"campaign_id": str(exc)}) from None
    return dump(TemplateOut.model_validate(template), 201)


class MailboxOut(BaseModel):
    """A mailbox as the API shows it: passwords are never sent back."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    from_name: str
    signature: str
    smtp_host: str
    smtp_port: int
    smtp_security: TransportSecurity
    smtp_username: str
    smtp_password_set: bool
    imap_host: str
    imap_port: int
    imap_security: TransportSecurity
    imap_username: str
    imap_password_set: bool
    imap_folder: str
    daily_cap: int
    min_spacing_seconds: int
    window_days: list[int]
    window_start: WallTime
    window_end: WallTime
    active: bool
    campaign_ids: list[int]
    last_error: str
    last_error_at: datetime | None


class MailboxList(BaseModel):
    items: list[MailboxOut]
    total: int


class CampaignFilter(BaseModel):
    campaign_id: RowId | None = Field(default=None, description="Only those of this campaign.")


def mailbox_out(mailbox: Mailbox) -> MailboxOut:
    session = db_session()
    return MailboxOut.model_validate(
        {
            **mailbox.model_dump(),
            "smtp_password_set": bool(mailbox.smtp_password_encrypted),
            "imap_password_set": bool(mailbox.imap_password_encrypted),
            "window_days": window_days_of(mailbox),
            "campaign_ids": campaign_ids_of(session, mailbox.id),
        }
    )


def _mail_key() -> str:
    return current_app.extensions["outreach"].mail_key


@api.get("/mailboxes", responses={200: MailboxList}, summary="Sending mailboxes")
def list_mailboxes_(query: CampaignFilter) -> tuple[dict[str, Any], int]:
    items = [mailbox_out(m) for m in list_mailboxes(db_session(), query.campaign_id)]
    return dump(MailboxList(items=items, total=len(items)))


@api.post("/mailboxes", responses={201: MailboxOut}, summary="Connect a mailbox")
@require_role(Role.ADMIN, Role.MANAGER)
def create_mailbox_(body: MailboxInput) -> tuple[dict[str, Any], int]:
    try:
        mailbox = create_mailbox(db_session(), body, _mail_key(), api_user())
    except MailboxRefusedError as exc:
        raise ApiError(422, "validation_error", str(exc), {exc.field: str(exc)}) from None
    return dump(mailbox_out(mailbox), 201)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    delay_days: int
    template_id: int


class SequenceOut(BaseModel):
    id: int
    campaign_id: int
    name: str
    auto_reply_delay_days: int
    steps: list[StepOut]
    created_at: datetime


class SequenceList(BaseModel):
    items: list[SequenceOut]
    total: int


def sequence_out(sequence: Sequence) -> SequenceOut:
    steps = [StepOut.model_validate(step) for step in steps_of(db_session(), sequence.id)]
    return SequenceOut.model_validate({**sequence.model_dump(), "steps": steps})


def _sequence(sequence_id: int) -> Sequence:
    sequence = db_session().get(Sequence, sequence_id)
    if sequence is None:
        raise ApiError(404, "not_found", f"There is no sequence {sequence_id}.")
    return sequence


def _refused(exc: SequenceRefusedError) -> ApiError:
    return ApiError(422, "validation_error", str(exc), {exc.field: str(exc)})


class SequencePath(BaseModel):
    sequence_id: RowId


@api.get("/sequences", responses={200: SequenceList}, summary="Email sequences")
def list_sequences_(query: CampaignFilter) -> tuple[dict[str, Any], int]:
    items = [sequence_out(s) for s in list_sequences(db_session(), query.campaign_id)]
    return dump(SequenceList(items=items, total=len(items)))


@api.post("/sequences", responses={201: SequenceOut}, summary="Create a sequence")
def create_sequence_(body: SequenceInput) -> tuple[dict[str, Any], int]:
    try:
        sequence = create_sequence(db_session(), body, api_user())
    except SequenceRefusedError as exc:
        raise _refused(exc) from None
    return dump(sequence_out(sequence), 201)


@api.get("/sequences/<int:sequence_id>", responses={200: SequenceOut}, summary="One sequence")
def get_sequence_(path: SequencePath) -> tuple[dict[str, Any], int]:
    return dump(sequence_out(_sequence(path.sequence_id)))


@api.put(
    "/sequences/<int:sequence_id>",
    responses={200: SequenceOut},
    summary="Change a sequence (only steps not yet sent are affected)",
)
def update_sequence_(path: SequencePath, body: SequenceInput) -> tuple[dict[str, Any], int]:
    sequence = _sequence(path.sequence_id)
    try:
        update_sequence(db_session(), sequence, body, api_user(), app_now())
    except SequenceRefusedError as exc:
        raise _refused(exc) from None
    return dump(sequence_out(sequence))


class Skipped(BaseModel):
    prospect_id: int
    reason: str


class EnrolmentResultOut(BaseModel):
    enrolled: list[int]
    skipped: list[Skipped]


@api.post(
    "/sequences/<int:sequence_id>/enrol",
    responses={200: EnrolmentResultOut},
    summary="Start the sequence for prospects; those that cannot be emailed are skipped",
)
def enrol_(path: SequencePath, body: EnrolInput) -> tuple[dict[str, Any], int]:
    sequence = _sequence(path.sequence_id)
    result = enrol(db_session(), sequence, body.prospect_ids, api_user(), app_now())
    return dump(EnrolmentResultOut.model_validate(result.as_json()))


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: Direction
    status: MessageStatus
    inbound_kind: InboundKind | None
    message_id: str
    in_reply_to: str
    references: str
    from_address: str
    to_address: str
    subject: str
    body_text: str
    mailbox_id: int | None
    contact_id: int | None
    enrolment_id: int | None
    step_id: int | None
    scheduled_at: datetime | None
    sent_at: datetime | None
    received_at: datetime | None
    error: str
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut]
    total: int


@api.get(
    "/prospects/<int:prospect_id>/messages",
    responses={200: MessageList},
    summary="A prospect's emails, sent and received, oldest first",
)
def prospect_messages(path: ProspectPath) -> tuple[dict[str, Any], int]:
    prospect = prospect_or_error(path.prospect_id)
    items = [MessageOut.model_validate(m) for m in messages_of(db_session(), prospect.id)]
    return dump(MessageList(items=items, total=len(items)))
