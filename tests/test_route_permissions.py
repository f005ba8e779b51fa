"""Every route of the app is classified by who may use it, and the classification is held
against the app: signed-out visitors are sent to the login page (pages) or answered 401 (API),
builders get 403 where a manager or admin is needed, and builders do not see money figures or
other people's rates."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session
from werkzeug.routing import Rule

from outreach.auth.models import Role, User
from outreach.auth.services import issue_api_token
from outreach.mail.unsubscribe import unsubscribe_token
from outreach.prospects.models import ImportStatus, ProspectImport
from tests.conftest import ApiClient, csrf_token, sign_in
from tests.test_api_fuzz import seed

# Who may use an endpoint. API endpoints take a bearer token instead of the sign-in cookie.
PUBLIC = "anyone, signed in or not"
SIGNED_IN = "any signed-in user (or API token)"
MANAGERS = "managers and admins"
ADMINS = "admins only"
TEAM = "managers, admins, and builders who own the campaign or one of its prospects"

ACCESS: dict[str, str] = {
    # Public: signing in, probes, assets, and the unsubscribe page recipients open from emails.
    "auth.login": PUBLIC,
    "web.healthz": PUBLIC,
    "web.readyz": PUBLIC,
    "static": PUBLIC,
    "unsubscribe.confirm": PUBLIC,
    "unsubscribe.one_click": PUBLIC,
    # Pages.
    "web.index": SIGNED_IN,
    "auth.account": SIGNED_IN,
    "auth.logout": SIGNED_IN,
    "auth.team": MANAGERS,
    "auth.set_rate": MANAGERS,
    "ops.index": ADMINS,
    "campaigns.index": SIGNED_IN,
    "campaigns.show": SIGNED_IN,
    "campaigns.new": MANAGERS,
    "campaigns.edit": MANAGERS,
    "campaigns.new_asset": SIGNED_IN,
    "campaigns.costs": SIGNED_IN,
    "campaigns.new_cost": MANAGERS,
    "campaigns.remove_cost": MANAGERS,
    "campaigns.value_model": MANAGERS,
    "campaigns.reset_model": MANAGERS,
    "imports.new": SIGNED_IN,
    "imports.mapping": SIGNED_IN,
    "imports.show": SIGNED_IN,
    "imports.progress": SIGNED_IN,
    "imports.rejected": SIGNED_IN,
    "inbox.index": SIGNED_IN,
    "inbox.handled": SIGNED_IN,
    "links.index": SIGNED_IN,
    "links.show": SIGNED_IN,
    "links.new_placement": SIGNED_IN,
    "links.check": SIGNED_IN,
    "links.toxic": SIGNED_IN,
    "links.reclaim": SIGNED_IN,
    "links.value_override": MANAGERS,
    "links.ledger": SIGNED_IN,
    "links.ledger_csv": SIGNED_IN,
    "links.disavow": SIGNED_IN,
    "mailboxes.index": SIGNED_IN,
    "mailboxes.new": MANAGERS,
    "mailboxes.edit": MANAGERS,
    "mailboxes.test_email": MANAGERS,
    "prospects.index": SIGNED_IN,
    "prospects.bulk": SIGNED_IN,
    "prospects.export": SIGNED_IN,
    "prospects.new": SIGNED_IN,
    "prospects.domain_check": SIGNED_IN,
    "prospects.board": SIGNED_IN,
    "prospects.change_stage": SIGNED_IN,
    "prospects.show": SIGNED_IN,
    "prospects.edit": SIGNED_IN,
    "prospects.new_contact": SIGNED_IN,
    "prospects.new_note": SIGNED_IN,
    "prospects.new_time": SIGNED_IN,
    "reports.portfolio": SIGNED_IN,
    "reports.campaign": TEAM,
    "reports.campaign_csv": TEAM,
    "sequences.index": SIGNED_IN,
    "sequences.new": SIGNED_IN,
    "sequences.edit": SIGNED_IN,
    "sequences.enrol_prospect": SIGNED_IN,
    "sequences.stop": SIGNED_IN,
    "templates.index": SIGNED_IN,
    "templates.new": SIGNED_IN,
    "templates.edit": SIGNED_IN,
    "templates.preview": SIGNED_IN,
    # API.
    "api_docs.openapi_document": SIGNED_IN,
    "api.me": SIGNED_IN,
    "campaigns_api.list_": SIGNED_IN,
    "campaigns_api.get": SIGNED_IN,
    "campaigns_api.create": MANAGERS,
    "campaigns_api.patch": MANAGERS,
    "campaigns_api.list_assets": SIGNED_IN,
    "campaigns_api.create_asset": SIGNED_IN,
    "costs_api.list_": SIGNED_IN,
    "costs_api.create": MANAGERS,
    "costs_api.delete": MANAGERS,
    "costs_api.create_time": SIGNED_IN,
    "costs_api.get_value_model": SIGNED_IN,
    "costs_api.put_value_model": MANAGERS,
    "links_api.list_": SIGNED_IN,
    "links_api.get": SIGNED_IN,
    "links_api.create": SIGNED_IN,
    "links_api.check": SIGNED_IN,
    "mail_api.list_": SIGNED_IN,
    "mail_api.create": SIGNED_IN,
    "mail_api.list_mailboxes_": SIGNED_IN,
    "mail_api.create_mailbox_": MANAGERS,
    "mail_api.list_sequences_": SIGNED_IN,
    "mail_api.get_sequence_": SIGNED_IN,
    "mail_api.create_sequence_": SIGNED_IN,
    "mail_api.update_sequence_": SIGNED_IN,
    "mail_api.enrol_": SIGNED_IN,
    "mail_api.prospect_messages": SIGNED_IN,
    "prospects_api.list_": SIGNED_IN,
    "prospects_api.get": SIGNED_IN,
    "prospects_api.create": SIGNED_IN,
    "prospects_api.patch": SIGNED_IN,
    "prospects_api.delete": SIGNED_IN,
    "prospects_api.create_contact": SIGNED_IN,
    "prospects_api.import_csv": SIGNED_IN,
    "reports_api.report": TEAM,
    "reports_api.portfolio_report": SIGNED_IN,
}

HOW_TO_CLASSIFY = (
    "Add every new endpoint to ACCESS in tests/test_route_permissions.py with who may use it: "
    "PUBLIC (no sign-in: add it to outreach.auth.views.PUBLIC_ENDPOINTS too), SIGNED_IN, "
    "MANAGERS (@roles_required(*MANAGERS) on pages, @require_role on the API), ADMINS, or TEAM "
    "(checked with outreach.reports.access.may_see_campaign). Remove endpoints that are gone."
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LOGIN_REDIRECT = re.compile(r"^/login\?next=")


def is_api(app: Flask, rule: Rule) -> bool:
    return rule.endpoint.partition(".")[0] in app.extensions["api_blueprints"]


def methods(rule: Rule) -> list[str]:
    return [method for method in METHODS if method in rule.methods]


def test_every_endpoint_is_classified(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    unclassified = sorted(endpoints - set(ACCESS))
    gone = sorted(set(ACCESS) - endpoints)
    assert not unclassified, f"unclassified endpoints: {unclassified}. {HOW_TO_CLASSIFY}"
    assert not gone, f"classified endpoints that are gone: {gone}. {HOW_TO_CLASSIFY}"


def test_the_public_endpoints_are_the_ones_the_login_check_lets_through() -> None:
    from outreach.auth.views import PUBLIC_ENDPOINTS

    assert {name for name, who in ACCESS.items() if who == PUBLIC} == PUBLIC_ENDPOINTS


# --- Signed out -----------------------------------------------------------------------------


@pytest.fixture
def world(app: Flask, session: Session, make_user: Callable[..., User]) -> dict[str, Any]:
    """Two campaigns with one of everything; the builder works in the second only."""
    admin = make_user(Role.ADMIN)
    api = ApiClient(app.test_client(), issue_api_token(session, admin))
    ids = seed(api)
    builder = make_user(Role.BUILDER)
    theirs = api.post(
        "/api/v1/campaigns",
        json={"name": "Theirs", "kind": "resource_page", "client_url": "https://other.example/"},
    ).get_json()["id"]
    owned = api.post(
        f"/api/v1/campaigns/{theirs}/prospects",
        json={"domain": "mine.example", "owner_id": builder.id},
    )
    assert owned.status_code == 201, owned.get_json()
    upload = ProspectImport(
        campaign_id=ids["campaign_id"], filename="list.csv", status=ImportStatus.DONE
    )
    session.add(upload)
    session.commit()
    template_id = api.get("/api/v1/templates").get_json()["items"][0]["id"]
    mailbox_id = api.get("/api/v1/mailboxes").get_json()["items"][0]["id"]
    values = {
        **ids,
        "user_id": builder.id,
        "import_id": upload.id,
        "template_id": template_id,
        "mailbox_id": mailbox_id,
        # Ids nothing is checked against before the permission check.
        "message_id": 1,
        "enrolment_id": 1,
        "token": unsubscribe_token(app.config["SECRET_KEY"], "anna@blog.example"),
        "filename": "css/app.css",
    }
    return {"values": values, "builder": builder, "team_campaign": theirs, "admin": admin}


def url_for_rule(rule: Rule, values: dict[str, Any]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:\w+:)?{name}>", str(values[name]), path)
    return path


def every_call(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        for method in methods(rule):
            yield rule, method


def call(client: FlaskClient, method: str, path: str, csrf: str, **kwargs: Any) -> Any:
    data = {"csrf_token": csrf} if method != "GET" else None
    return client.open(path, method=method, data=data, **kwargs)


def test_signed_out_visitors_reach_only_the_public_endpoints(
    app: Flask, client: FlaskClient, world: dict[str, Any]
) -> None:
    csrf = csrf_token(client, "/login")
    checked = 0
    for rule, method in every_call(app):
        if ACCESS[rule.endpoint] == PUBLIC:
            continue
        path = url_for_rule(rule, world["values"])
        response = call(client, method, path, csrf)
        label = f"{method} {path} ({rule.endpoint})"
        if is_api(app, rule):
            assert response.status_code == 401, label
            assert response.get_json()["error"]["code"] == "unauthorized", label
        else:
            assert response.status_code == 302, label
            assert LOGIN_REDIRECT.match(response.headers["Location"]), label
        checked += 1
    assert checked > 100


def test_public_endpoints_answer_signed_out_visitors(
    app: Flask, client: FlaskClient, world: dict[str, Any]
) -> None:
    csrf = csrf_token(client, "/login")
    for rule, method in every_call(app):
        if ACCESS[rule.endpoint] != PUBLIC:
            continue
        path = url_for_rule(rule, world["values"])
        if method == "POST" and rule.endpoint == "auth.login":
            continue
        response = call(client, method, path, csrf)
        assert response.status_code in (200, 503), f"{method} {path}: {response.status_code}"


def test_an_invalid_token_or_a_session_cookie_does_not_open_the_api(
    app: Flask, client: FlaskClient, world: dict[str, Any]
) -> None:
    """The API takes bearer tokens only: a signed-in browser cannot be made to call it (CSRF)."""
    sign_in(client, world["admin"])
    for rule, method in every_call(app):
        if not is_api(app, rule) or rule.endpoint == "api_docs.openapi_document":
            continue
        path = url_for_rule(rule, world["values"])
        assert client.open(path, method=method).status_code == 401, f"{method} {path}"
        wrong = client.open(path, method=method, headers={"Authorization": "Bearer otr_nope"})
        assert wrong.status_code == 401, f"{method} {path}"


# --- Roles ----------------------------------------------------------------------------------


# The API checks the body before the role: a manager's endpoint is tried with a body it takes.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "campaigns_api.create": {
        "name": "Mine",
        "kind": "guest_post",
        "client_url": "https://client.example/",
    },
    "costs_api.create": {"kind": "fee", "amount": 10, "incurred_on": "2026-11-01"},
    "mail_api.create_mailbox_": {"email": "me@client.example", "smtp_host": "127.0.0.1"},
}


def assert_refused(app: Flask, rule: Rule, response: Any, label: str) -> None:
    assert response.status_code == 403, f"{label}: {response.status_code}"
    if is_api(app, rule):
        assert response.get_json()["error"]["code"] == "forbidden", label


def test_builders_are_refused_what_needs_a_manager_or_admin(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    builder = world["builder"]
    pages = app.test_client()
    sign_in(pages, builder)
    csrf = csrf_token(pages, "/account")
    token = {"Authorization": f"Bearer {issue_api_token(session, builder)}"}
    refused = 0
    for rule, method in every_call(app):
        if ACCESS[rule.endpoint] not in (MANAGERS, ADMINS, TEAM):
            continue
        # TEAM endpoints are refused for a campaign the builder has no part in (the seeded one).
        path = url_for_rule(rule, world["values"])
        label = f"builder {method} {path} ({rule.endpoint})"
        if is_api(app, rule):
            body = VALID_BODIES.get(rule.endpoint, {})
            response = pages.open(path, method=method, headers=token, json=body)
        else:
            response = call(pages, method, path, csrf)
        assert_refused(app, rule, response, label)
        refused += 1
    assert refused >= 25


def test_managers_are_refused_the_admin_pages(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in(client, make_user(Role.MANAGER))
    for rule, method in every_call(app):
        if ACCESS[rule.endpoint] == ADMINS:
            path = url_for_rule(rule, world["values"])
            assert_refused(app, rule, call(client, method, path, ""), f"manager {method} {path}")
    admin = app.test_client()
    sign_in(admin, world["admin"])
    assert admin.get("/admin/").status_code == 200


def test_builders_open_every_page_meant_for_them(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    """The other side of the table: SIGNED_IN pages and their own campaign's TEAM pages open."""
    builder = world["builder"]
    client = app.test_client()
    sign_in(client, builder)
    token = {"Authorization": f"Bearer {issue_api_token(session, builder)}"}
    team_values = {**world["values"], "campaign_id": world["team_campaign"]}
    opened = 0
    for rule, method in every_call(app):
        who = ACCESS[rule.endpoint]
        if method != "GET" or who not in (SIGNED_IN, TEAM) or rule.endpoint == "auth.logout":
            continue
        path = url_for_rule(rule, team_values if who == TEAM else world["values"])
        response = client.get(path, headers=token if is_api(app, rule) else {})
        label = f"builder GET {path}: {response.status_code}"
        if response.status_code == 302:
            assert not LOGIN_REDIRECT.match(response.headers["Location"]), label
        else:
            assert response.status_code == 200, label
        opened += 1
    assert opened >= 40


