"""What the bot acknowledged and still owes: a ``/ask`` or an answer from the answer modal is
recorded before the ack, carried out after it, and replayed after a crash or a restart.

The record is the minimum work before the ack: one row in ``inbound_requests``, written with a
short lock wait. When the database is busy (SQLite during a bulk import holds the one write
lock for seconds) the request goes to a spool file instead (written, flushed to disk, renamed
into place), which the bot moves into the database as soon as it can. Carrying a request out
claims its row in the same transaction as the effect, so it is done once: by the listener right
after the ack, or by the replay job when that process died first. The key (Slack's
``trigger_id``, the modal's view id) is unique, so a request sent again does nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from router.storage.database import Database
from router.storage.idempotency import insert_once
from router.storage.schema import InboundRequest

log = logging.getLogger(__name__)

ACK_WAIT = 0.25  # seconds the record may wait for the write lock before it spools
MAX_ATTEMPTS = 3  # a request that failed this often is given up (and the person told)
SPOOL = "slack-inbox"


class Inbox:
    """The bot's durable record of acknowledged requests (database first, spool files second)."""

    def __init__(
        self, *, database: Database, spool_dir: Path, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self.spool_dir = spool_dir
        self.clock = clock

    def record(self, *, key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Store a request before acknowledging it; False when the key was recorded before."""
        values = self._values(key, kind, payload, self.clock())
        try:
            with self.database.transaction(wait=ACK_WAIT) as session:
                return insert_once(session, model=InboundRequest, values=values, unique=("key",))
        except OperationalError as exc:
            log.warning("database busy (%s); %s spooled to disk for later", exc.orig, key)
            return self._spool(values)

    def drain(self) -> int:
        """Move spooled requests into the database (waiting for the lock); how many moved."""
        moved = 0
        for path, values in self._spooled():
            with self.database.transaction() as session:
                insert_once(session, model=InboundRequest, values=values, unique=("key",))
            path.unlink(missing_ok=True)
            moved += 1
        return moved

    def claim(self, session: Session, key: str) -> InboundRequest | None:
        """In the caller's transaction: the request if it is still owed, held until commit."""
        result = session.execute(
            update(InboundRequest)
            .where(InboundRequest.key == key, InboundRequest.done_at.is_(None))
            .values(attempts=InboundRequest.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return None  # done already (by a replay, or the first of two identical requests)
        return session.scalar(select(InboundRequest).where(InboundRequest.key == key))

    def done(self, request: InboundRequest) -> None:
        """Mark a claimed request carried out (commits with the caller's effect)."""
        request.done_at = self.clock()

    def failed(
        self,
        key: str,
        error: str,
        *,
        final: bool = False,
        then: Callable[[Session], object] | None = None,
    ) -> bool:
        """Count a failed attempt (its own transaction); True when the request is given up
        (``final``: at once, e.g. the person cannot ask; otherwise after ``MAX_ATTEMPTS``).
        ``then`` runs in that transaction only when this call gives the request up, so what it
        writes (the person told why) commits with the request's end: once, never on a replay."""
        with self.database.transaction() as session:
            request = session.scalar(select(InboundRequest).where(InboundRequest.key == key))
            if request is None or request.done_at is not None:
                return True
            request.attempts += 1
            request.last_error = error[:2000]
            if final or request.attempts >= MAX_ATTEMPTS:
                request.done_at = self.clock()
                if then is not None:
                    then(session)
                return True
            return False

    def forget_member(self, session: Session, *, team_id: str, user_id: str) -> int:
        """In the erasure's transaction: end the member's requests still owed and drop their
        text (an answer or a question waiting here must not outlive the erasure, nor bring the
        person back when it is carried out); how many.

        Their spooled requests are moved into the transaction and ended with the rest; the files
        go once it commits (were it rolled back, they wait to be carried out as before). A drain
        racing with this inserts the same keys, so it does nothing twice either way."""
        spooled = []
        for path, values in self._spooled():
            if _sent_by(values.get("payload"), team_id=team_id, user_id=user_id):
                insert_once(session, model=InboundRequest, values=values, unique=("key",))
                spooled.append(path)
        if spooled:
            event.listen(session, "after_commit", lambda _: _unlink(spooled), once=True)
        ended = 0
        pending = session.scalars(select(InboundRequest).where(InboundRequest.done_at.is_(None)))
        for request in pending:
            if not _sent_by(request.payload, team_id=team_id, user_id=user_id):
                continue
            request.payload = {}
            request.last_error = "the member was forgotten before it was carried out"
            request.done_at = self.clock()
            ended += 1
        return ended

    def payload(self, key: str) -> dict[str, Any] | None:
        with self.database.transaction() as session:
            request = session.scalar(select(InboundRequest).where(InboundRequest.key == key))
            if request is None or request.done_at is not None:
                return None
            return dict(request.payload)

    def owed(self, *, limit: int = 100) -> list[tuple[str, str]]:
        """(key, kind) of the requests not carried out yet, oldest first."""
        with self.database.transaction() as session:
            rows = session.execute(
                select(InboundRequest.key, InboundRequest.kind)
                .where(InboundRequest.done_at.is_(None))
                .order_by(InboundRequest.received_at, InboundRequest.id)
                .limit(limit)
            ).tuples()
            return [(str(key), str(kind)) for key, kind in rows]

    def _spooled(self) -> list[tuple[Path, dict[str, Any]]]:
        """The spooled requests, oldest name first, as values of their rows (unreadable files
        are left in place and skipped)."""
        if not self.spool_dir.is_dir():
            return []
        found = []
        for path in sorted(self.spool_dir.glob("*.json")):
            try:
                values = json.loads(path.read_text(encoding="utf-8"))
                values["received_at"] = datetime.fromisoformat(values["received_at"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("unreadable spooled request %s left in place", path)
                continue
            found.append((path, values))
        return found

    @staticmethod
    def _values(key: str, kind: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "key": key[:200],
            "kind": kind,
            "payload": payload,
            "received_at": now,
            "attempts": 0,
        }

    def _spool(self, values: dict[str, Any]) -> bool:
        """Write the request to its file, whole or not at all; False when it is there already.

        Each writer fills a temporary of its own and links it into place, which fails when
        another writer of the same key (a re-sent /ask) got there first: one file, one True.
        """
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(values["key"].encode()).hexdigest()[:32]
        path = self.spool_dir / f"{name}.json"
        if path.exists():
            return False
        data = {**values, "received_at": values["received_at"].isoformat()}
        handle, temporary = tempfile.mkstemp(dir=self.spool_dir, prefix=f"{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file)
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True


def _sent_by(payload: object, *, team_id: str, user_id: str) -> bool:
    """True when a recorded request (a ``/ask``, an answer) came from that workspace member."""
    if not isinstance(payload, dict):
        return False
    return (
        str(payload.get("user_id") or "") == user_id
        and str(payload.get("team_id") or "") == team_id
    )


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


# kind of acknowledged request -> what carries it out (``handler(bot, key)``); the listener
# modules add theirs when imported, so the bot's replay needs no import of them
REPLAY_HANDLERS: dict[str, Callable[[Any, str], object]] = {}


def carried_out_by(
    kind: str,
) -> Callable[[Callable[[Any, str], object]], Callable[[Any, str], object]]:
    """Register ``handler`` as what carries out acknowledged requests of ``kind``."""

    def register(handler: Callable[[Any, str], object]) -> Callable[[Any, str], object]:
        REPLAY_HANDLERS[kind] = handler
        return handler

    return register
