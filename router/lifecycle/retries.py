"""A question asked again under the same idempotency key: the key, the request's fingerprint, the replay.

A client that lost the answer to "ask this" (a dropped connection, a server restart) cannot know
whether its question was stored. Sent with a key, the request is safe to repeat: the question
created first is remembered with the key and a hash of the request (``questions.idempotency_key``
and ``request_hash``, unique per network). Repeating the same request returns that question
(``replayed``) and asks nobody again; the same key with another request is a ``Conflict``.
The check runs under the network's ask lock (``lock_asking``), so two requests with one key
at once create one question; the unique index is the safety net behind it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput
from router.lifecycle.views import STORED_REASONS, AskedQuestion, question_views
from router.network.people import primary_external_id
from router.routing.route import Candidate, Route
from router.storage.schema import Ask, Person, Question, QuestionEvent

MAX_KEY_CHARS = 200  # the column's size; a UUID (36) or a client's own request id fits


def check_key(key: str) -> str:
    """The key itself, or InvalidInput unless it is 1 to 200 printable ASCII characters."""
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        raise InvalidInput(
            f"an idempotency key has 1 to {MAX_KEY_CHARS} characters; this one has {len(key)}"
        )
    bad = next((ch for ch in key if not " " <= ch <= "~"), None)
    if bad is not None:
        raise InvalidInput(f"an idempotency key has printable ASCII characters only, not {bad!a}")
    return key


@dataclass(frozen=True)
class Retry:
    """A request to ask a question, named by its client's key: what makes two requests one."""

    key: str
    request_hash: str

    @classmethod
    def of(cls, key: str, *, asker_id: int, text: str, k: int | None, anonymous: bool) -> Retry:
        """The key checked, and a stable hash of everything the request asks for."""
        request = {"asker_id": asker_id, "text": text, "k": k, "anonymous": anonymous}
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return cls(key=check_key(key), request_hash=hashlib.sha256(canonical.encode()).hexdigest())

    def earlier(self, session: Session, *, network_id: int) -> AskedQuestion | None:
        """The question this key already created, replayed; None if none; Conflict if the
        key was used for a different request."""
        question = session.scalar(
            select(Question).where(
                Question.network_id == network_id, Question.idempotency_key == self.key
            )
        )
        if question is None:
            return None
        if question.request_hash != self.request_hash:
            raise Conflict(
                f"this idempotency key was already used for question #{question.id}, with a "
                "different request: send a new key for a new question"
            )
        return AskedQuestion(
            question=question_views(session, [question])[0],
            route=asked_route(session, question),
            replayed=True,
        )


def asked_route(session: Session, question: Question) -> Route:
    """The route that picked a question's first people, as it was recorded when they were asked:
    their asks (score and reasons, in the order asked) and the ``created`` event (fairness notes)."""
    created = session.scalar(
        select(QuestionEvent.detail)
        .where(QuestionEvent.question_id == question.id, QuestionEvent.kind == "created")
        .order_by(QuestionEvent.id)
        .limit(1)
    )
    detail = created or {}
    asks = session.scalars(
        select(Ask).where(Ask.question_id == question.id, Ask.round == 1).order_by(Ask.id)
    ).all()
    people = {
        person.id: person
        for person in session.scalars(
            select(Person).where(Person.id.in_([ask.person_id for ask in asks]))
        )
    }
    candidates = tuple(
        Candidate(
            person_id=ask.person_id,
            external_id=primary_external_id(people[ask.person_id]),
            name=people[ask.person_id].display_name,
            score=ask.score,
            reasons=STORED_REASONS.validate_python(ask.reasons or []),
        )
        for ask in asks
        if ask.person_id in people
    )
    return Route(
        question=question.text,
        candidates=candidates,
        adjusted=bool(detail.get("adjusted", False)),
        notes=tuple(str(note) for note in detail.get("notes", ())),
        ranked_by=str(detail.get("ranked_by", "hand-set")),
    )
