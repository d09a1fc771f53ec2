"""The drain at a graceful stop of ``askaround serve``: every connection the kernel already
established gets an HTTP answer, and only then is the listening socket closed.

Closing a listening socket resets every connection still waiting in its backlog, and uvicorn's
own stop closes it first, then closes the connections whose request it had not read yet: a
client that had sent its request saw a reset and could not tell whether it was served. Here the
stop first tells the kernel to drop new SYNs (a socket filter; those clients retransmit and are
refused once the socket is closed), keeps accepting until the backlog is empty and every accepted
connection has sent its request (a kept-alive one its next), which the app answers
``503 shutting_down`` (requests already running finish), and then lets uvicorn stop as before. SIGKILL is not caught: nothing changes.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Protocol

import uvicorn

log = logging.getLogger("askaround.serve")

HANDSHAKE_SECONDS = 0.5  # handshakes the kernel answered before the filter complete within this
DRAIN_SECONDS = 5.0  # a connection that has sent no request by then is closed, as uvicorn would
POLL_SECONDS = 0.01
SO_ATTACH_FILTER = 26  # Linux; Python's socket module does not name it
TCP_INFO_SIZE = 104
TCP_LISTEN = 10

# Classic BPF, run by the kernel on each packet for the listening socket (offsets from the TCP
# header): drop a SYN without ACK (a new connection), keep everything else, so handshakes already
# answered still complete and reach the backlog. Connections accepted later inherit the filter,
# which never drops anything on an established connection.
SYN_FILTER = (
    (0x30, 0, 0, 13),  # ldb [13]: the TCP flags
    (0x54, 0, 0, 0x12),  # and #(SYN | ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN: next, else skip one
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole packet
)


class Listener(Protocol):
    """A listening socket, or asyncio's wrapper of one."""

    def getsockopt(self, level: int, option: int, size: int, /) -> bytes: ...
    def setsockopt(self, level: int, option: int, value: bytes, /) -> None: ...


def refuse_new_connections(sock: Listener) -> bool:
    """Have the kernel drop new connection attempts on ``sock`` while the ones it already
    completed wait to be accepted; False where that is not possible (not Linux)."""
    program = b"".join(struct.pack("HBBI", *instruction) for instruction in SYN_FILTER)
    code = ctypes.create_string_buffer(program)
    prog = struct.pack("HL", len(SYN_FILTER), ctypes.addressof(code))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)  # the kernel copies it
    except OSError as exc:
        log.warning("cannot hold back new connections while draining: %s", exc)
        return False
    return True


def waiting_connections(sock: Listener) -> int:
    """Connections established on listening ``sock`` and not yet accepted (0 when unknown)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return 0
    if len(info) < 32 or info[0] != TCP_LISTEN:
        return 0
    return int(struct.unpack_from("I", info, 24)[0])  # tcpi_unacked is the backlog on a listener


def awaiting_request(connections: Iterable[object]) -> int:
    """Open connections that have not sent (or uvicorn has not read) their next request: no
    ``cycle`` before the first, a finished one while kept alive between two. uvicorn's HTTP/1.1
    protocols close both at its stop, and a client reusing a kept-alive one meets a closed
    socket; the rest close once answered, or when uvicorn's keep-alive timeout ends them."""
    waiting = 0
    for connection in connections:
        cycle = getattr(connection, "cycle", None)
        if cycle is not None and not getattr(cycle, "response_complete", False):
            continue  # a request running: uvicorn lets it finish
        transport = getattr(connection, "transport", None)
        if transport is not None and transport.is_closing():
            continue
        waiting += 1
    return waiting


class DrainingServer(uvicorn.Server):
    """uvicorn, whose graceful stop first answers every connection already established."""

    def __init__(self, config: uvicorn.Config, *, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping  # the app answers 503 shutting_down once it is set

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping.set()
        if not self.force_exit:
            await self.drain()
        await super().shutdown(sockets=sockets)

    async def drain(self) -> None:
        """Accept until the backlog is empty and each accepted connection has sent a request
        (twice in a row, as accepting takes a turn of the loop); at most ``DRAIN_SECONDS``."""
        listeners = [sock for server in self.servers for sock in server.sockets]
        for sock in listeners:
            refuse_new_connections(sock)
        started = time.monotonic()
        quiet = 0
        while quiet < 2 and time.monotonic() - started < DRAIN_SECONDS and not self.force_exit:
            await asyncio.sleep(POLL_SECONDS)
            waiting = sum(waiting_connections(sock) for sock in listeners)
            waiting += awaiting_request(self.server_state.connections)
            settled = time.monotonic() - started >= HANDSHAKE_SECONDS
            quiet = quiet + 1 if settled and not waiting else 0
        log.info("drained the backlog in %.2fs", time.monotonic() - started)
