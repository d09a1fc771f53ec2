"""What fairness costs and buys: a Stack Exchange site replayed through the real question lifecycle.

The history before the cutoff is imported and embedded as for the routing evaluation
(``router.evaluation``); its ties are recorded on the ledger as ``history`` favours, one per past
answer, so the ledger knows who has given much. Then every test question, in date order, is
really asked with ``ask_question`` to ``k`` people at the moment it was asked; an asked person who
truly answered it answers through ``answer_ask`` an hour later (a favour, as in real use), the
others never reply. The same replay runs with fairness off and on, each inside one transaction
that is rolled back, so both start from the same state and the database is left as it was.

Reported per run: Hit@k (one of the people asked really answered), the most asks any person got
in one ISO week, and the Gini coefficient of asks across the pool of people who could be asked
(everyone with a past answer, zeros included) and among the people asked.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.evaluation.cases import Case, Split, split_site
from router.evaluation.replay import import_history
from router.ledger.fairness import FairnessPolicy, FairnessRules, gini
from router.ledger.favours import record_favour
from router.ledger.weeks import iso_week
from router.lifecycle.questions import answer_ask, ask_question
from router.network.people import ensure_person
from router.progress import Progress, silent
from router.routing.router import Router
from router.search.embedding import Embedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, ExternalId, Person, Tie

ANSWER_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class FairnessRun:
    """One replay's figures."""

    name: str
    cases: int
    routable: int
    hits: int
    routable_hits: int
    asks: int
    people_asked: int
    pool: int
    max_week_asks: int
    busiest: str  # who got them, and in which week
    gini_pool: float
    gini_asked: float
    adjusted: int  # routes where fairness changed who was asked
    seconds: float

    @property
    def hit_at_k(self) -> float:
        return self.hits / self.cases if self.cases else 0.0

    @property
    def routable_hit_at_k(self) -> float:
        return self.routable_hits / self.routable if self.routable else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": self.cases,
            "routable": self.routable,
            "hit_at_k": round(self.hit_at_k, 4),
            "routable_hit_at_k": round(self.routable_hit_at_k, 4),
            "asks": self.asks,
            "people_asked": self.people_asked,
            "pool": self.pool,
            "max_week_asks": self.max_week_asks,
            "busiest": self.busiest,
            "gini_pool": round(self.gini_pool, 4),
            "gini_asked": round(self.gini_asked, 4),
            "adjusted": self.adjusted,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class FairnessReplay:
    site: str
    embedder: str
    k: int
    split: Split
    runs: tuple[FairnessRun, ...]

    def table(self) -> str:
        """The runs side by side, as the benchmark script prints them."""
        first = self.runs[0] if self.runs else None
        lines = [
            f"{self.site}: cutoff {self.split.cutoff:%Y-%m-%d}, "
            f"{first.cases if first else 0} test questions in date order "
            f"({first.routable if first else 0} routable), each asks k={self.k}; "
            f"pool {first.pool if first else 0} people; embedder {self.embedder}",
            "",
            f"{'':<14}{'Hit@' + str(self.k):>7}{'routable':>10}{'max/wk':>8}{'Gini pool':>11}"
            f"{'Gini asked':>12}{'asked':>7}{'adjusted':>10}  busiest week",
        ]
        for run in self.runs:
            lines.append(
                f"{run.name:<14}{run.hit_at_k:>7.3f}{run.routable_hit_at_k:>10.3f}"
                f"{run.max_week_asks:>8}{run.gini_pool:>11.3f}{run.gini_asked:>12.3f}"
                f"{run.people_asked:>7}{run.adjusted:>10}  {run.busiest}"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "embedder": self.embedder,
            "k": self.k,
            "cutoff": self.split.cutoff.isoformat(),
            "runs": [run.as_dict() for run in self.runs],
        }


def record_history_favours(session: Session, *, network_id: int) -> int:
    """Put imported ties on the ledger: one ``history`` favour per past answer; returns how many."""
    recorded = 0
    for tie in session.scalars(select(Tie).where(Tie.network_id == network_id).order_by(Tie.id)):
        for n in range(tie.count):
            record_favour(
                session,
                network_id=network_id,
                giver_id=tie.helper_id,
                taker_id=tie.helped_id,
                kind="history",
                source_key=f"history:{tie.helper_id}:{tie.helped_id}:{n}",
                now=tie.last_at,
            )
            recorded += 1
    return recorded


