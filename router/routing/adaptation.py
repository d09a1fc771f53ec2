"""Adapting the pre-trained ranker to one network as its own history grows.

The network's past answers are regrouped into the questions they answered (their context: the
question's title, tags or the text asked through Askaround), each asked just before its first
answer; the pre-trained model is then fine-tuned on them (more boosting rounds from where it
stopped). ``adaptation_due`` says when enough new answers arrived to do it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.progress import Progress, silent
from router.routing.learned import LearnedRanker, adapted_path
from router.routing.timeline import Record, Timeline
from router.routing.training import Examples, Favours, PastQuestion, question_examples, train
from router.search.backfill import evidence_document
from router.search.embedding import Embedder
from router.storage.database import Database
from router.storage.schema import Evidence, Network

MIN_QUESTIONS = 100  # fewer past questions than this: the pre-trained model is used as is
ADAPT_ROUNDS = 60
GROWTH = 0.25  # re-adapt once the network has this share more answers than at the last time
ASKED_BEFORE_ANSWER = 60.0  # seconds: a regrouped question is taken as asked just before


@dataclass(frozen=True)
class Adaptation:
    """What an adaptation did: the model (None when too little history) and on how much."""

    ranker: LearnedRanker | None
    questions: int
    answers: int


def network_examples(
    session: Session, *, network_id: int, embedder: Embedder, progress: Progress = silent
) -> Examples:
    """Ranking examples from the network's own answers, regrouped by the question they answered."""
    rows = session.execute(
        select(
            Evidence.person_id,
            Evidence.kind,
            Evidence.text,
            Evidence.context,
            Evidence.created_at,
            Evidence.embedding,
        ).where(
            Evidence.network_id == network_id,
            Evidence.kind == "answer",
            Evidence.embedding_model == embedder.name,
        )
    ).all()
    records = []
    grouped: dict[str, tuple[float, set[int]]] = {}
    for row in rows:
        at = row.created_at.timestamp()
        vector = np.frombuffer(row.embedding, dtype=np.float32)
        document = evidence_document(row.kind, row.text, row.context)
        records.append(Record(person=row.person_id, at=at, document=document, vector=vector))
        if row.context:
            first, people = grouped.get(row.context, (at, set()))
            people.add(row.person_id)
            grouped[row.context] = (min(first, at), people)
    questions = regrouped_questions(grouped, embedder, progress=progress)
    return question_examples(
        Timeline(records), questions, favours=Favours(), source=f"network-{network_id}"
    )


def regrouped_questions(
    grouped: Mapping[str, tuple[float, set[int]]],
    embedder: Embedder,
    *,
    before: float = ASKED_BEFORE_ANSWER,
    progress: Progress = silent,
) -> list[PastQuestion]:
    """Past questions rebuilt from answers grouped by their context (first answer's time, who
    answered): asked ``before`` seconds before the first answer, by nobody known."""
    texts = sorted(grouped)
    vectors = embedder.encode(texts, progress=progress) if texts else np.zeros((0, 1))
    return [
        PastQuestion(
            text=text,
            vector=vectors[i],
            asker=None,
            asked_at=grouped[text][0] - before,
            answerers=frozenset(grouped[text][1]),
        )
        for i, text in enumerate(texts)
    ]


def answers_in(session: Session, network_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(Evidence.id)).where(
                Evidence.network_id == network_id, Evidence.kind == "answer"
            )
        )
        or 0
    )


def fine_tune(base: LearnedRanker, examples: Examples, *, seed: int = 12) -> LearnedRanker:
    """``base`` boosted further on one network's examples; the same inputs give the same model.

    One model, not an average: each averaged model would carry its own copy of ``base``'s trees.
    """
    booster = train(examples, seed=seed, rounds=ADAPT_ROUNDS, init_model=base.booster, models=1)
    meta = {"base": base.name, "questions": examples.questions, "seed": seed}
    return LearnedRanker.from_booster(booster, kind="adapted", meta=meta)


def adapt_network(
    session: Session,
    *,
    network_id: int,
    embedder: Embedder,
    base: LearnedRanker,
    data_dir: Path,
    now: datetime,
    seed: int = 12,
    progress: Progress = silent,
) -> Adaptation:
    """Fine-tune ``base`` on the network's history and save it where the router looks for it."""
    answers = answers_in(session, network_id)
    examples = network_examples(
        session, network_id=network_id, embedder=embedder, progress=progress
    )
    if examples.questions < MIN_QUESTIONS:
        return Adaptation(ranker=None, questions=examples.questions, answers=answers)
    ranker = fine_tune(base, examples, seed=seed)
    ranker.meta.update({"answers": answers, "trained_at": now.isoformat()})
    ranker.save(adapted_path(data_dir, network_id))
    return Adaptation(ranker=ranker, questions=examples.questions, answers=answers)


def adaptation_due(session: Session, *, network_id: int, data_dir: Path) -> bool:
    """True when no adapted model exists yet and there is enough history, or it has grown."""
    answers = answers_in(session, network_id)
    notes = adapted_path(data_dir, network_id).with_suffix(".json")
    if not notes.is_file():
        return answers >= 2 * MIN_QUESTIONS
    before = int(json.loads(notes.read_text()).get("answers", 0))
    return answers >= before * (1 + GROWTH) and answers - before >= MIN_QUESTIONS


def adapt_due_networks(
    database: Database,
    *,
    embedder: Embedder,
    base: LearnedRanker,
    data_dir: Path,
    now: datetime,
    seed: int = 12,
) -> dict[int, Adaptation]:
    """Adapt every network whose history grew enough since its last adaptation (the worker's job)."""
    done: dict[int, Adaptation] = {}
    with database.transaction() as session:
        network_ids = list(session.scalars(select(Network.id)))
    for network_id in network_ids:
        with database.transaction() as session:
            if adaptation_due(session, network_id=network_id, data_dir=data_dir):
                done[network_id] = adapt_network(
                    session,
                    network_id=network_id,
                    embedder=embedder,
                    base=base,
                    data_dir=data_dir,
                    now=now,
                    seed=seed,
                )
    return done
