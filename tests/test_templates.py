"""Email templates in the browser and the API: saving, refusing, previewing for a prospect."""

from sqlmodel import select

from outreach.auth.models import Role
from outreach.campaigns.models import ContentAsset
from outreach.mail.models import Template
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.conftest import csrf_token
from tests.test_api import assert_error

PITCH = {
    "name": "First pitch",
    "subject": "A resource for {{ prospect.domain }} readers",
    "body": "Hi {{ contact.first_name }},\n\nour guide: {{ asset.url }}\n\n{{ sender.name }}",
}


def test_create_edit_and_keep_values_on_errors(client, session, login, campaign):
    login(Role.BUILDER)
    bad = client.post(
        "/templates/new",
        data={
            **PITCH,
            "body": "Hi {% if x %}",
            "campaign_id": campaign.id,
            "csrf_token": csrf_token(client, "/templates/new"),
        },
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Body, line 1: Unexpected end of template" in text
    assert 'value="First pitch"' in text
    assert f'<option value="{campaign.id}" selected>' in text
    created = client.post(
        "/templates/new",
        data={
            **PITCH,
            "campaign_id": campaign.id,
            "csrf_token": csrf_token(client, "/templates/new"),
        },
    )
    assert created.status_code == 302
    template = session.exec(select(Template)).one()
    assert template.campaign_id == campaign.id
    url = f"/templates/{template.id}"
    client.post(
        url,
        data={
            **PITCH,
            "name": "Pitch v2",
            "campaign_id": "",
            "csrf_token": csrf_token(client, url),
        },
    )
    session.refresh(template)
    assert (template.name, template.campaign_id) == ("Pitch v2", None)
    assert "Pitch v2" in client.get("/templates/").get_data(as_text=True)


def test_preview_fills_in_a_real_prospect_or_says_what_is_missing(
    client, session, login, campaign, make_user
):
    user = login(Role.BUILDER)
    user.name = "Ben"
    session.add(user)
    asset = ContentAsset(campaign_id=campaign.id, title="Guide", url="https://client.example/guide")
    session.add(asset)
    session.commit()
    prospect = add_prospect(
        session,
        campaign,
        ProspectInput.model_validate(
            {"domain": "blog.example", "asset_id": asset.id, "contact": {"first_name": "Anna"}}
        ),
        make_user(),
    )
    token = csrf_token(client, "/templates/new")
    ok = client.post(
        "/templates/preview", data={**PITCH, "prospect_id": prospect.id, "csrf_token": token}
    ).get_data(as_text=True)
    assert "A resource for blog.example readers" in ok
    assert "Hi Anna," in ok
    assert "our guide: https://client.example/guide" in ok
    missing = client.post(
        "/templates/preview",
        data={
            **PITCH,
            "body": "Dear {{ contact.last_name }}",
            "prospect_id": prospect.id,
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert "Not ready to send" in missing
    assert "contact.last_name }} is empty for this prospect" in missing
    placeholder = client.post(
        "/templates/preview",
        data={**PITCH, "body": "Dear [NAME]", "prospect_id": prospect.id, "csrf_token": token},
    ).get_data(as_text=True)
    assert "still contains the placeholder" in placeholder


def test_templates_api(api_as, campaign):
    api = api_as(Role.MANAGER)
    created = api.post("/api/v1/templates", json={**PITCH, "campaign_id": campaign.id})
    assert created.status_code == 201
    assert created.json["subject"] == PITCH["subject"]
    api.post("/api/v1/templates", json={**PITCH, "name": "Shared"})
    assert api.get("/api/v1/templates").json["total"] == 2
    assert api.get(f"/api/v1/templates?campaign_id={campaign.id}").json["total"] == 2
    fields = assert_error(
        api.post("/api/v1/templates", json={**PITCH, "body": "{{ x }}"}), 422, "validation_error"
    )["fields"]
    assert "is not a merge field" in fields["body"]
    refused = api.post("/api/v1/templates", json={**PITCH, "campaign_id": 999})
    assert assert_error(refused, 422, "validation_error")["fields"] == {
        "campaign_id": "There is no campaign 999."
    }
