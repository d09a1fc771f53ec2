"""``POST /v1/route``: a ranked, explained preview of who to ask; bad input gets a 4xx reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from router.storage.schema import Ask, OutboxMessage, Question
from tests.api_client import ApiHarness, Tenant


@pytest.fixture
def acme(api: ApiHarness) -> Tenant:
    tenant = api.network("acme")
    people = {
        "ada": ("slack:UADA", ["Grafana dashboards and Prometheus alert rules"]),
        "bob": ("slack:UBOB", ["dbt incremental models on Snowflake"]),
        "cy": ("slack:UCY", ["Stripe webhooks and idempotency keys"]),
    }
    for name, (external_id, answers) in people.items():
        person = api.client.post(
            "/v1/people",
            json={"name": name.title(), "external_ids": [external_id]},
            headers=tenant.headers,
        ).json()
        for text in answers:
            api.client.post(
                f"/v1/people/{person['id']}/evidence",
                json={"kind": "answer", "text": text, "context": "How do I?"},
                headers=tenant.headers,
            )
    return tenant


def _post(api: ApiHarness, tenant: Tenant, body: Any) -> Any:
    return api.client.post("/v1/route", json=body, headers=tenant.headers)


def test_route_returns_ranked_candidates_with_evidence_reasons(
    api: ApiHarness, acme: Tenant
) -> None:
    response = _post(api, acme, {"question": "Why does my Grafana alert rule not fire?", "k": 2})
    assert response.status_code == 200, response.text
    candidates = response.json()["candidates"]
    assert len(candidates) <= 2
    top = candidates[0]
    assert (top["external_id"], top["name"]) == ("slack:UADA", "Ada")
    assert isinstance(top["score"], float)
    evidence = [reason for reason in top["reasons"] if reason["kind"] == "evidence"]
    assert "Grafana" in evidence[0]["snippet"] and evidence[0]["date"].startswith("2026-11-23")
    scores = [candidate["score"] for candidate in candidates]
    assert scores == sorted(scores, reverse=True)


def test_asker_is_never_a_candidate(api: ApiHarness, acme: Tenant) -> None:
    body = {"question": "Grafana alert rule not firing", "asker": "slack:UADA", "k": 3}
    names = [c["name"] for c in _post(api, acme, body).json()["candidates"]]
    assert "Ada" not in names


def test_unknown_asker_is_a_newcomer_not_an_error(api: ApiHarness, acme: Tenant) -> None:
    known = _post(api, acme, {"question": "dbt incremental model", "k": 3}).json()
    newcomer = _post(
        api, acme, {"question": "dbt incremental model", "asker": "slack:UNEW", "k": 3}
    )
    assert newcomer.status_code == 200
    assert newcomer.json()["candidates"] == known["candidates"]
    assert newcomer.json()["candidates"][0]["name"] == "Bob"


def test_route_is_a_preview_that_contacts_nobody_and_stores_nothing(
    api: ApiHarness, acme: Tenant
) -> None:
    _post(api, acme, {"question": "Stripe webhook retries", "asker": "slack:UADA"})
    with api.services.database.transaction() as session:
        for table in (Question, Ask, OutboxMessage):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_default_k_is_the_configured_one(api: ApiHarness, acme: Tenant) -> None:
    response = _post(api, acme, {"question": "anything about models and alerts and webhooks"})
    assert len(response.json()["candidates"]) == api.services.settings.default_k


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n"}, "empty"),
        ({"question": "x" * 40_001}, "limit is 40000"),
        ({"question": "grafana", "k": 0}, "k must be between 1 and 50"),
        ({"question": "grafana", "k": 51}, "k must be between 1 and 50"),
        ({"question": "grafana", "k": "three"}, "k"),
        ({"question": None}, "question"),
        ({"k": 3}, "question"),
        (["grafana"], "body"),
        ({"question": "grafana", "asker": ""}, "asker"),
    ],
)
def test_bad_route_input_is_a_422_with_a_reason(
    api: ApiHarness, acme: Tenant, body: Any, reason: str
) -> None:
    response = _post(api, acme, body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_input"
    assert reason in payload["detail"]


@pytest.mark.parametrize("question", ["?!?", "\u2026", "\U0001f680", "?\u200b!", "-- ... --"])
def test_route_refuses_a_question_with_no_word_as_asking_it_does(
    api: ApiHarness, acme: Tenant, question: str
) -> None:
    asked = api.client.post(
        "/v1/questions", json={"question": question, "asker": "slack:UADA"}, headers=acme.headers
    )
    assert asked.status_code == 422, asked.text
    routed = _post(api, acme, {"question": question})
    assert routed.status_code == 422, routed.text
    assert routed.json()["error"] == "invalid_input"
    assert routed.json()["detail"] == asked.json()["detail"]
    assert "at least one word" in routed.json()["detail"]


def test_malformed_json_is_a_400_with_a_reason(api: ApiHarness, acme: Tenant) -> None:
    response = api.client.post(
        "/v1/route",
        content=b'{"question": "grafana", k: 3',
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "not valid JSON" in response.json()["detail"]


def test_unknown_paths_and_methods_get_the_same_error_shape(api: ApiHarness, acme: Tenant) -> None:
    missing = api.client.get("/v1/nothing-here", headers=acme.headers)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = api.client.get("/v1/route", headers=acme.headers)
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_openapi_documents_route_with_its_response_model_and_error_shape(
    api: ApiHarness,
) -> None:
    schema = api.client.get("/v1/openapi.json").json()
    operation = schema["paths"]["/v1/route"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/RouteOut")
    error = operation["responses"]["422"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/ErrorOut")
    assert {"bearer", "apiKey"} <= set(schema["components"]["securitySchemes"])


def test_one_route_encodes_its_question_once_even_a_long_one(
    api: ApiHarness, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routing and the search for reusable past answers share the question's vector."""
    inner = api.services.embedder.inner  # type: ignore[attr-defined]
    encoded: list[list[str]] = []
    original = inner.encode

    def counting(texts: list[str], **kw: Any) -> Any:
        encoded.append(list(texts))
        return original(texts, **kw)

    monkeypatch.setattr(inner, "encode", counting)
    for question in ("Grafana alert rule not firing", "Why is dbt slow? " + "details " * 500):
        encoded.clear()
        response = _post(api, acme, {"question": question})
        assert response.status_code == 200, response.text
        assert len(encoded) == 1, [len(texts[0]) for texts in encoded]
