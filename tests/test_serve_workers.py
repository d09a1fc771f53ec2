"""``askaround serve --workers N``: N processes on one port, each with its own indexes following the
change log; a dead worker is replaced; SIGTERM stops them all cleanly; workers that cannot start
stop the server with one line."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from askaround.cli import serve as serve_module
from askaround.cli.serve import limit_native_threads, serve, worker_settings
from askaround.cli.shutdown import GracefulStop
from askaround.cli.supervisor import Supervisor, backoff, bind_socket, planned_workers
from askaround.settings import AppSettings
from router.errors import InvalidInput, Unavailable
from router.network.keys import create_key
from router.network.people import ensure_network
from router.search.onnx_encoder import available_cores
from router.settings import Settings
from router.storage.database import Database
from tests.api_client import ApiHarness
from tests.crashing_worker import exit_after_listening, exit_at_once
from tests.serve_process import free_port, start_serve


def _worker_pids(
    url: str, server: subprocess.Popen[bytes], *, want: set[int] | None = None, seconds: float = 90
) -> set[int]:
    """The pids answering health on fresh, concurrent connections: until two distinct ones
    (and every pid of ``want``, when given) have answered, within ``seconds``."""
    seen: set[int] = set()
    lock = threading.Lock()

    def probe() -> None:
        try:
            response = httpx.get(f"{url}/v1/health", timeout=5)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            with lock:
                seen.add(response.json()["worker"])

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        burst = [threading.Thread(target=probe) for _ in range(4)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join()
        if len(seen) >= 2 and (want is None or want <= seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"only workers {seen} answered (serve exit code {server.poll()})")


def _client_on(url: str, headers: dict[str, str], worker: int) -> httpx.Client:
    """A keep-alive client whose connection the given worker accepted."""
    for _ in range(200):
        client = httpx.Client(base_url=url, headers=headers, timeout=10)
        if client.get("/v1/health").json()["worker"] == worker:
            return client
        client.close()
    raise AssertionError(f"no connection landed on worker {worker}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def tenant(database: Database) -> dict[str, str]:
    now = datetime.now(UTC)
    with database.transaction() as session:
        network_id = ensure_network(session, name="workers", now=now).id
        key = create_key(session, network_id=network_id, now=now).plaintext
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``serve --workers 2`` on a free port: its address and the supervisor's process."""
    port = free_port()
    server = start_serve(
        database_url,
        tmp_path / "data",
        port,
        workers=2,
        environment={"ASKAROUND_INDEX_CHECK_SECONDS": "0.5"},
    )
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)


def test_two_workers_share_the_port_and_each_routes_what_the_other_wrote(
    two_workers: tuple[str, subprocess.Popen[bytes]], tenant: dict[str, str]
) -> None:
    url, server = two_workers
    first, second = sorted(_worker_pids(url, server))
    assert server.pid not in (first, second)  # the supervisor itself serves nothing
    writer, reader = _client_on(url, tenant, first), _client_on(url, tenant, second)
    try:
        question = {"question": "who knows grafana dashboards?", "k": 3}
        assert reader.post("/v1/route", json=question).json()["candidates"] == []
        person = writer.post("/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]})
        assert person.status_code == 201
        evidence = writer.post(
            f"/v1/people/{person.json()['id']}/evidence",
            json={"kind": "interest", "text": "grafana dashboards and alerting"},
        )
        assert evidence.status_code == 201
        assert writer.get("/v1/health").json()["worker"] == first
        deadline = time.monotonic() + 15
        found: list[str] = []
        while not found and time.monotonic() < deadline:
            route = reader.post("/v1/route", json=question).json()
            found = [c["name"] for c in route["candidates"]]
            time.sleep(0.2)
        assert reader.get("/v1/health").json()["worker"] == second
        assert found == ["Ada"]
    finally:
        writer.close()
        reader.close()


def test_a_killed_worker_is_replaced_and_sigterm_stops_every_process_with_code_zero(
    two_workers: tuple[str, subprocess.Popen[bytes]], tenant: dict[str, str]
) -> None:
    url, server = two_workers
    workers = _worker_pids(url, server)
    victim, survivor = sorted(workers)
    os.kill(victim, signal.SIGKILL)
    with httpx.Client(base_url=url, headers=tenant, timeout=10) as client:
        assert client.get("/v1/people").status_code == 200  # the other one serves meanwhile
    replaced = _worker_pids(url, server, want={survivor})
    assert victim not in replaced and len(replaced) == 2
    everyone = workers | replaced | set(_children(server.pid))  # and multiprocessing's helper
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=90) == 0
    deadline = time.monotonic() + 10
    while [pid for pid in everyone if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in everyone if _alive(pid)]


def test_workers_that_cannot_start_stop_the_server_with_the_reason() -> None:
    sock = bind_socket("127.0.0.1", 0)
    supervisor = Supervisor(target=exit_at_once, sock=sock, workers=2)
    with pytest.raises(Unavailable, match="exited with code 3 before it listened"):
        supervisor.run(GracefulStop())
    assert not [pid for pid in supervisor.pids() if _alive(pid)]


def test_restarts_back_off_from_half_a_second_to_half_a_minute() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(20) == 30.0


