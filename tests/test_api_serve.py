"""``askaround serve``: uvicorn over ``create_app``; ``--network`` is keyless reads on loopback only."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from askaround.cli import serve as serve_module
from askaround.cli.serve import is_loopback, serve
from router.errors import InvalidInput, NotFound
from router.settings import Settings
from tests.api_client import ApiHarness


@pytest.fixture
def environment(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")


def test_loopback_addresses_are_told_apart_from_public_ones() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_serve_refuses_the_keyless_network_on_a_public_address() -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        serve(network="demo", host="0.0.0.0", port=8000)


@pytest.mark.usefixtures("environment")
def test_serve_refuses_a_network_that_does_not_exist() -> None:
    with pytest.raises(NotFound, match="nowhere"):
        serve(network="nowhere", host="127.0.0.1", port=8000)


@pytest.mark.usefixtures("environment")
def test_serve_hands_uvicorn_the_app_with_its_open_network(
    settings: Settings, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeding = ApiHarness.start(settings, now=now)
    seeding.network("demo")
    seeding.close()
    started: dict[str, Any] = {}

    def run(server: uvicorn.Server) -> None:
        config = server.config
        started.update(app=config.app, host=config.host, port=config.port)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    serve(network="demo", host="127.0.0.1", port=8123)
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    assert started["app"].state.open_network == "demo"
    serve(network=None, host="0.0.0.0", port=8124)
    assert started["app"].state.open_network is None
    assert serve_module.__doc__ and "loopback" in serve_module.__doc__


def test_api_answers_over_a_real_socket(settings: Settings, now: datetime) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    server = uvicorn.Server(
        uvicorn.Config(api.client.app, host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers) as client:
            assert client.get("/v1/health").json()["status"] == "ok"
            response = client.post("/v1/route", json={"question": "who knows grafana?", "k": 3})
            assert response.status_code == 200 and response.json()["candidates"] == []
            assert client.get("/v1/people", headers={"Authorization": ""}).status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        api.close()


@pytest.mark.usefixtures("environment")
def test_health_answers_at_once_while_the_model_and_indexes_load_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from askaround import wiring
    from router.search.embedding import HashingEmbedder

    loading = threading.Event()
    release = threading.Event()

    def slow_model(settings: Settings) -> HashingEmbedder:
        loading.set()
        release.wait(30)
        return HashingEmbedder()

    seen: list[bool] = []

    def run(server: uvicorn.Server) -> None:
        client = TestClient(server.config.app)
        assert not loading.wait(0.3)  # nothing loads before the server listens
        server.started = True
        assert loading.wait(10)
        health = client.get("/v1/health")  # the model is still loading
        assert health.status_code == 200 and health.json()["ready"] is False
        release.set()
        deadline = time.monotonic() + 10
        while not client.get("/v1/health").json()["ready"] and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(client.get("/v1/health").json()["ready"])

    monkeypatch.setattr(wiring, "build_embedder", slow_model)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    serve(network=None, host="127.0.0.1", port=8125)
    assert seen == [True]
