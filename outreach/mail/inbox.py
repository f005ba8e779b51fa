"""Reading replies: polling each mailbox over IMAP, matching mail to its thread, and acting on
it (a reply stops the sequence, an out-of-office delays it, a bounce or opt-out suppresses).

Polling is idempotent: only UIDs above the last one seen are fetched, the folder is opened
read-only (nothing is marked read), and an email already stored (same Message-ID) is skipped.
"""

from __future__ import annotations

import imaplib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from outreach.activity.services import record_activity
from outreach.campaigns.models import Campaign
from outreach.mail.dispatch import MailContext
from outreach.mail.inbound import InboundEmail, analyse_inbound
from outreach.mail.models import (
    Direction,
    Enrolment,
    EnrolmentStatus,
    InboundKind,
    Mailbox,
    Message,
    MessageStatus,
    Sequence,
    SuppressionReason,
)
from outreach.mail.schedule import postpone
from outreach.mail.sequences import window_for
from outreach.mail.stopping import StopReason, stop_enrolments_for_prospects
from outreach.mail.tallies import add_to_tally
from outreach.mail.transport import MailTransportError, close_quietly, open_imap
from outreach.mail.unsubscribe import email_for_token, suppress
from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.prospects.models import Contact, Domain, EmailStatus, Prospect
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.services import move_stage

log = logging.getLogger("outreach.mail")

FETCH_BATCH = 50
_CONVERSATION = (InboundKind.REPLY, InboundKind.AUTO_REPLY)


def poll_mailboxes(engine: Engine, ctx: MailContext, now: datetime) -> Counter[str]:
    """Read new mail of every active mailbox that has IMAP settings."""
    counts: Counter[str] = Counter()
    with Session(engine) as session:
        mailbox_ids = list(
            session.exec(
                select(Mailbox.id)
                .where(Mailbox.active, Mailbox.imap_host != "")
                .order_by(Mailbox.id)
            )
        )
    for mailbox_id in mailbox_ids:
        with Session(engine) as session:
            mailbox = session.get(Mailbox, mailbox_id)
            try:
                counts.update(poll_mailbox(session, ctx, mailbox, now))
                counts["mailboxes_polled"] += 1
            except MailTransportError as exc:
                mailbox.last_error = str(exc)
                mailbox.last_error_at = now
                session.commit()
                counts["poll_errors"] += 1
                log.warning("mailbox %s: %s", mailbox.email, exc)
    return counts


def poll_mailbox(
    session: Session, ctx: MailContext, mailbox: Mailbox, now: datetime
) -> Counter[str]:
    """Fetch and record the mail that arrived since the last poll."""
    imap = open_imap(mailbox, ctx.mail_key, ctx.smtp_timeout)
    try:
        return _read_new_mail(session, ctx, imap, mailbox, now)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailTransportError(
            f"IMAP folder {mailbox.imap_folder!r}: {exc}", temporary=True
        ) from None
    finally:
        close_quietly(imap)


def _read_new_mail(
    session: Session, ctx: MailContext, imap: imaplib.IMAP4, mailbox: Mailbox, now: datetime
) -> Counter[str]:
    counts: Counter[str] = Counter()
    status, _ = imap.select(_quoted(mailbox.imap_folder), readonly=True)
    if status != "OK":
        raise MailTransportError(
            f"there is no IMAP folder {mailbox.imap_folder!r}", temporary=False
        )
    uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
    if mailbox.imap_uidvalidity is None:
        # First look at this folder: years of older mail are none of our business.
        mailbox.imap_uidvalidity = uidvalidity
        _, found = imap.uid("SEARCH", "SINCE", imap_date(mailbox.created_at - timedelta(days=1)))
    else:
        if mailbox.imap_uidvalidity != uidvalidity:
            # The folder was recreated: its UIDs start over. Message-IDs keep this idempotent.
            mailbox.imap_uidvalidity = uidvalidity
            mailbox.imap_last_uid = 0
        _, found = imap.uid("SEARCH", f"UID {mailbox.imap_last_uid + 1}:*")
    uids = sorted(int(uid) for uid in found[0].split() if int(uid) > mailbox.imap_last_uid)
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start : start + FETCH_BATCH]
        for uid, raw in _fetch(imap, batch):
            counts[record_inbound(session, ctx, mailbox, raw, uid, now)] += 1
            mailbox.imap_last_uid = max(mailbox.imap_last_uid, uid)
            session.commit()
    if mailbox.last_error:
        mailbox.last_error = ""
        mailbox.last_error_at = None
    session.commit()
    return counts


