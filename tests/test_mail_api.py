"""/api/v1 for the mail engine: mailboxes, sequences, enrolment and a prospect's messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask import Flask

from outreach.auth.models import Role
from outreach.campaigns.models import Campaign
from outreach.clock import FixedClock
from outreach.mail.runner import mail_context, run_due
from tests.mailservers import SmtpSink

MAILBOX = {
    "email": "Maria@Client.example",
    "from_name": "Maria",
    "smtp_host": "127.0.0.1",
    "smtp_port": 2525,
    "smtp_security": "none",
    "smtp_username": "maria",
    "smtp_password": "hunter2-but-longer",
    "window_days": [1, 2, 3, 4, 5],
    "window_start": "09:00",
    "window_end": "17:00",
}


def test_mailboxes_never_show_passwords_and_explain_refusals(api_as, campaign: Campaign) -> None:
    api = api_as(Role.MANAGER)
    created = api.post("/api/v1/mailboxes", json={**MAILBOX, "campaign_ids": [campaign.id]})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["email"] == "maria@client.example"
    assert body["smtp_password_set"] is True
    assert body["imap_password_set"] is False
    assert body["campaign_ids"] == [campaign.id]
    assert "hunter2" not in created.get_data(as_text=True)
    assert "smtp_password" not in body

    listing = api.get(f"/api/v1/mailboxes?campaign_id={campaign.id}").json
    assert [m["email"] for m in listing["items"]] == ["maria@client.example"]

    again = api.post("/api/v1/mailboxes", json=MAILBOX)
    assert again.status_code == 422
    assert "already a mailbox" in again.json["error"]["fields"]["email"]
    backwards = api.post(
        "/api/v1/mailboxes",
        json={**MAILBOX, "email": "b@client.example", "window_start": "18:00"},
    )
    assert backwards.status_code == 422
    assert "start before it ends" in backwards.get_data(as_text=True)
    header_injection = api.post(
        "/api/v1/mailboxes",
        json={**MAILBOX, "email": "c@client.example", "from_name": "Maria\r\nBcc: x@evil.test"},
    )
    assert header_injection.status_code == 422
    assert header_injection.json["error"]["fields"]["from_name"] == "must be on one line"
    assert api_as(Role.BUILDER).post("/api/v1/mailboxes", json=MAILBOX).status_code == 403


def make_template(api, campaign_id: int | None, name: str) -> int:
    response = api.post(
        "/api/v1/templates",
        json={
            "name": name,
            "subject": "Hi {{ prospect.domain }}",
            "body": "Hello.",
            "campaign_id": campaign_id,
        },
    )
    assert response.status_code == 201
    return response.json["id"]


def test_sequences_enrol_and_messages(
    app: Flask, api_as, campaign: Campaign, smtp_sink: SmtpSink
) -> None:
    api = api_as(Role.MANAGER)
    api.post(
        "/api/v1/mailboxes",
        json={
            **MAILBOX,
            "smtp_port": smtp_sink.port,
            "smtp_username": "",
            "min_spacing_seconds": 0,
            "campaign_ids": [campaign.id],
        },
    )
    first = make_template(api, campaign.id, "Pitch")
    second = make_template(api, None, "Nudge")
    created = api.post(
        "/api/v1/sequences",
        json={
            "campaign_id": campaign.id,
            "name": "Pitch and nudge",
            "steps": [
                {"delay_days": 0, "template_id": first},
                {"delay_days": 3, "template_id": second},
            ],
        },
    )
    assert created.status_code == 201, created.json
    sequence = created.json
    assert [(s["position"], s["delay_days"]) for s in sequence["steps"]] == [(1, 0), (2, 3)]
    assert api.get(f"/api/v1/sequences?campaign_id={campaign.id}").json["total"] == 1

    foreign = api.post(
        "/api/v1/sequences",
        json={"campaign_id": campaign.id, "name": "x", "steps": [{"template_id": 9999}]},
    )
    assert foreign.status_code == 422
    assert "Step 1: there is no template 9999" in foreign.json["error"]["message"]
    empty = api.post(
        "/api/v1/sequences", json={"campaign_id": campaign.id, "name": "x", "steps": []}
    )
    assert empty.status_code == 422

    reachable = api.post(
        f"/api/v1/campaigns/{campaign.id}/prospects",
        json={"domain": "blog.example", "contact": {"email": "ed@blog.example"}},
    ).json["id"]
    no_email = api.post(
        f"/api/v1/campaigns/{campaign.id}/prospects", json={"domain": "quiet.example"}
    ).json["id"]
    monday_morning = datetime(2026, 11, 23, 10, tzinfo=UTC)
    app.extensions["outreach"] = replace(
        app.extensions["outreach"], clock=FixedClock(monday_morning)
    )
    enrolled = api.post(
        f"/api/v1/sequences/{sequence['id']}/enrol",
        json={"prospect_ids": [reachable, no_email, 424242]},
    )
    assert enrolled.status_code == 200
    assert enrolled.json["enrolled"] == [reachable]
    assert enrolled.json["skipped"] == [
        {"prospect_id": no_email, "reason": "no contact with a usable email address"},
        {"prospect_id": 424242, "reason": "not a prospect of this campaign"},
    ]
    twice = api.post(
        f"/api/v1/sequences/{sequence['id']}/enrol", json={"prospect_ids": [reachable]}
    )
    assert twice.json["skipped"] == [
        {"prospect_id": reachable, "reason": "already in sequence Pitch and nudge"}
    ]

    run_due(
        app.extensions["outreach"].engine, mail_context(app), datetime(2026, 11, 23, 10, tzinfo=UTC)
    )
    messages = api.get(f"/api/v1/prospects/{reachable}/messages").json
    assert messages["total"] == 1
    [sent] = messages["items"]
    assert (sent["direction"], sent["status"], sent["to_address"]) == (
        "outbound",
        "sent",
        "ed@blog.example",
    )
    assert sent["subject"] == "Hi blog.example"
    assert smtp_sink.wait_for(1)[0].message["Message-ID"] == sent["message_id"]
    assert api.get("/api/v1/prospects/999999/messages").status_code == 404
    assert api.post("/api/v1/sequences/999999/enrol", json={"prospect_ids": [1]}).status_code == 404
