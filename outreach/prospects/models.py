"""Sites across all campaigns, the prospects made of them in each campaign, and their people."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import JSONType, UTCDateTime, created_at_field, enum_type, updated_at_field


class Stage(enum.StrEnum):
    PROSPECT = "prospect"
    CONTACTED = "contacted"
    REPLIED = "replied"
    LINKED = "linked"
    DECLINED = "declined"
    LOST = "lost"


class Domain(SQLModel, table=True):
    """One record per site, shared by every campaign that prospects it."""

    __tablename__ = "domains"

    id: int | None = Field(default=None, primary_key=True)
    # Lower case registrable domain without "www.", e.g. "example.co.uk".
    name: str = Field(max_length=253, unique=True)
    do_not_contact: bool = Field(default=False, index=True)
    do_not_contact_reason: str = Field(default="", max_length=500)
    last_contacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_contacted_by_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL"
    )
    notes: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()


class EmailStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    VALID = "valid"
    INVALID = "invalid"
    BOUNCED = "bounced"


class Contact(SQLModel, table=True):
    """A person at a domain; outreach emails go to contacts."""

    __tablename__ = "contacts"
    __table_args__ = (sa.UniqueConstraint("domain_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    domain_id: int = Field(foreign_key="domains.id", ondelete="CASCADE", index=True)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    role: str = Field(default="", max_length=200)
    # Normalised by email-validator; NULL for a contact known only by a profile URL.
    email: str | None = Field(default=None, max_length=320, index=True)
    email_status: EmailStatus = Field(default=EmailStatus.UNKNOWN, sa_type=enum_type(EmailStatus))
    profile_url: str = Field(default="", max_length=2048)
    timezone: str = Field(default="", max_length=64)
    created_at: datetime = created_at_field()

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Prospect(SQLModel, table=True):
    """A domain being worked in one campaign, moving through the pipeline stages."""

    __tablename__ = "prospects"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "domain_id"),
        sa.CheckConstraint("relevance IS NULL OR relevance BETWEEN 1 AND 5", "relevance"),
        # The list's sorts and filters, and the board's columns (newest change first).
        sa.Index("ix_prospects_campaign_stage_updated", "campaign_id", "stage", "updated_at"),
        sa.Index("ix_prospects_campaign_stage_rating", "campaign_id", "stage", "domain_rating"),
        sa.Index("ix_prospects_campaign_domain_rating", "campaign_id", "domain_rating"),
        sa.Index("ix_prospects_campaign_traffic", "campaign_id", "traffic"),
        sa.Index("ix_prospects_campaign_created", "campaign_id", "created_at"),
        sa.Index("ix_prospects_campaign_updated", "campaign_id", "updated_at"),
        sa.Index("ix_prospects_campaign_owner_stage", "campaign_id", "owner_id", "stage"),
        # Counting a tag's prospects in a campaign: merged in id order with the tag's index.
        sa.Index("ix_prospects_campaign_id_id", "campaign_id", "id"),
        # The report's referring domains and bursts, and its medians, read these in order.
        sa.Index(
            "ix_prospects_campaign_live_links",
            "campaign_id",
            "live_links",
            sqlite_where=sa.text("live_links > 0"),
            postgresql_where=sa.text("live_links > 0"),
        ),
        sa.Index(
            "ix_prospects_campaign_reply_days",
            "campaign_id",
            "reply_days",
            sqlite_where=sa.text("reply_days IS NOT NULL"),
            postgresql_where=sa.text("reply_days IS NOT NULL"),
        ),
        sa.Index(
            "ix_prospects_campaign_live_days",
            "campaign_id",
            "live_days",
            sqlite_where=sa.text("live_days IS NOT NULL"),
            postgresql_where=sa.text("live_days IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE")
    domain_id: int = Field(foreign_key="domains.id", ondelete="RESTRICT", index=True)
    page_url: str = Field(default="", max_length=2048)
    stage: Stage = Field(default=Stage.PROSPECT, sa_type=enum_type(Stage))
    stage_changed_at: datetime = created_at_field()
    # When the prospect first reached these stages, for the report's time-to-reply and
    # time-to-link medians (the history has them too, but not in one row).
    contacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Kept by triggers (see reports.models): days from contacted to replied and to linked,
    # when both are known and in that order; and how many of its links are live now.
    reply_days: float | None = None
    live_days: float | None = None
    live_links: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    owner_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    asset_id: int | None = Field(
        default=None, foreign_key="content_assets.id", ondelete="SET NULL", index=True
    )
    primary_contact_id: int | None = Field(
        default=None, foreign_key="contacts.id", ondelete="SET NULL"
    )
    domain_rating: int | None = Field(default=None, ge=0, le=100)
    traffic: int | None = Field(default=None, ge=0)
    relevance: int | None = Field(default=None, ge=1, le=5)
    # The prospect's local time zone, when known, for sending windows.
    timezone: str = Field(default="", max_length=64)
    notes: str = Field(default="", sa_type=sa.Text)
    # Free-form values for templates ({{ custom.topic }}), filled by hand or from import columns.
    custom_fields: dict[str, str] = Field(
        default_factory=dict,
        sa_type=JSONType,
        sa_column_kwargs={"server_default": sa.text("'{}'")},
    )
    # Lower-cased domain, contact names and emails, and notes: what the list's search box looks in.
    search_text: str = Field(
        default="", sa_type=sa.Text, sa_column_kwargs={"server_default": sa.text("''")}
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)


class ProspectTag(SQLModel, table=True):
    __tablename__ = "prospect_tags"
    # A tag's prospects in id order, without reading the table (the tag filter's count).
    __table_args__ = (sa.Index("ix_prospect_tags_tag_prospect", "tag_id", "prospect_id"),)

    prospect_id: int = Field(foreign_key="prospects.id", ondelete="CASCADE", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", ondelete="CASCADE", primary_key=True)


class StageChange(SQLModel, table=True):
    """Each move of a prospect between stages: when, by whom (NULL: the system) and why."""

    __tablename__ = "stage_changes"
    __table_args__ = (sa.Index("ix_stage_changes_prospect_at", "prospect_id", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    prospect_id: int = Field(foreign_key="prospects.id", ondelete="CASCADE")
    from_stage: Stage | None = Field(default=None, sa_type=enum_type(Stage))
    to_stage: Stage = Field(sa_type=enum_type(Stage), index=True)
    changed_at: datetime = created_at_field()
    changed_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    reason: str = Field(default="manual", max_length=40)


class ImportStatus(enum.StrEnum):
    MAPPING = "mapping"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ProspectImport(SQLModel, table=True):
    """A CSV file being imported into a campaign: its column mapping, progress and outcome."""

    __tablename__ = "prospect_imports"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    filename: str = Field(max_length=255)
    # Where the uploaded file waits in the instance folder until the import has run.
    stored_path: str = Field(default="", max_length=1024)
    source: str = Field(default="generic", max_length=40)
    # The file's header, for writing rejected rows back out under the same columns.
    columns: list[str] = Field(default_factory=list, sa_type=JSONType)
    mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    status: ImportStatus = Field(default=ImportStatus.MAPPING, sa_type=enum_type(ImportStatus))
    total_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    processed_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ImportRejection(SQLModel, table=True):
    """A row an import refused, with why, kept so the user can fix and re-import it."""

    __tablename__ = "import_rejections"
    __table_args__ = (sa.Index("ix_import_rejections_import_row", "import_id", "row"),)

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="prospect_imports.id", ondelete="CASCADE")
    row: int
    message: str = Field(sa_type=sa.Text)
    raw: list[str] = Field(default_factory=list, sa_type=JSONType)
