"""The API on a real socket for tests that need real concurrency: uvicorn on 127.0.0.1:0 in a thread.

with LiveServer.start(app) as server:
    httpx.get(f"{server.url}/v1/health")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


@dataclass
class LiveServer:
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    @classmethod
    @contextmanager
    def start(cls, app: FastAPI) -> Iterator[LiveServer]:
        """Serve ``app`` until the block ends; waits (with a deadline) until it listens."""
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        assert server.started, "the server did not start"
        try:
            yield cls(server=server, thread=thread)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
