"""Campaigns in the browser: list, create, edit, and forms that keep what was typed."""

from sqlmodel import select

from outreach.activity.models import Activity
from outreach.auth.models import Role
from outreach.campaigns.models import Campaign
from tests.conftest import csrf_token, sign_in

FORM = {
    "name": "Local citations Berlin",
    "kind": "local_citation",
    "client_url": "greenbalcony.example",
    "goal": "30 citations",
    "target_links": "30",
    "budget": "750.00",
    "starts_on": "2026-12-01",
    "ends_on": "2027-02-28",
    "status": "active",
    "timezone": "Europe/Berlin",
}


def post_form(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_manager_creates_a_campaign_and_sees_it(client, session, login):
    manager = login(Role.MANAGER)
    response = post_form(client, "/campaigns/new", FORM)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert "Campaign Local citations Berlin created." in text
    assert "Local directory / citation" in text
    assert "USD 750.00" in text
    campaign = session.exec(select(Campaign)).one()
    assert campaign.client_url == "https://greenbalcony.example/"
    assert campaign.owner_id == manager.id
    assert campaign.timezone == "Europe/Berlin"
    listing = client.get("/campaigns/").get_data(as_text=True)
    assert "Local citations Berlin" in listing
    kinds = session.exec(select(Activity.kind).where(Activity.campaign_id == campaign.id)).all()
    assert kinds == ["campaign.created"]


def test_invalid_form_keeps_every_value_and_marks_fields(client, session, login):
    login(Role.MANAGER)
    bad = {**FORM, "name": "", "client_url": "not a site", "ends_on": "2026-01-01"}
    response = post_form(client, "/campaigns/new", bad)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "nothing was saved yet" in text
    assert 'value="not a site"' in text
    assert 'value="30 citations"' not in text  # goal is a textarea
    assert ">30 citations</textarea>" in text
    assert 'value="750.00"' in text
    assert 'value="Europe/Berlin"' in text
    assert '<option value="local_citation" selected>' in text
    assert 'id="name-error"' in text
    assert 'id="client_url-error"' in text
    assert "the end date is before the start date" in text
    assert text.count('aria-invalid="true"') == 3
    assert session.exec(select(Campaign)).all() == []


def test_edit_changes_the_campaign_and_logs_it(client, session, login):
    login(Role.MANAGER)
    post_form(client, "/campaigns/new", FORM)
    campaign = session.exec(select(Campaign)).one()
    form = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="Local citations Berlin"' in form
    assert 'value="2027-02-28"' in form
    response = post_form(
        client, f"/campaigns/{campaign.id}/edit", {**FORM, "status": "paused", "budget": ""}
    )
    assert response.status_code == 302
    session.refresh(campaign)
    assert campaign.status == "paused"
    assert campaign.budget is None
    summaries = session.exec(
        select(Activity.summary).where(Activity.kind == "campaign.updated")
    ).all()
    assert summaries == ["Campaign Local citations Berlin updated: budget, status"]


def test_edit_with_errors_saves_nothing(client, session, login):
    login(Role.MANAGER)
    post_form(client, "/campaigns/new", FORM)
    campaign = session.exec(select(Campaign)).one()
    response = post_form(
        client, f"/campaigns/{campaign.id}/edit", {**FORM, "name": "New name", "budget": "-1"}
    )
    assert response.status_code == 422
    assert 'value="New name"' in response.get_data(as_text=True)
    session.refresh(campaign)
    assert campaign.name == "Local citations Berlin"


def test_builder_sees_campaigns_without_edit_controls(app, client, login, make_user):
    manager = app.test_client()
    sign_in(manager, make_user(Role.MANAGER))
    post_form(manager, "/campaigns/new", FORM)
    login(Role.BUILDER)
    listing = client.get("/campaigns/").get_data(as_text=True)
    assert "Local citations Berlin" in listing
    assert "New campaign" not in listing
    overview = client.get("/campaigns/1").get_data(as_text=True)
    assert "Edit campaign" not in overview
    assert client.get("/campaigns/1/edit").status_code == 403
    token = csrf_token(client, "/account")
    assert client.post("/campaigns/new", data={**FORM, "csrf_token": token}).status_code == 403


def test_list_filters_by_status_and_rejects_unknown(client, login):
    login(Role.MANAGER)
    post_form(client, "/campaigns/new", FORM)
    post_form(client, "/campaigns/new", {**FORM, "name": "Old one", "status": "archived"})
    archived = client.get("/campaigns/?status=archived").get_data(as_text=True)
    assert "Old one" in archived
    assert "Local citations Berlin" not in archived
    assert client.get("/campaigns/?status=bogus").status_code == 400


def test_hostile_names_are_shown_escaped(client, login):
    login(Role.MANAGER)
    post_form(client, "/campaigns/new", {**FORM, "name": "<script>alert(1)</script>"})
    text = client.get("/campaigns/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
