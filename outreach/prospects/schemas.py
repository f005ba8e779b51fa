"""What a prospect or contact may be created or changed with; forms, API and import share it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal
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

from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.prospects.models import Stage
from outreach.validation import MAX_INT, RowId, blank_to_none, normalise_email

TAG_SPLIT = re.compile(r"[,;|]")
CUSTOM_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
MAX_CUSTOM_VALUE_LENGTH = 2_000


def normalise_page_url(value: str) -> str:
    """An absolute http(s) URL; "site.com/page" gets https:// in front."""
    text = value.strip()
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value.strip()!r} is not an http or https URL")
    try:
        registrable_domain(text)
    except InvalidDomainError as exc:
        raise ValueError(str(exc)) from None
    return parts._replace(netloc=parts.netloc.lower(), path=parts.path or "/").geturl()


def normalise_tags(values: list[str] | str) -> list[str]:
    """Tags are short, lower case and unique; "Gardening, DIY" -> ["gardening", "diy"]."""
    items = TAG_SPLIT.split(values) if isinstance(values, str) else values
    tags: list[str] = []
    for item in items:
        tag = " ".join(item.split()).lower()[:60]
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class ContactInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    role: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    profile_url: str = Field(default="", max_length=2048)
    primary: bool = Field(default=True, description="Make this the prospect's primary contact.")

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return blank_to_none(data, {"email"})

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    @field_validator("profile_url")
    @classmethod
    def _profile(cls, value: str) -> str:
        return normalise_page_url(value) if value else ""

    @model_validator(mode="after")
    def _someone(self) -> ContactInput:
        if not (self.email or self.first_name or self.last_name or self.profile_url):
            raise ValueError("give at least a name, an email or a profile URL")
        return self


class ProspectMetrics(BaseModel):
    """The fields a prospect shares between creating and changing it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    page_url: str = Field(default="", max_length=2048)
    domain_rating: int | None = Field(default=None, ge=0, le=100)
    traffic: int | None = Field(default=None, ge=0, le=MAX_INT)
    relevance: int | None = Field(default=None, ge=1, le=5)
    owner_id: RowId | None = None
    asset_id: RowId | None = None
    notes: str = Field(default="", max_length=20_000)
    tags: list[str] = Field(default_factory=list)
    timezone: str = Field(
        default="", max_length=64, description="IANA time zone for sending windows."
    )
    custom_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Values for templates: {'topic': 'balconies'} fills {{ custom.topic }}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return blank_to_none(
            data, {"domain_rating", "traffic", "relevance", "owner_id", "asset_id"}
        )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{value!r} is not an IANA time zone such as Europe/Berlin"
                ) from None
        return value

    @field_validator("custom_fields")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not CUSTOM_FIELD_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} cannot be a custom field name: use letters, digits and _ "
                    "(starting with a letter), at most 40"
                )
            if len(text) > MAX_CUSTOM_VALUE_LENGTH:
                raise ValueError(
                    f"custom field {name!r} is longer than {MAX_CUSTOM_VALUE_LENGTH} characters"
                )
        return {name: text.strip() for name, text in value.items()}

    @field_validator("page_url")
    @classmethod
    def _page(cls, value: str) -> str:
        return normalise_page_url(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        # Anything but text or a list of texts is left for the type check to refuse.
        texts = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return normalise_tags(value) if isinstance(value, str) or texts else value


class ProspectInput(ProspectMetrics):
    """A new prospect: a domain (or a page URL to take it from), with what the user knows."""

    domain: str = Field(
        default="",
        max_length=2048,
        validate_default=True,
        description="Domain or any URL on the site; taken from page_url when empty.",
    )
    contact: ContactInput | None = None

    @field_validator("domain")
    @classmethod
    def _site(cls, value: str, info: ValidationInfo) -> str:
        source = value.strip() or info.data.get("page_url", "")
        if not source:
            raise ValueError("enter the prospect's domain or a page URL")
        try:
            return registrable_domain(source)
        except InvalidDomainError as exc:
            raise ValueError(str(exc)) from None


class ProspectUpdate(ProspectMetrics):
    """Changes to a prospect; stage goes through the pipeline rules."""

    stage: Stage | None = None


SortKey = Literal[
    "domain", "dr", "traffic", "relevance", "stage", "added", "updated", "last_contacted"
]


class ProspectQuery(BaseModel):
    """Filters, search, sort and page of a prospect list, as query parameters."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    stage: list[Stage] = Field(default_factory=list, description="Any of these stages.")
    owner: str = Field(default="", description='A user id, "me", or "none" for unassigned.')
    tag: str = Field(default="", max_length=60)
    dr_min: int | None = Field(default=None, ge=0, le=100)
    dr_max: int | None = Field(default=None, ge=0, le=100)
    traffic_min: int | None = Field(default=None, ge=0, le=MAX_INT)
    traffic_max: int | None = Field(default=None, ge=0, le=MAX_INT)
    relevance_min: int | None = Field(default=None, ge=1, le=5)
    contacted_before: date | None = None
    contacted_after: date | None = None
    never_contacted: bool = False
    q: str = Field(
        default="", max_length=200, description="Words to find in domain, contacts, notes."
    )
    sort: SortKey = "added"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=MAX_INT)
    per_page: int = Field(default=50, ge=1, le=500)

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        names = {
            "dr_min",
            "dr_max",
            "traffic_min",
            "traffic_max",
            "relevance_min",
            "contacted_before",
            "contacted_after",
        }
        data = blank_to_none(data, names)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None}
            if isinstance(data.get("stage"), str):
                data["stage"] = [data["stage"]] if data["stage"] else []
        return data

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        digits = value.isascii() and value.isdigit()
        if value not in ("", "me", "none") and not (digits and int(value) <= MAX_INT):
            raise ValueError('use a user id, "me" or "none"')
        return value

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page
