"""Costs & value in the browser: the campaign's costs page, logging time on a prospect, the
team page's hourly rates and a link's value override. Builders never see a rate."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from outreach.activity.models import Activity
from outreach.auth.models import Role, User
from outreach.campaigns.costs import add_cost, log_time
from outreach.campaigns.models import Campaign, CampaignKind, CostEntry, TimeEntry
from outreach.campaigns.schemas import CostInput, TimeInput
from outreach.clock import FixedClock
from outreach.links.models import Placement
from outreach.links.schemas import PlacementInput
from outreach.links.services import create_placement
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.conftest import csrf_token, sign_in

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RATE = Decimal("87.65")  # a rate no other figure on the pages can produce by chance


@pytest.fixture(autouse=True)
def fixed_clock(app: Flask) -> FixedClock:
    clock = FixedClock(NOW)
    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=clock)
    return clock


@pytest.fixture
def manager(session: Session, campaign: Campaign) -> User:
    """The campaign's owner (the `campaign` fixture's manager, Maria)."""
    return session.get(User, campaign.owner_id)


@pytest.fixture
def builder(make_user: Callable[..., User]) -> User:
    return make_user(Role.BUILDER, name="Ben")


def post(client: FlaskClient, path: str, data: dict[str, Any], page: str) -> Any:
    """A form post with the CSRF token of the page the form is on."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def costs_path(campaign: Campaign) -> str:
    return f"/campaigns/{campaign.id}/costs"


def new_cost(session: Session, campaign: Campaign, user: User, **fields: Any) -> CostEntry:
    data = {"kind": "fee", "amount": "120", "incurred_on": "2026-11-20", **fields}
    return add_cost(session, campaign, CostInput.model_validate(data), user)


def new_prospect(session: Session, campaign: Campaign, user: User) -> Prospect:
    return add_prospect(session, campaign, ProspectInput(domain="blog.example"), user)


# --- The costs page -------------------------------------------------------------------------


def test_the_campaign_page_links_to_costs(
    client: FlaskClient, campaign: Campaign, manager: User
) -> None:
    sign_in(client, manager)
    page = text(client.get(f"/campaigns/{campaign.id}"))
    assert f'href="/campaigns/{campaign.id}/costs">Costs &amp; value</a>' in page


