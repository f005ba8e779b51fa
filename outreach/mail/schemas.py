"""What templates, mailboxes and sequences may be saved with; the forms and the API share it."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from outreach.mail.models import TransportSecurity
from outreach.mail.schedule import parse_weekdays
from outreach.mail.templating import TemplateError, check_syntax
from outreach.validation import RowId, normalise_email


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give the time without a time zone: windows are in the recipient's")
    return value


# A sending-window time such as 09:00, in the recipient's time zone. Not JSON Schema's "time"
# format: that is RFC 3339's, which needs an offset.
WallTime = Annotated[
    time,
    AfterValidator(_wall_clock),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", "example": "09:00"}
    ),
]


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=50_000)
    campaign_id: RowId | None = Field(
        default=None, description="Empty: the template is available to every campaign."
    )

    @field_validator("name", "subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("subject", "body")
    @classmethod
    def _valid_template(cls, value: str, info: ValidationInfo) -> str:
        try:
            check_syntax(value, info.field_name or "body")
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return value


class MailboxInput(BaseModel):
    """A sending account. Passwords left out (None) keep the stored ones on an update."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    email: str = Field(max_length=320, description="The address emails are sent from.")
    from_name: str = Field(default="", max_length=200)
    signature: str = Field(default="", max_length=5_000)
    smtp_host: str = Field(min_length=1, max_length=253)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: TransportSecurity = TransportSecurity.STARTTLS
    smtp_username: str = Field(default="", max_length=320)
    smtp_password: str | None = Field(default=None, max_length=1_000)
    imap_host: str = Field(default="", max_length=253, description="Empty: replies not read.")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: TransportSecurity = TransportSecurity.TLS
    imap_username: str = Field(default="", max_length=320)
    imap_password: str | None = Field(default=None, max_length=1_000)
    imap_folder: str = Field(default="INBOX", min_length=1, max_length=200)
    daily_cap: int = Field(default=50, ge=1, le=10_000, description="At most this many a day.")
    min_spacing_seconds: int = Field(default=120, ge=0, le=86_400)
    window_days: list[int] = Field(
        default=[1, 2, 3, 4, 5], description="ISO weekdays on which to send, 1 = Monday."
    )
    window_start: WallTime = time(9, 0)
    window_end: WallTime = time(17, 0)
    active: bool = True
    campaign_ids: list[RowId] = Field(
        default_factory=list, description="Campaigns that send from this mailbox (rotation)."
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("smtp_host", "imap_host", "smtp_username", "imap_username", "from_name")
    @classmethod
    def _no_line_breaks(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be on one line")
        return value

    @field_validator("window_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, str):
            return sorted(parse_weekdays(value))
        return value

    @field_validator("window_days")
    @classmethod
    def _known_days(cls, value: list[int]) -> list[int]:
        return sorted(parse_weekdays(",".join(str(day) for day in value)))

    @field_validator("window_end")
    @classmethod
    def _window_order(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("window_start")
        if start is not None and start >= value:
            raise ValueError("the sending window must start before it ends")
        return value


# The editor's "Add step" stops where saving would.
MAX_STEPS = 20


class StepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_days: int = Field(
        default=0, ge=0, le=365, description="Business days after the previous step (0 first)."
    )
    template_id: RowId


class SequenceInput(BaseModel):
    """A sequence and its steps in order; the first step is the opening email."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    campaign_id: RowId
    name: str = Field(min_length=1, max_length=200)
    auto_reply_delay_days: int = Field(
        default=3, ge=0, le=60, description="An out-of-office pushes the next step back this far."
    )
    steps: list[StepInput] = Field(min_length=1, max_length=MAX_STEPS)


class EnrolInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prospect_ids: list[RowId] = Field(min_length=1, max_length=10_000)
