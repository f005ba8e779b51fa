"""The JSON API: bearer tokens, roles, campaigns, pagination, errors and the OpenAPI document."""

from datetime import UTC, datetime

from openapi_spec_validator import validate

from outreach.auth.models import ApiToken, Role
from outreach.auth.services import issue_api_token
from tests.conftest import ApiClient, sign_in

CAMPAIGN = {
    "name": "Balcony guide outreach",
    "kind": "guest_post",
    "client_url": "https://www.client.example/guides/balcony/",
    "budget": 1500.5,
    "starts_on": "2026-12-01",
    "ends_on": "2027-03-31",
}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


class TestAuthentication:
    def test_no_token_is_401_with_a_challenge(self, client):
        response = client.get("/api/v1/me")
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_wrong_or_malformed_token_is_401(self, client):
        for header in ("Bearer otr_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer "):
            response = client.get("/api/v1/me", headers={"Authorization": header})
            assert_error(response, 401, "unauthorized")

    def test_revoked_token_is_401(self, client, session, make_user):
        token = issue_api_token(session, make_user())
        row = session.exec(ApiToken.__table__.select()).first()
        session.exec(
            ApiToken.__table__.update()
            .where(ApiToken.id == row.id)
            .values(revoked_at=datetime.now(UTC))
        )
        session.commit()
        assert_error(
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "unauthorized",
        )

    def test_session_cookie_does_not_authenticate_the_api(self, client, make_user):
        sign_in(client, make_user(Role.ADMIN))
        assert_error(client.get("/api/v1/campaigns"), 401, "unauthorized")

    def test_me_tells_who_the_token_belongs_to(self, client, session, make_user):
        user = make_user(Role.MANAGER, name="Maria")
        api = ApiClient(client, issue_api_token(session, user))
        assert api.get("/api/v1/me").json == {
            "id": user.id,
            "email": user.email,
            "name": "Maria",
            "role": "manager",
        }

    def test_token_of_deactivated_user_stops_working(self, client, session, make_user):
        user = make_user()
        api = ApiClient(client, issue_api_token(session, user))
        assert api.get("/api/v1/me").status_code == 200
        user.active = False
        session.add(user)
        session.commit()
        assert_error(api.get("/api/v1/me"), 401, "unauthorized")


class TestCampaigns:
    def test_builder_may_read_but_not_write(self, api_as):
        manager, builder = api_as(Role.MANAGER), api_as(Role.BUILDER)
        created = manager.post("/api/v1/campaigns", json=CAMPAIGN).json
        assert builder.get(f"/api/v1/campaigns/{created['id']}").status_code == 200
        error = assert_error(builder.post("/api/v1/campaigns", json=CAMPAIGN), 403, "forbidden")
        assert "admin, manager" in error["message"]
        assert_error(
            builder.patch(f"/api/v1/campaigns/{created['id']}", json={"name": "Mine now"}),
            403,
            "forbidden",
        )
        assert manager.get(f"/api/v1/campaigns/{created['id']}").json["name"] == CAMPAIGN["name"]

    def test_create_returns_the_campaign(self, api_as):
        api = api_as(Role.ADMIN)
        response = api.post("/api/v1/campaigns", json=CAMPAIGN)
        assert response.status_code == 201
        body = response.json
        assert body["name"] == "Balcony guide outreach"
        assert body["kind"] == "guest_post"
        assert body["client_url"] == "https://www.client.example/guides/balcony/"
        assert body["budget"] == 1500.5
        assert body["starts_on"] == "2026-12-01"
        assert body["ends_on"] == "2027-03-31"
        assert body["status"] == "active"
        assert body["timezone"] == "UTC"
        assert api.get(f"/api/v1/campaigns/{body['id']}").json == body

    def test_client_url_without_scheme_is_completed(self, api_as):
        api = api_as()
        body = api.post("/api/v1/campaigns", json={**CAMPAIGN, "client_url": "client.example"}).json
        assert body["client_url"] == "https://client.example/"

    def test_campaigns_on_one_site_share_a_client(self, api_as):
        api = api_as()
        first = api.post("/api/v1/campaigns", json=CAMPAIGN).json
        second = api.post(
            "/api/v1/campaigns",
            json={**CAMPAIGN, "name": "Other", "client_url": "http://blog.client.example/x"},
        ).json
        third = api.post(
            "/api/v1/campaigns", json={**CAMPAIGN, "client_url": "https://another.example/"}
        ).json
        assert first["client_id"] == second["client_id"] != third["client_id"]

    def test_invalid_campaign_names_every_bad_field(self, api_as):
        api = api_as()
        response = api.post(
            "/api/v1/campaigns",
            json={
                "name": "",
                "kind": "spam",
                "client_url": "localhost",
                "budget": -5,
                "starts_on": "2027-01-10",
                "ends_on": "2027-01-01",
                "colour": "red",
            },
        )
        fields = assert_error(response, 422, "validation_error")["fields"]
        assert set(fields) == {"name", "kind", "client_url", "budget", "ends_on", "colour"}
        assert "end date is before the start date" in fields["ends_on"]
        assert api.get("/api/v1/campaigns").json["total"] == 0

    def test_missing_fields_and_bad_json(self, api_as):
        api = api_as()
        fields = assert_error(api.post("/api/v1/campaigns", json={}), 422, "validation_error")[
            "fields"
        ]
        assert {"name", "kind", "client_url"} <= set(fields)
        response = api.post("/api/v1/campaigns", data="{not json", content_type="application/json")
        assert assert_error(response, 400, "bad_request")["message"] == (
            "The request body is not valid JSON."
        )
        response = api.post("/api/v1/campaigns", data={"name": "x"})
        assert_error(response, 415, "unsupported_media_type")
        assert api.get("/api/v1/campaigns").json["total"] == 0

    def test_patch_changes_only_what_is_sent(self, api_as):
        api = api_as()
        created = api.post("/api/v1/campaigns", json=CAMPAIGN).json
        response = api.patch(
            f"/api/v1/campaigns/{created['id']}", json={"name": "Renamed", "budget": "99.90"}
        )
        assert response.status_code == 200
        body = response.json
        assert (body["name"], body["budget"]) == ("Renamed", 99.9)
        assert body["kind"] == CAMPAIGN["kind"]
        assert body["ends_on"] == CAMPAIGN["ends_on"]

    def test_patch_is_validated_against_the_whole_campaign(self, api_as):
        api = api_as()
        created = api.post("/api/v1/campaigns", json=CAMPAIGN).json
        response = api.patch(f"/api/v1/campaigns/{created['id']}", json={"ends_on": "2026-01-01"})
        assert "ends_on" in assert_error(response, 422, "validation_error")["fields"]
        assert api.get(f"/api/v1/campaigns/{created['id']}").json["ends_on"] == "2027-03-31"

    def test_unknown_campaign_is_a_json_404(self, api_as):
        api = api_as()
        assert_error(api.get("/api/v1/campaigns/424242"), 404, "not_found")
        assert_error(api.patch("/api/v1/campaigns/424242", json={"name": "x"}), 404, "not_found")
        assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")

    def test_wrong_method_is_a_json_405(self, api_as):
        assert_error(api_as().delete("/api/v1/me"), 405, "method_not_allowed")