# --- Money and other people's data ----------------------------------------------------------

RATE = Decimal("87.25")


@pytest.fixture
def priced(app: Flask, session: Session, world: dict[str, Any]) -> dict[str, Any]:
    """A manager with an hourly rate who logged two hours in the builder's campaign, and a
    placement with a price in it."""
    manager = session.get(User, world["admin"].id)
    manager.hourly_rate = RATE
    session.commit()
    api = ApiClient(app.test_client(), issue_api_token(session, manager))
    campaign = world["team_campaign"]
    prospect = api.get(f"/api/v1/campaigns/{campaign}/prospects").get_json()["items"][0]["id"]
    logged = api.post(f"/api/v1/prospects/{prospect}/time", json={"minutes": 120})
    assert logged.status_code == 201, logged.get_json()
    placed = api.post(
        f"/api/v1/prospects/{prospect}/placements",
        json={
            "page_url": "http://127.0.0.1:9/resources",
            "target": "https://other.example/",
            "cost": 4321.5,
        },
    )
    assert placed.status_code == 201, placed.get_json()
    return {
        "campaign": campaign,
        "prospect": prospect,
        "placement": placed.get_json()["id"],
        "manager": manager,
    }


def page_texts(client: FlaskClient, campaign: int, prospect: int, placement: int) -> dict[str, str]:
    paths = [
        f"/placements/{placement}",
        f"/campaigns/{campaign}/costs",
        f"/campaigns/{campaign}/report",
        f"/campaigns/{campaign}/report.csv",
        f"/campaigns/{campaign}/ledger",
        f"/campaigns/{campaign}/ledger.csv",
        f"/prospects/{prospect}",
    ]
    texts = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        texts[path] = response.get_data(as_text=True)
    return texts


