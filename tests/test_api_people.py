"""People and evidence over HTTP: create, page, edit, delete; routing follows every write."""

from __future__ import annotations

from typing import Any

import pytest

from askaround.api.pages import MAX_PAGE
from tests.api_client import ApiHarness, Tenant


@pytest.fixture
def acme(api: ApiHarness) -> Tenant:
    return api.network("acme")


def _person(api: ApiHarness, tenant: Tenant, name: str, *ids: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/people",
        json={"name": name, "external_ids": list(ids) or [f"t:{name.lower()}"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _evidence(api: ApiHarness, tenant: Tenant, person_id: int, text: str) -> dict[str, Any]:
    response = api.client.post(
        f"/v1/people/{person_id}/evidence",
        json={"kind": "answer", "text": text},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _route(api: ApiHarness, tenant: Tenant, question: str) -> list[dict[str, Any]]:
    response = api.client.post(
        "/v1/route", json={"question": question, "k": 5}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    candidates: list[dict[str, Any]] = response.json()["candidates"]
    return candidates


def _evidence_ids(candidates: list[dict[str, Any]]) -> set[int]:
    return {
        reason["evidence_id"]
        for candidate in candidates
        for reason in candidate["reasons"]
        if reason["kind"] == "evidence"
    }


def test_person_created_over_http_can_be_read_back_and_found_by_external_id(
    api: ApiHarness, acme: Tenant
) -> None:
    ada = _person(api, acme, "Ada", "slack:U1", "email:ada@example.org")
    assert api.client.get(f"/v1/people/{ada['id']}", headers=acme.headers).json() == ada
    found = api.client.get(
        "/v1/people", params={"external_id": "email:ada@example.org"}, headers=acme.headers
    ).json()
    assert [person["name"] for person in found["items"]] == ["Ada"]


def test_external_id_that_names_someone_else_is_a_conflict_and_stores_nothing(
    api: ApiHarness, acme: Tenant
) -> None:
    _person(api, acme, "Ada", "slack:U1")
    response = api.client.post(
        "/v1/people",
        json={"name": "Bob", "external_ids": ["slack:U2", "slack:U1"]},
        headers=acme.headers,
    )
    assert response.status_code == 409
    assert "slack:U1" in response.json()["detail"]
    names = [p["name"] for p in api.client.get("/v1/people", headers=acme.headers).json()["items"]]
    assert names == ["Ada"]


def test_people_pages_cover_everyone_once_and_page_size_is_capped(
    api: ApiHarness, acme: Tenant
) -> None:
    for n in range(7):
        _person(api, acme, f"P{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/v1/people", params=params, headers=acme.headers).json()
        seen += [person["name"] for person in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"P{n}" for n in range(7)]
    too_big = api.client.get("/v1/people", params={"limit": MAX_PAGE + 1}, headers=acme.headers)
    assert too_big.status_code == 422
    assert str(MAX_PAGE) in too_big.json()["detail"]
    bad_cursor = api.client.get("/v1/people", params={"cursor": "abc"}, headers=acme.headers)
    assert bad_cursor.status_code == 422


def test_patch_changes_only_the_fields_sent(api: ApiHarness, acme: Tenant) -> None:
    ada = _person(api, acme, "Ada", "slack:U1")
    response = api.client.patch(
        f"/v1/people/{ada['id']}",
        json={"timezone": "Europe/Paris", "snoozed_until": "2026-12-01T08:00:00+01:00"},
        headers=acme.headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["timezone"] == "Europe/Paris"
    assert changed["snoozed_until"].startswith("2026-12-01T07:00:00")
    assert {k: v for k, v in changed.items() if k not in ("timezone", "snoozed_until")} == {
        k: v for k, v in ada.items() if k not in ("timezone", "snoozed_until")
    }
    cleared = api.client.patch(
        f"/v1/people/{ada['id']}", json={"snoozed_until": None}, headers=acme.headers
    )
    assert cleared.json()["snoozed_until"] is None


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"timezone": "Mars/Olympus"}, 422),
        ({"name": None}, 422),
        ({"name": "   "}, 422),
        ({"external_ids": []}, 422),
        ({"ask_budget": -1}, 422),
        ({"name": "A\u0000da"}, 422),
    ],
)
def test_bad_person_patch_is_refused_with_a_reason_and_changes_nothing(
    api: ApiHarness, acme: Tenant, patch: dict[str, Any], status: int
) -> None:
    ada = _person(api, acme, "Ada", "slack:U1")
    response = api.client.patch(f"/v1/people/{ada['id']}", json=patch, headers=acme.headers)
    assert response.status_code == status
    assert response.json()["error"] == "invalid_input" and response.json()["detail"]
    assert api.client.get(f"/v1/people/{ada['id']}", headers=acme.headers).json() == ada


def test_replacing_external_ids_frees_the_old_ones(api: ApiHarness, acme: Tenant) -> None:
    ada = _person(api, acme, "Ada", "slack:U1", "email:ada@example.org")
    response = api.client.patch(
        f"/v1/people/{ada['id']}",
        json={"external_ids": ["email:ada@example.org", "slack:U9"]},
        headers=acme.headers,
    )
    assert response.json()["external_ids"] == ["email:ada@example.org", "slack:U9"]
    _person(api, acme, "Bob", "slack:U1")


def test_deleting_a_person_removes_them_and_their_evidence_from_routing(
    api: ApiHarness, acme: Tenant
) -> None:
    ada = _person(api, acme, "Ada")
    _evidence(api, acme, ada["id"], "Grafana alert rules with Prometheus")
    assert [c["name"] for c in _route(api, acme, "grafana alert rules")] == ["Ada"]
    assert api.client.delete(f"/v1/people/{ada['id']}", headers=acme.headers).status_code == 204
    assert api.client.get(f"/v1/people/{ada['id']}", headers=acme.headers).status_code == 404
    assert api.client.get("/v1/evidence", headers=acme.headers).json()["items"] == []
    assert _route(api, acme, "grafana alert rules") == []


def test_evidence_added_over_http_is_routable_at_once(api: ApiHarness, acme: Tenant) -> None:
    ada, bob = _person(api, acme, "Ada"), _person(api, acme, "Bob")
    _evidence(api, acme, ada["id"], "Sourdough starter feeding schedule")
    assert _route(api, acme, "kubernetes ingress tls")[0]["name"] == "Ada"  # warm the index
    created = _evidence(api, acme, bob["id"], "Kubernetes ingress with TLS certificates")
    assert created["embedded"] is True
    candidates = _route(api, acme, "kubernetes ingress tls")
    assert candidates[0]["name"] == "Bob"
    assert created["id"] in _evidence_ids(candidates)


def test_edited_evidence_is_routed_by_its_new_text(api: ApiHarness, acme: Tenant) -> None:
    ada = _person(api, acme, "Ada")
    item = _evidence(api, acme, ada["id"], "Sourdough starter feeding schedule")
    assert item["id"] in _evidence_ids(_route(api, acme, "sourdough starter"))
    response = api.client.patch(
        f"/v1/evidence/{item['id']}",
        json={"text": "Terraform state locking on S3"},
        headers=acme.headers,
    )
    assert response.status_code == 200 and response.json()["embedded"] is True
    assert item["id"] in _evidence_ids(_route(api, acme, "terraform state locking"))
    assert item["id"] not in _evidence_ids(_route(api, acme, "sourdough starter"))


def test_deleted_evidence_is_no_longer_a_reason(api: ApiHarness, acme: Tenant) -> None:
    ada = _person(api, acme, "Ada")
    item = _evidence(api, acme, ada["id"], "Grafana alert rules with Prometheus")
    assert item["id"] in _evidence_ids(_route(api, acme, "grafana alert rules"))
    assert api.client.delete(f"/v1/evidence/{item['id']}", headers=acme.headers).status_code == 204
    assert api.client.get(f"/v1/evidence/{item['id']}", headers=acme.headers).status_code == 404
    assert item["id"] not in _evidence_ids(_route(api, acme, "grafana alert rules"))
    again = api.client.delete(f"/v1/evidence/{item['id']}", headers=acme.headers)
    assert again.status_code == 404


def test_evidence_pages_per_person_and_for_the_network(api: ApiHarness, acme: Tenant) -> None:
    ada, bob = _person(api, acme, "Ada"), _person(api, acme, "Bob")
    for n in range(3):
        _evidence(api, acme, ada["id"], f"ada fact {n}")
    _evidence(api, acme, bob["id"], "bob fact")
    first = api.client.get(
        f"/v1/people/{ada['id']}/evidence", params={"limit": 2}, headers=acme.headers
    ).json()
    assert [e["text"] for e in first["items"]] == ["ada fact 0", "ada fact 1"]
    rest = api.client.get(
        f"/v1/people/{ada['id']}/evidence",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=acme.headers,
    ).json()
    assert [e["text"] for e in rest["items"]] == ["ada fact 2"] and rest["next_cursor"] is None
    everyone = api.client.get("/v1/evidence", headers=acme.headers).json()["items"]
    assert len(everyone) == 4
    only_bob = api.client.get(
        "/v1/evidence", params={"person_id": bob["id"]}, headers=acme.headers
    ).json()["items"]
    assert [e["text"] for e in only_bob] == ["bob fact"]


def test_repeated_source_key_returns_the_stored_evidence(api: ApiHarness, acme: Tenant) -> None:
    ada, bob = _person(api, acme, "Ada"), _person(api, acme, "Bob")
    body = {"kind": "interest", "text": "dbt", "source_key": "crm:1"}
    first = api.client.post(f"/v1/people/{ada['id']}/evidence", json=body, headers=acme.headers)
    again = api.client.post(f"/v1/people/{ada['id']}/evidence", json=body, headers=acme.headers)
    assert first.json()["id"] == again.json()["id"]
    other = api.client.post(f"/v1/people/{bob['id']}/evidence", json=body, headers=acme.headers)
    assert other.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "rumour", "text": "x"},
        {"kind": "answer", "text": ""},
        {"kind": "answer", "text": "x" * 20_001},
        {"kind": "answer", "text": "ok", "created_at": "yesterday"},
        {"kind": "answer", "text": "ok", "link": "x" * 501},
        {"text": "no kind"},
    ],
)
def test_bad_evidence_is_refused_with_a_reason_and_nothing_is_stored(
    api: ApiHarness, acme: Tenant, body: dict[str, Any]
) -> None:
    ada = _person(api, acme, "Ada")
    response = api.client.post(f"/v1/people/{ada['id']}/evidence", json=body, headers=acme.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input" and response.json()["detail"]
    assert api.client.get("/v1/evidence", headers=acme.headers).json()["items"] == []


def test_evidence_for_an_unknown_person_is_not_found(api: ApiHarness, acme: Tenant) -> None:
    response = api.client.post(
        "/v1/people/999/evidence", json={"kind": "answer", "text": "x"}, headers=acme.headers
    )
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no person #999 in this network"}


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        ("9999-12-31T23:59:59Z", "at most 90 days"),
        ("2027-03-01T09:00:00Z", "at most 90 days"),  # 98 days after the test's now
        ("2026-11-22T09:00:00Z", "in the future"),
        (1795424400, "ISO 8601"),  # 2026-11-23 + 7 days, as Unix seconds
        ("1795424400", "ISO 8601"),
        (1795424400000, "ISO 8601"),  # the same in milliseconds
    ],
)
def test_a_patched_snooze_is_held_to_the_snooze_endpoints_bounds_and_format(
    api: ApiHarness, acme: Tenant, until: object, reason: str
) -> None:
    ada = _person(api, acme, "Ada")
    response = api.client.patch(
        f"/v1/people/{ada['id']}",
        json={"snoozed_until": until, "name": "Ada L."},
        headers=acme.headers,
    )
    assert response.status_code == 422, response.text
    assert reason in response.text
    unchanged = api.client.get(f"/v1/people/{ada['id']}", headers=acme.headers).json()
    assert (unchanged["name"], unchanged["snoozed_until"]) == ("Ada", None)


def test_a_patched_snooze_up_to_90_days_ahead_is_kept(api: ApiHarness, acme: Tenant) -> None:
    ada = _person(api, acme, "Ada")
    response = api.client.patch(
        f"/v1/people/{ada['id']}",
        json={"snoozed_until": "2027-02-21T09:00:00Z"},  # the test's now + 90 days
        headers=acme.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["snoozed_until"].startswith("2027-02-21T09:00:00")
