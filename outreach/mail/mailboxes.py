"""Mailboxes: saving them with their passwords encrypted, the campaigns they serve, and the
test email that proves the settings work."""

from __future__ import annotations

import smtplib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign
from outreach.mail.compose import build_email, new_message_id
from outreach.mail.crypto import encrypt_secret
from outreach.mail.models import CampaignMailbox, Mailbox
from outreach.mail.schedule import format_weekdays, parse_weekdays
from outreach.mail.schemas import MailboxInput
from outreach.mail.transport import MailTransportError, close_quietly, open_smtp, smtp_refusal


class MailboxRefusedError(ValueError):
    """A mailbox change that cannot be saved; `field` names the input to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _apply(mailbox: Mailbox, data: MailboxInput, key: str) -> None:
    values = data.model_dump(exclude={"smtp_password", "imap_password", "campaign_ids"})
    values["window_days"] = format_weekdays(set(data.window_days))
    if (mailbox.imap_host, mailbox.imap_folder, mailbox.imap_username) != (
        data.imap_host,
        data.imap_folder,
        data.imap_username,
    ):
        # Another folder or account: its UIDs mean nothing against the old ones.
        mailbox.imap_uidvalidity = None
        mailbox.imap_last_uid = 0
    for name, value in values.items():
        setattr(mailbox, name, value)
    if data.smtp_password is not None:
        mailbox.smtp_password_encrypted = encrypt_secret(key, data.smtp_password)
    if data.imap_password is not None:
        mailbox.imap_password_encrypted = encrypt_secret(key, data.imap_password)


def _check(session: Session, data: MailboxInput, mailbox_id: int | None) -> None:
    same_address = select(Mailbox.id).where(Mailbox.email == data.email)
    if mailbox_id is not None:
        same_address = same_address.where(Mailbox.id != mailbox_id)
    if session.exec(same_address).first() is not None:
        raise MailboxRefusedError(f"There is already a mailbox for {data.email}.", "email")
    known = set(session.exec(select(Campaign.id).where(col(Campaign.id).in_(data.campaign_ids))))
    missing = sorted(set(data.campaign_ids) - known)
    if missing:
        raise MailboxRefusedError(f"There is no campaign {missing[0]}.", "campaign_ids")


def _link_campaigns(session: Session, mailbox_id: int, campaign_ids: list[int]) -> None:
    session.execute(sa.delete(CampaignMailbox).where(CampaignMailbox.mailbox_id == mailbox_id))
    for campaign_id in sorted(set(campaign_ids)):
        session.add(CampaignMailbox(campaign_id=campaign_id, mailbox_id=mailbox_id))


def create_mailbox(session: Session, data: MailboxInput, key: str, actor: User) -> Mailbox:
    _check(session, data, None)
    mailbox = Mailbox(email=data.email, smtp_host=data.smtp_host, owner_id=actor.id)
    _apply(mailbox, data, key)
    session.add(mailbox)
    session.flush()
    _link_campaigns(session, mailbox.id, data.campaign_ids)
    record_activity(session, "mailbox.created", f"Mailbox {mailbox.email} added", actor=actor)
    session.commit()
    return mailbox


def update_mailbox(
    session: Session, mailbox: Mailbox, data: MailboxInput, key: str, actor: User
) -> Mailbox:
    """Change a mailbox; a sequence already running keeps sending from it."""
    _check(session, data, mailbox.id)
    _apply(mailbox, data, key)
    mailbox.last_error = ""
    mailbox.last_error_at = None
    _link_campaigns(session, mailbox.id, data.campaign_ids)
    record_activity(session, "mailbox.updated", f"Mailbox {mailbox.email} changed", actor=actor)
    session.commit()
    return mailbox


def list_mailboxes(session: Session, campaign_id: int | None = None) -> list[Mailbox]:
    statement = select(Mailbox).order_by(Mailbox.email)
    if campaign_id is not None:
        statement = statement.join(CampaignMailbox).where(
            CampaignMailbox.campaign_id == campaign_id
        )
    return list(session.exec(statement))


def campaign_ids_of(session: Session, mailbox_id: int) -> list[int]:
    return list(
        session.exec(
            select(CampaignMailbox.campaign_id)
            .where(CampaignMailbox.mailbox_id == mailbox_id)
            .order_by(CampaignMailbox.campaign_id)
        )
    )


def window_days_of(mailbox: Mailbox) -> list[int]:
    return sorted(parse_weekdays(mailbox.window_days))


def send_test_email(
    session: Session, mailbox: Mailbox, key: str, to_address: str, now: datetime, timeout: float
) -> str:
    """Send a short email through the mailbox's SMTP server; returns its Message-ID or raises
    MailTransportError with what went wrong, which is also kept on the mailbox."""
    email = build_email(
        message_id=new_message_id(mailbox.email),
        from_name=mailbox.from_name,
        from_address=mailbox.email,
        to_address=to_address,
        subject="outreach test email",
        body=(
            f"This test email went out through {mailbox.smtp_host}:{mailbox.smtp_port} "
            f"as {mailbox.email}.\nThe mailbox is ready to send.\n"
        ),
        in_reply_to="",
        references="",
        unsubscribe_url="",
        unsubscribe_mailto="",
        date=now,
    )
    try:
        smtp = open_smtp(mailbox, key, timeout)
        try:
            smtp.send_message(email, from_addr=mailbox.email, to_addrs=[to_address])
        except smtplib.SMTPException as exc:
            refusal = smtp_refusal(exc)
            detail = f"{refusal.code} {refusal.text}" if refusal else str(exc)
            raise MailTransportError(
                f"the SMTP server refused the test email: {detail}", temporary=False
            ) from None
        finally:
            close_quietly(smtp)
    except MailTransportError as exc:
        mailbox.last_error = str(exc)
        mailbox.last_error_at = now
        session.commit()
        raise
    mailbox.last_error = ""
    mailbox.last_error_at = None
    session.commit()
    return email["Message-ID"]
