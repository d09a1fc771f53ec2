"""The router: a question in, a ranked and explained list of people to ask out.

Dense (FAISS) and lexical (BM25) search find evidence; ``ranking`` turns it into per-person
scores; availability filters people out (opted out, snoozed, deactivated, the asker, anyone in
``exclude``); an optional policy (fairness) reweighs; reasons are attached as data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from router.errors import InvalidInput
from router.network.people import ASKAROUND_SOURCE, primary_external_id
from router.progress import Progress, silent
from router.routing.contacts import contacts_route, detect
from router.routing.ranking import PersonScore, RankingWeights, merge_hits, score_people
from router.routing.route import Candidate, Reason, Route, RoutingPolicy
from router.search.embedding import Embedder
from router.search.indexing import IndexCache
from router.search.network_index import NetworkIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, Network, Person, Tie
from router.storage.text import storable

SEARCH_DEPTH = 100
SNIPPET_CHARS = 160
EVIDENCE_REASONS = 2
REASON_MIN_SIMILARITY = 0.3  # weaker dense matches still rank, but are not shown as reasons
REASON_SIMILARITY_GAP = 0.2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmReport:
    """Which networks' indexes loaded, and which did not (with the reason)."""

    loaded: tuple[int, ...]
    failed: tuple[tuple[int, str], ...]