def _run(
    database: Database,
    router: Router,
    *,
    settings: Settings,
    network_id: int,
    cases: tuple[Case, ...],
    k: int,
    fair: bool,
    rules: FairnessRules | None,
    progress: Progress,
) -> FairnessRun:
    """One replay inside one transaction, rolled back at the end whatever happens."""
    name = "fairness on" if fair else "fairness off"
    config = settings.model_copy(update={"fairness": fair})
    policy = FairnessPolicy(settings=config, rules=rules) if fair else None
    started = time.perf_counter()
    session = database.sessions()
    try:
        session.begin()
        record_history_favours(session, network_id=network_id)
        person_of = {
            int(value.removeprefix("se:")): int(pid)
            for value, pid in session.execute(
                select(ExternalId.value, ExternalId.person_id).where(
                    ExternalId.network_id == network_id, ExternalId.value.startswith("se:")
                )
            ).tuples()
        }
        user_of = {pid: user for user, pid in person_of.items()}
        pool = set(
            session.scalars(select(Evidence.person_id).where(Evidence.network_id == network_id))
        )
        hits = routable_hits = adjusted = 0
        asked: list[tuple[int, datetime]] = []
        for done, case in enumerate(cases, start=1):
            asker = case.asker if case.asker is not None else 0  # 0: a deleted account
            if asker not in person_of:
                person_of[asker] = ensure_person(
                    session,
                    network_id=network_id,
                    external_ids=[f"se:{asker}"],
                    display_name=f"user {asker}",
                    now=case.asked_at,
                ).id
                user_of[person_of[asker]] = asker
            result = ask_question(
                session,
                router=router,
                settings=config,
                network_id=network_id,
                asker_id=person_of[asker],
                text=case.text[: config.max_question_chars],
                now=case.asked_at,
                k=k,
                policy=policy,
            )
            adjusted += result.route.adjusted
            hit = False
            for ask in result.question.asks:
                asked.append((ask.person_id, case.asked_at))
                if user_of.get(ask.person_id) in case.truth:
                    hit = True
                    answer_ask(
                        session,
                        network_id=network_id,
                        ask_id=ask.id,
                        person_id=ask.person_id,
                        text="(replayed answer)",
                        now=case.asked_at + ANSWER_DELAY,
                    )
            hits += hit
            routable_hits += hit and case.routable
            progress(f"replay: {name}", done, len(cases))
        names = dict(
            session.execute(
                select(Person.id, Person.display_name).where(Person.network_id == network_id)
            )
            .tuples()
            .all()
        )
    finally:
        session.rollback()
        session.close()
    per_person = Counter(pid for pid, _ in asked)
    per_week = Counter((pid, iso_week(at)) for pid, at in asked)
    (busiest_id, week), most = per_week.most_common(1)[0] if per_week else ((0, "-"), 0)
    return FairnessRun(
        name=name,
        cases=len(cases),
        routable=sum(case.routable for case in cases),
        hits=hits,
        routable_hits=routable_hits,
        asks=len(asked),
        people_asked=len(per_person),
        pool=len(pool),
        max_week_asks=most,
        busiest=f"{names.get(busiest_id, busiest_id)} in {week}" if most else "-",
        gini_pool=gini([float(per_person.get(pid, 0)) for pid in pool | set(per_person)]),
        gini_asked=gini([float(n) for n in per_person.values()]),
        adjusted=adjusted,
        seconds=time.perf_counter() - started,
    )


def replay_fairness(
    *,
    folder: Path,
    database: Database,
    settings: Settings,
    embedder: Embedder,
    k: int = 3,
    rules: FairnessRules | None = None,
    limit: int | None = None,
    progress: Progress = silent,
) -> FairnessReplay:
    """Replay a site's test questions through the lifecycle with fairness off, then on."""
    split = split_site(folder, progress=progress)
    cases = split.cases[:limit] if limit is not None else split.cases
    network_id, _ = import_history(
        database, folder=folder, split=split, embedder=embedder, progress=progress
    )
    router = Router(database=database, embedder=embedder, settings=settings)
    runs = tuple(
        _run(
            database,
            router,
            settings=settings,
            network_id=network_id,
            cases=cases,
            k=k,
            fair=fair,
            rules=rules,
            progress=progress,
        )
        for fair in (False, True)
    )
    return FairnessReplay(
        site=folder.resolve().name, embedder=embedder.name, k=k, split=split, runs=runs
    )
