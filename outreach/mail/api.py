"""/api/v1/templates"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from outreach.api.core import ApiError, api_blueprint, api_user, dump
from outreach.db import db_session
from outreach.mail.schemas import TemplateInput
from outreach.mail.services import TemplateRefusedError, create_template, list_templates

api = api_blueprint("mail_api", __name__)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    subject: str
    body: str
    campaign_id: int | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class TemplateList(BaseModel):
    items: list[TemplateOut]
    total: int


class TemplateQuery(BaseModel):
    campaign_id: int | None = Field(
        default=None, description="Only templates usable in this campaign (its own and shared)."
    )


@api.get("/templates", responses={200: TemplateList}, summary="Email templates")
def list_(query: TemplateQuery) -> tuple[dict[str, Any], int]:
    templates = list_templates(db_session(), query.campaign_id)
    items = [TemplateOut.model_validate(template) for template in templates]
    return dump(TemplateList(items=items, total=len(items)))


@api.post("/templates", responses={201: TemplateOut}, summary="Create an email template")
def create(body: TemplateInput) -> tuple[dict[str, Any], int]:
    try:
        template = create_template(db_session(), body, api_user())
    except TemplateRefusedError as exc:
        raise ApiError(422, "validation_error", str(exc), {"campaign_id": str(exc)}) from None
    return dump(TemplateOut.model_validate(template), 201)
