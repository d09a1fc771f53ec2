"""The network as its owner sees it: who helped whom, who gives and who only takes, which topics
the index knows and who covers each, what is unanswered, and how asks spread over the weeks.

Every part is a frozen value computed from the database at ``now``; the HTTP API returns them as
they are (its response model is ``Overview`` itself) and the network page draws them, so the
numbers on the page are the API's numbers.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field, computed_field, field_serializer
from pydantic.dataclasses import dataclass as value
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.ledger.fairness import gini
from router.ledger.favours import COUNTED_KINDS
from router.ledger.weeks import iso_week, week_bounds
from router.storage.schema import Answer, Ask, Evidence, Favour, Person, Question

_TAGS = re.compile(r"\[([^\[\]]{1,300})\]\s*$")
MAX_TOPIC_CHARS = 60


@value(frozen=True)
class Node:
    """A person in the give/take graph, with the favours they gave and received."""

    person_id: int
    name: str
    given: Annotated[
        float, Field(description="Favours given (weight, helpful and thanks included).")
    ]
    received: float
    given_count: Annotated[int, Field(description="Answers given.")]
    received_count: int


@value(frozen=True)
class Edge:
    """Favours from ``giver_id`` to ``taker_id``: total weight and answers."""

    giver_id: int
    taker_id: int
    weight: float
    count: int


@value(frozen=True)
class Expert:
    """A person whose evidence covers a topic, and how many pieces of it do."""

    person_id: int
    name: str
    evidence: int


@value(frozen=True)
class Topic:
    """A topic the index knows, how much evidence covers it, and who covers it most."""

    topic: str
    evidence: int
    experts: tuple[Expert, ...]


@value(frozen=True)
class Unanswered:
    """A question nobody answered: open or expired, and how many people were asked."""

    question_id: int
    text: str
    asker: str  # "someone" when the question was asked anonymously
    asked_at: datetime
    status: str
    people_asked: int


@value(frozen=True)
class PersonLoad:
    """Asks one person received in each week of the chart."""

    person_id: int
    name: str
    asks: Annotated[tuple[int, ...], Field(description="Asks received in each week of `weeks`.")]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return sum(self.asks)


@value(frozen=True)
class AskLoad:
    """Asks received per person in each of the last weeks, and how unevenly they fell."""

    weeks: Annotated[tuple[str, ...], Field(description="ISO weeks, oldest first.")]
    people: tuple[PersonLoad, ...]  # most asked first
    gini: Annotated[
        float, Field(description="Gini of asks per person over the weeks (0 = even).")
    ]  # over total asks in the window, across everyone who can be asked

    @field_serializer("gini")
    def _rounded(self, gini: float) -> float:
        return round(gini, 4)


@value(frozen=True)
class Overview:
    """Everything the network page shows."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    top_givers: tuple[Node, ...]
    only_take: Annotated[
        tuple[Node, ...], Field(description="Received favours and never gave one.")
    ]
    topics: tuple[Topic, ...]
    unanswered: tuple[Unanswered, ...]
    asks: AskLoad


def give_take(session: Session, *, network_id: int, now: datetime) -> tuple[list[Node], list[Edge]]:
    """Everyone who gave or received a favour up to ``now``, and the favours between each pair."""
    rows = session.execute(
        select(Favour.giver_id, Favour.taker_id, Favour.kind, Favour.weight).where(
            Favour.network_id == network_id, Favour.created_at <= now
        )
    ).all()
    weights: dict[tuple[int, int], float] = defaultdict(float)
    answers: Counter[tuple[int, int]] = Counter()
    for giver, taker, kind, weight in rows:
        weights[(giver, taker)] += float(weight)
        answers[(giver, taker)] += kind in COUNTED_KINDS
    edges = [Edge(g, t, w, answers[(g, t)]) for (g, t), w in weights.items()]
    ids = {e.giver_id for e in edges} | {e.taker_id for e in edges}
    names = dict(
        session.execute(select(Person.id, Person.display_name).where(Person.id.in_(ids))).all()
    )
    given: dict[int, float] = defaultdict(float)
    received: dict[int, float] = defaultdict(float)
    given_n: Counter[int] = Counter()
    received_n: Counter[int] = Counter()
    for e in edges:
        given[e.giver_id] += e.weight
        received[e.taker_id] += e.weight
        given_n[e.giver_id] += e.count
        received_n[e.taker_id] += e.count
    nodes = [
        Node(
            pid, names.get(pid, f"#{pid}"), given[pid], received[pid], given_n[pid], received_n[pid]
        )
        for pid in sorted(ids, key=lambda p: (names.get(p, "").lower(), p))
    ]
    edges.sort(key=lambda e: (e.giver_id, e.taker_id))
    return nodes, edges


