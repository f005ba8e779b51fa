"""The dispatcher: due sequence steps become outbox rows, and outbox rows become sent emails.

Safe with several dispatchers on one database. An enrolment's step is taken with a
compare-and-set on its due time; an outbox row is claimed with `FOR UPDATE SKIP LOCKED`
(PostgreSQL) and a conditional update (both engines). The row is marked *sending* and
committed before the SMTP conversation, so a dispatcher that dies mid-send leaves a claim
that expires; the next dispatcher sends the email again with the same Message-ID.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from outreach.activity.services import SystemEntry, record_system_activities
from outreach.campaigns.models import Campaign
from outreach.db import claim_rows
from outreach.mail.compose import (
    build_email,
    followup_subject,
    new_message_id,
    outreach_body,
    thread_headers,
    unsubscribe_mailto,
)
from outreach.mail.models import (
    Direction,
    Enrolment,
    EnrolmentStatus,
    Mailbox,
    Message,
    MessageStatus,
    SequenceStep,
    SuppressionReason,
    Template,
)
from outreach.mail.schedule import next_in_window, retry_delay, sending_allowance, step_due_at
from outreach.mail.sequences import (
    outbound_history,
    reason_not_to_email,
    suppression_hit,
    window_for,
)
from outreach.mail.services import Sender, merge_data
from outreach.mail.stopping import StopReason, stop_enrolments, stop_reason_for
from outreach.mail.tallies import add_to_tally
from outreach.mail.templating import TemplateError, render_email
from outreach.mail.transport import MailTransportError, close_quietly, open_smtp, smtp_refusal
from outreach.mail.unsubscribe import suppress, unsubscribe_token, unsubscribe_url
from outreach.ops.logs import fields
from outreach.prospects.models import Contact, Domain, EmailStatus, Prospect, Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.services import move_stages

log = logging.getLogger("outreach.mail")

# After this many temporary failures an email is given up on and its sequence stopped.
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class MailContext:
    """What sending and reading mail needs from the configuration."""

    mail_key: str
    secret_key: str
    public_url: str
    lease: timedelta
    smtp_timeout: float
    worker: str
    batch: int = 200


def queue_due_steps(
    session: Session, ctx: MailContext, now: datetime, limit: int = 1000
) -> Counter[str]:
    """Render each step that is due into a queued outbox row."""
    counts: Counter[str] = Counter()
    due = session.exec(
        select(Enrolment.id, Enrolment.next_due_at)
        .where(Enrolment.status == EnrolmentStatus.ACTIVE, col(Enrolment.next_due_at) <= now)
        .order_by(Enrolment.next_due_at)
        .limit(limit)
    ).all()
    session.rollback()
    for enrolment_id, due_at in due:
        taken = session.execute(
            sa.update(Enrolment)
            .where(
                Enrolment.id == enrolment_id,
                Enrolment.next_due_at == due_at,
                Enrolment.status == EnrolmentStatus.ACTIVE,
            )
            .values(next_due_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not taken:
            session.rollback()
            continue
        counts[_prepare_step(session, ctx, enrolment_id, now)] += 1
        session.commit()
    return counts


def _prepare_step(session: Session, ctx: MailContext, enrolment_id: int, now: datetime) -> str:
    enrolment = session.get(Enrolment, enrolment_id)
    session.refresh(enrolment)
    prospect = session.get(Prospect, enrolment.prospect_id)
    contact = session.get(Contact, enrolment.contact_id)
    stop = reason_not_to_email(session, prospect, contact)
    mailbox = session.get(Mailbox, enrolment.mailbox_id) if enrolment.mailbox_id else None
    if stop is None and (mailbox is None or not mailbox.active):
        stop = StopReason.NO_MAILBOX
        enrolment.last_error = "Its mailbox was removed or paused; enrol the prospect again."
    if stop is not None:
        stop_enrolments(session, Enrolment.id == enrolment.id, stop)
        return "stopped"
    step = session.exec(
        select(SequenceStep).where(
            SequenceStep.sequence_id == enrolment.sequence_id,
            SequenceStep.position == enrolment.next_position,
        )
    ).first()
    if step is None:
        enrolment.status = EnrolmentStatus.COMPLETED
        return "completed"
    template = session.get(Template, step.template_id)
    sender = Sender(mailbox.from_name, mailbox.email)
    try:
        rendered = render_email(
            template.subject, template.body, merge_data(session, prospect, sender, contact)
        )
    except TemplateError as exc:
        enrolment.last_error = f"Step {step.position} ({template.name}): {exc}"
        stop_enrolments(session, Enrolment.id == enrolment.id, StopReason.MERGE_ERROR)
        return "stopped"
    earlier = outbound_history(session, enrolment.id)
    in_reply_to, references = thread_headers([message.message_id for message in earlier])
    link = unsubscribe_url(ctx.public_url, unsubscribe_token(ctx.secret_key, contact.email))
    session.add(
        Message(
            direction=Direction.OUTBOUND,
            status=MessageStatus.QUEUED,
            message_id=new_message_id(mailbox.email),
            in_reply_to=in_reply_to,
            references=references,
            mailbox_id=mailbox.id,
            prospect_id=prospect.id,
            contact_id=contact.id,
            enrolment_id=enrolment.id,
            step_id=step.id,
            template_id=template.id,
            from_address=mailbox.email,
            to_address=contact.email,
            subject=followup_subject(earlier[0].subject) if earlier else rendered.subject,
            body_text=outreach_body(rendered.body, mailbox.signature, link),
            scheduled_at=now,
            created_at=now,
        )
    )
    enrolment.last_error = ""
    return "queued"


def _claimable(mailbox_id: int, now: datetime, lease: timedelta) -> sa.ColumnElement[bool]:
    return sa.and_(
        Message.mailbox_id == mailbox_id,
        Message.direction == Direction.OUTBOUND,
        sa.or_(
            sa.and_(Message.status == MessageStatus.QUEUED, col(Message.scheduled_at) <= now),
            sa.and_(Message.status == MessageStatus.SENDING, col(Message.claimed_at) < now - lease),
        ),
    )


def claim_messages(
    session: Session, mailbox_id: int, limit: int, worker: str, now: datetime, lease: timedelta
) -> list[int]:
    """Take up to `limit` due outbox rows of a mailbox for this worker, and commit the claim."""
    if limit <= 0:
        return []
    return claim_rows(
        session,
        Message,
        _claimable(mailbox_id, now, lease),
        (Message.scheduled_at, Message.id),
        limit,
        {
            "status": MessageStatus.SENDING,
            "claimed_by": worker,
            "claimed_at": now,
            "attempts": Message.attempts + 1,
        },
    )


def mailboxes_with_due_mail(session: Session, now: datetime, lease: timedelta) -> list[int]:
    due = sa.or_(
        sa.and_(Message.status == MessageStatus.QUEUED, col(Message.scheduled_at) <= now),
        sa.and_(Message.status == MessageStatus.SENDING, col(Message.claimed_at) < now - lease),
    )
    mailbox_ids = session.exec(
        select(Message.mailbox_id)
        .where(due, Message.direction == Direction.OUTBOUND, col(Message.mailbox_id).is_not(None))
        .distinct()
    )
    return sorted(mailbox_ids)


def send_due_messages(
    engine: Engine,
    ctx: MailContext,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> Counter[str]:
    """Send what is due from every mailbox, within its caps. `clock` (default: `now`
    throughout) is read as each mailbox's emails are claimed: a pass that spent long on other
    work (a backlog of link checks) still claims with a full lease, so no other dispatcher
    takes the emails over and sends them again, and records each send at its real time."""
    counts: Counter[str] = Counter()
    read_clock = clock or (lambda: now)
    with Session(engine) as session:
        mailbox_ids = mailboxes_with_due_mail(session, read_clock(), ctx.lease)
    for mailbox_id in mailbox_ids:
        # What must be fresh is read fresh (see _ready_to_send); the rest may stay loaded.
        with Session(engine, expire_on_commit=False) as session:
            counts.update(_send_from_mailbox(session, ctx, mailbox_id, read_clock()))
    return counts


def _allowance(session: Session, mailbox: Mailbox, now: datetime, ctx: MailContext) -> int:
    """What the mailbox may still send, counting the emails other dispatchers hold claimed as
    sent. The mailbox row stays locked (a no-op update: a row lock on PostgreSQL, the write
    lock on SQLite) until the claim that follows commits, so that two dispatchers count and
    claim one after the other and together keep to the cap and the spacing."""
    session.execute(
        sa.update(Mailbox)
        .where(Mailbox.id == mailbox.id)
        .values(daily_cap=Mailbox.daily_cap)
        .execution_options(synchronize_session=False)
    )
    sent_last_24h, last_sent_at = session.exec(
        select(func.count(), func.max(Message.sent_at)).where(
            Message.mailbox_id == mailbox.id,
            Message.status == MessageStatus.SENT,
            col(Message.sent_at) > now - timedelta(hours=24),
        )
    ).one()
    in_flight, last_claimed_at = session.exec(
        select(func.count(), func.max(Message.claimed_at)).where(
            Message.mailbox_id == mailbox.id,
            Message.status == MessageStatus.SENDING,
            col(Message.claimed_at) >= now - ctx.lease,
        )
    ).one()
    return sending_allowance(
        daily_cap=mailbox.daily_cap,
        sent_last_24h=sent_last_24h + in_flight,
        min_spacing_seconds=mailbox.min_spacing_seconds,
        last_sent_at=max(filter(None, (last_sent_at, last_claimed_at)), default=None),
        now=now,
        batch=ctx.batch,
    )


def _send_from_mailbox(
    session: Session, ctx: MailContext, mailbox_id: int, now: datetime
) -> Counter[str]:
    counts: Counter[str] = Counter()
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or not mailbox.active:
        return counts
    claimed = claim_messages(
        session,
        mailbox_id,
        _allowance(session, mailbox, now, ctx),
        ctx.worker,
        now,
        ctx.lease,
    )
    steps_after: dict[int, NextStep | None] = {}
    smtp: smtplib.SMTP | None = None
    unreachable = ""
    try:
        for message_id in claimed:
            loaded = _load_claimed(session, message_id)
            if loaded is None:
                # Deleted with its prospect since the claim: nothing to send or record.
                continue
            message, recipient = loaded
            if message.status is not MessageStatus.SENDING or message.claimed_by != ctx.worker:
                # Its lease ran out before its turn and another dispatcher took it over.
                continue
            if not _ready_to_send(session, message, recipient, mailbox, now, counts):
                session.commit()
                continue
            if smtp is None and not unreachable:
                try:
                    smtp = open_smtp(mailbox, ctx.mail_key, ctx.smtp_timeout)
                except MailTransportError as exc:
                    unreachable = str(exc)
                    _note_mailbox_error(mailbox, unreachable, now)
            if smtp is None:
                _retry(session, message, unreachable, now, counts)
            elif not _deliver(
                session, ctx, smtp, mailbox, message, recipient, now, counts, steps_after
            ):
                close_quietly(smtp)
                smtp = None
            session.commit()
    finally:
        if smtp is not None:
            close_quietly(smtp)
    return counts


@dataclass(frozen=True)
class Recipient:
    """Where an outreach email goes, as the database has it just before the email is sent."""

    found: bool
    stage: Stage | None
    do_not_contact: bool
    email_status: EmailStatus | None
    contact_zone: str
    prospect_zone: str
    campaign_zone: str
    enrolment_status: EnrolmentStatus | None
    stop_reason: str | None


# The statements every email runs, built once: building one costs more than running it.
_CLAIMED_WITH_RECIPIENT = (
    select(
        Message,
        Prospect.id,
        Contact.id,
        Prospect.stage,
        Domain.do_not_contact,
        Contact.email_status,
        Contact.timezone,
        Prospect.timezone,
        Campaign.timezone,
        Enrolment.status,
        Enrolment.stop_reason,
    )
    .outerjoin(Prospect, col(Prospect.id) == Message.prospect_id)
    .outerjoin(Domain, col(Domain.id) == Prospect.domain_id)
    .outerjoin(Campaign, col(Campaign.id) == Prospect.campaign_id)
    .outerjoin(Contact, col(Contact.id) == Message.contact_id)
    .outerjoin(Enrolment, col(Enrolment.id) == Message.enrolment_id)
    .where(Message.id == sa.bindparam("message_row_id"))
    .execution_options(populate_existing=True)
)
# Updates of the table itself, not of the mapped class: nothing loaded needs to follow them,
# and the ORM's path for an update costs several times the update.
_MESSAGES: sa.Table = Message.__table__
_ENROLMENTS: sa.Table = Enrolment.__table__
_MARK_SENT = (
    sa.update(_MESSAGES)
    .where(
        _MESSAGES.c.id == sa.bindparam("message_row_id"),
        _MESSAGES.c.status == MessageStatus.SENDING,
        _MESSAGES.c.claimed_by == sa.bindparam("worker"),
    )
    .values(status=MessageStatus.SENT, sent_at=sa.bindparam("at"), error="")
)
_PROSPECT_WITH_DOMAIN = (
    select(Prospect, Domain)
    .join(Domain, col(Domain.id) == Prospect.domain_id)
    .where(Prospect.id == sa.bindparam("prospect_row_id"))
    .execution_options(populate_existing=True)
)
_ACTIVE_ENROLMENT = sa.and_(
    _ENROLMENTS.c.id == sa.bindparam("enrolment_row_id"),
    _ENROLMENTS.c.status == EnrolmentStatus.ACTIVE,
)
_COMPLETE_ENROLMENT = (
    sa.update(_ENROLMENTS)
    .where(_ACTIVE_ENROLMENT)
    .values(status=EnrolmentStatus.COMPLETED, next_due_at=None)
)
_DUE_NEXT_STEP = (
    sa.update(_ENROLMENTS)
    .where(_ACTIVE_ENROLMENT)
    .values(next_position=sa.bindparam("position"), next_due_at=sa.bindparam("due_at"))
)


def _load_claimed(session: Session, message_id: int) -> tuple[Message, Recipient | None] | None:
    """The claimed email and its recipient's state in one query, both read fresh: another
    process may have changed any of it since the claim. No recipient for a notice to a user of
    the app (no prospect)."""
    row = session.exec(_CLAIMED_WITH_RECIPIENT, params={"message_row_id": message_id}).first()
    if row is None:
        return None
    message, prospect_id, contact_id, *state = row
    if message.prospect_id is None:
        return message, None
    stage, dnc, email_status, contact_zone, prospect_zone, campaign_zone, status, why = state
    return message, Recipient(
        found=prospect_id is not None and contact_id is not None,
        stage=stage,
        do_not_contact=bool(dnc),
        email_status=email_status,
        contact_zone=contact_zone or "",
        prospect_zone=prospect_zone or "",
        campaign_zone=campaign_zone or "",
        enrolment_status=status,
        stop_reason=why,
    )


def _ready_to_send(
    session: Session,
    message: Message,
    recipient: Recipient | None,
    mailbox: Mailbox,
    now: datetime,
    counts: Counter[str],
) -> bool:
    """Check again, just before sending: the sequence may have stopped, the address may have
    opted out, or the recipient's sending window may have closed since the email was queued.
    A notice to a user of the app (no recipient) is sent as it is."""
    if recipient is None:
        return True
    if not recipient.found:
        _cancel(message, "the prospect or contact was deleted", counts)
        return False
    status = recipient.enrolment_status
    if status is not None and status is not EnrolmentStatus.ACTIVE:
        _cancel(message, f"sequence stopped: {recipient.stop_reason}", counts)
        return False
    stop = stop_reason_for(
        stage=recipient.stage if message.enrolment_id is not None else None,
        do_not_contact=recipient.do_not_contact,
        suppressed=suppression_hit(session, message.to_address),
        email=message.to_address,
        email_status=recipient.email_status,
    )
    if stop is not None:
        if message.enrolment_id is not None:
            stop_enrolments(session, Enrolment.id == message.enrolment_id, stop)
        _cancel(message, f"not sent: {stop.value}", counts)
        return False
    window = window_for(
        mailbox, recipient.contact_zone, recipient.prospect_zone, recipient.campaign_zone
    )
    opens = next_in_window(now, window)
    if opens != now:
        message.status = MessageStatus.QUEUED
        message.scheduled_at = opens
        message.claimed_by = ""
        message.claimed_at = None
        message.attempts -= 1
        counts["deferred"] += 1
        return False
    return True


def _cancel(message: Message, why: str, counts: Counter[str]) -> None:
    message.status = MessageStatus.CANCELLED
    message.error = why
    counts["cancelled"] += 1
    _log_outcome(message, "cancelled", error=why)


def _log_outcome(
    message: Message, outcome: str, campaign_id: int | None = None, error: str = ""
) -> None:
    """One line per email the dispatcher dealt with: ids and outcome, never the text."""
    log.log(
        logging.WARNING if outcome == "failed" else logging.INFO,
        "email %d %s",
        message.id,
        outcome,
        extra=fields(
            message_row_id=message.id,
            message_id=message.message_id,
            mailbox_id=message.mailbox_id,
            prospect_id=message.prospect_id,
            campaign_id=campaign_id,
            outcome=outcome,
            attempts=message.attempts,
            error=error or None,
        ),
    )


def _note_mailbox_error(mailbox: Mailbox, error: str, now: datetime) -> None:
    mailbox.last_error = error
    mailbox.last_error_at = now
    log.warning("mailbox %s: %s", mailbox.email, error)


def _retry(
    session: Session, message: Message, error: str, now: datetime, counts: Counter[str]
) -> None:
    if message.attempts >= MAX_ATTEMPTS:
        _fail(session, message, f"gave up after {message.attempts} attempts: {error}")
        counts["failed"] += 1
        return
    message.status = MessageStatus.QUEUED
    message.scheduled_at = now + retry_delay(message.attempts)
    message.claimed_by = ""
    message.claimed_at = None
    message.error = error
    counts["retried"] += 1
    _log_outcome(message, "retried", error=error)


def _fail(session: Session, message: Message, error: str) -> None:
    message.status = MessageStatus.FAILED
    message.error = error
    _log_outcome(message, "failed", error=error)
    if message.enrolment_id:
        enrolment = session.get(Enrolment, message.enrolment_id)
        enrolment.last_error = error
        stop_enrolments(session, Enrolment.id == message.enrolment_id, StopReason.SEND_FAILED)


def _deliver(
    session: Session,
    ctx: MailContext,
    smtp: smtplib.SMTP,
    mailbox: Mailbox,
    message: Message,
    recipient: Recipient | None,
    now: datetime,
    counts: Counter[str],
    steps_after: dict[int, NextStep | None],
) -> bool:
    """Send one claimed email and record it; False when the connection is no longer usable."""
    # Outreach carries an opt-out; a notice to one of our own users does not.
    outreach = message.prospect_id is not None
    token = unsubscribe_token(ctx.secret_key, message.to_address)
    email = build_email(
        message_id=message.message_id,
        from_name=mailbox.from_name,
        from_address=mailbox.email,
        to_address=message.to_address,
        subject=message.subject,
        body=message.body_text,
        in_reply_to=message.in_reply_to,
        references=message.references,
        unsubscribe_url=unsubscribe_url(ctx.public_url, token) if outreach else "",
        unsubscribe_mailto=unsubscribe_mailto(mailbox.email, token) if outreach else "",
        date=now,
    )
    try:
        smtp.send_message(email, from_addr=mailbox.email, to_addrs=[message.to_address])
    except (smtplib.SMTPException, OSError) as exc:
        refusal = smtp_refusal(exc) if isinstance(exc, smtplib.SMTPException) else None
        if refusal is not None and refusal.permanent:
            _refused(session, message, f"{refusal.code} {refusal.text}", now, exc)
            counts["failed"] += 1
            return not isinstance(exc, smtplib.SMTPServerDisconnected)
        detail = f"{refusal.code} {refusal.text}" if refusal else f"connection lost: {exc}"
        _retry(session, message, detail, now, counts)
        # 421: the server is closing the connection; anything else without a code broke it.
        return refusal is not None and refusal.code != 421
    _record_sent(session, message, mailbox, recipient, now, counts, steps_after)
    return True


def _refused(
    session: Session, message: Message, error: str, now: datetime, exc: BaseException
) -> None:
    """A permanent refusal. One of the recipient at RCPT time is a hard bounce."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        contact = session.get(Contact, message.contact_id) if message.contact_id else None
        if contact is not None:
            contact.email_status = EmailStatus.BOUNCED
        suppress(
            session,
            reason=SuppressionReason.HARD_BOUNCE,
            now=now,
            email=message.to_address,
            source_message_id=message.id,
        )
    _fail(session, message, error)


