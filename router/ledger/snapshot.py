"""What the weekly summary reads: a network's people, favour sums, asks and questions as of ``now``.

A frozen snapshot, so ``router.ledger.summary.weekly_summary`` can be a pure function of it.
Favours are read as sums per pair (``router.ledger.balances``), all time and this week, never row
by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.errors import NotFound
from router.ledger.balances import PairSum, Window, pair_sums, people_helped_by_reuse
from router.ledger.privacy import hidden_pair_sums
from router.ledger.weeks import iso_week, week_bounds
from router.storage.schema import Answer, Ask, Network, Person, Question


@dataclass(frozen=True)
class AskRow:
    id: int
    question_id: int
    person_id: int
    created_at: datetime
    responded_at: datetime | None


@dataclass(frozen=True)
class QuestionRow:
    id: int
    asker_id: int
    text: str
    created_at: datetime
    ended_at: datetime | None  # closed or expired
    expires_at: datetime
    first_answer_at: datetime | None
    anonymous: bool = False  # the people asked never learn who asked

    def open_at(self, now: datetime) -> bool:
        ended = self.ended_at is not None and self.ended_at <= now
        return self.created_at <= now and not ended and self.expires_at > now

    def unanswered_at(self, now: datetime) -> bool:
        return self.open_at(now) and (self.first_answer_at is None or self.first_answer_at > now)


@dataclass(frozen=True)
class LedgerSnapshot:
    network_id: int
    network_name: str
    names: dict[int, str]
    recipients: frozenset[int]  # people who receive summaries: not opted out, not deactivated
    pairs_total: tuple[PairSum, ...]  # every favour up to and including now
    pairs_week: tuple[PairSum, ...]  # favours from the start of now's ISO week up to now
    asks: tuple[AskRow, ...]
    questions: tuple[QuestionRow, ...]
    # author -> people their reused answers helped this week
    reused_week: dict[int, int] = field(default_factory=dict)
    # the part of ``pairs_total`` earned answering anonymous questions (givers never see takers)
    hidden_total: tuple[PairSum, ...] = ()


def load_snapshot(session: Session, *, network_id: int, now: datetime) -> LedgerSnapshot:
    """Read a network's people, favours, asks and questions as they were at ``now``."""
    network = session.get(Network, network_id)
    if network is None:
        raise NotFound(f"no network #{network_id}")
    people = session.execute(
        select(Person.id, Person.display_name, Person.opted_out, Person.deactivated).where(
            Person.network_id == network_id
        )
    ).all()
    week_start, _ = week_bounds(iso_week(now))
    asks = session.execute(
        select(Ask.id, Ask.question_id, Ask.person_id, Ask.created_at, Ask.responded_at)
        .where(Ask.network_id == network_id, Ask.created_at <= now)
        .order_by(Ask.id)
    ).all()
    first_answer = (
        select(Answer.question_id, func.min(Answer.created_at).label("first_at"))
        .where(Answer.network_id == network_id)
        .group_by(Answer.question_id)
        .subquery()
    )
    questions = session.execute(
        select(
            Question.id,
            Question.asker_id,
            Question.text,
            Question.created_at,
            Question.closed_at,
            Question.expires_at,
            first_answer.c.first_at,
            Question.anonymous,
        )
        .outerjoin(first_answer, first_answer.c.question_id == Question.id)
        .where(Question.network_id == network_id, Question.created_at <= now)
        .order_by(Question.created_at, Question.id)
    ).all()
    return LedgerSnapshot(
        network_id=network_id,
        network_name=network.name,
        names={int(p.id): str(p.display_name) for p in people},
        recipients=frozenset(int(p.id) for p in people if not p.opted_out and not p.deactivated),
        pairs_total=tuple(pair_sums(session, network_id=network_id, window=Window.as_of(now))),
        pairs_week=tuple(
            pair_sums(session, network_id=network_id, window=Window.as_of(now, since=week_start))
        ),
        asks=tuple(AskRow(int(i), int(q), int(p), c, r) for i, q, p, c, r in asks),
        questions=tuple(
            QuestionRow(int(i), int(a), str(t), c, e, x, f, bool(n))
            for i, a, t, c, e, x, f, n in questions
        ),
        hidden_total=tuple(
            hidden_pair_sums(session, network_id=network_id, window=Window.as_of(now))
        ),
        reused_week=people_helped_by_reuse(
            session, network_id=network_id, window=Window.as_of(now, since=week_start)
        ),
    )
