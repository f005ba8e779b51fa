"""The API under schemathesis: every operation of /api/v1/openapi.json is called with
generated valid and invalid input, on ids that exist and ids that do not; no answer may be a
server error, and every answer must have a documented status and match its documented schema."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.auth.models import Role
from tests.conftest import ApiClient

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Valid and invalid input, on the seeded ids and generated ones. Derandomized: every run
# tries the same examples, so a failure is reproducible and CI does not flicker.
EXAMPLES_PER_OPERATION = 20
# Checked only on the seeded placement: a generated one could name a public web page.
SEEDED_IDS_ONLY = {"POST /api/v1/placements/{placement_id}/check"}
# Deleting runs last, so the other operations still find the seeded rows.
LAST = ("DELETE",)
PATH_PARAMETER, OPENAPI_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>"), r"{\1}"


def seed(api: ApiClient) -> dict[str, int]:
    """One of everything, through the API itself; returns the ids by path parameter name."""

    def created(path: str, body: dict[str, Any]) -> int:
        response = api.post(path, json=body)
        assert response.status_code in (200, 201), (path, response.get_json())
        return response.get_json()["id"]

    campaign = created(
        "/api/v1/campaigns",
        {"name": "Guides", "kind": "guest_post", "client_url": "https://client.example/guide"},
    )
    prospect = created(
        f"/api/v1/campaigns/{campaign}/prospects",
        {"domain": "blog.example", "contact": {"first_name": "Anna", "email": "anna@blog.example"}},
    )
    created(
        f"/api/v1/campaigns/{campaign}/assets",
        {"title": "Guide", "url": "https://client.example/g"},
    )
    placement = created(
        f"/api/v1/prospects/{prospect}/placements",
        {
            # A closed port on loopback: the check refuses the private address, nothing is fetched.
            "page_url": "http://127.0.0.1:9/post",
            "target": "https://client.example/guide",
            "link_type": "guest_post",
            "cost": 120.5,
            "promised_on": "2026-11-20",
        },
    )
    cost = created(
        f"/api/v1/campaigns/{campaign}/costs",
        {"kind": "fee", "amount": 80, "incurred_on": "2026-11-01"},
    )
    template = created(
        "/api/v1/templates", {"name": "Pitch", "subject": "Hi {{ prospect.domain }}", "body": "Hi."}
    )
    created(
        "/api/v1/mailboxes",
        {
            "email": "maria@client.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": 9,
            "smtp_security": "none",
            "campaign_ids": [campaign],
        },
    )
    sequence = created(
        "/api/v1/sequences",
        {"campaign_id": campaign, "name": "Pitch", "steps": [{"template_id": template}]},
    )
    return {
        "campaign_id": campaign,
        "prospect_id": prospect,
        "placement_id": placement,
        "cost_id": cost,
        "sequence_id": sequence,
    }


def api_routes(app: Flask) -> set[str]:
    """Every API route of the app as "METHOD /path/{param}", the document's labels."""
    api = app.extensions["api_blueprints"] - {"api_docs"}
    return {
        f"{method} {PATH_PARAMETER.sub(OPENAPI_PARAMETER, rule.rule)}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint.partition(".")[0] in api
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_operation_answers_as_documented(app: Flask, api_as: Any) -> None:
    api = api_as(Role.ADMIN)
    ids = seed(api)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=api.headers)
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.method.upper() in LAST, op.label),
    )
    assert {op.label for op in operations} == api_routes(app)
    for operation in operations:
        real = {param.name: ids[param.name] for param in operation.path_parameters}
        strategies = [operation.as_strategy(path_parameters=real)] if real else []
        if operation.label not in SEEDED_IDS_ONLY:
            strategies += [
                operation.as_strategy(),
                operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            ]

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=api.headers, checks=CHECKS)

        call()
