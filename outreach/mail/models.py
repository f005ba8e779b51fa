"""Mailboxes, templates, sequences and every message sent or received."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import UTCDateTime, created_at_field, enum_type, updated_at_field


class TransportSecurity(enum.StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Mailbox(SQLModel, table=True):
    """An SMTP account to send from, with the IMAP account its replies arrive in."""

    __tablename__ = "mailboxes"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    email: str = Field(max_length=320, unique=True)
    from_name: str = Field(default="", max_length=200)
    signature: str = Field(default="", sa_type=sa.Text)
    smtp_host: str = Field(max_length=253)
    smtp_port: int = 587
    smtp_security: TransportSecurity = Field(
        default=TransportSecurity.STARTTLS, sa_type=enum_type(TransportSecurity)
    )
    smtp_username: str = Field(default="", max_length=320)
    # Encrypted with the key from the configuration, never stored in clear.
    smtp_password_encrypted: str = Field(default="", sa_type=sa.Text)
    imap_host: str = Field(default="", max_length=253)
    imap_port: int = 993
    imap_security: TransportSecurity = Field(
        default=TransportSecurity.TLS, sa_type=enum_type(TransportSecurity)
    )
    imap_username: str = Field(default="", max_length=320)
    imap_password_encrypted: str = Field(default="", sa_type=sa.Text)
    imap_folder: str = Field(default="INBOX", max_length=200)
    imap_uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    imap_last_uid: int = Field(default=0, sa_type=sa.BigInteger)
    daily_cap: int = Field(default=50, ge=1)
    min_spacing_seconds: int = Field(default=120, ge=0)
    # ISO weekday numbers (1 = Monday) on which this mailbox may send, e.g. "1,2,3,4,5".
    window_days: str = Field(default="1,2,3,4,5", max_length=13)
    window_start: time = time(9, 0)
    window_end: time = time(17, 0)
    active: bool = True
    # The last sending or polling failure, shown on the mailbox page until one succeeds.
    last_error: str = Field(
        default="", sa_type=sa.Text, sa_column_kwargs={"server_default": sa.text("''")}
    )
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class CampaignMailbox(SQLModel, table=True):
    """The mailboxes a campaign rotates through."""

    __tablename__ = "campaign_mailboxes"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    mailbox_id: int = Field(
        foreign_key="mailboxes.id", ondelete="CASCADE", primary_key=True, index=True
    )


class Template(SQLModel, table=True):
    """An email with merge fields; campaign_id NULL makes it available to every campaign."""

    __tablename__ = "templates"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(
        default=None, foreign_key="campaigns.id", ondelete="CASCADE", index=True
    )
    name: str = Field(max_length=200)
    subject: str = Field(max_length=500)
    body: str = Field(sa_type=sa.Text)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Sequence(SQLModel, table=True):
    __tablename__ = "sequences"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    # Auto-replies push the next step back by this many days instead of stopping the sequence.
    auto_reply_delay_days: int = Field(default=3, ge=0)
    created_at: datetime = created_at_field()


class SequenceStep(SQLModel, table=True):
    """Step 1 is the first email; each later step follows delay_days business days after."""

    __tablename__ = "sequence_steps"
    __table_args__ = (sa.UniqueConstraint("sequence_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    sequence_id: int = Field(foreign_key="sequences.id", ondelete="CASCADE")
    position: int = Field(ge=1)
    delay_days: int = Field(default=0, ge=0)
    template_id: int = Field(foreign_key="templates.id", ondelete="RESTRICT", index=True)


class EnrolmentStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class Enrolment(SQLModel, table=True):
    """A prospect going through a sequence, always from one mailbox, to one contact."""

    __tablename__ = "enrolments"
    __table_args__ = (
        sa.UniqueConstraint("sequence_id", "prospect_id"),
        sa.Index("ix_enrolments_status_next_due", "status", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sequence_id: int = Field(foreign_key="sequences.id", ondelete="CASCADE")
    prospect_id: int = Field(foreign_key="prospects.id", ondelete="CASCADE", index=True)
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)
    mailbox_id: int | None = Field(
        default=None, foreign_key="mailboxes.id", ondelete="SET NULL", index=True
    )
    status: EnrolmentStatus = Field(
        default=EnrolmentStatus.ACTIVE, sa_type=enum_type(EnrolmentStatus)
    )
    stop_reason: str = Field(default="", max_length=40)
    # Why the last step could not be prepared (say, an empty merge field), for the user to fix.
    last_error: str = Field(
        default="", sa_type=sa.Text, sa_column_kwargs={"server_default": sa.text("''")}
    )
    next_position: int = Field(default=1, ge=1)
    next_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enrolled_at: datetime = created_at_field()
    enrolled_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Queued, then not sent because the sequence stopped first (a reply, an unsubscribe, ...).
    CANCELLED = "cancelled"
    RECEIVED = "received"


class InboundKind(enum.StrEnum):
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE_HARD = "bounce_hard"
    BOUNCE_SOFT = "bounce_soft"
    UNSUBSCRIBE = "unsubscribe"
    UNMATCHED = "unmatched"


class Message(SQLModel, table=True):
    """An email in or out. Outbound rows are the outbox: Message-ID is fixed before sending."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_status_scheduled", "status", "scheduled_at"),
        sa.Index("ix_messages_prospect_created", "prospect_id", "created_at"),
        sa.Index("ix_messages_mailbox_sent", "mailbox_id", "sent_at"),
        # One email per step of an enrolment, whatever two dispatchers do at the same moment.
        sa.UniqueConstraint("enrolment_id", "step_id"),
        sa.Index("ix_messages_direction_kind_received", "direction", "inbound_kind", "received_at"),
        # An enrolment's emails in order (threading a follow-up, rescheduling after an edit).
        # Partial: where most mail is outside sequences, ANALYZE counts the NULLs of a full index
        # as one value held by most rows, and SQLite then reads the messages through another.
        sa.Index(
            "ix_messages_enrolment_created",
            "enrolment_id",
            "created_at",
            sqlite_where=sa.text("enrolment_id IS NOT NULL"),
            postgresql_where=sa.text("enrolment_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    direction: Direction = Field(sa_type=enum_type(Direction))
    status: MessageStatus = Field(sa_type=enum_type(MessageStatus))
    inbound_kind: InboundKind | None = Field(default=None, sa_type=enum_type(InboundKind))
    message_id: str = Field(max_length=998, unique=True)
    in_reply_to: str = Field(default="", max_length=998)
    references: str = Field(default="", sa_type=sa.Text)
    mailbox_id: int | None = Field(default=None, foreign_key="mailboxes.id", ondelete="SET NULL")
    prospect_id: int | None = Field(default=None, foreign_key="prospects.id", ondelete="CASCADE")
    contact_id: int | None = Field(
        default=None, foreign_key="contacts.id", ondelete="SET NULL", index=True
    )
    enrolment_id: int | None = Field(
        default=None, foreign_key="enrolments.id", ondelete="SET NULL", index=True
    )
    step_id: int | None = Field(
        default=None, foreign_key="sequence_steps.id", ondelete="SET NULL", index=True
    )
    template_id: int | None = Field(
        default=None, foreign_key="templates.id", ondelete="SET NULL", index=True
    )
    from_address: str = Field(max_length=320)
    to_address: str = Field(max_length=320)
    subject: str = Field(default="", max_length=998)
    body_text: str = Field(default="", sa_type=sa.Text)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A claim by a dispatcher; one older than the lease is taken over after a crash.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=100)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    imap_uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    error: str = Field(default="", sa_type=sa.Text)
    # Inbound mail someone has dealt with leaves the inbox's "to act on" list.
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class MailTally(SQLModel, table=True):
    """Emails sent and replies received per campaign, UTC day and template (0 for none), kept
    as mail is recorded so that reports never count through the messages themselves."""

    __tablename__ = "mail_tallies"

    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", primary_key=True)
    day: date = Field(primary_key=True)
    template_id: int = Field(default=0, primary_key=True)
    sent: int = 0
    replies: int = 0


class SuppressionReason(enum.StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    HARD_BOUNCE = "hard_bounce"
    MANUAL = "manual"


class Suppression(SQLModel, table=True):
    """An address or a whole domain that no campaign may email."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.CheckConstraint("(email IS NULL) <> (domain IS NULL)", "email_or_domain"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, max_length=320, unique=True)
    domain: str | None = Field(default=None, max_length=253, unique=True)
    reason: SuppressionReason = Field(sa_type=enum_type(SuppressionReason))
    source_message_id: int | None = Field(
        default=None, foreign_key="messages.id", ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
