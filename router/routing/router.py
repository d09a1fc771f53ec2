"""The router: a question in, a ranked and explained list of people to ask out.

Dense (FAISS) and lexical (BM25) search find evidence; ``ranking`` turns it into per-person
scores; availability filters people out (opted out, snoozed, deactivated, the asker, anyone in
``exclude``); an optional policy (fairness) reweighs; reasons are attached as data.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.network.availability import available_people, closeness_to_asker
from router.progress import Progress, silent
from router.question_text import question_text
from router.routing import recency
from router.routing.answer_log import AnswerLog, Standing
from router.routing.contacts import contacts_route, detect
from router.routing.explanation import explain, fetch_shown
from router.routing.features import person_features
from router.routing.learned import (
    PRETRAINED,
    LearnedRanker,
    RankerShelf,
    adapted_path,
    pool_drivers,
    pretrained_path,
)
from router.routing.ranking import Hit, PersonScore, RankingWeights, merge_hits, score_people
from router.routing.route import Route, RoutingPolicy
from router.routing.training import candidate_pool
from router.search.embedding import QUERY_CHARS, Embedder
from router.search.evidence_table import EvidenceTable
from router.search.indexing import IndexCache
from router.search.network_index import NetworkIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Network
from router.storage.text import storable

SEARCH_DEPTH = 100
EMBED_CHARS = QUERY_CHARS  # the model reads the title and first part; BM25 reads it all
HAND_SET = "hand-set"
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
        ranker: LearnedRanker | None = None,
    ) -> None:
        self.database = database
        self.embedder = embedder
        self.settings = settings
        self.weights = weights or RankingWeights()
        self.ranker_override = ranker  # one model for every network (evaluation, tests)
        self.shelf = RankerShelf()
        self._aside = ThreadPoolExecutor(max_workers=8, thread_name_prefix="askaround-route")
        self._logs: dict[int, tuple[EvidenceTable, tuple[int, int], int, AnswerLog]] = {}
        self._log_lock = threading.Lock()
        self._recent = recency.RecentCounts(self.weights)
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
        """The question as every surface routes it (invisible characters gone, surrounding
        space trimmed), or InvalidInput saying what is wrong with it or with ``k``: the same
        check as asking (``question_text``), so a preview never routes what asking refuses."""
        storable(question, what="the question")
        text = question_text(question, max_chars=self.settings.max_question_chars)
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k}")
        return text

    def ranker_for(self, network_id: int) -> LearnedRanker | None:
        """The model that ranks this network: its own adapted one, the shipped one, or none."""
        if not self.settings.learned_ranking:
            return None
        if self.ranker_override is not None:
            return self.ranker_override
        own = self.shelf.get(adapted_path(self.settings.data_dir, network_id), kind="adapted")
        return own or self.shelf.get(pretrained_path(self.settings.models_dir), kind=PRETRAINED)

    def answer_log(self, index: NetworkIndex, network_id: int) -> AnswerLog:
        """Every answer's (person, time) in the index: extended by the answers added since it
        was made, rebuilt only when one was removed (or the index replaced)."""
        # One route extends a network's log at a time; the others then find it extended.
        with self._log_lock, index.lock.reading():  # a catch-up waits until these reads are done
            cached = self._logs.get(network_id)
            table = index.evidence
            version = (table.epoch, table.removed_answers)
            if cached is not None and cached[0] is table and cached[1] == version:
                if cached[2] == table.row_count:
                    return cached[3]
                people, times = table.answers(since_row=cached[2])
                log = cached[3].extended(people, times)
            else:
                people, times = table.answers()
                log = AnswerLog(people, times, half_life_days=self.weights.half_life_days)
            self._logs[network_id] = (table, version, table.row_count, log)
        return log

    def standing(self, index: NetworkIndex, network_id: int, now: datetime) -> Standing:
        """Everyone's record at ``now``, counting every indexed answer (even one stamped ``now``
        or later: at routing time all of it is known, unlike in training)."""
        log = self.answer_log(index, network_id)
        latest = float(log.times[-1]) if len(log) else 0.0
        return log.as_of(max(now.timestamp(), latest) + 1e-3)

    def search(self, index: NetworkIndex, text: str, depth: int = SEARCH_DEPTH) -> list[Hit]:
        """Evidence found by the dense (title and first part) and the lexical (all) search."""
        # BM25 needs no vector: it runs on another thread while the query is encoded (both
        # release the GIL for most of their work), so a route waits for the slower, not the sum
        lexical = self._aside.submit(self._lexical_search, index, text, depth)
        try:
            query = self.embedder.encode([text[:EMBED_CHARS]])[0]
        finally:
            lexical_ids, lexical_scores = lexical.result()
        with index.lock.reading():  # a concurrent catch-up waits until these reads are done
            dense_ids, dense_scores = index.vectors.search(query, depth)
            found = np.concatenate([dense_ids, lexical_ids])
            people = index.evidence.owners(found)
            weights = index.evidence.weights(found)  # kept in step by the change log
        owners = {i: p for i, p in zip(found.tolist(), people.tolist(), strict=True) if p >= 0}
        weight_of = {
            i: w for i, w in zip(found.tolist(), weights.tolist(), strict=True) if i in owners
        }
        hits = merge_hits(
            zip(dense_ids.tolist(), dense_scores.tolist(), strict=True),
            zip(lexical_ids.tolist(), lexical_scores.tolist(), strict=True),
            owners,
            weight_of,
            min_similarity=self.weights.min_similarity,
            similarity_window=self.weights.similarity_window,
        )
        return [hit for hit in hits if hit.evidence_id in weight_of]  # indexed (not removed)

    @staticmethod
    def _lexical_search(
        index: NetworkIndex, text: str, depth: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """BM25's ``depth`` best rows; a row a catch-up removes after this is dropped later,
        when its owner is looked up."""
        with index.lock.reading():
            return index.lexical.search(text, depth)

    def pool_by_depth(
        self,
        session: Session,
        *,
        network_id: int,
        question: str,
        now: datetime,
        depths: tuple[int, ...],
    ) -> dict[int, set[int]]:
        """Who the retrieval stage puts before the ranker when search goes ``depth`` deep."""
        index = self.indexes.get(session, network_id=network_id)
        hits = self.search(index, self.validate(question=question, k=1), max(depths))
        standing = self.standing(index, network_id, now)
        pools = {}
        for depth in depths:
            shallow = [
                h
                for h in hits
                if (h.dense_rank is not None and h.dense_rank <= depth)
                or (h.lexical_rank is not None and h.lexical_rank <= depth)
            ]
            pools[depth] = candidate_pool(shallow, standing, self.weights)
        return pools

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
        hits = self.search(index, text)
        ranker = self.ranker_for(network_id)
        features: dict[int, npt.NDArray[np.float64]] = {}
        if ranker is None:
            with index.lock.reading():  # a concurrent catch-up waits until these reads are done
                activity = index.prior()
                active = index.most_active(self.weights.pool_active)
            pool = {hit.person_id for hit in hits} | set(active)
            available = available_people(session, network_id, pool, asker_id, exclude, now)
            closeness = closeness_to_asker(session, network_id, asker_id, available)
            scored = score_people(
                [hit for hit in hits if hit.person_id in available],
                activity={pid: activity.get(pid, 0.0) for pid in available},
                closeness=closeness,
                candidates=[pid for pid in active if pid in available],
                weights=self.weights,
            )
            lifted, aged = set[int](), ""
        else:
            standing = self.standing(index, network_id, now)
            pool = candidate_pool(hits, standing, self.weights)
            available = available_people(session, network_id, pool, asker_id, exclude, now)
            closeness = closeness_to_asker(session, network_id, asker_id, available)
            log = self.answer_log(index, network_id)
            recent = self._recent.of(network_id, log, available, now.timestamp())
            aged = recency.stale_note(recent)
            scored, features, lifted = self._learned(
                ranker, hits, available, standing, closeness, recent
            )
        adjusted, fairness, skipped = False, dict[int, str](), list[str]()
        if policy is not None and scored:
            scored, adjusted, fairness, skipped = self._apply_policy(
                session, policy, scored, network_id=network_id, asker_id=asker_id, k=k, now=now
            )
        chosen = scored[:k]
        pending: Future[dict[int, dict[str, float]]] | None = None
        if ranker is not None and chosen:
            # against the pool's average, not the training set's: on another thread while the
            # reasons' rows are read (the database calls release the GIL)
            ranked = [p.person_id for p in scored]  # then anyone a policy dropped
            ranked += sorted(set(features) - set(ranked))
            pending = self._aside.submit(
                pool_drivers, ranker, features, ranked, [p.person_id for p in chosen]
            )
        try:
            shown = fetch_shown(session, chosen)
        finally:
            drivers = pending.result() if pending is not None else {}
        recency.credit_lift(drivers, lifted)
        candidates = explain(
            shown,
            chosen,
            index=index,
            closeness=closeness,
            fairness=fairness,
            asker_id=asker_id,
            now=now,
            drivers=drivers,
        )
        notes = [aged] if aged else []
        notes += [f"a better match was not asked: {reason}" for reason in skipped]
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
            question=text,
            candidates=tuple(candidates),
            adjusted=adjusted,
            notes=tuple(notes),
            ranked_by=ranker.name if ranker is not None else HAND_SET,
        )

    def _learned(
        self,
        ranker: LearnedRanker,
        hits: list[Hit],
        available: set[int],
        standing: Standing,
        closeness: dict[int, int],
        recent: recency.Recent,
    ) -> tuple[list[PersonScore], dict[int, npt.NDArray[np.float64]], set[int]]:
        """Score the available people with the model, fused with who answered most lately;
        scores in (0, 1] so policies can scale them."""
        people = sorted(available)
        mine = [hit for hit in hits if hit.person_id in available]
        matrix = person_features(
            mine, people, standing=standing, closeness=closeness, weights=self.weights
        )
        raw = ranker.score(matrix)
        if not people:
            return [], {}, set()
        counts = [recent.counts.get(p, 0) for p in people]
        order, lifted = recency.fused_scores(people, raw, counts, recent.weight)
        scored = {p: PersonScore(p, score=score) for p, score in order}
        for hit in mine:
            scored[hit.person_id].hits.append((hit.credit(self.weights.rrf_k), hit))
        for person in scored.values():
            person.hits.sort(key=lambda pair: -pair[0])
        return list(scored.values()), {p: matrix[i] for i, p in enumerate(people)}, lifted

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


__all__ = ["Router"]
