"""Clients, their campaigns, the content assets pitched in them, and campaign costs."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from outreach.db import (
    JSONType,
    UTCDateTime,
    created_at_field,
    enum_type,
    money_field,
    updated_at_field,
)


class CampaignKind(enum.StrEnum):
    GUEST_POST = "guest_post"
    EXPERT_ROUNDUP = "expert_roundup"
    LOCAL_CITATION = "local_citation"
    RESOURCE_PAGE = "resource_page"
    DIGITAL_PR = "digital_pr"
    PRODUCT_REVIEW = "product_review"
    OTHER = "other"

    @property
    def label(self) -> str:
        return CAMPAIGN_KIND_LABELS[self]


CAMPAIGN_KIND_LABELS = {
    CampaignKind.GUEST_POST: "Guest post",
    CampaignKind.EXPERT_ROUNDUP: "Expert round-up",
    CampaignKind.LOCAL_CITATION: "Local directory / citation",
    CampaignKind.RESOURCE_PAGE: "Resource page",
    CampaignKind.DIGITAL_PR: "Digital PR",
    CampaignKind.PRODUCT_REVIEW: "Product review",
    CampaignKind.OTHER: "Other",
}


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class Client(SQLModel, table=True):
    """The site being promoted; name, address and phone are checked on local citations."""

    __tablename__ = "clients"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Registrable domain of the client's site, the key campaigns are matched on.
    domain: str = Field(max_length=253, unique=True)
    website: str = Field(max_length=2048)
    brand_terms: str = Field(default="", max_length=1000)
    business_name: str = Field(default="", max_length=200)
    street_address: str = Field(default="", max_length=300)
    locality: str = Field(default="", max_length=120)
    region: str = Field(default="", max_length=120)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="", max_length=2)
    phone: str = Field(default="", max_length=40)
    created_at: datetime = created_at_field()


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        sa.CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", "dates"),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", "budget"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: CampaignKind = Field(sa_type=enum_type(CampaignKind))
    status: CampaignStatus = Field(
        default=CampaignStatus.ACTIVE, sa_type=enum_type(CampaignStatus), index=True
    )
    client_id: int = Field(foreign_key="clients.id", ondelete="RESTRICT", index=True)
    # The page or site this campaign earns links for; the default link target.
    client_url: str = Field(max_length=2048)
    goal: str = Field(default="", max_length=2000)
    target_links: int | None = None
    budget: Decimal | None = money_field()
    currency: str = Field(default="USD", max_length=3)
    starts_on: date | None = None
    ends_on: date | None = None
    # Used for sending windows when a prospect's own time zone is unknown.
    timezone: str = Field(default="UTC", max_length=64)
    # What a live link is worth, by Domain Rating band and rel (reports.figures.ValueModel);
    # empty means the default model.
    value_model: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONType,
        sa_column_kwargs={"server_default": sa.text("'{}'")},
    )
    owner_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AssetType(enum.StrEnum):
    GUIDE = "guide"
    RESEARCH = "research"
    TOOL = "tool"
    INFOGRAPHIC = "infographic"
    GUEST_ARTICLE = "guest_article"
    PRODUCT_PAGE = "product_page"
    OTHER = "other"


class ContentAsset(SQLModel, table=True):
    """A piece of the client's content that prospects are pitched to link to."""

    __tablename__ = "content_assets"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=300)
    url: str = Field(max_length=2048)
    asset_type: AssetType = Field(default=AssetType.OTHER, sa_type=enum_type(AssetType))
    target_keywords: str = Field(default="", max_length=1000)
    notes: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()


class CostKind(enum.StrEnum):
    FEE = "fee"
    CONTENT = "content"
    TOOL = "tool"
    OTHER = "other"


class CostEntry(SQLModel, table=True):
    """A dated cost of a campaign besides link prices and logged time."""

    __tablename__ = "cost_entries"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", index=True)
    kind: CostKind = Field(default=CostKind.OTHER, sa_type=enum_type(CostKind))
    amount: Decimal = money_field(nullable=False)
    incurred_on: date
    note: str = Field(default="", max_length=500)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()


class TimeEntry(SQLModel, table=True):
    """Time a user spent on a campaign (optionally on one prospect), costed at their rate."""

    __tablename__ = "time_entries"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE", index=True)
    prospect_id: int | None = Field(
        default=None, foreign_key="prospects.id", ondelete="SET NULL", index=True
    )
    minutes: int = Field(gt=0)
    logged_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    note: str = Field(default="", max_length=500)
