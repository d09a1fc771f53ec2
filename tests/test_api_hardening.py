"""The HTTP edge under pressure and probing: bursts queue then get 503 with Retry-After, JSON is
never cached, docs need no CDN, keyless local mode checks Host, OPTIONS and OpenAPI tell the truth."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import anyio
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from askaround.api.admission import Admission
from router.settings import Settings
from tests.api_client import ApiHarness


def test_json_responses_are_never_cached(settings: Settings, now: datetime) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    for response in (
        api.client.get("/v1/people", headers=tenant.headers),
        api.client.get("/v1/people"),  # an error carries data about the request too
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_docs_load_swagger_from_this_server_not_a_cdn(settings: Settings, now: datetime) -> None:
    api = ApiHarness.start(settings, now=now)
    page = api.client.get("/v1/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(asset.startswith("/v1/docs/assets/") for asset in assets), assets
    for asset in assets:
        assert api.client.get(asset).status_code == 200


def test_keyless_reads_answer_only_requests_addressed_to_localhost(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now, open_network="demo")
    api.network("demo")
    assert api.client.get("/v1/network").status_code == 200
    assert api.client.get("/v1/network", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    rebound = api.client.get("/v1/network", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 403 and "localhost" in rebound.json()["detail"]


def test_options_and_405_list_every_method_of_a_path(settings: Settings, now: datetime) -> None:
    api = ApiHarness.start(settings, now=now)
    options = api.client.options("/v1/questions")
    assert options.status_code == 204
    assert {"GET", "POST"} <= set(options.headers["allow"].split(", "))
    wrong = api.client.delete("/v1/questions")
    assert wrong.status_code == 405 and {"GET", "POST"} <= set(wrong.headers["allow"].split(", "))


def test_openapi_documents_403_and_503_on_data_endpoints(settings: Settings, now: datetime) -> None:
    api = ApiHarness.start(settings, now=now)
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    responses = paths["/v1/questions"]["post"]["responses"]
    assert {"403", "503"} <= set(responses)


def test_requests_beyond_the_pool_queue_then_get_503_with_retry_after() -> None:
    release = anyio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async def main() -> list[httpx.Response]:
        app = Admission(slow, limit=2, wait=0.2, retry_after=1)
        transport = httpx.ASGITransport(app=app)
        results: list[httpx.Response] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:

            async def call() -> None:
                results.append(await client.get("/v1/people"))

            async with anyio.create_task_group() as group:
                for _ in range(5):
                    group.start_soon(call)
                await anyio.sleep(0.5)  # three wait past 0.2 s and are turned away
                release.set()
        return results

    results = anyio.run(main)
    statuses = sorted(response.status_code for response in results)
    assert statuses == [200, 200, 503, 503, 503]
    busy = next(response for response in results if response.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.json()["error"] == "busy"


@pytest.mark.parametrize("path", ["/v1/health", "/v1/openapi.json"])
def test_health_and_schema_are_not_queued_behind_a_burst(path: str) -> None:
    async def never(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> int:
        app = Admission(never, limit=0, wait=0.01, retry_after=1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return (await client.get(path)).status_code

    assert anyio.run(main) == 200


def test_a_body_larger_than_any_valid_request_is_refused_with_413_before_the_key_check(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")

    def body(megabytes: int) -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(megabytes):
            yield b"a" * (1 << 20)
        yield b'"}'

    for headers in ({}, tenant.headers):  # without a key too: it was read whole before the 401
        response = api.client.post("/v1/route", content=body(64), headers=headers)
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too_large"
    # the largest valid body still gets through: 100,000 escaped emoji are 1.2 MB of JSON
    largest = '{"question": "' + "\\ud83d\\ude42" * 100_000 + '"}'
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = api.client.post("/v1/route", content=largest, headers=headers)
    assert response.status_code == 422 and "40000" in response.json()["detail"], response.text