def test_manager_adds_a_cost_and_sees_spend(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User
) -> None:
    campaign.budget = Decimal("1000")
    session.commit()
    sign_in(client, manager)
    form = text(client.get(costs_path(campaign)))
    assert 'value="2026-11-24"' in form  # the date defaults to today, by the app's clock
    response = post(
        client,
        costs_path(campaign),
        {"kind": "content", "amount": "250.50", "incurred_on": "2026-11-02", "note": "3 posts"},
        costs_path(campaign),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{costs_path(campaign)}#entries-heading")
    page = text(client.get(response.headers["Location"]))
    assert "Cost of 250.50 USD added." in page
    entry = session.exec(select(CostEntry)).one()
    assert (entry.kind, entry.amount, entry.note, entry.created_by_id) == (
        "content",
        Decimal("250.50"),
        "3 posts",
        manager.id,
    )
    row = re.search(
        r'<table class="table table-sm align-middle cost-entries">.*?</table>', page, re.S
    )
    assert row
    assert "2026-11-02" in row.group(0)
    assert "Content" in row.group(0)
    assert "USD 250.50" in row.group(0)
    assert "3 posts" in row.group(0)
    assert "Maria" in row.group(0)
    assert re.search(r"Spent so far</dt><dd[^>]*>USD 250.50<", page)
    assert "USD 749.50" in page  # remaining


def test_an_invalid_cost_keeps_what_was_typed(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User
) -> None:
    sign_in(client, manager)
    response = post(
        client,
        costs_path(campaign),
        {"kind": "tool", "amount": "12.345", "incurred_on": "2028-01-01", "note": "Ahrefs"},
        costs_path(campaign),
    )
    assert response.status_code == 422
    page = text(response)
    assert '<option value="tool" selected>' in page
    assert 'value="12.345"' in page
    assert 'value="2028-01-01"' in page
    assert 'value="Ahrefs"' in page
    assert 'id="amount-error">use at most 2 decimals, e.g. 12.50<' in page
    assert 'id="incurred_on-error">the date is more than a year ahead<' in page
    assert session.exec(select(CostEntry)).all() == []


def test_manager_deletes_a_cost_of_this_campaign_only(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User
) -> None:
    entry = new_cost(session, campaign, manager, amount="80")
    other = Campaign(
        name="Other",
        kind=CampaignKind.OTHER,
        client_id=campaign.client_id,
        client_url="https://client.example/",
    )
    session.add(other)
    session.commit()
    sign_in(client, manager)
    page = text(client.get(costs_path(campaign)))
    assert 'data-confirm="Delete the fee cost of USD 80.00 from 2026-11-20?"' in page
    wrong = post(client, f"/campaigns/{other.id}/costs/{entry.id}/delete", {}, costs_path(campaign))
    assert wrong.status_code == 404
    response = post(
        client, f"/campaigns/{campaign.id}/costs/{entry.id}/delete", {}, costs_path(campaign)
    )
    assert response.status_code == 302
    assert "Cost of 80.00 USD deleted." in text(client.get(response.headers["Location"]))
    assert session.exec(select(CostEntry)).all() == []
    assert session.exec(select(Activity.kind).where(Activity.kind == "cost.deleted")).all()


def test_a_builder_views_costs_but_cannot_change_them(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User, builder: User
) -> None:
    entry = new_cost(session, campaign, manager, amount="45", note="Directory fee")
    sign_in(client, builder)
    page = text(client.get(costs_path(campaign)))
    assert "Directory fee" in page
    assert "USD 45.00" in page
    assert "Add cost" not in page
    assert "/delete" not in page
    assert "Save value model" not in page
    assert "From DR" in page  # the value model, read only
    token = csrf_token(client, costs_path(campaign))
    form = {"kind": "fee", "amount": "10", "incurred_on": "2026-11-20", "csrf_token": token}
    assert client.post(costs_path(campaign), data=form).status_code == 403
    delete = f"/campaigns/{campaign.id}/costs/{entry.id}/delete"
    assert client.post(delete, data={"csrf_token": token}).status_code == 403
    model = {"band_min_dr": ["0"], "band_value": ["1"], "csrf_token": token}
    assert client.post(f"/campaigns/{campaign.id}/value-model", data=model).status_code == 403
    reset = f"/campaigns/{campaign.id}/value-model/reset"
    assert client.post(reset, data={"csrf_token": token}).status_code == 403
    assert len(session.exec(select(CostEntry)).all()) == 1


def test_only_managers_see_rates_and_what_time_cost(
    app: Flask,
    client: FlaskClient,
    session: Session,
    campaign: Campaign,
    manager: User,
    builder: User,
) -> None:
    manager.hourly_rate = RATE
    builder.hourly_rate = Decimal("40")
    campaign.budget = Decimal("5000")
    session.commit()
    log_time(session, manager, campaign, TimeInput(minutes=60), NOW)
    log_time(session, builder, campaign, TimeInput(minutes=90), NOW)
    new_cost(session, campaign, manager, amount="100")

    boss = app.test_client()
    sign_in(boss, manager)
    seen = text(boss.get(costs_path(campaign)))
    assert "USD 87.65" in seen  # Maria's rate and her hour's cost
    assert "USD 60.00" in seen  # Ben's 1.5 h at 40
    assert "USD 147.65" in seen  # time cost
    assert "USD 247.65" in seen  # spent
    assert "USD 4,752.35" in seen  # remaining

    sign_in(client, builder)
    page = text(client.get(costs_path(campaign)))
    assert "1 h 30 min" in page
    assert "1.50" in page
    assert "2 h 30 min" in page
    for secret in ("87.65", "60.00", "147.65", "247.65", "4,752.35", "Hourly rate", "Spent"):
        assert secret not in page, secret
    assert "Time cost" not in page
    assert "Remaining" not in page


# --- The value model editor -----------------------------------------------------------------


def model_form(**changes: Any) -> dict[str, Any]:
    form = {
        "band_min_dr": ["40", "0", "", "70", "", ""],
        "band_value": ["200", "25.5", "", "600", "", ""],
        "nofollow_weight": "0.2",
        "sponsored_weight": "",
        "ugc_weight": "0.1",
        "noindex_weight": "0",
    }
    form.update(changes)
    return form


def test_value_model_is_saved_sorted_and_empty_rows_are_ignored(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User
) -> None:
    sign_in(client, manager)
    page = text(client.get(costs_path(campaign)))
    assert 'id="band-min-dr-5"' in page  # six rows to fill in
    assert "default</span>" in page
    assert "Reset to default" not in page
    response = post(
        client, f"/campaigns/{campaign.id}/value-model", model_form(), costs_path(campaign)
    )
    assert response.status_code == 302
    session.refresh(campaign)
    assert campaign.value_model == {
        "bands": [
            {"min_dr": 0, "value": "25.5"},
            {"min_dr": 40, "value": "200"},
            {"min_dr": 70, "value": "600"},
        ],
        "nofollow_weight": "0.2",
        "sponsored_weight": "0.5",
        "ugc_weight": "0.1",
        "noindex_weight": "0",
    }
    page = text(client.get(response.headers["Location"]))
    assert "Value model saved." in page
    assert (
        'id="band-min-dr-0" name="band_min_dr" type="number" min="0" max="100" step="1" value="0"'
        in page
    )
    assert (
        'id="band-value-2" name="band_value" type="number" min="0" step="0.01" value="600"' in page
    )
    assert "default</span>" not in page
    assert "Reset to default" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"band_min_dr": ["0", "30", "30"], "band_value": ["5", "9", "12"]},
            "two bands start at DR 30",
        ),
        (
            {"band_min_dr": ["10", "", ""], "band_value": ["5", "", ""]},
            "the lowest band must start at DR 0, so every domain has a value",
        ),
        (
            {"band_min_dr": ["0", "", "50"], "band_value": ["5", "9", ""]},
            "row 2 needs both a minimum DR and a value",
        ),
        (
            {"band_min_dr": ["0", "abc"], "band_value": ["5", "9"]},
            "a band must start at a whole DR from 0 to 100, not &#39;abc&#39;",
        ),
        ({"nofollow_weight": "2"}, "nofollow_weight must be between 0 and 1, got 2"),
    ],
)
def test_a_bad_value_model_says_why_and_keeps_the_input(
    client: FlaskClient,
    session: Session,
    campaign: Campaign,
    manager: User,
    changes: dict[str, Any],
    message: str,
) -> None:
    sign_in(client, manager)
    form = model_form(**changes)
    response = post(client, f"/campaigns/{campaign.id}/value-model", form, costs_path(campaign))
    assert response.status_code == 422
    page = text(response)
    assert f"The value model was not saved: {message}." in page
    for number, value in enumerate(form["band_min_dr"]):
        field = f'id="band-min-dr-{number}" name="band_min_dr" type="number" min="0" max="100"'
        assert f'{field} step="1" value="{value}"' in page
    assert f'value="{form["nofollow_weight"]}"' in page
    session.refresh(campaign)
    assert campaign.value_model == {}


