"""When a sequence must stop, and stopping it: no email after a reply, an opt-out, a bounce,
a do-not-contact or a stage move past *contacted*."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.mail.models import Enrolment, EnrolmentStatus, Message, MessageStatus
from outreach.prospects.models import Contact, EmailStatus, Stage


class StopReason(enum.StrEnum):
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    DO_NOT_CONTACT = "do_not_contact"
    STAGE_MOVED = "stage_moved"
    NO_EMAIL = "no_email"
    NO_MAILBOX = "no_mailbox"
    MERGE_ERROR = "merge_error"
    SEND_FAILED = "send_failed"
    MANUAL = "manual"


STOP_LABELS = {
    StopReason.REPLIED: "they replied",
    StopReason.UNSUBSCRIBED: "they opted out",
    StopReason.BOUNCED: "the address bounced",
    StopReason.DO_NOT_CONTACT: "the site is do-not-contact",
    StopReason.STAGE_MOVED: "the prospect moved past contacted",
    StopReason.NO_EMAIL: "the contact has no usable email address",
    StopReason.NO_MAILBOX: "no active mailbox",
    StopReason.MERGE_ERROR: "the template could not be filled in",
    StopReason.SEND_FAILED: "the server refused the email",
    StopReason.MANUAL: "stopped by hand",
}

# Stages at which the conversation has moved on: automated follow-ups would be wrong.
STAGES_THAT_STOP = frozenset({Stage.REPLIED, Stage.LINKED, Stage.DECLINED, Stage.LOST})
_USABLE_EMAIL = frozenset({EmailStatus.UNKNOWN, EmailStatus.VALID})


class SuppressionHit(enum.Enum):
    NONE = "none"
    OPTED_OUT = "opted_out"
    BOUNCED = "bounced"


def stop_reason_for(
    *,
    stage: Stage | None,
    do_not_contact: bool,
    suppressed: SuppressionHit,
    email: str | None,
    email_status: EmailStatus,
) -> StopReason | None:
    """Why an email to a prospect must not go out, or None when it may. `stage` is None for a
    one-off email written by hand (a reclaim after a lost link), which any stage allows."""
    if stage in STAGES_THAT_STOP:
        return StopReason.STAGE_MOVED
    if do_not_contact:
        return StopReason.DO_NOT_CONTACT
    if suppressed is SuppressionHit.BOUNCED or email_status is EmailStatus.BOUNCED:
        return StopReason.BOUNCED
    if suppressed is SuppressionHit.OPTED_OUT:
        return StopReason.UNSUBSCRIBED
    if not email or email_status not in _USABLE_EMAIL:
        return StopReason.NO_EMAIL
    return None


def stop_enrolments(session: Session, condition: sa.ColumnElement[bool], reason: StopReason) -> int:
    """Stop the active enrolments matching `condition` and cancel their queued emails.

    An email a dispatcher has already claimed is checked again just before it goes out."""
    ids = list(
        session.exec(
            select(Enrolment.id).where(condition, Enrolment.status == EnrolmentStatus.ACTIVE)
        )
    )
    if not ids:
        return 0
    session.execute(
        sa.update(Enrolment)
        .where(col(Enrolment.id).in_(ids), Enrolment.status == EnrolmentStatus.ACTIVE)
        .values(status=EnrolmentStatus.STOPPED, stop_reason=reason.value, next_due_at=None)
    )
    session.execute(
        sa.update(Message)
        .where(col(Message.enrolment_id).in_(ids), Message.status == MessageStatus.QUEUED)
        .values(status=MessageStatus.CANCELLED, error=f"sequence stopped: {reason.value}")
    )
    return len(ids)


def stop_enrolments_for_prospects(
    session: Session, prospect_ids: Iterable[int], reason: StopReason
) -> int:
    return stop_enrolments(session, col(Enrolment.prospect_id).in_(list(prospect_ids)), reason)


def stop_enrolments_for_emails(
    session: Session,
    emails: Iterable[str],
    reason: StopReason,
    *,
    domain: str | None = None,
) -> int:
    """Stop every sequence writing to these addresses, or to any address at `domain`."""
    if domain is not None:
        address = sa.or_(
            col(Contact.email).like(f"%@{domain}"), col(Contact.email).like(f"%.{domain}")
        )
    else:
        address = col(Contact.email).in_(list(emails))
    contact_ids = select(Contact.id).where(address)
    return stop_enrolments(session, col(Enrolment.contact_id).in_(contact_ids), reason)
