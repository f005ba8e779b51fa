"""What a campaign, its costs, logged time and values may be created or changed with; the
browser forms and the API share it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import has_app_context
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from outreach.campaigns.models import AssetType, CampaignKind, CampaignStatus, CostKind
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


# --- Costs, time and value ----------------------------------------------------------------

CENT = Decimal("0.01")
# The largest amount a money column (Numeric(12, 2)) holds.
MAX_MONEY = Decimal("9999999999.99")
# Costs are entered as they happen; a date further ahead than this is a typo.
MAX_COST_LEAD = timedelta(days=366)


def check_money(value: Decimal | None, *, positive: bool = False) -> Decimal | None:
    """Money as the database keeps it: whole cents, within Numeric(12, 2)."""
    if value is None:
        return None
    if positive and value <= 0:
        raise ValueError("enter an amount above 0")
    if value < 0:
        raise ValueError("enter 0 or more")
    if value > MAX_MONEY:
        raise ValueError("enter at most 9,999,999,999.99")
    if value != value.quantize(CENT):
        raise ValueError("use at most 2 decimals, e.g. 12.50")
    return value


def _today(info: ValidationInfo) -> date:
    """The caller's today (context={"today": ...}), else the running app's clock."""
    context = info.context or {}
    if "today" in context:
        return context["today"]
    if has_app_context():
        from outreach.clock import app_now

        return app_now().date()
    return datetime.now(UTC).date()


class CostInput(BaseModel):
    """A cost of a campaign besides link prices and logged time: a fee, content, a tool."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    kind: CostKind = CostKind.OTHER
    amount: Decimal = Field(
        description="More than 0 with at most 2 decimals, in the campaign's currency."
    )
    incurred_on: date = Field(description="When it was spent; at most a year ahead.")
    note: str = Field(default="", max_length=500)

    @field_validator("amount", "incurred_on", mode="before")
    @classmethod
    def _given(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "enter the date" if info.field_name == "incurred_on" else "enter the amount"
            )
        return value

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal) -> Decimal:
        return check_money(value, positive=True)

    @field_validator("incurred_on")
    @classmethod
    def _not_far_ahead(cls, value: date, info: ValidationInfo) -> date:
        if value > _today(info) + MAX_COST_LEAD:
            raise ValueError("the date is more than a year ahead")
        return value


MAX_MINUTES = 24 * 60


class TimeInput(BaseModel):
    """Time spent on a campaign, by the user logging it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    minutes: int = Field(description=f"Whole minutes, 1 to {MAX_MINUTES}.")
    note: str = Field(default="", max_length=500)

    @field_validator("minutes", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("enter the minutes")
        return value

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, value: int) -> int:
        if not 1 <= value <= MAX_MINUTES:
            raise ValueError(f"enter whole minutes from 1 to {MAX_MINUTES} (24 hours)")
        return value


class HourlyRateInput(BaseModel):
    """What an hour of a user's time costs; empty means unknown (their time costs nothing)."""

    model_config = ConfigDict(extra="forbid")

    hourly_rate: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        return blank_to_none(data, {"hourly_rate"})

    @field_validator("hourly_rate")
    @classmethod
    def _rate(cls, value: Decimal | None) -> Decimal | None:
        return check_money(value)


class ValueOverrideInput(BaseModel):
    """What one link is worth whatever the value model says; empty means the model decides."""

    model_config = ConfigDict(extra="forbid")

    value_override: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        return blank_to_none(data, {"value_override"})

    @field_validator("value_override")
    @classmethod
    def _value(cls, value: Decimal | None) -> Decimal | None:
        return check_money(value)
