"""The prospects API: paths and field names other tools rely on."""

import io

import pytest
from sqlmodel import select

from outreach.auth.models import Role
from outreach.prospects.models import Domain
from tests.test_api import CAMPAIGN, assert_error


@pytest.fixture
def api(api_as):
    return api_as(Role.MANAGER)


@pytest.fixture
def campaign_id(api):
    return api.post("/api/v1/campaigns", json=CAMPAIGN).json["id"]


def test_add_get_patch_delete(api, campaign_id):
    created = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects",
        json={
            "domain": "https://www.Blog.example/write-for-us",
            "domain_rating": 41,
            "tags": ["Gardening"],
            "contact": {"first_name": "Anna", "email": "anna@blog.example"},
        },
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["domain"] == "blog.example"
    assert body["stage"] == "prospect"
    assert body["tags"] == ["gardening"]
    assert body["other_campaigns"] == []
    assert body["primary_contact_id"] is not None
    prospect_id = body["id"]
    assert api.get(f"/api/v1/prospects/{prospect_id}").json["domain_rating"] == 41
    patched = api.patch(
        f"/api/v1/prospects/{prospect_id}", json={"stage": "contacted", "traffic": 1200}
    ).json
    assert (patched["stage"], patched["traffic"]) == ("contacted", 1200)
    assert patched["last_contacted_at"] is not None
    assert api.delete(f"/api/v1/prospects/{prospect_id}").status_code == 204
    assert_error(api.get(f"/api/v1/prospects/{prospect_id}"), 404, "not_found")


def test_duplicates_and_do_not_contact_are_conflicts(api, campaign_id, session):
    url = f"/api/v1/campaigns/{campaign_id}/prospects"
    api.post(url, json={"domain": "blog.example"})
    error = assert_error(api.post(url, json={"domain": "BLOG.example/x"}), 409, "conflict")
    assert "already in this campaign" in error["message"]
    assert error["fields"] == {"domain": error["message"]}
    session.add(Domain(name="stop.example", do_not_contact=True))
    session.commit()
    assert_error(api.post(url, json={"domain": "stop.example"}), 409, "conflict")


def test_invalid_prospect_names_fields(api, campaign_id):
    response = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects",
        json={"domain": "localhost", "domain_rating": 300, "contact": {"email": "nope"}},
    )
    fields = assert_error(response, 422, "validation_error")["fields"]
    assert {"domain", "domain_rating", "contact.email"} <= set(fields)


def test_second_campaign_sees_the_first(api, campaign_id):
    other = api.post("/api/v1/campaigns", json={**CAMPAIGN, "name": "Other"}).json["id"]
    api.post(f"/api/v1/campaigns/{campaign_id}/prospects", json={"domain": "blog.example"})
    created = api.post(f"/api/v1/campaigns/{other}/prospects", json={"domain": "blog.example"})
    assert created.json["other_campaigns"] == [
        {"campaign_id": campaign_id, "campaign_name": CAMPAIGN["name"], "stage": "prospect"}
    ]


def test_list_filters_sort_and_page(api, campaign_id):
    url = f"/api/v1/campaigns/{campaign_id}/prospects"
    for name, dr in (("a.example", 10), ("b.example", 70), ("c.example", 40)):
        api.post(url, json={"domain": name, "domain_rating": dr})
    page = api.get(f"{url}?dr_min=30&sort=dr&order=desc").json
    assert [p["domain"] for p in page["items"]] == ["b.example", "c.example"]
    assert page["total"] == 2
    assert api.get(f"{url}?q=c.exa").json["total"] == 1
    assert api.get(f"{url}?per_page=1&page=2&sort=domain&order=asc").json["items"][0]["domain"] == (
        "b.example"
    )
    assert api.get(f"{url}?stage=prospect&stage=replied").json["total"] == 3
    fields = assert_error(api.get(f"{url}?sort=colour"), 422, "validation_error")["fields"]
    assert "sort" in fields
    assert_error(api.get("/api/v1/campaigns/999/prospects"), 404, "not_found")


def test_contacts(api, campaign_id):
    prospect = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects", json={"domain": "blog.example"}
    ).json
    contact = api.post(
        f"/api/v1/prospects/{prospect['id']}/contacts",
        json={"first_name": "Tom", "email": "Tom@Blog.example", "role": "Editor"},
    )
    assert contact.status_code == 201
    assert contact.json["email"] == "tom@blog.example"
    assert (
        api.get(f"/api/v1/prospects/{prospect['id']}").json["primary_contact_id"]
        == (contact.json["id"])
    )
    empty = api.post(f"/api/v1/prospects/{prospect['id']}/contacts", json={})
    assert_error(empty, 422, "validation_error")


def test_import_by_api(api, campaign_id, session):
    data = "Website,Email,DR\nwww.one.example/x,ann@one.example,20\nnot a site,,\none.example,,\n"
    response = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects/import",
        data={"file": (io.BytesIO(data.encode()), "list.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    assert response.json["imported"] == 1
    assert response.json["duplicates"] == 1
    assert [e["row"] for e in response.json["errors"]] == [3, 4]
    assert "duplicate" in response.json["errors"][1]["message"]
    unusable = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects/import",
        data={"file": (io.BytesIO(b""), "empty.csv")},
        content_type="multipart/form-data",
    )
    assert_error(unusable, 422, "unusable_file")
    assert session.exec(select(Domain.name).where(Domain.name == "one.example")).one()


def test_assets(api, campaign_id):
    url = f"/api/v1/campaigns/{campaign_id}/assets"
    created = api.post(
        url,
        json={"title": "Balcony guide", "url": "client.example/guide", "asset_type": "guide"},
    )
    assert created.status_code == 201
    assert created.json["url"] == "https://client.example/guide"
    listed = api.get(url).json
    assert listed["total"] == 1
    assert listed["items"][0]["title"] == "Balcony guide"
    assert_error(api.post(url, json={"title": "", "url": "x"}), 422, "validation_error")
    prospect = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects",
        json={"domain": "blog.example", "asset_id": created.json["id"]},
    )
    assert prospect.json["asset_id"] == created.json["id"]
    wrong = api.post(
        f"/api/v1/campaigns/{campaign_id}/prospects",
        json={"domain": "other.example", "asset_id": 9999},
    )
    assert wrong.status_code == 422


def test_openapi_lists_the_prospect_paths(api):
    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/campaigns/{campaign_id}/prospects"]) == {"get", "post"}
    assert set(paths["/api/v1/prospects/{prospect_id}"]) == {"get", "patch", "delete"}
    assert "post" in paths["/api/v1/prospects/{prospect_id}/contacts"]
    assert "post" in paths["/api/v1/campaigns/{campaign_id}/prospects/import"]
    assert set(paths["/api/v1/campaigns/{campaign_id}/assets"]) == {"get", "post"}
