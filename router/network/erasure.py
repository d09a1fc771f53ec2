"""Forgetting a person without rewriting anyone else's history.

Erasure removes what the person *is* and *said* (evidence and its vectors, interests, profile,
identifiers, the text of their questions and answers, messages addressed to them) and keeps a
tombstone row named "a former member", so the favours they gave and received still count for
the other side: everyone else's balance is unchanged. Running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from router.network.people import lock_person
from router.storage.schema import (
    Answer,
    Ask,
    Evidence,
    ExternalId,
    OutboxMessage,
    Question,
    QuestionEvent,
)

FORMER_MEMBER = "a former member"
ERASED_TEXT = "[erased]"
MIN_SCRUB_LENGTH = 4  # shorter strings (initials, "ok") would scrub other people's words


@dataclass(frozen=True)
class Erasure:
    """What erasing one person removed; ``already`` when they had been erased before."""

    person_id: int
    already: bool
    evidence_removed: tuple[int, ...] = ()
    evidence_rewritten: tuple[int, ...] = ()
    questions: int = 0
    answers: int = 0
    # the ids they were known by (``slack:U123``), so an edge can end what it holds for them
    identifiers_removed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "already_erased": self.already,
            "evidence_removed": len(self.evidence_removed),
            "evidence_rewritten": len(self.evidence_rewritten),
            "questions": self.questions,
            "answers": self.answers,
        }


def _stop_waiting_on(session: Session, *, person_id: int, now: datetime) -> None:
    """Withdraw the asks still waiting on a forgotten person (they can no longer answer, and an
    emailed link must not let them); a question left waiting on nobody is due to go to others
    at the next tick, as when everyone asked has passed."""
    waiting = session.scalars(
        select(Ask).where(Ask.person_id == person_id, Ask.status == "pending")
    ).all()
    for ask in waiting:
        ask.status = "expired"
        ask.responded_at = now
    session.flush()
    questions = session.scalars(
        select(Question)
        .where(
            Question.id.in_({ask.question_id for ask in waiting}),
            Question.status == "open",
            Question.next_escalation_at.is_not(None),
            ~select(Ask.id).where(Ask.question_id == Question.id, Ask.status == "pending").exists(),
        )
        .with_for_update()
    ).all()
    for question in questions:
        question.next_escalation_at = now


def _scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` (JSON-like) with every secret string replaced by ``[erased]``."""
    if isinstance(value, str):
        if value.strip() in secrets:  # a whole field that is theirs, however short (a name)
            return ERASED_TEXT
        for secret in secrets:
            if len(secret) >= MIN_SCRUB_LENGTH:
                value = value.replace(secret, ERASED_TEXT)
        return value
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    return value


def _secrets(values: Iterable[str | None]) -> list[str]:
    """Distinct strings to scrub, longest first so a longer text goes before its parts; short
    ones (a name like "Bo") only replace a whole field, never a part of someone else's words."""
    kept = {value.strip() for value in values if value and value.strip()}
    return sorted(kept, key=len, reverse=True)


