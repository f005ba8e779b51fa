"""/api/v1 prospects: list, add, change, delete, contacts, and CSV import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_openapi3 import FileStorage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outreach.api.core import (
    ApiError,
    ErrorResponse,
    api_blueprint,
    api_user,
    dump,
    field_errors,
)
from outreach.campaigns.api import campaign_or_error
from outreach.db import db_session
from outreach.prospects.importing import UnusableFileError, read_rows, sniff_layout, suggest_mapping
from outreach.prospects.imports import import_rows
from outreach.prospects.models import Domain, EmailStatus, Prospect, Stage
from outreach.prospects.schemas import ContactInput, ProspectInput, ProspectQuery
from outreach.prospects.services import (
    ProspectError,
    add_contact,
    add_prospect,
    bulk_delete,
    domain_history,
    list_prospects,
    tags_of,
    update_prospect,
)
from outreach.validation import RowId

api = api_blueprint("prospects_api", __name__)


class ProspectOut(BaseModel):
    id: int
    campaign_id: int
    domain: str
    page_url: str
    stage: Stage
    stage_changed_at: datetime
    owner_id: int | None
    asset_id: int | None
    primary_contact_id: int | None
    domain_rating: int | None
    traffic: int | None
    relevance: int | None
    tags: list[str]
    notes: str
    timezone: str
    custom_fields: dict[str, str]
    do_not_contact: bool
    last_contacted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OtherCampaign(BaseModel):
    campaign_id: int
    campaign_name: str
    stage: Stage


class ProspectCreated(ProspectOut):
    other_campaigns: list[OtherCampaign] = Field(
        description="Other campaigns that already have this domain."
    )


class ProspectPage(BaseModel):
    items: list[ProspectOut]
    total: int


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    domain_id: int
    first_name: str
    last_name: str
    role: str
    email: str | None
    email_status: EmailStatus
    profile_url: str


class RejectedRow(BaseModel):
    row: int
    message: str


class ImportResult(BaseModel):
    imported: int
    duplicates: int
    errors: list[RejectedRow]


class CampaignPath(BaseModel):
    campaign_id: RowId


class ProspectPath(BaseModel):
    prospect_id: RowId


class ProspectPatch(BaseModel):
    """Any of these fields; `stage` moves the prospect through the pipeline rules."""

    model_config = ConfigDict(extra="forbid")

    page_url: str | None = None
    domain_rating: int | None = None
    traffic: int | None = None
    relevance: int | None = None
    owner_id: int | None = None
    asset_id: int | None = None
    notes: str | None = None
    tags: list[str] | None = None
    timezone: str | None = None
    custom_fields: dict[str, str] | None = None
    stage: Stage | None = None


class ImportForm(BaseModel):
    file: FileStorage


def _deliverability() -> bool:
    return current_app.extensions["outreach"].settings.email_check_deliverability


def prospect_or_error(prospect_id: int) -> Prospect:
    prospect = db_session().get(Prospect, prospect_id)
    if prospect is None:
        raise ApiError(404, "not_found", f"There is no prospect {prospect_id}.")
    return prospect


PROSPECT_FIELDS = {
    "id",
    "timezone",
    "custom_fields",
    "campaign_id",
    "page_url",
    "stage",
    "stage_changed_at",
    "owner_id",
    "asset_id",
    "primary_contact_id",
    "domain_rating",
    "traffic",
    "relevance",
    "notes",
    "created_at",
    "updated_at",
}


def _out(
    prospect: Prospect, domain: str, tags: list[str], dnc: bool, contacted: datetime | None
) -> ProspectOut:
    return ProspectOut(
        **prospect.model_dump(include=PROSPECT_FIELDS),
        domain=domain,
        tags=tags,
        do_not_contact=dnc,
        last_contacted_at=contacted,
    )


def prospect_out(prospect: Prospect) -> ProspectOut:
    session = db_session()
    domain = session.get(Domain, prospect.domain_id)
    tags = tags_of(session, [prospect.id])[prospect.id]
    return _out(prospect, domain.name, tags, domain.do_not_contact, domain.last_contacted_at)


def _refused(exc: ProspectError) -> ApiError:
    status, code = (409, "conflict") if exc.conflict else (422, "validation_error")
    return ApiError(status, code, str(exc), {exc.field: str(exc)} if exc.field else {})


@api.get(
    "/campaigns/<int:campaign_id>/prospects",
    responses={200: ProspectPage},
    summary="A campaign's prospects, filtered, searched, sorted and paged",
)
def list_(path: CampaignPath, query: ProspectQuery) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    rows, total = list_prospects(db_session(), campaign.id, query, api_user().id)
    items = [
        _out(row.prospect, row.domain, row.tags, row.do_not_contact, row.last_contacted_at)
        for row in rows
    ]
    return dump(ProspectPage(items=items, total=total))


@api.post(
    "/campaigns/<int:campaign_id>/prospects",
    responses={201: ProspectCreated, 409: ErrorResponse},
    summary="Add a prospect (refused for do-not-contact domains and duplicates: 409)",
)
def create(path: CampaignPath, body: ProspectInput) -> tuple[dict[str, Any], int]:
    session = db_session()
    campaign = campaign_or_error(path.campaign_id)
    try:
        prospect = add_prospect(
            session, campaign, body, api_user(), check_deliverability=_deliverability()
        )
    except ProspectError as exc:
        session.rollback()
        raise _refused(exc) from None
    history = domain_history(session, body.domain, exclude_campaign_id=campaign.id)
    created = ProspectCreated(
        **prospect_out(prospect).model_dump(),
        other_campaigns=[OtherCampaign(**vars(c)) for c in history.campaigns],
    )
    return dump(created, 201)


@api.get("/prospects/<int:prospect_id>", responses={200: ProspectOut}, summary="One prospect")
def get(path: ProspectPath) -> tuple[dict[str, Any], int]:
    return dump(prospect_out(prospect_or_error(path.prospect_id)))


@api.patch(
    "/prospects/<int:prospect_id>", responses={200: ProspectOut}, summary="Change a prospect"
)
def patch(path: ProspectPath, body: ProspectPatch) -> tuple[dict[str, Any], int]:
    session = db_session()
    prospect = prospect_or_error(path.prospect_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("page_url", "notes"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    try:
        update_prospect(session, prospect, changes, api_user())
    except ValidationError as exc:
        session.rollback()
        raise ApiError(
            422, "validation_error", "The prospect is not valid.", field_errors(exc)
        ) from None
    except ProspectError as exc:
        session.rollback()
        raise _refused(exc) from None
    return dump(prospect_out(prospect))


@api.delete("/prospects/<int:prospect_id>", responses={204: None}, summary="Delete a prospect")
def delete(path: ProspectPath) -> tuple[str, int]:
    prospect = prospect_or_error(path.prospect_id)
    bulk_delete(db_session(), prospect.campaign_id, [prospect.id], api_user())
    return "", 204


@api.post(
    "/prospects/<int:prospect_id>/contacts",
    responses={201: ContactOut},
    summary="Add a contact at the prospect's domain (an existing email is updated)",
)
def create_contact(path: ProspectPath, body: ContactInput) -> tuple[dict[str, Any], int]:
    try:
        contact = add_contact(
            db_session(),
            prospect_or_error(path.prospect_id),
            body,
            api_user(),
            check_deliverability=_deliverability(),
        )
    except ProspectError as exc:
        raise _refused(exc) from None
    return dump(ContactOut.model_validate(contact), 201)


@api.post(
    "/campaigns/<int:campaign_id>/prospects/import",
    responses={200: ImportResult},
    summary="Import a CSV file (multipart field `file`); columns are recognised automatically",
)
def import_csv(path: CampaignPath, form: ImportForm) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    stream = form.file.stream
    try:
        layout = sniff_layout(stream)
        rows = read_rows(stream, layout, suggest_mapping(layout))
        summary = import_rows(db_session(), campaign.id, api_user().id, rows)
    except UnusableFileError as exc:
        raise ApiError(422, "unusable_file", str(exc), {"file": str(exc)}) from None
    return dump(ImportResult.model_validate(summary.as_json()))
