"""A key never sees or touches another network's data: proved for every endpoint of the app.

Two networks are built the same way; everything in "bravo" carries the word ``zebracorn``.
With alpha's key, every endpoint is called, on bravo's ids wherever a path takes an id, and
with bravo's external ids wherever a body or query names a person. No response may mention
bravo's data, every bravo id must be a 404, and bravo's rows must be byte-for-byte unchanged.
The table of sample requests must list every route, so a new endpoint cannot skip this test.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from askaround.api.app import ROUTERS
from router.settings import Settings
from router.storage.schema import Base
from tests.api_client import ApiHarness, Tenant

MARK = "zebracorn"
OPEN = {("GET", "/v1/health")}


@dataclass
class World:
    """One network seen from outside: its key and the ids of one of each kind of thing."""

    tenant: Tenant
    prefix: str  # in every name and text of this world
    ids: dict[str, int]

    def ext(self, name: str) -> str:
        """An external id; the same shape in both worlds, so echoing one reveals nothing."""
        return f"{self.tenant.name[0]}:{name}"


def _build(api: ApiHarness, name: str, prefix: str) -> World:
    tenant = api.network(name)
    world = World(tenant=tenant, prefix=prefix, ids={})

    def post(path: str, body: Any) -> Any:
        response = api.client.post(path, json=body, headers=tenant.headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    people = {}
    for who in ("asker", "ada", "bob"):
        person = post("/v1/people", {"name": f"{prefix} {who}", "external_ids": [world.ext(who)]})
        people[who] = person["id"]
        evidence = post(
            f"/v1/people/{person['id']}/evidence",
            {"kind": "answer", "text": f"{prefix} grafana alert rules, told by {who}"},
        )
    asked = post(
        "/v1/questions",
        {"question": f"{prefix} grafana alert rules?", "asker": world.ext("asker"), "k": 2},
    )["question"]
    ask = next(a for a in asked["asks"] if a["person_id"] == people["ada"])
    answer = post(f"/v1/asks/{ask['id']}/answer", {"person": world.ext("ada"), "text": prefix})
    post(f"/v1/answers/{answer['id']}/helpful", {"asker": world.ext("asker")})
    world.ids = {
        "person_id": people["ada"],
        "other_id": people["asker"],
        "evidence_id": evidence["id"],
        "question_id": asked["id"],
        "ask_id": ask["id"],
        "answer_id": answer["id"],
    }
    return world


@pytest.fixture
def worlds(settings: Settings, now: datetime) -> Iterator[tuple[ApiHarness, World, World]]:
    api = ApiHarness.start(settings, now=now)
    alpha = _build(api, "alpha", "alpha")
    bravo = _build(api, "bravo", MARK)
    yield api, alpha, bravo
    api.close()


# What each route is called with, as alpha: (query params, JSON body), given both worlds.
Sample = Callable[[World, World], tuple[dict[str, Any], Any]]
SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/v1/network"): lambda a, b: ({}, None),
    ("GET", "/v1/network/overview"): lambda a, b: ({}, None),
    ("POST", "/v1/reuses"): lambda a, b: (
        {},
        {"evidence_id": b.ids["evidence_id"], "asker": a.ext("asker")},
    ),
    ("POST", "/v1/route"): lambda a, b: (
        {},
        {"question": "grafana alert rules told by ada", "asker": b.ext("asker"), "k": 10},
    ),
    ("GET", "/v1/people"): lambda a, b: ({"limit": 200}, None),
    ("POST", "/v1/people"): lambda a, b: ({}, {"name": "Newcomer", "external_ids": ["n:1"]}),
    ("GET", "/v1/people/{person_id}"): lambda a, b: ({}, None),
    ("PATCH", "/v1/people/{person_id}"): lambda a, b: ({}, {"opted_out": True}),
    ("DELETE", "/v1/people/{person_id}"): lambda a, b: ({}, None),
    ("GET", "/v1/evidence"): lambda a, b: ({"limit": 200}, None),
    ("GET", "/v1/people/{person_id}/evidence"): lambda a, b: ({}, None),
    ("POST", "/v1/people/{person_id}/evidence"): lambda a, b: (
        {},
        {"kind": "interest", "text": "alpha things"},
    ),
    ("GET", "/v1/evidence/{evidence_id}"): lambda a, b: ({}, None),
    ("PATCH", "/v1/evidence/{evidence_id}"): lambda a, b: ({}, {"text": "changed by alpha"}),
    ("DELETE", "/v1/evidence/{evidence_id}"): lambda a, b: ({}, None),
    ("POST", "/v1/questions"): lambda a, b: (
        {},
        {"question": "grafana alert rules told by ada?", "asker": a.ext("asker"), "k": 10},
    ),
    ("GET", "/v1/questions"): lambda a, b: ({"limit": 200}, None),
    ("GET", "/v1/questions/{question_id}"): lambda a, b: ({}, None),
    ("POST", "/v1/questions/{question_id}/close"): lambda a, b: ({}, {"asker": a.ext("asker")}),
    ("POST", "/v1/asks/{ask_id}/answer"): lambda a, b: (
        {},
        {"person": a.ext("ada"), "text": "alpha answer"},
    ),
    ("POST", "/v1/asks/{ask_id}/pass"): lambda a, b: ({}, {"person": a.ext("ada")}),
    ("POST", "/v1/asks/{ask_id}/decline"): lambda a, b: ({}, {"person": a.ext("ada")}),
    ("POST", "/v1/asks/{ask_id}/snooze"): lambda a, b: (
        {},
        {"person": a.ext("ada"), "until": "2026-11-30T09:00:00Z"},
    ),
    ("GET", "/v1/people/{person_id}/asks"): lambda a, b: ({}, None),
    ("POST", "/v1/answers/{answer_id}/helpful"): lambda a, b: ({}, {"asker": a.ext("asker")}),
    ("POST", "/v1/answers/{answer_id}/thanks"): lambda a, b: ({}, {"asker": a.ext("asker")}),
    ("GET", "/v1/people/{person_id}/ledger"): lambda a, b: ({}, None),
    ("GET", "/v1/people/{person_id}/ledger/{other_id}"): lambda a, b: ({}, None),
    ("GET", "/v1/summary"): lambda a, b: ({"week": "2026-W48"}, None),
    ("GET", "/v1/people/{person_id}/summary"): lambda a, b: ({"week": "2026-W48"}, None),
}
# Queries that name another network's things by id or external id: they must find nothing.
PROBES: list[tuple[str, Callable[[World], dict[str, Any]]]] = [
    ("/v1/people", lambda b: {"external_id": b.ext("ada")}),
    ("/v1/evidence", lambda b: {"person_id": b.ids["person_id"]}),
    ("/v1/questions", lambda b: {"asker": b.ext("asker")}),
]


def _no_input(_a: World, _b: World) -> tuple[dict[str, Any], Any]:
    return {}, None


def _routes() -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )


def _path_params(path: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(path) if name]


def _snapshot(api: ApiHarness, network_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to ``network_id``, in a stable order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with api.services.database.transaction() as session:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("network_id") if table.name != "networks" else table.c.id
            if column is None:
                continue
            result = session.execute(select(table).where(column == network_id))
            rows[table.name] = sorted(tuple(row) for row in result)
    return rows


def test_every_route_has_an_isolation_sample() -> None:
    assert set(_routes()) - OPEN == set(SAMPLES)


def test_every_data_endpoint_answers_401_without_a_key(
    worlds: tuple[ApiHarness, World, World],
) -> None:
    api, alpha, _ = worlds
    for method, path in _routes():
        url = path.format(**alpha.ids)
        params, body = SAMPLES.get((method, path), _no_input)(alpha, alpha)
        response = api.client.request(method, url, params=params, json=body)
        if (method, path) in OPEN:
            assert response.status_code == 200, (method, path)
        else:
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"] == "unauthenticated"


def test_a_key_never_sees_or_changes_another_networks_data(
    worlds: tuple[ApiHarness, World, World],
) -> None:
    api, alpha, bravo = worlds
    before = _snapshot(api, bravo.tenant.network_id)
    calls = 0
    for method, path in _routes():
        if (method, path) in OPEN:
            continue
        params, body = SAMPLES[(method, path)](alpha, bravo)
        names = _path_params(path)
        # every way of filling the path with alpha's and bravo's ids, except all-alpha
        fills = [
            dict(zip(names, owners, strict=True))
            for owners in itertools.product((alpha, bravo), repeat=len(names))
            if bravo in owners
        ] or [{}]
        for fill in fills:
            url = path.format(**{name: world.ids[name] for name, world in fill.items()})
            response = api.client.request(
                method, url, params=params, json=body, headers=alpha.tenant.headers
            )
            calls += 1
            where = (method, url, response.status_code, response.text[:300])
            assert response.status_code < 500, where
            assert MARK not in response.text.lower(), where
            if fill:
                assert response.status_code == 404, where
    for path, probe in PROBES:
        response = api.client.get(path, params=probe(bravo), headers=alpha.tenant.headers)
        assert response.status_code in (200, 404), (path, response.text)
        assert MARK not in response.text.lower(), (path, response.text)
        if response.status_code == 200:
            assert response.json()["items"] == [], path
    assert calls >= len(SAMPLES)
    assert _snapshot(api, bravo.tenant.network_id) == before


def test_external_ids_are_per_network_so_reusing_one_reveals_nothing(
    worlds: tuple[ApiHarness, World, World],
) -> None:
    api, alpha, bravo = worlds
    response = api.client.post(
        "/v1/people",
        json={"name": "Alpha twin", "external_ids": [bravo.ext("ada")]},
        headers=alpha.tenant.headers,
    )
    assert response.status_code == 201
    bravo_view = api.client.get(
        "/v1/people", params={"external_id": bravo.ext("ada")}, headers=bravo.tenant.headers
    ).json()["items"]
    assert [person["name"] for person in bravo_view] == [f"{MARK} ada"]
    assert alpha.ext("ada") != bravo.ext("ada")
