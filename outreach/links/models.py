"""Placements (promised or earned links) and the history of their checks."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import JSONType, UTCDateTime, created_at_field, enum_type, money_field


class LinkType(enum.StrEnum):
    GUEST_POST = "guest_post"
    EXPERT_ROUNDUP = "expert_roundup"
    LOCAL_CITATION = "local_citation"
    RESOURCE_PAGE = "resource_page"
    MENTION = "mention"
    REVIEW = "review"
    OTHER = "other"


class Rel(enum.StrEnum):
    FOLLOW = "follow"
    NOFOLLOW = "nofollow"
    SPONSORED = "sponsored"
    UGC = "ugc"


class PlacementStatus(enum.StrEnum):
    PROMISED = "promised"
    LIVE = "live"
    UNKNOWN = "unknown"
    LOST = "lost"


# A link that is live now, or was seen live and is unsure since: what reports count.
LIVE_NOW = "status IN ('live', 'unknown') AND first_live_at IS NOT NULL"


class Placement(SQLModel, table=True):
    """Where a link is to sit (or sits), what was agreed, and what the checks found."""

    __tablename__ = "placements"
    __table_args__ = (
        sa.Index("ix_placements_status_next_check", "status", "next_check_at"),
        sa.CheckConstraint("cost IS NULL OR cost >= 0", "cost"),
        sa.Index("ix_placements_campaign_first_live", "campaign_id", "first_live_at", "lost_at"),
        # The survival figures read the lost links one by one; there are few.
        sa.Index(
            "ix_placements_campaign_lost",
            "campaign_id",
            "first_live_at",
            "lost_at",
            sqlite_where=sa.text("lost_at IS NOT NULL"),
            postgresql_where=sa.text("lost_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    prospect_id: int = Field(foreign_key="prospects.id", ondelete="CASCADE", index=True)
    # The prospect's campaign, copied (a prospect never changes campaign) so that reports
    # reach a campaign's links without going through its prospects.
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE")
    page_url: str = Field(max_length=2048)
    # A URL on the client's site, or "domain:client.example" for any page of that domain.
    target: str = Field(max_length=2048)
    expected_anchor: str = Field(default="", max_length=500)
    expected_rel: Rel = Field(default=Rel.FOLLOW, sa_type=enum_type(Rel))
    link_type: LinkType = Field(default=LinkType.OTHER, sa_type=enum_type(LinkType))
    asset_id: int | None = Field(
        default=None, foreign_key="content_assets.id", ondelete="SET NULL", index=True
    )
    cost: Decimal | None = money_field()
    paid: bool = False
    # Overrides the campaign's value model for this one link.
    value_override: Decimal | None = money_field()
    toxic: bool = False
    promised_on: date | None = None
    expires_on: date | None = None
    status: PlacementStatus = Field(
        default=PlacementStatus.PROMISED, sa_type=enum_type(PlacementStatus)
    )
    last_verdict: str = Field(default="", max_length=20)
    # The verdict and anchor of the last check that found the link: what it is while a check
    # fails (reports count its rel and anchor from these).
    found_verdict: str = Field(
        default="", max_length=20, sa_column_kwargs={"server_default": sa.text("''")}
    )
    found_anchor: str = Field(
        default="", max_length=500, sa_column_kwargs={"server_default": sa.text("''")}
    )
    first_live_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the link was last found lost; cleared when it comes back. Survival figures use it.
    lost_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = 0
    # Which expiry reminders (days before expires_on) have gone out, so each goes out once.
    reminders_sent: list[int] = Field(
        default_factory=list,
        sa_type=JSONType,
        sa_column_kwargs={"server_default": sa.text("'[]'")},
    )
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
    # Copies of the prospect's owner and rating, kept by triggers (see reports.models): a
    # link's share of the report rollups is then a function of its own row.
    owner_id: int | None = None
    domain_rating: int | None = None


class PlacementCheck(SQLModel, table=True):
    """One verification of a placement, with the verdict object as the checker returned it."""

    __tablename__ = "placement_checks"
    __table_args__ = (sa.Index("ix_placement_checks_placement_at", "placement_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    placement_id: int = Field(foreign_key="placements.id", ondelete="CASCADE")
    checked_at: datetime = created_at_field()
    verdict: str = Field(max_length=20)
    found: bool = False
    http_status: int | None = None
    final_url: str = Field(default="", max_length=2048)
    rel: list[str] = Field(default_factory=list, sa_type=JSONType)
    anchor_text: str = Field(default="", max_length=2000)
    indexable: bool | None = None
    canonical: str = Field(default="", max_length=2048)
    error: str = Field(default="", sa_type=sa.Text)
    mismatches: list[str] = Field(default_factory=list, sa_type=JSONType)
    duration_ms: int | None = None
