"""Admission and response headers: the ASGI middlewares every request passes through.

``Admission`` lets at most as many requests run as the database pool has connections. The rest
wait in the event loop (holding no thread and no connection) up to ``wait`` seconds, then get
``503`` with ``Retry-After``. Without it, a burst filled every worker thread with requests
waiting for a connection, while the requests holding connections waited for a free thread to
commit: locks were held until the pool timed out and the burst failed with 500s.

``ShuttingDown`` answers every request that arrives once the server has begun a graceful stop
``503 shutting_down`` with ``Retry-After`` and ``Connection: close``: nothing was done, so a
client may safely send it again (requests already running finish). See ``askaround.cli.drain``.

``SafeHeaders`` marks every JSON response ``Cache-Control: no-store`` (they carry a network's
data) and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
import math
import threading

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askaround.api.errors import error_response

UNMETERED = ("/v1/health", "/v1/docs", "/v1/openapi.json", "/favicon.ico")


class Admission:
    """At most ``limit`` requests in flight; others queue up to ``wait`` seconds, then 503."""

    def __init__(self, app: ASGIApp, *, limit: int, wait: float, retry_after: float) -> None:
        self.app = app
        self.limit = limit
        self.wait = wait
        self.retry_after = retry_after
        self._slots: anyio.Semaphore | None = None

    def _ready(self) -> anyio.Semaphore:
        """The semaphore, and enough worker threads that an admitted request never waits for one."""
        if self._slots is None:
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(int(limiter.total_tokens), 2 * self.limit + 8)
            self._slots = anyio.Semaphore(self.limit)
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(UNMETERED):
            await self.app(scope, receive, send)
            return
        slots = self._ready()
        admitted = False
        with anyio.move_on_after(self.wait):
            await slots.acquire()
            admitted = True
        if not admitted:
            await self._busy(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()

    async def _busy(self, send: Send) -> None:
        body = json.dumps(
            {"error": "busy", "detail": "the server is busy; retry after a moment"}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(math.ceil(self.retry_after)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ShuttingDown:
    """``503 shutting_down`` for every request once ``stopping`` is set (its body already read)."""

    def __init__(self, app: ASGIApp, *, stopping: threading.Event, retry_after: float) -> None:
        self.app = app
        self.stopping = stopping
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.stopping.is_set():
            await self.app(scope, receive, send)
            return
        response = error_response(
            503, "shutting_down", "the server is shutting down; nothing was done, retry"
        )
        response.headers["Retry-After"] = str(math.ceil(self.retry_after))
        response.headers["Connection"] = "close"  # this connection ends with the answer
        await response(scope, receive, send)


class SafeHeaders:
    """``Cache-Control: no-store`` on JSON responses and ``nosniff`` on all of them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if b"json" in content_type and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_safely)
