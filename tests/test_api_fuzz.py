"""The API fuzzed from its own OpenAPI schema: whatever schemathesis sends, valid or not, no 5xx,
no crash, and every response keeps to what the schema documents (status, content type, body).

One test per operation, each bounded: a fixed number of positive and negative examples, no
shrinking, derandomized so a failure reproduces.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from askaround.api.app import ROUTERS
from router.settings import Settings
from tests.api_client import ApiHarness, Tenant

pytestmark = pytest.mark.slow  # every operation of the API, fuzzed

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
OPERATIONS = sorted(
    (method, route.path)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
)


@pytest.fixture
def fuzzed(settings: Settings, now: datetime) -> Iterator[tuple[ApiHarness, Tenant]]:
    """An API over a small seeded network, so generated ids sometimes hit real rows."""
    harness = ApiHarness.start(settings, now=now)
    tenant = harness.network("fuzz")
    for n in range(3):
        person = harness.client.post(
            "/v1/people",
            json={"name": f"Person {n}", "external_ids": [f"t:{n}"]},
            headers=tenant.headers,
        ).json()
        harness.client.post(
            f"/v1/people/{person['id']}/evidence",
            json={"kind": "answer", "text": f"grafana dbt stripe answer {n}"},
            headers=tenant.headers,
        )
    yield harness, tenant
    harness.close()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_never_answers_5xx_and_keeps_to_its_schema(
    fuzzed: tuple[ApiHarness, Tenant], method: str, path: str
) -> None:
    harness, tenant = fuzzed
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", harness.client.app)
    operation = schema[path][method]
    modes = [GenerationMode.POSITIVE]
    if operation.path_parameters or operation.query or operation.body:
        modes.append(GenerationMode.NEGATIVE)  # an operation without inputs has no bad ones
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **tenant.headers})
            case.validate_response(response, checks=CHECKS)

        run()