def imap_date(moment: datetime) -> str:
    """IMAP's date format (RFC 3501), with English month names whatever the locale."""
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[moment.month - 1]
    return f"{moment.day:02d}-{month}-{moment.year}"


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetch(imap: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    _, data = imap.uid("FETCH", ",".join(str(uid) for uid in uids), "(UID BODY.PEEK[])")
    fetched: list[tuple[int, bytes]] = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        envelope, raw = item
        words = envelope.decode(errors="replace").replace("(", " ").split()
        if "UID" in words:
            fetched.append((int(words[words.index("UID") + 1]), raw))
    return sorted(fetched)


def record_inbound(
    session: Session, ctx: MailContext, mailbox: Mailbox, raw: bytes, uid: int | None, now: datetime
) -> str:
    """Store one inbound email and act on it; returns its kind, or "duplicate"."""
    mail = analyse_inbound(raw)
    message_id = mail.message_id or (
        f"<imap.{mailbox.id}.{mailbox.imap_uidvalidity}.{uid}@outreach.invalid>"
    )
    if session.exec(select(Message.id).where(Message.message_id == message_id)).first():
        return "duplicate"
    anchor = find_thread(session, mail)
    kind = mail.kind
    if anchor is None and kind in _CONVERSATION:
        kind = InboundKind.UNMATCHED
    inbound = Message(
        direction=Direction.INBOUND,
        status=MessageStatus.RECEIVED,
        inbound_kind=kind,
        message_id=message_id[:998],
        in_reply_to=mail.in_reply_to[:998],
        references=" ".join(mail.references),
        mailbox_id=mailbox.id,
        prospect_id=anchor.prospect_id if anchor else None,
        contact_id=anchor.contact_id if anchor else None,
        enrolment_id=anchor.enrolment_id if anchor else None,
        # The template of the email answered, so replies count for the template that won them.
        template_id=anchor.template_id if anchor else None,
        from_address=mail.from_address[:320],
        to_address=(mail.to_address or mailbox.email)[:320],
        subject=mail.subject[:998],
        body_text=mail.body_text,
        received_at=min(mail.date, now) if mail.date else now,
        imap_uid=uid,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(inbound)
    except IntegrityError:
        return "duplicate"
    _act_on(session, ctx, inbound, mail, anchor, now)
    return kind.value


def find_thread(session: Session, mail: InboundEmail) -> Message | None:
    """The email of ours this one answers: by Message-ID references, else the latest email
    we sent to the sender's address, else to anyone at the sender's site."""
    if mail.thread_ids:
        by_reference = session.exec(
            select(Message)
            .where(
                col(Message.message_id).in_(mail.thread_ids),
                Message.direction == Direction.OUTBOUND,
            )
            .order_by(sa.desc(Message.created_at))
        ).first()
        if by_reference is not None:
            return by_reference
    is_bounce = mail.kind in (InboundKind.BOUNCE_HARD, InboundKind.BOUNCE_SOFT)
    address = mail.bounced_recipient if is_bounce else mail.from_address
    if not address:
        return None
    sent = select(Message).where(
        Message.direction == Direction.OUTBOUND, Message.status == MessageStatus.SENT
    )
    by_address = session.exec(
        sent.where(Message.to_address == address).order_by(sa.desc(Message.sent_at))
    ).first()
    if by_address is not None or is_bounce:
        return by_address
    try:
        site = registrable_domain(address.rpartition("@")[2])
    except InvalidDomainError:
        return None
    return session.exec(
        sent.join(Prospect, col(Prospect.id) == Message.prospect_id)
        .join(Domain, col(Domain.id) == Prospect.domain_id)
        .where(Domain.name == site)
        .order_by(sa.desc(Message.sent_at))
    ).first()


def _act_on(
    session: Session,
    ctx: MailContext,
    inbound: Message,
    mail: InboundEmail,
    anchor: Message | None,
    now: datetime,
) -> None:
    prospect = session.get(Prospect, inbound.prospect_id) if inbound.prospect_id else None
    kind = inbound.inbound_kind
    if kind is InboundKind.REPLY and prospect is not None:
        stop_enrolments_for_prospects(session, [prospect.id], StopReason.REPLIED)
        add_to_tally(
            session,
            prospect.campaign_id,
            inbound.received_at.astimezone(UTC).date(),
            inbound.template_id,
            replies=1,
        )
        move_stage(session, prospect, MoveReason.REPLY_RECEIVED, at=now)
        _log(
            session, "email.reply", f"Reply from {mail.from_address}: {mail.subject}", prospect, now
        )
    elif kind is InboundKind.AUTO_REPLY and prospect is not None:
        postponed = _postpone_next_steps(session, prospect, now)
        _log(
            session,
            "email.auto_reply",
            f"Auto-reply from {mail.from_address}; next step postponed for {postponed} sequence(s)",
            prospect,
            now,
        )
    elif kind is InboundKind.BOUNCE_HARD:
        address = mail.bounced_recipient or (anchor.to_address if anchor else "")
        if address:
            for contact in session.exec(select(Contact).where(Contact.email == address)):
                contact.email_status = EmailStatus.BOUNCED
            suppress(
                session,
                reason=SuppressionReason.HARD_BOUNCE,
                now=now,
                email=address,
                source_message_id=inbound.id,
            )
            _log(
                session,
                "email.bounced",
                f"{address} bounced: {mail.bounce_diagnostic}",
                prospect,
                now,
            )
    elif kind is InboundKind.BOUNCE_SOFT and prospect is not None:
        _log(
            session,
            "email.soft_bounce",
            f"Temporary bounce: {mail.bounce_diagnostic}",
            prospect,
            now,
        )
    elif kind is InboundKind.UNSUBSCRIBE:
        address = email_for_token(ctx.secret_key, mail.unsubscribe_token) or mail.from_address
        if address:
            suppress(
                session,
                reason=SuppressionReason.UNSUBSCRIBE,
                now=now,
                email=address,
                source_message_id=inbound.id,
            )


def _postpone_next_steps(session: Session, prospect: Prospect, now: datetime) -> int:
    waiting = session.exec(
        select(Enrolment, Sequence, Mailbox)
        .join(Sequence, col(Sequence.id) == Enrolment.sequence_id)
        .join(Mailbox, col(Mailbox.id) == Enrolment.mailbox_id)
        .where(
            Enrolment.prospect_id == prospect.id,
            Enrolment.status == EnrolmentStatus.ACTIVE,
            col(Enrolment.next_due_at).is_not(None),
        )
    ).all()
    campaign = session.get(Campaign, prospect.campaign_id)
    for enrolment, sequence, mailbox in waiting:
        contact = session.get(Contact, enrolment.contact_id)
        window = window_for(mailbox, contact.timezone, prospect.timezone, campaign.timezone)
        enrolment.next_due_at = postpone(
            max(enrolment.next_due_at, now), sequence.auto_reply_delay_days, window
        )
    return len(waiting)


def _log(
    session: Session, kind: str, summary: str, prospect: Prospect | None, now: datetime
) -> None:
    record_activity(
        session,
        kind,
        summary,
        campaign_id=prospect.campaign_id if prospect else None,
        prospect_id=prospect.id if prospect else None,
        at=now,
    )


def mark_handled(session: Session, message: Message, now: datetime) -> None:
    message.handled_at = now
    session.commit()


def inbound_conditions(
    kinds: tuple[InboundKind, ...] | None,
) -> list[sa.ColumnElement[bool]]:
    """Received mail still to act on of these kinds; None: what has been handled."""
    if kinds is None:
        return [Message.direction == Direction.INBOUND, col(Message.handled_at).is_not(None)]
    return [
        Message.direction == Direction.INBOUND,
        col(Message.inbound_kind).in_(kinds),
        col(Message.handled_at).is_(None),
    ]


def inbox_counts(session: Session) -> dict[InboundKind, int]:
    """How many received emails of each kind are still to act on."""
    return dict(
        session.exec(
            select(Message.inbound_kind, func.count())
            .where(Message.direction == Direction.INBOUND, col(Message.handled_at).is_(None))
            .group_by(Message.inbound_kind)
        ).all()
    )


def list_inbound(
    session: Session, kinds: tuple[InboundKind, ...] | None, offset: int, limit: int
) -> tuple[list[tuple[Message, int | None, str | None, str | None]], int]:
    """A page of received mail, newest first, with the prospect, site and campaign it belongs
    to when it was matched; and how many there are in all."""
    conditions = inbound_conditions(kinds)
    total = session.exec(select(func.count()).select_from(Message).where(*conditions)).one()
    rows = session.exec(
        select(Message, Prospect.id, Domain.name, Campaign.name)
        .outerjoin(Prospect, col(Prospect.id) == Message.prospect_id)
        .outerjoin(Domain, col(Domain.id) == Prospect.domain_id)
        .outerjoin(Campaign, col(Campaign.id) == Prospect.campaign_id)
        .where(*conditions)
        .order_by(sa.desc(Message.received_at), sa.desc(Message.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total