def test_builders_see_no_rate_no_time_cost_and_no_link_price(
    app: Flask, priced: dict[str, Any], world: dict[str, Any]
) -> None:
    campaign, prospect, placement = priced["campaign"], priced["prospect"], priced["placement"]
    manager = app.test_client()
    sign_in(manager, priced["manager"])
    builder = app.test_client()
    sign_in(builder, world["builder"])
    seen = page_texts(manager, campaign, prospect, placement)
    hidden = page_texts(builder, campaign, prospect, placement)
    # Two hours at 87.25 cost 174.50; the placement's price is 4,321.50.
    assert "87.25" in seen[f"/campaigns/{campaign}/costs"]
    assert "174.50" in seen[f"/campaigns/{campaign}/costs"]
    assert "4,321.50" in seen[f"/placements/{placement}"]
    for path, text in hidden.items():
        for figure in ("87.25", "174.5", "4,321.5", "4321.5"):
            assert figure not in text, f"a builder sees {figure} on {path}"


def test_builders_get_no_rate_or_time_cost_from_the_api(
    app: Flask, session: Session, priced: dict[str, Any], world: dict[str, Any]
) -> None:
    campaign = priced["campaign"]
    builder = ApiClient(app.test_client(), issue_api_token(session, world["builder"]))
    costs = builder.get(f"/api/v1/campaigns/{campaign}/costs").get_json()
    assert [row["cost"] for row in costs["time"]] == [None]
    assert (costs["totals"]["time_cost"], costs["totals"]["spent"]) == (None, None)
    report = builder.get(f"/api/v1/campaigns/{campaign}/report").get_json()
    assert all(row["cost"] is None for row in report["builders"])
    manager = ApiClient(app.test_client(), issue_api_token(session, priced["manager"]))
    costs = manager.get(f"/api/v1/campaigns/{campaign}/costs").get_json()
    assert [row["cost"] for row in costs["time"]] == [174.5]


def test_builders_see_only_their_campaigns_in_reports(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    builder = ApiClient(app.test_client(), issue_api_token(session, world["builder"]))
    names = [
        row["name"] for row in builder.get("/api/v1/reports/portfolio").get_json()["campaigns"]
    ]
    assert names == ["Theirs"]
    pages = app.test_client()
    sign_in(pages, world["builder"])
    portfolio = pages.get("/reports/").get_data(as_text=True)
    assert "Theirs" in portfolio
    assert "Guides" not in portfolio
    other = world["values"]["campaign_id"]
    assert pages.get(f"/campaigns/{other}/report").status_code == 403
    assert builder.get(f"/api/v1/campaigns/{other}/report").status_code == 403


def test_the_team_page_with_everyones_rate_is_for_managers(
    app: Flask, client: FlaskClient, priced: dict[str, Any], world: dict[str, Any]
) -> None:
    sign_in(client, priced["manager"])
    assert "87.25" in client.get("/team/").get_data(as_text=True)
    builder = app.test_client()
    sign_in(builder, world["builder"])
    assert builder.get("/team/").status_code == 403
    assert "87.25" not in builder.get("/account").get_data(as_text=True)