def _record_sent(
    session: Session,
    message: Message,
    mailbox: Mailbox,
    recipient: Recipient | None,
    now: datetime,
    counts: Counter[str],
    steps_after: dict[int, NextStep | None],
) -> None:
    still_ours = session.execute(
        _MARK_SENT, {"message_row_id": message.id, "worker": message.claimed_by, "at": now}
    ).rowcount
    if not still_ours:
        # Another dispatcher took the claim over after it expired and recorded the email.
        counts["duplicate"] += 1
        _log_outcome(message, "duplicate")
        return
    counts["sent"] += 1
    if message.prospect_id is None:
        _log_outcome(message, "sent")
        return
    # Read after the send, not with the checks before it: a reply recorded meanwhile must not
    # be overwritten by the move to contacted. One query; the stage move finds the domain loaded.
    prospect, domain = session.exec(
        _PROSPECT_WITH_DOMAIN, params={"prospect_row_id": message.prospect_id}
    ).one()
    _log_outcome(message, "sent", prospect.campaign_id)
    # The change to the loaded domain before the stage move, so that one flush (set off by the
    # next statement) writes the domain and the prospect together.
    domain.last_contacted_at = now
    move_stages(session, [(prospect, MoveReason.EMAIL_SENT)], at=now)
    record_system_activities(
        session,
        [
            SystemEntry(
                "email.sent",
                f"Email sent to {message.to_address}: {message.subject}",
                prospect.campaign_id,
                prospect.id,
                {"message_id": message.id},
            )
        ],
        now,
    )
    add_to_tally(
        session, prospect.campaign_id, now.astimezone(UTC).date(), message.template_id, sent=1
    )
    if message.enrolment_id and message.step_id and recipient is not None:
        _schedule_next_step(session, message, mailbox, recipient, prospect, now, steps_after)


