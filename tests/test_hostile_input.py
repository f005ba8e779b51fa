"""Hostile input: markup in every user-written field is shown escaped on every page, email
templates cannot reach out of their sandbox, header fields cannot smuggle in CR/LF, and odd
numbers and NUL characters in URLs and forms get a 4xx instead of a server error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.auth.services import issue_api_token
from outreach.mail.compose import build_email
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus
from outreach.mail.templating import TemplateError, render_email
from tests.conftest import ApiClient, csrf_token, sign_in

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
RAW = ("<script>alert(1)", "<img src=x")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def hostile(label: str) -> str:
    return f"{label} {XSS}"


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name=hostile("Admin"))


@pytest.fixture
def api(app: Flask, session: Session, admin: User) -> ApiClient:
    return ApiClient(app.test_client(), issue_api_token(session, admin))


def created(api: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code in (200, 201), (path, response.get_json())
    return response.get_json()


@pytest.fixture
def world(api: ApiClient, session: Session, client: FlaskClient, admin: User) -> dict[str, int]:
    """A campaign, prospect, contact, asset, placement, template, mailbox, sequence, cost,
    note and received email, each with markup in every text it has."""
    campaign = created(
        api,
        "/api/v1/campaigns",
        {
            "name": hostile("Campaign"),
            "kind": "guest_post",
            "client_url": "https://client.example/",
            "goal": hostile("Goal"),
        },
    )["id"]
    asset = created(
        api,
        f"/api/v1/campaigns/{campaign}/assets",
        {"title": hostile("Asset"), "url": "https://client.example/guide"},
    )["id"]
    prospect = created(
        api,
        f"/api/v1/campaigns/{campaign}/prospects",
        {
            "domain": "blog.example",
            "notes": hostile("Notes"),
            "tags": [hostile("tag")],
            "custom_fields": {"topic": hostile("Topic")},
            "asset_id": asset,
            "owner_id": admin.id,
            "contact": {
                "first_name": hostile("Anna"),
                "last_name": hostile("Last"),
                "role": hostile("Editor"),
                "email": "anna@blog.example",
            },
        },
    )["id"]
    placement = created(
        api,
        f"/api/v1/prospects/{prospect}/placements",
        {
            "page_url": "http://127.0.0.1:9/post",
            "target": "https://client.example/guide",
            "expected_anchor": hostile("Anchor"),
            "cost": 10,
        },
    )["id"]
    template = created(
        api,
        "/api/v1/templates",
        {"name": hostile("Template"), "subject": hostile("Subject"), "body": hostile("Body")},
    )["id"]
    mailbox = created(
        api,
        "/api/v1/mailboxes",
        {
            "email": "maria@client.example",
            "from_name": hostile("Maria"),
            "signature": hostile("Signature"),
            "smtp_host": "127.0.0.1",
            "campaign_ids": [campaign],
        },
    )["id"]
    sequence = created(
        api,
        "/api/v1/sequences",
        {
            "campaign_id": campaign,
            "name": hostile("Sequence"),
            "steps": [{"template_id": template}],
        },
    )["id"]
    created(
        api,
        f"/api/v1/campaigns/{campaign}/costs",
        {"kind": "fee", "amount": 5, "incurred_on": "2026-11-01", "note": hostile("Cost")},
    )
    created(api, f"/api/v1/prospects/{prospect}/time", {"minutes": 30, "note": hostile("Time")})
    session.add(
        Message(
            direction=Direction.INBOUND,
            status=MessageStatus.RECEIVED,
            inbound_kind=InboundKind.REPLY,
            message_id="<reply@blog.example>",
            prospect_id=prospect,
            mailbox_id=mailbox,
            from_address="anna@blog.example",
            to_address="maria@client.example",
            subject=hostile("Reply"),
            body_text=hostile("Reply body"),
            received_at=datetime(2026, 11, 20, tzinfo=UTC),
        )
    )
    session.commit()
    sign_in(client, admin)
    note = client.post(
        f"/prospects/{prospect}/notes",
        data={"note": hostile("Note"), "csrf_token": csrf_token(client, "/account")},
    )
    assert note.status_code == 302
    return {
        "campaign": campaign,
        "prospect": prospect,
        "placement": placement,
        "template": template,
        "mailbox": mailbox,
        "sequence": sequence,
    }


def pages(ids: dict[str, int]) -> list[str]:
    campaign, prospect = ids["campaign"], ids["prospect"]
    return [
        "/campaigns/",
        f"/campaigns/{campaign}",
        f"/campaigns/{campaign}/edit",
        f"/campaigns/{campaign}/costs",
        f"/campaigns/{campaign}/board",
        f"/campaigns/{campaign}/report",
        f"/campaigns/{campaign}/ledger",
        f"/campaigns/{campaign}/sequences/",
        f"/campaigns/{campaign}/sequences/{ids['sequence']}",
        f"/campaigns/{campaign}/prospects/new",
        "/prospects/",
        f"/prospects/?campaign={campaign}",
        f"/prospects/{prospect}",
        f"/placements/{ids['placement']}",
        "/links/",
        "/inbox/",
        "/templates/",
        f"/templates/{ids['template']}",
        "/mailboxes/",
        f"/mailboxes/{ids['mailbox']}",
        "/reports/",
        "/team/",
        "/account",
        "/admin/",
    ]


def test_markup_in_every_field_is_shown_escaped_on_every_page(
    client: FlaskClient, world: dict[str, int]
) -> None:
    for path in pages(world):
        response = client.get(path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        for raw in RAW:
            assert raw not in text, f"{path} shows {raw!r} unescaped"
        assert ESCAPED in text, f"{path} shows none of the hostile values (escaped or not)"


def test_markup_in_a_search_or_a_flash_is_escaped(
    client: FlaskClient, world: dict[str, int]
) -> None:
    response = client.get("/prospects/", query_string={"q": XSS, "tag": XSS})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not any(raw in text for raw in RAW)
    response = client.get("/links/", query_string={"tab": XSS})
    assert response.status_code == 404
    assert not any(raw in response.get_data(as_text=True) for raw in RAW)


# --- Template sandbox -----------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ config }}",
    "{{ request.environ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ contact.__class__ }}",
    "{{ contact['__class__'] }}",
    "{{ contact | attr('__class__') }}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{{ contact.items() }}",
    "{% include 'base.html' %}",
    "{% import 'base.html' as b %}",
    "{% extends 'base.html' %}",
    "{{ contact._name }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_refused_on_save_and_at_render(api: ApiClient, source: str) -> None:
    response = api.post("/api/v1/templates", json={"name": "x", "subject": "Hi", "body": source})
    assert response.status_code == 422, source
    message = response.get_json()["error"]["fields"]["body"]
    assert message.startswith("Body: "), message
    with pytest.raises(TemplateError, match=r"^Body: "):
        render_email("Hi", source, {"contact": {"first_name": "Anna"}})


def test_sandbox_escapes_are_refused_by_the_template_form_and_preview(
    client: FlaskClient, login: Callable[[Role], User]
) -> None:
    login(Role.BUILDER)
    token = csrf_token(client, "/templates/new")
    source = "{{ ''.__class__.__mro__ }}"
    saved = client.post(
        "/templates/new", data={"name": "x", "subject": "Hi", "body": source, "csrf_token": token}
    )
    assert saved.status_code == 422
    assert "only merge fields such as" in saved.get_data(as_text=True)
    preview = client.post(
        "/templates/preview", data={"subject": "Hi", "body": source, "csrf_token": token}
    )
    assert preview.status_code < 500
    assert "&lt;class" not in preview.get_data(as_text=True)


def test_merge_fields_and_filters_still_work() -> None:
    data = {"contact": {"first_name": "anna"}, "custom": {"topic": "gardens"}}
    body = (
        "{{ contact.first_name | title }} on {{ custom['topic'] }}{{ contact.role | default('') }}"
    )
    assert render_email("Hi", body, data).body == "Anna on gardens"


# --- CR/LF in headers -----------------------------------------------------------------------

INJECTED = "x\r\nBcc: victim@evil.test"


def test_line_breaks_in_mailbox_header_fields_are_refused(api: ApiClient) -> None:
    base = {"email": "maria@client.example", "smtp_host": "127.0.0.1"}
    for field in ("from_name", "smtp_host", "smtp_username"):
        response = api.post("/api/v1/mailboxes", json={**base, field: INJECTED})
        assert response.status_code == 422, field
        assert response.get_json()["error"]["fields"][field] == "must be on one line"
    response = api.post(
        "/api/v1/mailboxes", json={**base, "email": f"maria@client.example{INJECTED}"}
    )
    assert "email" in response.get_json()["error"]["fields"]


def test_line_breaks_in_a_contact_address_are_refused(api: ApiClient) -> None:
    campaign = created(
        api,
        "/api/v1/campaigns",
        {"name": "C", "kind": "guest_post", "client_url": "https://client.example/"},
    )["id"]
    response = api.post(
        f"/api/v1/campaigns/{campaign}/prospects",
        json={"domain": "blog.example", "contact": {"email": f"anna@blog.example{INJECTED}"}},
    )
    assert response.status_code == 422
    assert "contact.email" in response.get_json()["error"]["fields"]


def test_a_subject_is_one_line_whatever_the_template_or_merge_data_hold(api: ApiClient) -> None:
    saved = created(
        api, "/api/v1/templates", {"name": "n\r\nx", "subject": f"Hi{INJECTED}", "body": "b"}
    )
    assert saved["subject"] == "Hix Bcc: victim@evil.test"
    rendered = render_email(
        "Hi {{ contact.first_name }}", "b", {"contact": {"first_name": f"Anna{INJECTED}"}}
    )
    assert rendered.subject == "Hi Annax Bcc: victim@evil.test"


@pytest.mark.parametrize("field", ["subject", "from_name", "to_address", "in_reply_to"])
def test_the_composed_email_refuses_line_breaks_in_any_header(field: str) -> None:
    fields: dict[str, Any] = {
        "message_id": "<1@client.example>",
        "from_name": "Maria",
        "from_address": "maria@client.example",
        "to_address": "anna@blog.example",
        "subject": "Hi",
        "body": "Hello",
        "in_reply_to": "<0@client.example>",
        "references": "<0@client.example>",
        "unsubscribe_url": "http://127.0.0.1:5000/unsubscribe/t",
        "unsubscribe_mailto": "mailto:maria@client.example",
        "date": datetime(2026, 11, 20, tzinfo=UTC),
    }
    build_email(**fields)
    with pytest.raises(ValueError, match=r"CR or LF|linefeed or carriage return"):
        build_email(**{**fields, field: fields[field] + INJECTED})


# --- Odd numbers and NUL characters ---------------------------------------------------------

HUGE = "9" * 30


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/campaigns/{HUGE}", 404),
        (f"/prospects/{HUGE}", 404),
        (f"/prospects/?campaign={HUGE}", 404),
        ("/prospects/?campaign=%C2%B2", 400),
        (f"/links/?campaign={HUGE}", 404),
        (f"/inbox/?page={HUGE}", 200),
        (f"/campaigns/?page={HUGE}", 200),
        (f"/links/?page={HUGE}", 200),
        (f"/prospects/?page={HUGE}", 200),
        ("/prospects/?q=%00", 400),
    ],
)
def test_odd_numbers_and_nul_characters_in_pages_are_no_server_error(
    client: FlaskClient, login: Callable[[Role], User], path: str, status: int
) -> None:
    login(Role.ADMIN)
    assert client.get(path).status_code == status


def test_nul_characters_in_a_form_or_an_api_body_are_refused(
    client: FlaskClient, api: ApiClient, admin: User
) -> None:
    response = api.post("/api/v1/templates", json={"name": "a\x00b", "subject": "s", "body": "b"})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["name"]
    response = api.get(f"/api/v1/campaigns/{HUGE}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    sign_in(client, admin)
    response = client.post(
        "/templates/new",
        data={
            "name": "a\x00b",
            "subject": "s",
            "body": "b",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