def test_a_worker_that_keeps_dying_after_it_listened_is_restarted_ever_more_slowly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = bind_socket("127.0.0.1", 0)
    supervisor = Supervisor(target=exit_after_listening, sock=sock, workers=1)
    caplog.set_level(logging.INFO, logger="askaround.serve")
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGTERM))
    with GracefulStop().installed() as stop:
        timer.start()
        try:
            supervisor.run(stop)  # no Unavailable: it did start, it just dies
        finally:
            timer.cancel()
    assert supervisor.slots[0].starts >= 3
    delays = [
        r.getMessage().rsplit(" ", 1)[1] for r in caplog.records if "restarting" in r.getMessage()
    ]
    assert delays[:2] == ["0.5s", "1.0s"]


def test_each_worker_gets_a_fair_share_of_the_cores_and_never_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = AppSettings(torch_threads=8, faiss_threads=8)
    share = max(1, available_cores() // 2)
    shared = worker_settings(settings, 2)
    assert (shared.torch_threads, shared.faiss_threads, shared.encoder_threads) == (share,) * 3
    assert worker_settings(settings, 64).encoder_threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "16")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    limit_native_threads(2)
    assert os.environ["OMP_NUM_THREADS"] == "1"  # an explicit lower cap stays
    assert os.environ["OPENBLAS_NUM_THREADS"] == os.environ["MKL_NUM_THREADS"] == "2"


def test_the_workers_setting_chooses_the_supervised_mode(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    monkeypatch.setenv("ASKAROUND_SERVE_WORKERS", "3")
    started: list[int] = []

    def supervised(settings: AppSettings, *, workers: int, **_: object) -> None:
        started.append(workers)

    monkeypatch.setattr(serve_module, "serve_workers", supervised)
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: started.append(1))
    serve(network=None, host="127.0.0.1", port=8126)
    serve(network=None, host="127.0.0.1", port=8126, workers="2")
    monkeypatch.setenv("ASKAROUND_SERVE_WORKERS", "1")
    serve(network=None, host="127.0.0.1", port=8126)  # one process, in this one, as before
    assert started == [3, 2, 1]


def test_auto_workers_are_one_per_core_while_their_indexes_fit_the_memory_budget() -> None:
    """Measured: one worker held 522 MB at 100k evidence rows and 2,072 MB at 1M."""
    assert planned_workers(100_000, cores=2, memory_mb=3072) == 2
    assert planned_workers(1_000_000, cores=2, memory_mb=3072) == 1  # two would need ~4 GB
    assert planned_workers(1_000_000, cores=4, memory_mb=8192) == 3
    assert planned_workers(0, cores=1, memory_mb=8192) == 1
    assert planned_workers(50_000_000, cores=8, memory_mb=256) == 1  # never none


def test_serve_workers_auto_plans_from_the_evidence_held_and_a_bad_count_is_one_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    monkeypatch.setattr(serve_module, "available_cores", lambda: 2)
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    person = api.client.post(
        "/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]}, headers=tenant.headers
    ).json()
    for n in range(3):
        api.client.post(
            f"/v1/people/{person['id']}/evidence",
            json={"kind": "interest", "text": f"grafana {n}"},
            headers=tenant.headers,
        )
    api.close()
    started: list[int] = []

    def supervised(settings: AppSettings, *, workers: int, **_: object) -> None:
        started.append(workers)

    monkeypatch.setattr(serve_module, "serve_workers", supervised)
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: started.append(1))
    serve(network=None, host="127.0.0.1", port=8126, workers="auto")  # 3 rows: both cores
    monkeypatch.setenv("ASKAROUND_SERVE_WORKERS", "auto")
    monkeypatch.setenv("ASKAROUND_SERVE_MEMORY_MB", "600")  # room for one worker only
    serve(network=None, host="127.0.0.1", port=8126)
    assert started == [2, 1]
    for bad in ("0", "65", "lots", "-1"):
        with pytest.raises(InvalidInput, match="--workers takes a number from 1 to 64 or `auto`"):
            serve(network=None, host="127.0.0.1", port=8126, workers=bad)


def test_a_worker_that_leaves_saving_to_a_sibling_writes_no_index_file(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    person = api.client.post(
        "/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]}, headers=tenant.headers
    ).json()
    api.client.post(
        f"/v1/people/{person['id']}/evidence",
        json={"kind": "interest", "text": "grafana"},
        headers=tenant.headers,
    )
    indexes = api.services.router.indexes
    try:
        with api.services.database.transaction() as session:
            network_id = api.services.router.warm(session).loaded[0]
        path = indexes.path(network_id)
        path.unlink(missing_ok=True)
        indexes.saves = False
        with api.services.database.transaction() as session:
            indexes.drop(network_id)
            api.services.router.warm(session)
        assert indexes.save_changed() == 0 and not path.exists()
        indexes.saves = True
        assert indexes.save_changed() == 1 and path.exists()
    finally:
        api.close()


def test_connections_on_the_shared_socket_send_without_nagle_delay() -> None:
    """Otherwise each response waits out the client's delayed ACK (~40 ms a route)."""
    import asyncio

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    flags: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            flags.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if flags:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(accept_one())
    assert flags == [1]