class NextStep(NamedTuple):
    position: int
    delay_days: int


def _step_after(
    session: Session, step_id: int, steps_after: dict[int, NextStep | None]
) -> NextStep | None:
    """The step that follows a step of a sequence, None after the last; read once a pass."""
    if step_id not in steps_after:
        current = aliased(SequenceStep)
        steps_after[step_id] = session.exec(
            select(SequenceStep.position, SequenceStep.delay_days).join(
                current,
                sa.and_(
                    current.id == step_id,
                    current.sequence_id == SequenceStep.sequence_id,
                    SequenceStep.position == current.position + 1,
                ),
            )
        ).first()
    return steps_after[step_id]


def _schedule_next_step(
    session: Session,
    message: Message,
    mailbox: Mailbox,
    recipient: Recipient,
    prospect: Prospect,
    now: datetime,
    steps_after: dict[int, NextStep | None],
) -> None:
    """Due the next step, or complete the sequence; one that stopped meanwhile (a reply, an
    opt-out) stays stopped: the update takes active enrolments only."""
    following = _step_after(session, message.step_id, steps_after)
    if following is None:
        session.execute(_COMPLETE_ENROLMENT, {"enrolment_row_id": message.enrolment_id})
        return
    window = window_for(mailbox, recipient.contact_zone, prospect.timezone, recipient.campaign_zone)
    session.execute(
        _DUE_NEXT_STEP,
        {
            "enrolment_row_id": message.enrolment_id,
            "position": following.position,
            "due_at": step_due_at(now, following.delay_days, window),
        },
    )
