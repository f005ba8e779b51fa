"""/api/v1 costs, logged time and value models; builders never get a rate-derived figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.costs import add_cost, log_time
from outreach.campaigns.models import Campaign, CostEntry, TimeEntry
from outreach.campaigns.schemas import CostInput, TimeInput
from outreach.clock import FixedClock
from outreach.links.schemas import PlacementInput
from outreach.links.services import create_placement
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from outreach.reports.figures import ValueModel
from tests.conftest import ApiClient
from tests.test_api import assert_error

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RATE = Decimal("87.65")


@pytest.fixture(autouse=True)
def fixed_clock(app: Flask) -> None:
    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=FixedClock(NOW))


@pytest.fixture
def prospect(session: Session, campaign: Campaign) -> Prospect:
    owner = session.get(User, campaign.owner_id)
    return add_prospect(session, campaign, ProspectInput(domain="blog.example"), owner)


def put(api: ApiClient, path: str, body: Any) -> Any:
    return api.client.put(path, headers=api.headers, json=body)


@pytest.fixture
def spending(session: Session, campaign: Campaign, prospect: Prospect) -> User:
    """A campaign with a cost entry, a priced link and an hour logged at RATE; its owner."""
    owner = session.get(User, campaign.owner_id)
    owner.hourly_rate = RATE
    campaign.budget = Decimal("1000")
    session.commit()
    cost = {"kind": "tool", "amount": "49.90", "incurred_on": "2026-11-01", "note": "Ahrefs"}
    add_cost(session, campaign, CostInput.model_validate(cost), owner)
    link = {"page_url": "https://blog.example/p", "target": "https://client.example/"}
    create_placement(session, prospect, PlacementInput(**link, cost=Decimal("200")), owner, NOW)
    log_time(session, owner, campaign, TimeInput(minutes=60), NOW, prospect=prospect)
    return owner


def test_managers_get_entries_time_and_spend(
    api_as: Callable[[Role], ApiClient], campaign: Campaign, spending: User
) -> None:
    body = api_as(Role.MANAGER).get(f"/api/v1/campaigns/{campaign.id}/costs").json
    (item,) = body["items"]
    assert item["kind"] == "tool"
    assert item["amount"] == 49.9
    assert (item["incurred_on"], item["note"], item["created_by_id"]) == (
        "2026-11-01",
        "Ahrefs",
        spending.id,
    )
    assert (body["campaign_id"], body["currency"], body["budget"], body["total"]) == (
        campaign.id,
        "USD",
        1000.0,
        1,
    )
    assert body["totals"] == {
        "entries": 49.9,
        "by_kind": {"fee": 0.0, "content": 0.0, "tool": 49.9, "other": 0.0},
        "placements": 200.0,
        "time_minutes": 60,
        "time_cost": 87.65,
        "spent": 337.55,
        "remaining": 662.45,
    }
    assert body["time"] == [{"user_id": spending.id, "name": "Maria", "minutes": 60, "cost": 87.65}]


def test_builders_get_entries_and_hours_but_no_money_from_rates(
    api_as: Callable[[Role], ApiClient], campaign: Campaign, spending: User
) -> None:
    response = api_as(Role.BUILDER).get(f"/api/v1/campaigns/{campaign.id}/costs")
    assert response.status_code == 200
    body = response.json
    assert [item["amount"] for item in body["items"]] == [49.9]
    totals = body["totals"]
    assert totals["entries"] == 49.9
    assert totals["time_minutes"] == 60
    assert [totals[k] for k in ("placements", "time_cost", "spent", "remaining")] == [None] * 4
    assert body["time"] == [{"user_id": spending.id, "name": "Maria", "minutes": 60, "cost": None}]
    raw = response.get_data(as_text=True)
    for secret in ("87.65", "337.55", "662.45"):
        assert secret not in raw


def test_unknown_campaign_is_404(api_as: Callable[[Role], ApiClient]) -> None:
    assert_error(api_as(Role.MANAGER).get("/api/v1/campaigns/999/costs"), 404, "not_found")


def test_managers_add_and_delete_costs(
    api_as: Callable[[Role], ApiClient], session: Session, campaign: Campaign
) -> None:
    api = api_as(Role.MANAGER)
    response = api.post(
        f"/api/v1/campaigns/{campaign.id}/costs",
        json={"kind": "content", "amount": 300.5, "incurred_on": "2026-11-20", "note": "Writer"},
    )
    assert response.status_code == 201, response.json
    created = response.json
    assert (created["kind"], created["amount"], created["note"]) == ("content", 300.5, "Writer")
    entry = session.get(CostEntry, created["id"])
    assert entry.amount == Decimal("300.50")

    assert api.delete(f"/api/v1/costs/{created['id']}").status_code == 204
    session.expunge(entry)
    assert session.exec(select(CostEntry)).all() == []
    assert_error(api.delete(f"/api/v1/costs/{created['id']}"), 404, "not_found")


def test_invalid_costs_are_422_by_field(
    api_as: Callable[[Role], ApiClient], session: Session, campaign: Campaign
) -> None:
    response = api_as(Role.MANAGER).post(
        f"/api/v1/campaigns/{campaign.id}/costs",
        json={"kind": "fee", "amount": 0, "incurred_on": "2028-06-01"},
    )
    error = assert_error(response, 422, "validation_error")
    assert error["fields"] == {
        "amount": "enter an amount above 0",
        "incurred_on": "the date is more than a year ahead",
    }
    assert session.exec(select(CostEntry)).all() == []


def test_builders_cannot_add_or_delete_costs(
    api_as: Callable[[Role], ApiClient], session: Session, campaign: Campaign, spending: User
) -> None:
    api = api_as(Role.BUILDER)
    body = {"kind": "fee", "amount": 10, "incurred_on": "2026-11-20"}
    assert_error(api.post(f"/api/v1/campaigns/{campaign.id}/costs", json=body), 403, "forbidden")
    entry = session.exec(select(CostEntry)).one()
    assert_error(api.delete(f"/api/v1/costs/{entry.id}"), 403, "forbidden")
    assert len(session.exec(select(CostEntry)).all()) == 1


def test_anyone_logs_time_on_a_prospect_as_themselves(
    client: Any,
    session: Session,
    make_user: Callable[..., User],
    campaign: Campaign,
    prospect: Prospect,
) -> None:
    from outreach.auth.services import issue_api_token

    builder = make_user(Role.BUILDER)
    api = ApiClient(client, issue_api_token(session, builder))
    response = api.post(
        f"/api/v1/prospects/{prospect.id}/time", json={"minutes": 45, "note": "Research"}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert {k: body[k] for k in ("user_id", "campaign_id", "prospect_id", "minutes", "note")} == {
        "user_id": builder.id,
        "campaign_id": campaign.id,
        "prospect_id": prospect.id,
        "minutes": 45,
        "note": "Research",
    }
    assert datetime.fromisoformat(body["logged_at"]) == NOW
    assert session.exec(select(TimeEntry.minutes)).all() == [45]

    error = assert_error(
        api.post(f"/api/v1/prospects/{prospect.id}/time", json={"minutes": 0}),
        422,
        "validation_error",
    )
    assert error["fields"] == {"minutes": "enter whole minutes from 1 to 1440 (24 hours)"}
    assert_error(api.post("/api/v1/prospects/999/time", json={"minutes": 5}), 404, "not_found")
    assert session.exec(select(TimeEntry.minutes)).all() == [45]


def test_value_model_is_read_and_replaced(
    api_as: Callable[[Role], ApiClient], session: Session, campaign: Campaign
) -> None:
    api = api_as(Role.MANAGER)
    path = f"/api/v1/campaigns/{campaign.id}/value-model"
    assert api.get(path).json == {**ValueModel.default().as_json(), "is_default": True}
    body = {
        "bands": [{"min_dr": 50, "value": "500"}, {"min_dr": 0, "value": 40}],
        "nofollow_weight": "0.3",
    }
    response = put(api, path, body)
    assert response.status_code == 200, response.json
    stored = {
        "bands": [{"min_dr": 0, "value": "40"}, {"min_dr": 50, "value": "500"}],
        "nofollow_weight": "0.3",
        "sponsored_weight": "0.5",
        "ugc_weight": "0.25",
        "noindex_weight": "0",
    }
    assert response.json == {**stored, "is_default": False}
    session.refresh(campaign)
    assert campaign.value_model == stored
    assert api.get(path).json == {**stored, "is_default": False}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"bands": [{"min_dr": 10, "value": "5"}]},
            "the lowest band must start at DR 0, so every domain has a value",
        ),
        ({"bands": [{"min_dr": 0, "value": "x"}]}, "the value for DR 0+ must be a number, got 'x'"),
        ({"bands": [{"min_dr": 0, "value": 1}], "typo_weight": 1}, "unknown value model setting"),
        ({"nofollow_weight": 0.5}, "bands must be a list of {min_dr, value} objects"),
        (
            {"bands": [{"min_dr": 0, "value": 1}], "ugc_weight": 1.5},
            "ugc_weight must be between 0 and 1, got 1.5",
        ),
    ],
)
def test_a_bad_value_model_is_422_with_the_reason(
    api_as: Callable[[Role], ApiClient],
    session: Session,
    campaign: Campaign,
    body: dict[str, Any],
    message: str,
) -> None:
    response = put(api_as(Role.ADMIN), f"/api/v1/campaigns/{campaign.id}/value-model", body)
    error = assert_error(response, 422, "validation_error")
    assert error["message"].startswith(message)
    session.refresh(campaign)
    assert campaign.value_model == {}


def test_builders_cannot_replace_the_value_model(
    api_as: Callable[[Role], ApiClient], session: Session, campaign: Campaign
) -> None:
    body = ValueModel.default().as_json()
    response = put(api_as(Role.BUILDER), f"/api/v1/campaigns/{campaign.id}/value-model", body)
    assert_error(response, 403, "forbidden")
    session.refresh(campaign)
    assert campaign.value_model == {}


def test_the_openapi_document_describes_the_new_paths(
    api_as: Callable[[Role], ApiClient],
) -> None:
    document = api_as(Role.BUILDER).get("/api/v1/openapi.json").json
    validate(document)
    paths = document["paths"]
    assert set(paths["/api/v1/campaigns/{campaign_id}/costs"]) == {"get", "post"}
    assert set(paths["/api/v1/costs/{cost_id}"]) == {"delete"}
    assert set(paths["/api/v1/prospects/{prospect_id}/time"]) == {"post"}
    assert set(paths["/api/v1/campaigns/{campaign_id}/value-model"]) == {"get", "put"}
