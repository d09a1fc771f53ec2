"""Question and ask states, and the one table of moves between them.

    question: open ──► answered ──► closed
                │          └──────► expired
                ├──► closed
                └──► expired
    ask:      pending ──► answered | passed | declined | expired
              passed, declined ──► answered   (a change of mind, while the question is live)

Every status change goes through ``move_question`` / ``move_ask``; a move the table does not
allow raises ``IllegalTransition`` (a ``Conflict``: HTTP 409, an ephemeral Slack reply, one CLI
line). The tables carry CHECK constraints built from these enums (``check_constraint``; migration
0003), so this module imports nothing from storage.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from router.errors import Conflict


class QuestionStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"
    EXPIRED = "expired"


class AskStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    PASSED = "passed"
    DECLINED = "declined"
    EXPIRED = "expired"


QUESTION_MOVES: dict[QuestionStatus, frozenset[QuestionStatus]] = {
    QuestionStatus.OPEN: frozenset(
        {QuestionStatus.ANSWERED, QuestionStatus.CLOSED, QuestionStatus.EXPIRED}
    ),
    QuestionStatus.ANSWERED: frozenset({QuestionStatus.CLOSED, QuestionStatus.EXPIRED}),
    QuestionStatus.CLOSED: frozenset(),
    QuestionStatus.EXPIRED: frozenset(),
}
ASK_MOVES: dict[AskStatus, frozenset[AskStatus]] = {
    AskStatus.PENDING: frozenset(
        {AskStatus.ANSWERED, AskStatus.PASSED, AskStatus.DECLINED, AskStatus.EXPIRED}
    ),
    AskStatus.ANSWERED: frozenset(),
    AskStatus.PASSED: frozenset({AskStatus.ANSWERED}),
    AskStatus.DECLINED: frozenset({AskStatus.ANSWERED}),
    AskStatus.EXPIRED: frozenset(),
}
# Questions that still take answers, and whose pending asks still wait on someone.
LIVE_QUESTION = (QuestionStatus.OPEN, QuestionStatus.ANSWERED)
FINISHED_QUESTION = (QuestionStatus.CLOSED, QuestionStatus.EXPIRED)


class Stateful(Protocol):
    """A question or an ask row: an id and a status."""

    id: int
    status: str


class IllegalTransition(Conflict):
    """A question or ask asked to move where the transition table does not allow."""


def can_move_question(current: str, to: QuestionStatus) -> bool:
    return to in QUESTION_MOVES[QuestionStatus(current)]


def can_move_ask(current: str, to: AskStatus) -> bool:
    return to in ASK_MOVES[AskStatus(current)]


def move_question(question: Stateful, to: QuestionStatus) -> None:
    """Set a question's status, or raise ``IllegalTransition`` if the table forbids the move."""
    if not can_move_question(question.status, to):
        raise IllegalTransition(f"question #{question.id} is {question.status}; it cannot be {to}")
    question.status = to


def check_ask_move(ask: Stateful, to: AskStatus) -> None:
    """Raise ``IllegalTransition`` if the table forbids moving this ask to ``to``."""
    if not can_move_ask(ask.status, to):
        raise IllegalTransition(f"ask #{ask.id} is already {ask.status}")


def move_ask(ask: Stateful, to: AskStatus) -> None:
    """Set an ask's status, or raise ``IllegalTransition`` if the table forbids the move."""
    check_ask_move(ask, to)
    ask.status = to


def check_constraint(column: str, states: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint that keeps ``column`` to the enum's values."""
    values = ", ".join(f"'{state.value}'" for state in states)
    return f"{column} IN ({values})"
