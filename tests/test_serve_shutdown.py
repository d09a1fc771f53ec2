"""``askaround serve`` stopped by SIGTERM in the middle of a burst: every client whose connection
was established gets a whole HTTP answer (served, or ``503 shutting_down`` with ``Retry-After``
and ``Connection: close``), and every later one is refused; none sees a reset or an empty reply,
after which it could not tell whether its request was done."""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from askaround.cli.drain import refuse_new_connections, waiting_connections
from askaround.cli.supervisor import bind_socket
from tests.serve_process import free_port, start_serve

CLIENTS = 200  # each sends one request after another on fresh connections


def _health(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/v1/health")
        response = connection.getresponse()
        return int(json.loads(response.read())["worker"]) if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _wait_serving(port: int, server: subprocess.Popen[bytes], workers: int) -> None:
    """Until ``workers`` distinct workers have answered health (a deadline, not a sleep)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 90
    while len(seen) < workers and time.monotonic() < deadline and server.poll() is None:
        with ThreadPoolExecutor(4) as pool:  # concurrent, so that a second worker gets some
            seen.update(pid for pid in pool.map(_health, [port] * 4) if pid is not None)
        time.sleep(0.05)
    assert len(seen) >= workers, f"workers {seen} answered (serve exit code {server.poll()})"


def _outcome(port: int, answered: threading.Semaphore) -> str:
    """What one client saw: refused, a whole response (its status, or shutting_down with the
    headers that make it safe to retry), or the connection lost (reset, empty or cut short)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        try:
            connection.connect()
        except ConnectionRefusedError:
            return "refused"
        connection.request("GET", "/v1/health")
        response = connection.getresponse()
        body = response.read()
        answered.release()
    except (OSError, http.client.HTTPException) as exc:
        return f"lost: {type(exc).__name__}"
    finally:
        connection.close()
    if response.status != 503:
        return str(response.status)
    error = json.loads(body).get("error")
    retry = response.getheader("Retry-After", "")
    closing = response.getheader("Connection", "").lower()
    return f"503 {error} retry-after={retry.isdigit()} connection={closing}"


@pytest.mark.slow  # starts `python -m askaround serve`
@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_mid_burst_answers_every_established_connection_and_refuses_the_rest(
    database_url: str, tmp_path: Path, workers: int
) -> None:
    port = free_port()
    server = start_serve(database_url, tmp_path / "data", port, workers=workers)
    try:
        _wait_serving(port, server, workers)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        go = threading.Event()
        answered = threading.Semaphore(0)

        def client() -> None:
            """Fresh connections one after another until the port refuses (or one is lost)."""
            go.wait()
            seen = ""
            deadline = time.monotonic() + 30
            while seen != "refused" and not seen.startswith("lost"):
                seen = _outcome(port, answered)
                with lock:
                    outcomes[seen] += 1
                if time.monotonic() > deadline:
                    break

        burst = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in burst:
            thread.start()
        go.set()
        for _ in range(2 * CLIENTS):  # stop while the burst is in full flow
            assert answered.acquire(timeout=30), f"the burst stalled: {dict(outcomes)}"
        server.send_signal(signal.SIGTERM)
        for thread in burst:
            thread.join(timeout=60)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    lost = {seen: count for seen, count in outcomes.items() if seen.startswith("lost")}
    assert not lost, f"{lost} of {dict(outcomes)}"
    safe = {"200", "refused", "503 shutting_down retry-after=True connection=close"}
    assert set(outcomes) <= safe, dict(outcomes)
    assert outcomes["refused"] == CLIENTS  # and after the stop, the port refuses everyone


@pytest.mark.slow  # starts `python -m askaround serve`
def test_a_connection_made_before_the_stop_is_answered_when_its_request_comes_after(
    database_url: str, tmp_path: Path
) -> None:
    """uvicorn alone closed connections that had sent nothing yet: the request that followed
    met a closed socket."""
    port = free_port()
    server = start_serve(database_url, tmp_path / "data", port, workers=1)
    early: list[socket.socket] = []
    try:
        _wait_serving(port, server, workers=1)
        early = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(10)]
        assert _health(port) is not None  # served after them: they have been accepted
        server.send_signal(signal.SIGTERM)
        select.select(early[:1], [], [], 2.0)  # until the server closes it, if it does
        answers = []
        for connection in early:
            try:
                connection.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answers.append(_read_until_closed(connection))
            except OSError as exc:
                answers.append(f"lost: {type(exc).__name__}".encode())
        server.wait(timeout=60)
    finally:
        for connection in early:
            connection.close()
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    heads = [answer.split(b"\r\n\r\n", 1)[0].lower() for answer in answers]
    assert all(head.startswith(b"http/1.1 503") for head in heads), answers
    assert all(b"connection: close" in head and b"retry-after: " in head for head in heads)
    assert all(b'"error":"shutting_down"' in answer for answer in answers)
    with pytest.raises(ConnectionRefusedError):  # and the port, closed, refuses what comes next
        socket.create_connection(("127.0.0.1", port), timeout=20).close()


@pytest.mark.slow  # starts `python -m askaround serve`
@pytest.mark.parametrize("workers", [1, 2])
def test_a_kept_alive_connection_whose_next_request_comes_after_the_stop_is_answered(
    database_url: str, tmp_path: Path, workers: int
) -> None:
    """uvicorn closed a connection idle between two requests at once: the next request, sent on
    a connection the client had every reason to reuse, met a closed socket."""
    port = free_port()
    server = start_serve(database_url, tmp_path / "data", port, workers=workers)
    kept: list[http.client.HTTPConnection] = []
    try:
        _wait_serving(port, server, workers=workers)
        kept = [http.client.HTTPConnection("127.0.0.1", port, timeout=20) for _ in range(10)]
        for connection in kept:  # a first request answered, the connection kept alive
            connection.request("GET", "/v1/health")
            first = connection.getresponse()
            first.read()
            assert first.status == 200 and not first.will_close
        server.send_signal(signal.SIGTERM)
        select.select([kept[0].sock], [], [], 2.0)  # closed by now, if it is
        answers = []
        for connection in kept:
            try:
                connection.request("GET", "/v1/health")
                second = connection.getresponse()
                answers.append((second.status, json.loads(second.read()).get("error")))
            except (OSError, http.client.HTTPException) as exc:
                answers.append((0, f"lost: {type(exc).__name__}"))
        server.wait(timeout=60)
    finally:
        for connection in kept:
            connection.close()
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    assert answers == [(503, "shutting_down")] * len(kept), answers


def _read_until_closed(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data


def test_a_draining_listener_holds_back_new_connections_and_hands_over_the_waiting_ones() -> None:
    """What the drain relies on from the kernel: after ``refuse_new_connections`` a new client's
    SYN goes unanswered (it retries), the ones already established stay in the backlog, and once
    the socket is closed the next attempt is refused."""
    listener = bind_socket("127.0.0.1", 0)
    address = listener.getsockname()
    waiting = socket.create_connection(address, timeout=5)
    try:
        waiting.sendall(b"GET /v1/health HTTP/1.1\r\n\r\n")
        assert refuse_new_connections(listener)
        assert waiting_connections(listener) == 1
        with pytest.raises(TimeoutError):  # held back, not refused: it retries its SYN
            socket.create_connection(address, timeout=0.3).close()
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.recv(100).startswith(b"GET /v1/health")
        assert waiting_connections(listener) == 0
    finally:
        waiting.close()
        listener.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()
