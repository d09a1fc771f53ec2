"""Replaying a Stack Exchange site: the cutoff, the history before it, the test cases after it.

As ``shared/data/stackexchange/README.md`` lays it out: questions sorted by creation date, the
cutoff is the date of the question at the 80th percentile; answers before it are history; every
question at or after it with an answer from someone other than its asker is a case, its truth the
people who answered (the strict truth: the accepted answerer); a case is routable when one of
those people has answered something before the cutoff. People are Stack Exchange user ids here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from router.errors import InvalidInput
from router.importers.stackexchange import MAX_TEXT_CHARS, Post, is_person, read_posts, strip_html
from router.progress import Progress, silent

CUTOFF_SHARE = 0.8


@dataclass(frozen=True)
class Case:
    """A question asked after the cutoff, and who really answered it."""

    question_id: int
    asker: int | None
    text: str  # title and body, as the router is asked
    asked_at: datetime
    truth: frozenset[int]
    accepted: int | None
    routable: bool


@dataclass(frozen=True)
class Thread:
    """A question from the history with its answers: what the thread baselines search."""

    question_id: int
    text: str
    answerers: tuple[int, ...]  # distinct, in the order they answered


@dataclass(frozen=True)
class Split:
    cutoff: datetime
    questions: int
    cases: tuple[Case, ...]
    threads: tuple[Thread, ...]
    answers_by: Mapping[int, int] = field(default_factory=dict)  # history answers per person

    @property
    def history_answers(self) -> int:
        return sum(self.answers_by.values())


class Ranker(Protocol):
    """A way of choosing people for a case: the router, or a baseline."""

    name: str

    def rank(self, case: Case, *, k: int) -> list[int]:
        """Up to ``k`` people (never the asker), best first."""
        ...


def cutoff_of(dates: list[datetime], share: float = CUTOFF_SHARE) -> datetime:
    """The date of the question at the ``share`` percentile: the one at index ``share * n``.

    (Index ``floor(share * n)``, as the reference figures in the data README were computed.)
    """
    if not dates:
        raise InvalidInput("the site has no questions to replay")
    ordered = sorted(dates)
    return ordered[min(math.floor(share * len(ordered)), len(ordered) - 1)]


def question_text(question: Post) -> str:
    """What is asked: the title, then the body without markup."""
    body = strip_html(question.body, limit=MAX_TEXT_CHARS)
    return f"{question.title}\n{body}" if body else question.title


def split_site(folder: Path, *, share: float = CUTOFF_SHARE, progress: Progress = silent) -> Split:
    """Read a dump folder and split it at the cutoff into history threads and test cases."""
    questions: dict[int, Post] = {}
    answers: dict[int, list[Post]] = {}
    for post in read_posts(folder, progress=progress):
        if post.is_question:
            questions[post.id] = post
        elif is_person(post.owner_id) and post.parent_id is not None:
            answers.setdefault(post.parent_id, []).append(post)
    cutoff = cutoff_of([question.created_at for question in questions.values()], share)
    answers_by: Counter[int] = Counter()
    threads: list[Thread] = []
    cases: list[tuple[Post, list[Post]]] = []
    for question in sorted(questions.values(), key=lambda post: (post.created_at, post.id)):
        replies = sorted(answers.get(question.id, []), key=lambda post: (post.created_at, post.id))
        if question.created_at >= cutoff:
            cases.append((question, replies))
            continue
        history = [reply for reply in replies if reply.created_at < cutoff]
        if not history:
            continue
        answerers = tuple(dict.fromkeys(reply.owner_id for reply in history if reply.owner_id))
        answers_by.update(reply.owner_id for reply in history if reply.owner_id)
        text = " ".join(
            [question_text(question)] + [strip_html(r.body, limit=MAX_TEXT_CHARS) for r in history]
        )
        threads.append(Thread(question_id=question.id, text=text, answerers=answerers))
    return Split(
        cutoff=cutoff,
        questions=len(questions),
        cases=tuple(_cases(cases, answers_by)),
        threads=tuple(threads),
        answers_by=dict(answers_by),
    )


def _cases(questions: list[tuple[Post, list[Post]]], answers_by: Mapping[int, int]) -> list[Case]:
    cases = []
    for question, replies in questions:
        asker = question.owner_id if is_person(question.owner_id) else None
        truth = frozenset(r.owner_id for r in replies if r.owner_id and r.owner_id != asker)
        if not truth:
            continue
        accepted = next((r.owner_id for r in replies if r.id == question.accepted_answer_id), None)
        cases.append(
            Case(
                question_id=question.id,
                asker=asker,
                text=question_text(question),
                asked_at=question.created_at,
                truth=truth,
                accepted=accepted if accepted in truth else None,
                routable=any(person in answers_by for person in truth),
            )
        )
    return cases