def erase_person(session: Session, *, network_id: int, person_id: int, now: datetime) -> Erasure:
    """Forget ``person_id``: their words and identity go, anonymised ledger rows stay."""
    person = lock_person(session, network_id=network_id, person_id=person_id)
    if person.erased_at is not None:
        return Erasure(person_id=person_id, already=True)
    own_evidence = session.scalars(
        select(Evidence).where(Evidence.network_id == network_id, Evidence.person_id == person_id)
    ).all()
    questions = session.scalars(
        select(Question).where(Question.network_id == network_id, Question.asker_id == person_id)
    ).all()
    answers = session.scalars(
        select(Answer).where(Answer.network_id == network_id, Answer.person_id == person_id)
    ).all()
    secrets = _secrets(
        [person.display_name, person.email, person.company, person.position, person.how_known]
        + [row.value for row in person.external_ids]
        + [row.text for row in own_evidence]  # (not its context: that is someone's question)
        + [row.text for row in questions]
        + [row.text for row in answers]
    )
    removed = tuple(row.id for row in own_evidence)
    identifiers = tuple(sorted(row.value for row in person.external_ids))
    session.execute(delete(Evidence).where(Evidence.id.in_(removed)))
    session.execute(delete(ExternalId).where(ExternalId.person_id == person_id))
    # Others' answers to this person's questions carry the question as context: rewrite it.
    question_ids = [row.id for row in questions]
    rewritten = _rewrite_others_evidence(session, network_id=network_id, secrets=secrets)
    for question in questions:
        question.text = ERASED_TEXT
        question.idempotency_key = None  # the client's key, and a hash of the erased words
        question.request_hash = None
        if question.status == "open":
            question.status = "closed"
            question.closed_at = now
            question.next_escalation_at = None
    for answer in answers:
        answer.text = ERASED_TEXT
    session.execute(
        update(Ask)
        .where(Ask.question_id.in_(question_ids), Ask.status == "pending")
        .values(status="expired", responded_at=now)
    )
    session.execute(update(Ask).where(Ask.person_id == person_id).values(reasons=[]))
    _stop_waiting_on(session, person_id=person_id, now=now)
    _scrub_messages(
        session,
        network_id=network_id,
        person_id=person_id,
        secrets=secrets,
        question_ids=set(question_ids),
    )
    person.display_name = FORMER_MEMBER
    person.email = None
    person.company = None
    person.position = None
    person.how_known = None
    person.timezone = "UTC"
    person.opted_out = True
    person.deactivated = True
    person.snoozed_until = None
    person.ask_budget = None
    person.erased_at = now
    session.flush()
    session.expire(person)
    return Erasure(
        person_id=person_id,
        already=False,
        evidence_removed=removed,
        evidence_rewritten=rewritten,
        questions=len(questions),
        answers=len(answers),
        identifiers_removed=identifiers,
    )


def _rewrite_others_evidence(
    session: Session, *, network_id: int, secrets: list[str]
) -> tuple[int, ...]:
    """Scrub the secrets out of other people's evidence; rewritten rows lose their vector."""
    if not secrets:
        return ()
    long_enough = [s for s in secrets if len(s) >= MIN_SCRUB_LENGTH][:200]
    if not long_enough:
        return ()
    mentions = or_(
        *[
            Evidence.context.contains(s, autoescape=True)
            | Evidence.text.contains(s, autoescape=True)
            for s in long_enough
        ]
    )
    rows = session.scalars(
        select(Evidence).where(Evidence.network_id == network_id, mentions)
    ).all()
    for row in rows:
        row.context = _scrub(row.context, secrets)
        row.text = _scrub(row.text, secrets)
        row.embedding = None  # embedded again without the erased words
        row.embedding_model = None
    return tuple(row.id for row in rows)


def _scrub_messages(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    secrets: list[str],
    question_ids: set[int],
) -> None:
    """Drop messages to the person and unsent ones about their questions; scrub the rest."""
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.network_id == network_id, OutboxMessage.recipient_id == person_id
        )
    )
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.network_id == network_id)
    ).all():
        if message.status == "pending" and message.payload.get("question_id") in question_ids:
            session.delete(message)
            continue
        cleaned = _scrub(message.payload, secrets)
        if cleaned != message.payload:
            message.payload = cleaned
            message.last_error = _scrub(message.last_error, secrets)
            message.result = _scrub(message.result, secrets)
    for event in session.scalars(
        select(QuestionEvent).where(QuestionEvent.network_id == network_id)
    ):
        cleaned = _scrub(event.detail, secrets)
        if cleaned != event.detail:
            event.detail = cleaned
    for ask in session.scalars(select(Ask).where(Ask.network_id == network_id)):
        cleaned = _scrub(ask.reasons, secrets)
        if cleaned != ask.reasons:
            ask.reasons = cleaned
    session.flush()


def forget_index_files(index_dir: Path, *, network_id: int) -> list[Path]:
    """Delete the network's saved index files so they are rebuilt from the database alone."""
    if not index_dir.exists():
        return []
    removed = sorted(
        path
        for path in index_dir.glob(f"network-{network_id}-*")
        if path.suffix in {".index", ".lexical", ".faiss", ".json", ".tmp"}
    )
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
