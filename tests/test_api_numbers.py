"""Numbers in paths and queries are plain ASCII digits: ``/v1/questions/2_0`` is not question 20.

Python's ``int()`` (and pydantic's lax mode) reads ``2_0``, `` 20``, ``+20``, ``020`` and ``20.0``
as 20, so one resource answered to many spellings; every such spelling is now a 422 that says
what a number must look like.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api_client import ApiHarness, Tenant
from tests.test_network_page import _seed

# Spellings int() or pydantic read as a number that the API does not write.
LOOSE = ["1_0", "+1", " 1", "1 ", "01", "1.0", "\u0661", "\uff11"]
REASON = "plain digits"


@pytest.fixture
def acme(api: ApiHarness) -> Tenant:
    return _seed(api)


def _integer_paths(api: ApiHarness) -> list[tuple[str, str, list[str]]]:
    """(method, path template, integer path parameters) of every documented operation."""
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    found = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p["schema"].get("type") == "integer"
            ]
            if names:
                found.append((method.upper(), path, names))
    return found


def _integer_queries(api: ApiHarness) -> list[tuple[str, str]]:
    """(GET path, query parameter) of every integer query parameter the API documents."""
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    found = []
    for path, operations in paths.items():
        for parameter in operations.get("get", {}).get("parameters", []):
            schema = parameter["schema"]
            kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
            if parameter["in"] == "query" and "integer" in kinds:
                found.append((path, parameter["name"]))
    return found


def _send(api: ApiHarness, tenant: Tenant, method: str, url: str) -> Any:
    body = {} if method in ("POST", "PATCH") else None
    return api.client.request(method, url, json=body, headers=tenant.headers)


def test_question_2_0_is_not_question_20_and_plain_20_still_is(
    api: ApiHarness, acme: Tenant
) -> None:
    for n in range(20):  # the seed asked 3 questions; ask until there is a question 20
        api.client.post(
            "/v1/questions",
            json={"question": f"Grafana alert {n}?", "asker": "t:asker", "k": 1},
            headers=acme.headers,
        )
    assert api.client.get("/v1/questions/20", headers=acme.headers).status_code == 200
    for spelling in ("2_0", "+20", " 20", "020", "20.0", "\u0662\u0660", "2147483648", "9" * 40):
        response = api.client.get(f"/v1/questions/{spelling}", headers=acme.headers)
        assert response.status_code == 422, (spelling, response.text)
        assert response.json()["error"] == "invalid_input"
        assert response.json()["detail"], response.text


def test_every_integer_path_parameter_refuses_loose_spellings_with_a_reason(
    api: ApiHarness, acme: Tenant
) -> None:
    routes = _integer_paths(api)
    assert len(routes) >= 15, routes  # the walk found the id routes
    for method, template, names in routes:
        for spelling in LOOSE:
            url = template
            for name in names:
                url = url.replace("{" + name + "}", spelling)
            response = _send(api, acme, method, url)
            assert response.status_code == 422, (method, url, response.text)
            assert REASON in response.json()["detail"], (method, url, response.text)


def test_every_integer_query_parameter_refuses_loose_spellings_with_a_reason(
    api: ApiHarness, acme: Tenant
) -> None:
    queries = _integer_queries(api)
    assert {name for _, name in queries} >= {"limit", "offset", "weeks", "person_id"}, queries
    for path, name in queries:
        url = re.sub(r"\{\w+\}", "1", path)
        assert api.client.get(url, params={name: "1"}, headers=acme.headers).status_code == 200
        for spelling in LOOSE:
            response = api.client.get(url, params={name: spelling}, headers=acme.headers)
            assert response.status_code == 422, (url, name, spelling, response.text)
            assert REASON in response.json()["detail"], (url, name, response.text)
