"""The evidence change log is pruned: each network keeps its newest entries, and an index (in
memory or saved) that fell behind the pruned horizon is rebuilt from the rows, never left stale."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update

from router.network import people
from router.routing.router import Router
from router.search.backfill import evidence_document
from router.search.change_log import latest_change, prune_changes, pruned_through
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, EvidenceChange
from tests.network_builder import NetworkBuilder

ROOT = Path(__file__).resolve().parents[1]


def _entries(database: Database, network_id: int) -> int:
    with database.transaction() as session:
        return int(
            session.scalar(
                select(func.count(EvidenceChange.seq)).where(
                    EvidenceChange.network_id == network_id
                )
            )
            or 0
        )


def _build(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person("ada", "Which payment provider?|Stripe, the API is pleasant")
    net.person("grace", "How to monitor clusters?|Prometheus with Grafana dashboards")
    return net


def _route(router: Router, network_id: int, question: str, now: datetime) -> list[str]:
    with router.database.transaction() as session:
        result = router.route(
            session, network_id=network_id, question=question, asker_id=None, k=3, now=now
        )
    return [c.name for c in result.candidates]


def _forget_ada(database: Database, net: NetworkBuilder) -> None:
    with database.transaction() as session:
        for evidence_id in session.scalars(
            select(Evidence.id).where(Evidence.person_id == net.ids["ada"])
        ).all():
            people.delete_evidence(session, network_id=net.network_id, evidence_id=evidence_id)


def test_pruning_keeps_each_networks_newest_entries_and_records_the_horizon(
    database: Database, embedder: HashingEmbedder, now: datetime
) -> None:
    big = _build(database, embedder, now)  # two rows: an insert and an embedding each
    small = NetworkBuilder(database, embedder, now, name="small")
    small.person("linus", "Which version control?|Mercurial, then git")
    assert (_entries(database, big.network_id), _entries(database, small.network_id)) == (4, 2)
    with database.transaction() as session:
        newest = latest_change(session, big.network_id)
        assert prune_changes(session, keep=2) == 2
    with database.transaction() as session:
        horizon = pruned_through(session, big.network_id)
        kept = session.scalars(
            select(EvidenceChange.seq).where(EvidenceChange.network_id == big.network_id)
        ).all()
        assert pruned_through(session, small.network_id) == 0
        assert latest_change(session, big.network_id) == newest
        assert prune_changes(session, keep=2) == 0  # nothing more to prune
    assert 0 < horizon < min(kept) and len(kept) == 2
    assert _entries(database, small.network_id) == 2


def test_an_index_behind_the_pruned_horizon_is_rebuilt_and_misses_no_delete(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = _build(database, embedder, now)
    router = Router(database=database, embedder=embedder, settings=settings)
    assert _route(router, net.network_id, "Stripe payments", now)[0] == "Ada"
    _forget_ada(database, net)  # the delete's entry is pruned before this process reads it
    net.person("linus", "Which version control?|Mercurial, then git")
    with database.transaction() as session:
        prune_changes(session, keep=1)
    router.indexes.invalidate(net.network_id)
    assert "Ada" not in _route(router, net.network_id, "Stripe payments", now)
    assert _route(router, net.network_id, "Mercurial", now)[0] == "Linus"
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=net.network_id)
        assert index.cursor == latest_change(session, net.network_id)
    assert len(index.vectors) == 2


def test_a_saved_index_older_than_the_pruned_horizon_is_not_loaded(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = _build(database, embedder, now)
    first = Router(database=database, embedder=embedder, settings=settings)
    _route(first, net.network_id, "Stripe", now)
    assert first.indexes.save_changed() == 1
    edited = evidence_document("answer", "Mercurial, then git", "Which version control?")
    vector = embedder.encode([edited])[0]
    with database.transaction() as session:  # re-embedded after the save; its entry is pruned
        evidence_id = session.scalar(
            select(Evidence.id).where(Evidence.person_id == net.ids["ada"])
        )
        session.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id)
            .values(
                text="Mercurial, then git",
                context="Which version control?",
                embedding=vector.tobytes(),
            )
        )
    net.person("linus", "Which editor?|Emacs")
    with database.transaction() as session:
        prune_changes(session, keep=1)
    fresh = Router(database=database, embedder=embedder, settings=settings)
    with database.transaction() as session:
        ids, vectors = fresh.indexes.get(session, network_id=net.network_id).vectors.stored()
    stored = vectors[list(ids).index(evidence_id)]
    assert np.allclose(stored, vector)


def test_tick_command_prunes_the_change_log(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = _build(database, embedder, now)
    for n in range(60):
        net.person(f"p{n}", f"Question {n}?|Answer number {n}")
    assert _entries(database, net.network_id) == 124
    env = {
        "ASKAROUND_DATA_DIR": str(settings.data_dir),
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
        "ASKAROUND_MODEL_NAME": "hashing-test",
        "ASKAROUND_CHANGE_LOG_KEEP": "100",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "askaround", "tick"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "pruned 24 change-log entries" in result.stdout
    assert _entries(database, net.network_id) == 100
