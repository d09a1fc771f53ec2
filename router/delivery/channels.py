"""Where outbox messages go: the ``Channel`` protocol, a JSON-lines log and a JSON webhook.

A channel gets one ``OutboundMessage`` at a time and returns a small dict saying what happened
(stored on the outbox row). It raises to say the send failed; the outbox worker then retries
with backoff. Every message carries its idempotency key, and a channel should pass it on (the
webhook sends an ``Idempotency-Key`` header) or honour it from durable state (the log skips a
key already in its file, whoever wrote it), so a send retried after a crash is not delivered
twice. The Slack channel lives in
``bots/`` and satisfies the same protocol.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import httpx

from router.errors import Unavailable


class Deferred(Exception):
    """Raised by a channel for a message that must wait (the recipient's hours): not a failure,
    so the outbox tries it again at ``until`` without counting an attempt."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until


@dataclass(frozen=True)
class OutboundMessage:
    """One outbox row handed to a channel; ``payload`` is render-ready data, not markup."""

    id: int
    network_id: int
    recipient_id: int | None
    kind: str  # ask | answer | escalated | expired | closed | thanks | summary
    payload: dict[str, Any]
    idempotency_key: str
    attempt: int  # 1 on the first try

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "network_id": self.network_id,
            "recipient_id": self.recipient_id,
            "kind": self.kind,
            "payload": self.payload,
            "idempotency_key": self.idempotency_key,
            "attempt": self.attempt,
        }


class Channel(Protocol):
    """Sends one message; returns what the far side said, raises if it was not delivered."""

    name: str

    def send(self, message: OutboundMessage) -> dict[str, Any]: ...


@dataclass
class LogChannel:
    """Appends each message as one JSON line to a file; a key already in the file is skipped.

    The file itself is the record of what was delivered: every send takes an exclusive lock
    on it, reads whatever any process appended since this one last looked, and appends (and
    fsyncs) only a key not yet there. So a worker that died after writing a message but before
    marking it sent cannot make another worker, or its own restart, deliver it twice.
    """

    path: Path
    name: str = "log"
    _written: set[str] = field(default_factory=set, repr=False)
    _offset: int = field(default=0, repr=False)

    def _catch_up(self, handle: BinaryIO) -> bool:
        """Read the lines appended since ``_offset``; whether the file ends mid-line (torn)."""
        handle.seek(self._offset)
        data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.splitlines():
            try:
                self._written.add(str(json.loads(line)["idempotency_key"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash: not a delivery
        self._offset += len(complete)
        return len(complete) < len(data)

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            torn = self._catch_up(handle)
            if message.idempotency_key in self._written:
                return {"channel": self.name, "duplicate": True}
            line = json.dumps(message.as_dict(), sort_keys=True, ensure_ascii=False) + "\n"
            data = ("\n" if torn else "").encode() + line.encode("utf-8")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            self._offset = handle.tell()
        self._written.add(message.idempotency_key)
        return {"channel": self.name, "path": str(self.path)}


class WebhookChannel:
    """POSTs each message as JSON with an ``Idempotency-Key`` header; any non-2xx is a failure."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise Unavailable(f"webhook url must be http(s): {url!r}")
        self.url = url
        self.client = client or httpx.Client(timeout=timeout)
        self.headers = dict(headers or {})

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        headers = {**self.headers, "Idempotency-Key": message.idempotency_key}
        try:
            response = self.client.post(self.url, json=message.as_dict(), headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"webhook {self.url} unreachable: {exc}") from exc
        if not response.is_success:
            raise Unavailable(f"webhook {self.url} answered {response.status_code}")
        return {"channel": self.name, "status": response.status_code}

    def close(self) -> None:
        self.client.close()