def _topics_of(kind: str, text: str, context: str) -> list[str]:
    if kind == "interest":
        return [text.strip().lower()[:MAX_TOPIC_CHARS]]
    match = _TAGS.search(context.split("\n")[0]) if context else None
    if match is None:
        return []
    return [t.strip().lower()[:MAX_TOPIC_CHARS] for t in match.group(1).split(",") if t.strip()]


def topic_experts(
    session: Session, *, network_id: int, topics: int = 12, per_topic: int = 3
) -> list[Topic]:
    """The topics the index knows (tags of past answers, stated interests), most covered first,
    each with the people whose evidence covers it most."""
    rows = session.execute(
        select(
            Evidence.person_id, Evidence.kind, Evidence.text, Evidence.context, Person.display_name
        )
        .join(Person, Person.id == Evidence.person_id)
        .where(Evidence.network_id == network_id, Person.erased_at.is_(None))
    ).all()
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    names: dict[int, str] = {}
    for person_id, kind, text, context, name in rows:
        names[person_id] = name
        for topic in _topics_of(kind, text, context):
            counts[topic][person_id] += 1
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:topics]
    return [
        Topic(
            topic=topic,
            evidence=sum(people.values()),
            experts=tuple(
                Expert(pid, names[pid], n)
                for pid, n in sorted(people.items(), key=lambda kv: (-kv[1], names[kv[0]]))[
                    :per_topic
                ]
            ),
        )
        for topic, people in ranked
    ]


def unanswered_questions(session: Session, *, network_id: int, limit: int = 50) -> list[Unanswered]:
    """Questions nobody answered (open or expired), newest first."""
    answered = select(Answer.question_id).where(Answer.network_id == network_id)
    asked = (
        select(Ask.question_id, func.count(Ask.id).label("n"))
        .where(Ask.network_id == network_id)
        .group_by(Ask.question_id)
        .subquery()
    )
    rows = session.execute(
        select(Question, Person.display_name, func.coalesce(asked.c.n, 0))
        .join(Person, Person.id == Question.asker_id)
        .outerjoin(asked, asked.c.question_id == Question.id)
        .where(
            Question.network_id == network_id,
            Question.id.not_in(answered),
            Question.status.in_(("open", "expired")),
        )
        .order_by(Question.created_at.desc(), Question.id.desc())
        .limit(limit)
    ).all()
    return [
        Unanswered(
            q.id,
            q.text,
            "someone" if q.anonymous else name,
            q.created_at,
            q.status,
            int(n),
        )
        for q, name, n in rows
    ]


def ask_load(session: Session, *, network_id: int, now: datetime, weeks: int = 8) -> AskLoad:
    """Asks per person in each of the last ``weeks`` ISO weeks (this one included), with Gini."""
    labels = [iso_week(now - timedelta(weeks=back)) for back in range(weeks - 1, -1, -1)]
    start, _ = week_bounds(labels[0])
    rows = session.execute(
        select(Ask.person_id, Ask.created_at).where(
            Ask.network_id == network_id, Ask.created_at >= start, Ask.created_at <= now
        )
    ).all()
    per: dict[int, list[int]] = defaultdict(lambda: [0] * weeks)
    index = {label: n for n, label in enumerate(labels)}
    for person_id, created_at in rows:
        per[person_id][index[iso_week(created_at)]] += 1
    askable = session.execute(
        select(Person.id, Person.display_name).where(
            Person.network_id == network_id,
            Person.deactivated.is_(False),
            Person.opted_out.is_(False),
        )
    ).all()
    names = dict(askable)
    names.update(
        session.execute(select(Person.id, Person.display_name).where(Person.id.in_(per))).all()
    )
    totals = [sum(per[pid]) if pid in per else 0 for pid in names]
    people = sorted(
        (PersonLoad(pid, names[pid], tuple(counts)) for pid, counts in per.items()),
        key=lambda load: (-load.total, load.name.lower()),
    )
    return AskLoad(weeks=tuple(labels), people=tuple(people), gini=gini(totals))


def network_overview(
    session: Session, *, network_id: int, now: datetime, weeks: int = 8, top: int = 5
) -> Overview:
    """Everything the network page shows, as values."""
    nodes, edges = give_take(session, network_id=network_id, now=now)
    givers = sorted((n for n in nodes if n.given > 0), key=lambda n: (-n.given, n.name.lower()))
    only_take = [n for n in nodes if n.given == 0 and n.received > 0]
    return Overview(
        nodes=tuple(nodes),
        edges=tuple(edges),
        top_givers=tuple(givers[:top]),
        only_take=tuple(sorted(only_take, key=lambda n: (-n.received, n.name.lower()))),
        topics=tuple(topic_experts(session, network_id=network_id)),
        unanswered=tuple(unanswered_questions(session, network_id=network_id)),
        asks=ask_load(session, network_id=network_id, now=now, weeks=weeks),
    )