def test_reset_goes_back_to_the_default(
    client: FlaskClient, session: Session, campaign: Campaign, manager: User
) -> None:
    campaign.value_model = {"bands": [{"min_dr": 0, "value": "1"}]}
    session.commit()
    sign_in(client, manager)
    response = post(client, f"/campaigns/{campaign.id}/value-model/reset", {}, costs_path(campaign))
    assert response.status_code == 302
    assert "Value model reset to the default." in text(client.get(response.headers["Location"]))
    session.refresh(campaign)
    assert campaign.value_model == {}


# --- Time on the prospect page --------------------------------------------------------------


def test_log_30_minutes_from_the_prospect_page(
    client: FlaskClient, session: Session, campaign: Campaign, builder: User
) -> None:
    prospect = new_prospect(session, campaign, builder)
    path = f"/prospects/{prospect.id}"
    sign_in(client, builder)
    page = text(client.get(path))
    assert 'Logged on this prospect: <strong class="time-logged">0 min</strong>' in page
    assert 'name="time_quick" value="30"' in page
    response = post(
        client,
        f"{path}/time",
        {"time_quick": "30", "time_minutes": "", "time_note": "Found the editor"},
        path,
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{path}#time-heading")
    page = text(client.get(response.headers["Location"]))
    assert "Logged 30 min." in page
    assert '<strong class="time-logged">30 min</strong>' in page
    assert "Logged 30 min: Found the editor" in page  # on the timeline
    entry = session.exec(select(TimeEntry)).one()
    assert (entry.user_id, entry.campaign_id, entry.prospect_id, entry.minutes) == (
        builder.id,
        campaign.id,
        prospect.id,
        30,
    )
    assert (entry.logged_at, entry.note) == (NOW, "Found the editor")

    post(client, f"{path}/time", {"time_minutes": "75", "time_note": ""}, path)
    page = text(client.get(path))
    assert '<strong class="time-logged">1 h 45 min</strong>' in page


def test_typed_minutes_are_checked_and_kept(
    client: FlaskClient, session: Session, campaign: Campaign, builder: User
) -> None:
    prospect = new_prospect(session, campaign, builder)
    path = f"/prospects/{prospect.id}"
    sign_in(client, builder)
    response = post(
        client, f"{path}/time", {"time_minutes": "2000", "time_note": "Long call"}, path
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="time_minutes-error">enter whole minutes from 1 to 1440 (24 hours)<' in page
    assert 'value="2000"' in page
    assert 'value="Long call"' in page
    assert session.exec(select(TimeEntry)).all() == []


def test_the_prospect_page_shows_no_money_for_time(
    client: FlaskClient, session: Session, campaign: Campaign, builder: User
) -> None:
    builder.hourly_rate = RATE
    session.commit()
    prospect = new_prospect(session, campaign, builder)
    log_time(session, builder, campaign, TimeInput(minutes=60), NOW, prospect=prospect)
    sign_in(client, builder)
    page = text(client.get(f"/prospects/{prospect.id}"))
    assert '<strong class="time-logged">1 h</strong>' in page
    assert "87.65" not in page


# --- The team page --------------------------------------------------------------------------


def test_managers_set_hourly_rates_on_the_team_page(
    client: FlaskClient, session: Session, manager: User, builder: User
) -> None:
    sign_in(client, manager)
    assert 'href="/team/"' in text(client.get("/account"))
    page = text(client.get("/team/"))
    assert builder.email in page
    assert "builder" in page
    response = post(client, f"/team/{builder.id}/rate", {"hourly_rate": "45.50"}, "/team/")
    assert response.status_code == 302
    page = text(client.get("/team/"))
    assert "Hourly rate of Ben saved." in page
    assert f'id="hourly_rate-{builder.id}" name="hourly_rate"' in page
    assert 'value="45.50"' in page
    session.refresh(builder)
    assert builder.hourly_rate == Decimal("45.50")

    bad = post(client, f"/team/{builder.id}/rate", {"hourly_rate": "-5"}, "/team/")
    assert bad.status_code == 422
    assert 'value="-5"' in text(bad)
    assert f'id="hourly_rate-{builder.id}-error">enter 0 or more<' in text(bad)
    session.refresh(builder)
    assert builder.hourly_rate == Decimal("45.50")

    post(client, f"/team/{builder.id}/rate", {"hourly_rate": ""}, "/team/")
    session.refresh(builder)
    assert builder.hourly_rate is None
    assert post(client, "/team/9999/rate", {"hourly_rate": "1"}, "/team/").status_code == 404


def test_builders_cannot_open_the_team_page(
    client: FlaskClient, session: Session, manager: User, builder: User
) -> None:
    manager.hourly_rate = RATE
    session.commit()
    sign_in(client, builder)
    assert "/team/" not in text(client.get("/account"))
    assert client.get("/team/").status_code == 403
    token = csrf_token(client, "/account")
    data = {"hourly_rate": "999", "csrf_token": token}
    assert client.post(f"/team/{builder.id}/rate", data=data).status_code == 403
    session.refresh(builder)
    assert builder.hourly_rate is None


# --- A link's value override ----------------------------------------------------------------


@pytest.fixture
def placement(session: Session, campaign: Campaign, manager: User) -> Placement:
    prospect = new_prospect(session, campaign, manager)
    data = PlacementInput(page_url="https://blog.example/post", target="https://client.example/")
    return create_placement(session, prospect, data, manager, NOW)


def test_manager_sets_and_clears_a_value_override(
    client: FlaskClient, session: Session, placement: Placement, manager: User
) -> None:
    path = f"/placements/{placement.id}"
    sign_in(client, manager)
    assert 'id="value_override" name="value_override"' in text(client.get(path))
    response = post(client, f"{path}/value", {"value_override": "320"}, path)
    assert response.status_code == 302
    page = text(client.get(path))
    assert "This link&#39;s value is saved." in page
    assert 'value="320.00"' in page
    session.refresh(placement)
    assert placement.value_override == Decimal("320")

    bad = post(client, f"{path}/value", {"value_override": "1.234"}, path)
    assert bad.status_code == 422
    assert 'value="1.234"' in text(bad)
    assert 'id="value_override-error">use at most 2 decimals, e.g. 12.50<' in text(bad)

    post(client, f"{path}/value", {"value_override": ""}, path)
    session.refresh(placement)
    assert placement.value_override is None


def test_builders_neither_see_nor_set_a_value_override(
    client: FlaskClient, session: Session, placement: Placement, builder: User
) -> None:
    path = f"/placements/{placement.id}"
    sign_in(client, builder)
    assert "value_override" not in text(client.get(path))
    data = {"value_override": "5", "csrf_token": csrf_token(client, path)}
    assert client.post(f"{path}/value", data=data).status_code == 403
    session.refresh(placement)
    assert placement.value_override is None
