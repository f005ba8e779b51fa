"""What an email template may be saved with; the form and the API share it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from outreach.mail.templating import TemplateError, check_syntax


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=50_000)
    campaign_id: int | None = Field(
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
