"""The HTTP API answers with the core's values as they are: no endpoint returns a hand-kept copy
of a core value (a mirror that drifts from it), and what a client reads is the value's JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.dataclasses import is_pydantic_dataclass

from askaround.api.app import ROUTERS
from askaround.api.asks import SnoozedOut
from askaround.api.health import HealthOut
from askaround.api.pages import Page
from askaround.api.question_models import AskedQuestionOut, QuestionList
from askaround.api.reuses import ReuseOut
from askaround.api.route import RouteOut
from router.ledger.overview import AskLoad, Overview, PersonLoad, network_overview
from router.network.people import get_person_by_id
from router.network.views import (
    EvidenceView,
    NetworkView,
    PersonView,
    evidence_view,
    network_view,
    person_view,
)
from router.storage.schema import Evidence
from router.values import json_of
from tests.api_client import ApiHarness, Tenant
from tests.test_network_page import _seed

# Response shapes the API owns because no core value has them: envelopes around core values
# (pages, a route with its past answers, a question with its route) and the service's health.
ENVELOPES: set[type[BaseModel]] = {
    Page,
    RouteOut,
    AskedQuestionOut,
    QuestionList,
    SnoozedOut,
    ReuseOut,
    HealthOut,
}


@pytest.fixture
def acme(api: ApiHarness) -> Tenant:
    return _seed(api)


def _types_in(annotation: Any) -> Iterator[type[Any]]:
    """The classes an annotation names: ``list[Page[X]] | None`` gives list, Page[X] and X."""
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            yield from _types_in(arg)
    elif isinstance(annotation, type):
        yield annotation


def _field_types(kind: type[Any]) -> Iterator[type[Any]]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        fields = kind.model_fields
    elif is_pydantic_dataclass(kind):
        fields = kind.__pydantic_fields__
    else:
        return
    for field in fields.values():
        yield from _types_in(field.annotation)


def _reachable(model: Any) -> set[type[Any]]:
    """Every model and dataclass a response model is made of, nested ones included."""
    seen: set[type[Any]] = set()
    todo = list(_types_in(model))
    while todo:
        kind = todo.pop()
        if kind in seen:
            continue
        seen.add(kind)
        todo.extend(_field_types(kind))
    return seen


def _generic_origin(model: type[BaseModel]) -> type[BaseModel]:
    origin = model.__pydantic_generic_metadata__["origin"]
    return origin or model


def _is_core(kind: type[Any]) -> bool:
    return any(base.__module__.startswith("router.") for base in kind.__mro__)


def _responses() -> dict[tuple[str, str], Any]:
    """Each endpoint's response model, from the routers the app includes."""
    return {
        (method, route.path): route.response_model
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.response_model is not None
        for method in route.methods
    }


def test_the_walk_covers_every_documented_endpoint(api: ApiHarness) -> None:
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    walked = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert documented <= walked


def test_no_endpoint_answers_with_a_copy_of_a_core_value() -> None:
    responses = _responses()
    assert len(responses) > 20
    for (method, path), model in responses.items():
        for kind in _reachable(model):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                assert _generic_origin(kind) in ENVELOPES, (
                    f"{method} {path} answers with {kind.__qualname__}, a model of the API's own: "
                    "return the core's value (a pydantic dataclass) instead of a copy of it"
                )
            elif is_pydantic_dataclass(kind):
                assert _is_core(kind), (
                    f"{method} {path}: {kind.__qualname__} is not a core value nor built on one"
                )


@pytest.mark.parametrize(
    ("method", "path", "value", "paged"),
    [
        ("GET", "/v1/people", PersonView, True),
        ("POST", "/v1/people", PersonView, False),
        ("GET", "/v1/people/{person_id}", PersonView, False),
        ("PATCH", "/v1/people/{person_id}", PersonView, False),
        ("GET", "/v1/evidence", EvidenceView, True),
        ("GET", "/v1/people/{person_id}/evidence", EvidenceView, True),
        ("POST", "/v1/people/{person_id}/evidence", EvidenceView, False),
        ("GET", "/v1/evidence/{evidence_id}", EvidenceView, False),
        ("PATCH", "/v1/evidence/{evidence_id}", EvidenceView, False),
        ("GET", "/v1/network", NetworkView, False),
        ("GET", "/v1/network/overview", Overview, False),
    ],
)
def test_directory_and_overview_endpoints_answer_with_the_cores_value(
    method: str, path: str, value: type[Any], paged: bool
) -> None:
    model = _responses()[(method, path)]
    if paged:
        assert _generic_origin(model) is Page
        assert model.model_fields["items"].annotation == list[value]
    else:
        assert model is value


def test_openapi_names_the_cores_values_and_no_mirror(api: ApiHarness) -> None:
    components = set(api.client.get("/v1/openapi.json").json()["components"]["schemas"])
    assert {"PersonView", "EvidenceView", "NetworkView", "Overview", "PersonLoad"} <= components
    mirrors = {"PersonOut", "EvidenceOut", "NetworkOut", "OverviewOut", "NodeOut", "LoadOut"}
    assert not components & mirrors


def _get(api: ApiHarness, tenant: Tenant, path: str) -> Any:
    response = api.client.get(path, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_people_evidence_and_network_json_is_the_values_json(api: ApiHarness, acme: Tenant) -> None:
    people = _get(api, acme, "/v1/people")["items"]
    evidence = _get(api, acme, "/v1/evidence")["items"]
    network = _get(api, acme, "/v1/network")
    with api.services.database.transaction() as session:
        for shown in people:
            person = get_person_by_id(session, network_id=acme.network_id, person_id=shown["id"])
            assert shown == json_of(person_view(person))
        assert [row["id"] for row in evidence] == sorted(row["id"] for row in evidence)
        for shown in evidence:
            assert shown == json_of(evidence_view(session.get_one(Evidence, shown["id"])))
        assert network == json_of(network_view(session, network_id=acme.network_id))
    assert set(people[0]) == set(PersonView.__pydantic_fields__)
    assert set(evidence[0]) == set(EvidenceView.__pydantic_fields__)


def test_overview_json_is_the_cores_overview_with_asks_per_person_and_rounded_gini(
    api: ApiHarness, acme: Tenant, now: datetime
) -> None:
    shown = _get(api, acme, "/v1/network/overview?weeks=3")
    with api.services.database.transaction() as session:
        overview = network_overview(session, network_id=acme.network_id, now=now, weeks=3)
    assert shown == json_of(overview)
    assert shown["asks"]["people"], "the seeded network has asks"
    for load, row in zip(overview.asks.people, shown["asks"]["people"], strict=True):
        assert row == {
            "person_id": load.person_id,
            "name": load.name,
            "asks": list(load.asks),
            "total": sum(load.asks),
        }
    assert shown["asks"]["gini"] == round(overview.asks.gini, 4)
    assert len(shown["asks"]["weeks"]) == 3


def test_ask_load_shows_each_persons_total_and_gini_to_four_places() -> None:
    load = AskLoad(
        weeks=("2026-W47", "2026-W48"), people=(PersonLoad(7, "Ada", (2, 1)),), gini=1 / 3
    )
    assert json_of(load) == {
        "weeks": ["2026-W47", "2026-W48"],
        "people": [{"person_id": 7, "name": "Ada", "asks": [2, 1], "total": 3}],
        "gini": 0.3333,
    }