class TestPagination:
    def test_items_and_total(self, api_as):
        api = api_as()
        for number in range(5):
            api.post("/api/v1/campaigns", json={**CAMPAIGN, "name": f"Campaign {number}"})
        first = api.get("/api/v1/campaigns?per_page=2").json
        assert first["total"] == 5
        assert [c["name"] for c in first["items"]] == ["Campaign 4", "Campaign 3"]
        last = api.get("/api/v1/campaigns?per_page=2&page=3").json
        assert [c["name"] for c in last["items"]] == ["Campaign 0"]
        assert api.get("/api/v1/campaigns?per_page=2&page=9").json == {"items": [], "total": 5}

    def test_bad_page_parameters_are_422(self, api_as):
        api = api_as()
        for query in ("page=0", "per_page=0", "per_page=100000", "page=abc"):
            fields = assert_error(api.get(f"/api/v1/campaigns?{query}"), 422, "validation_error")[
                "fields"
            ]
            assert query.split("=")[0] in fields

    def test_filter_by_status(self, api_as):
        api = api_as()
        api.post("/api/v1/campaigns", json=CAMPAIGN)
        api.post("/api/v1/campaigns", json={**CAMPAIGN, "status": "paused", "name": "Paused"})
        paused = api.get("/api/v1/campaigns?status=paused").json
        assert [c["name"] for c in paused["items"]] == ["Paused"]
        assert paused["total"] == 1


class TestOpenApi:
    def test_document_needs_a_login_or_token(self, client):
        assert client.get("/api/v1/openapi.json").status_code == 401

    def test_document_is_valid_openapi_3_and_describes_the_api(self, api_as):
        document = api_as(Role.BUILDER).get("/api/v1/openapi.json").json
        validate(document)
        assert document["openapi"].startswith("3.")
        paths = document["paths"]
        assert set(paths["/api/v1/campaigns"]) == {"get", "post"}
        assert set(paths["/api/v1/campaigns/{campaign_id}"]) == {"get", "patch"}
        assert "get" in paths["/api/v1/me"]
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        post = paths["/api/v1/campaigns"]["post"]
        assert post["security"] == [{"bearer": []}]
        assert {"201", "401", "403", "422"} <= set(post["responses"])
        schemas = document["components"]["schemas"]
        assert {"name", "kind", "client_url", "budget", "starts_on", "ends_on"} <= set(
            schemas["CampaignInput"]["properties"]
        )