class Router:
    """Routes questions within one database; holds the per-network index cache."""

    def __init__(
        self,
        *,
        database: Database,
        embedder: Embedder,
        settings: Settings,
        weights: RankingWeights | None = None,
    ) -> None:
        self.database = database
        self.embedder = embedder
        self.settings = settings
        self.weights = weights or RankingWeights()
        self.indexes = IndexCache(
            database=database,
            embedder=embedder,
            settings=settings,
            half_life_days=self.weights.half_life_days,
        )

    def warm(self, session: Session, *, progress: Progress = silent) -> WarmReport:
        """Load or build every network's index now, so the first question is not the slow one.

        A network whose index cannot load is reported and skipped (its data rolled back to a
        savepoint), so one tenant's bad data never stops the others from being served.
        """
        loaded: list[int] = []
        failed: list[tuple[int, str]] = []
        for network_id in list(session.scalars(select(Network.id))):
            try:
                with session.begin_nested():
                    self.indexes.get(session, network_id=network_id, progress=progress)
            except Exception as exc:  # any failure is this network's alone
                log.warning("network #%d: its index did not load: %r", network_id, exc)
                failed.append((network_id, f"{type(exc).__name__}: {exc}"))
            else:
                loaded.append(network_id)
        self.indexes.save_changed()
        return WarmReport(loaded=tuple(loaded), failed=tuple(failed))

    def validate(self, *, question: str, k: int) -> str:
        """The question stripped, or InvalidInput saying what is wrong with it or with ``k``."""
        text = storable(question.strip(), what="the question")
        if not text:
            raise InvalidInput("the question is empty")
        if len(text) > self.settings.max_question_chars:
            raise InvalidInput(
                f"the question is {len(text)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k}")
        return text

    def route(
        self,
        session: Session,
        *,
        network_id: int,
        question: str,
        asker_id: int | None,
        k: int,
        now: datetime,
        exclude: frozenset[int] = frozenset(),
        policy: RoutingPolicy | None = None,
    ) -> Route:
        """The ``k`` best people to ask ``question`` on behalf of ``asker_id``, with reasons."""
        text = self.validate(question=question, k=k)
        contact_question = detect(text)  # "who do I know at Acme?": the directory answers
        if contact_question is not None:
            excluded = exclude | ({asker_id} if asker_id is not None else set())
            return contacts_route(
                session,
                network_id=network_id,
                text=text,
                asked=contact_question,
                k=k,
                exclude=frozenset(excluded),
            )
        index = self.indexes.get(session, network_id=network_id)
        query = self.embedder.encode([text])[0]
        with index.lock.reading():  # a concurrent catch-up waits until these reads are done
            dense_ids, dense_scores = index.vectors.search(query, SEARCH_DEPTH)
            lexical_ids, lexical_scores = index.lexical.search(text, SEARCH_DEPTH)
            owners = {
                int(i): index.person_of[int(i)]
                for i in (*dense_ids.tolist(), *lexical_ids.tolist())
                if int(i) in index.person_of
            }
            activity = index.prior()
            active = index.most_active(self.weights.pool_active)
        weights = self._weights(session, set(owners))
        hits = merge_hits(
            zip(dense_ids.tolist(), dense_scores.tolist(), strict=True),
            zip(lexical_ids.tolist(), lexical_scores.tolist(), strict=True),
            owners,
            weights,
            min_similarity=self.weights.min_similarity,
            similarity_window=self.weights.similarity_window,
        )
        hits = [hit for hit in hits if hit.evidence_id in weights]  # deleted since indexing
        pool = {hit.person_id for hit in hits} | set(active)
        available = self._available(session, network_id, pool, asker_id, exclude, now)
        closeness = self._closeness(session, network_id, asker_id, available)
        scored = score_people(
            [hit for hit in hits if hit.person_id in available],
            activity={pid: activity.get(pid, 0.0) for pid in available},
            closeness=closeness,
            candidates=[pid for pid in active if pid in available],
            weights=self.weights,
        )
        adjusted, fairness, skipped = False, dict[int, str](), list[str]()
        if policy is not None and scored:
            scored, adjusted, fairness, skipped = self._apply_policy(
                session, policy, scored, network_id=network_id, asker_id=asker_id, k=k, now=now
            )
        chosen = scored[:k]
        candidates = self._explain(session, chosen, index, closeness, fairness, asker_id, now)
        notes = [f"a better match was not asked: {reason}" for reason in skipped]
        if candidates and not any(r.kind == "evidence" for c in candidates for r in c.reasons):
            notes.append(
                "no past answers or interests match this question closely; "
                "these are people who answer often"
            )
        if index.unembedded:
            notes.append(
                f"{index.unembedded} evidence rows have no vector from {self.embedder.name} yet "
                "(run `askaround reembed`); only their text was searched"
            )
        if not candidates:
            notes.append("nobody in this network is available for this question")
        elif len(candidates) < k:
            notes.append(f"only {len(candidates)} available people matched")
        return Route(
            question=text, candidates=tuple(candidates), adjusted=adjusted, notes=tuple(notes)
        )

    def _weights(self, session: Session, ids: set[int]) -> dict[int, float]:
        if not ids:
            return {}
        rows = session.execute(select(Evidence.id, Evidence.weight).where(Evidence.id.in_(ids)))
        return {int(row.id): float(row.weight) for row in rows}

    def _available(
        self,
        session: Session,
        network_id: int,
        pool: set[int],
        asker_id: int | None,
        exclude: frozenset[int],
        now: datetime,
    ) -> set[int]:
        candidates = pool - set(exclude) - ({asker_id} if asker_id is not None else set())
        if not candidates:
            return set()
        rows = session.execute(
            select(Person.id, Person.snoozed_until).where(
                Person.network_id == network_id,
                Person.id.in_(candidates),
                Person.opted_out.is_(False),
                Person.deactivated.is_(False),
            )
        )
        return {
            int(row.id) for row in rows if row.snoozed_until is None or row.snoozed_until <= now
        }

    def _closeness(
        self, session: Session, network_id: int, asker_id: int | None, people: set[int]
    ) -> dict[int, int]:
        """Favours each person has done for the asker plus those the asker has done for them."""
        if asker_id is None or not people:
            return {}
        rows = session.execute(
            select(Tie.helper_id, Tie.helped_id, Tie.count).where(
                Tie.network_id == network_id,
                or_(
                    and_(Tie.helped_id == asker_id, Tie.helper_id.in_(people)),
                    and_(Tie.helper_id == asker_id, Tie.helped_id.in_(people)),
                ),
            )
        )
        closeness: dict[int, int] = {}
        for helper, helped, count in rows:
            other = helper if helped == asker_id else helped
            closeness[other] = closeness.get(other, 0) + int(count)
        return closeness

    def _apply_policy(
        self,
        session: Session,
        policy: RoutingPolicy,
        scored: list[PersonScore],
        *,
        network_id: int,
        asker_id: int | None,
        k: int,
        now: datetime,
    ) -> tuple[list[PersonScore], bool, dict[int, str], list[str]]:
        """Let the policy scale or drop people; report whether the top ``k`` changed."""
        before = [p.person_id for p in scored[:k]]
        adjustments = policy.adjust(
            session,
            network_id=network_id,
            asker_id=asker_id,
            person_ids=[p.person_id for p in scored],
            now=now,
        )
        kept: list[PersonScore] = []
        reasons: dict[int, str] = {}
        skipped: list[str] = []
        for person in scored:
            adjustment = adjustments.get(person.person_id)
            if adjustment is None:
                kept.append(person)
                continue
            if adjustment.reason:
                reasons[person.person_id] = adjustment.reason
            if adjustment.exclude:
                if person.person_id in before:
                    skipped.append(adjustment.reason or "fairness rules")
                continue
            person.score *= adjustment.factor
            kept.append(person)
        kept.sort(key=lambda p: (-p.score, p.person_id))
        after = [p.person_id for p in kept[:k]]
        return kept, before != after, reasons, skipped

    def _explain(
        self,
        session: Session,
        chosen: list[PersonScore],
        index: NetworkIndex,
        closeness: dict[int, int],
        fairness: dict[int, str],
        asker_id: int | None,
        now: datetime,
    ) -> list[Candidate]:
        if not chosen:
            return []
        ids = [p.person_id for p in chosen]
        people = {
            person.id: person
            for person in session.scalars(
                select(Person).where(Person.id.in_(ids)).options(selectinload(Person.external_ids))
            )
        }
        evidence_ids = [hit.evidence_id for p in chosen for _, hit in p.hits[:EVIDENCE_REASONS]]
        evidence = {
            row.id: row
            for row in session.execute(
                select(
                    Evidence.id,
                    Evidence.kind,
                    Evidence.text,
                    Evidence.context,
                    Evidence.source,
                    Evidence.link,
                    Evidence.created_at,
                ).where(Evidence.id.in_(evidence_ids))
            )
        }
        best_dense = max((h.dense_score or 0.0 for p in chosen for _, h in p.hits), default=0.0)
        floor = max(REASON_MIN_SIMILARITY, best_dense - REASON_SIMILARITY_GAP)
        candidates = []
        for scored in chosen:
            person = people[scored.person_id]
            reasons: list[Reason] = []
            for _, hit in scored.hits[:EVIDENCE_REASONS]:
                row = evidence.get(hit.evidence_id)
                shown = hit.lexical_rank is not None or (hit.dense_score or 0.0) >= floor
                if row is not None and shown:
                    reasons.append(_evidence_reason(row, hit.dense_score))
            stats = index.activity.get(scored.person_id)
            if stats is not None and stats.answers > 0:
                days = max(0, int((now.timestamp() - stats.last_at) // 86400))
                reasons.append(
                    Reason(
                        kind="activity",
                        text=f"has answered {_count(stats.answers, 'question')}, the last {_ago(days)}",
                    )
                )
            ties = closeness.get(scored.person_id, 0)
            if ties and asker_id is not None:
                reasons.append(
                    Reason(kind="social", text=f"has {ties} favour{'s' * (ties != 1)} with you")
                )
            if scored.person_id in fairness:
                reasons.append(Reason(kind="fairness", text=fairness[scored.person_id]))
            candidates.append(
                Candidate(
                    person_id=person.id,
                    external_id=primary_external_id(person),
                    name=person.display_name,
                    score=float(scored.score),
                    reasons=tuple(reasons),
                )
            )
        return candidates


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    if days < 60:
        return f"{days} day{'s' * (days != 1)} ago"
    return f"{math.floor(days / 30.4)} months ago"


def _evidence_reason(row: Any, similarity: float | None) -> Reason:
    kind = row.kind
    text = " ".join(str(row.text).split())
    context = " ".join(str(row.context).split())
    created: datetime = row.created_at
    snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
    title = context.split("\n")[0] if context else ""
    if row.source == ASKAROUND_SOURCE:  # a private exchange: say that, never quote it
        return Reason(
            kind="evidence",
            text=f"answered a similar question through Askaround ({created.date().isoformat()})",
            evidence_id=int(row.id),
            source=ASKAROUND_SOURCE,
            date=created,
            score=None if similarity is None else round(float(similarity), 4),
        )
    if kind == "answer":
        about = f'answered "{_clip(title, 90)}"' if title else f'answered "{_clip(text, 90)}"'
        sentence = f"{about} ({created.date().isoformat()})"
    elif kind == "interest":
        sentence = f"lists {_clip(text, 90)} as an interest"
    else:
        sentence = f'profile says "{_clip(text, 90)}"'
    return Reason(
        kind="evidence",
        text=sentence,
        evidence_id=int(row.id),
        snippet=snippet,
        source=str(row.source),
        link=row.link,
        date=created,
        score=None if similarity is None else round(float(similarity), 4),
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["Router"]
