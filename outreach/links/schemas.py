"""What a placement may be recorded with; the form and the API share it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from outreach.links.models import LinkType, Rel
from outreach.links.verdict import TargetError, parse_target
from outreach.validation import RowId, blank_to_none


def normalise_link_page(value: str) -> str:
    """Any http(s) page, an intranet host or an IP address included ("blog.example/post" gets
    https://): the fetcher's address guard decides what may be fetched."""
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value.strip()!r} is not an http or https URL")
    return parts._replace(netloc=parts.netloc.lower(), path=parts.path or "/").geturl()


class PlacementInput(BaseModel):
    """A promised or found link: where it sits, what it points to, and what was agreed."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    page_url: str = Field(min_length=1, max_length=2048, description="The page the link is on.")
    target: str = Field(
        min_length=1,
        max_length=2048,
        description="A URL on the client's site, or domain:client.example for any page of it.",
    )
    expected_anchor: str = Field(default="", max_length=500)
    expected_rel: Rel = Rel.FOLLOW
    link_type: LinkType = LinkType.OTHER
    asset_id: RowId | None = None
    cost: Decimal | None = Field(default=None, ge=0, le=Decimal("9999999999.99"), decimal_places=2)
    paid: bool = False
    promised_on: date | None = None
    expires_on: date | None = Field(
        default=None, description="For paid or time-limited links: reminders 7 and 2 days before."
    )

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return blank_to_none(data, {"asset_id", "cost", "promised_on", "expires_on"})

    @field_validator("page_url")
    @classmethod
    def _page(cls, value: str) -> str:
        return normalise_link_page(value)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        try:
            parse_target(value)
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("expires_on")
    @classmethod
    def _after_promise(cls, value: date | None, info: ValidationInfo) -> date | None:
        promised = info.data.get("promised_on")
        if value is not None and promised is not None and value < promised:
            raise ValueError("the link cannot expire before it was promised")
        return value
