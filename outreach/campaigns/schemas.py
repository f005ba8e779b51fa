"""What a campaign may be created or changed with; the browser form and the API share it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from outreach.campaigns.models import AssetType, CampaignKind, CampaignStatus
from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.validation import blank_to_none


def normalise_site_url(value: str) -> str:
    """A full http(s) URL from what a user typed: "client.example" -> "https://client.example/"."""
    text = value.strip()
    if not text:
        raise ValueError("enter the URL of the client's site")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    try:
        registrable_domain(text)
    except InvalidDomainError as exc:
        raise ValueError(str(exc)) from None
    return parts._replace(path=parts.path or "/").geturl()


class CampaignInput(BaseModel):
    """A whole campaign as the user describes it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: CampaignKind
    client_url: str = Field(
        max_length=2048, description="The site or page the campaign earns links for."
    )
    status: CampaignStatus = CampaignStatus.ACTIVE
    goal: str = Field(default="", max_length=2000)
    target_links: int | None = Field(default=None, ge=1, le=1_000_000)
    budget: Decimal | None = Field(
        default=None, ge=0, le=Decimal("9999999999.99"), decimal_places=2
    )
    starts_on: date | None = None
    ends_on: date | None = None
    timezone: str | None = Field(
        default=None, description="IANA time zone; the server default when not given."
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        return blank_to_none(data, {"target_links", "budget", "starts_on", "ends_on", "timezone"})

    @field_validator("client_url")
    @classmethod
    def _site_url(cls, value: str) -> str:
        return normalise_site_url(value)

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone such as Europe/Berlin") from None
        return value

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if value and starts_on and value < starts_on:
            raise ValueError("the end date is before the start date")
        return value


class AssetInput(BaseModel):
    """A content asset pitched in a campaign."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    url: str = Field(max_length=2048, description="The page on the client's site.")
    asset_type: AssetType = AssetType.OTHER
    target_keywords: str = Field(default="", max_length=1000)
    notes: str = Field(default="", max_length=20_000)

    @field_validator("url")
    @classmethod
    def _page(cls, value: str) -> str:
        return normalise_site_url(value)
