"""BM25 and the evidence table are saved with the vectors at one change-log cursor: a restart
reads no evidence text, catches up from the cursor, and routes exactly as a fresh build;
a missing, corrupt or out-of-step file means a full rebuild as before."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.search.lexical import LexicalIndex
from router.search.network_index import NetworkIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence
from tests.network_builder import NetworkBuilder

QUERIES = ["stripe payments", "grafana dashboards", "kafka", "rust ownership", "postgres"]
ANSWERS = [
    "Which payment provider?|Stripe, the API is pleasant",
    "How to monitor clusters?|Prometheus with Grafana dashboards",
    "Streaming?|Kafka with a schema registry and Kafka Connect",
    "Systems language?|Rust: ownership makes the compiler your reviewer",
    "Database?|Postgres with logical replication, Stripe data synced in",
]


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many documents BM25 is given by every ``add_many`` (a restore adds none)."""
    calls: list[int] = []
    original = LexicalIndex.add_many

    def counting(self: LexicalIndex, evidence_ids: list[int], texts: list[str]) -> None:
        calls.append(len(texts))
        original(self, evidence_ids, texts)

    monkeypatch.setattr(LexicalIndex, "add_many", counting)
    return calls


def network(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    for number in range(12):
        net.person(f"p{number}", *ANSWERS[number % 5 :], *ANSWERS[: number % 3])
    return net


def loaded(
    database: Database, embedder: HashingEmbedder, settings: Settings, nid: int
) -> tuple[Router, NetworkIndex]:
    router = Router(database=database, embedder=embedder, settings=settings)
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=nid)
    return router, index


@pytest.fixture
def saved(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> tuple[NetworkBuilder, Router]:
    """A network whose index was built once and saved (vectors and BM25), and the router that did."""
    net = network(database, embedder, now)
    first, _ = loaded(database, embedder, settings, net.network_id)
    assert first.indexes.save_changed() == 1
    return net, first


def results(index: NetworkIndex) -> list[tuple[list[int], bytes]]:
    found = [index.lexical.search(query, 50) for query in QUERIES]
    return [(ids.tolist(), scores.tobytes()) for ids, scores in found]


def same_ranking(a: NetworkIndex, b: NetworkIndex) -> None:
    """The same documents with bit-identical scores (equal scores may come in another order)."""
    for query in QUERIES:
        (a_ids, a_scores), (b_ids, b_scores) = (
            a.lexical.search(query, 50),
            b.lexical.search(query, 50),
        )
        assert sorted(zip(a_scores.tolist(), a_ids.tolist(), strict=True)) == sorted(
            zip(b_scores.tolist(), b_ids.tolist(), strict=True)
        )
    assert sorted(a.evidence.ids().tolist()) == sorted(b.evidence.ids().tolist())
    assert a.prior() == pytest.approx(b.prior())


def fresh_build(
    database: Database, embedder: HashingEmbedder, settings: Settings, nid: int, tmp: Path
) -> NetworkIndex:
    elsewhere = settings.model_copy(update={"data_dir": tmp / "elsewhere"})
    return loaded(database, embedder, elsewhere, nid)[1]


def test_a_restart_routes_as_a_fresh_build_without_reading_evidence_text(
    database: Database,
    embedder: HashingEmbedder,
    now: datetime,
    settings: Settings,
    indexed: list[int],
    tmp_path: Path,
) -> None:
    net = network(database, embedder, now)
    first, built = loaded(database, embedder, settings, net.network_id)
    assert sum(indexed) == len(built.evidence) > 20
    assert first.indexes.save_changed() == 1
    assert list(settings.index_dir.glob("*.lexical"))
    indexed.clear()
    _, restarted = loaded(database, embedder, settings, net.network_id)
    assert indexed == []  # no row's text was tokenized again
    assert results(restarted) == results(built)
    assert restarted.prior() == built.prior() and not restarted.changed
    assert results(restarted) == results(
        fresh_build(database, embedder, settings, net.network_id, tmp_path)
    )


def test_evidence_added_edited_and_deleted_after_the_save_is_caught_up_after_a_restart(
    saved: tuple[NetworkBuilder, Router],
    database: Database,
    embedder: HashingEmbedder,
    settings: Settings,
    indexed: list[int],
    tmp_path: Path,
) -> None:
    net, _ = saved
    net.person("linus", "Which version control?|Mercurial, then git; Kafka for the logs")
    with database.transaction() as session:
        ids = session.scalars(select(Evidence.id).order_by(Evidence.id)).all()
        session.execute(
            update(Evidence).where(Evidence.id == ids[3]).values(text="Rust and Kafka, not Stripe")
        )
        session.execute(delete(Evidence).where(Evidence.id.in_([ids[0], ids[7]])))
    indexed.clear()
    _, restarted = loaded(database, embedder, settings, net.network_id)
    assert 0 < sum(indexed) <= 3  # only the changed rows were read again
    fresh = fresh_build(database, embedder, settings, net.network_id, tmp_path)
    same_ranking(restarted, fresh)
    assert ids[0] not in restarted.evidence and ids[3] in restarted.evidence


@pytest.mark.parametrize("damage", ["missing", "corrupt", "other cursor", "no vectors"])
def test_a_missing_corrupt_or_out_of_step_bm25_file_means_a_full_rebuild(
    damage: str,
    saved: tuple[NetworkBuilder, Router],
    database: Database,
    embedder: HashingEmbedder,
    settings: Settings,
    indexed: list[int],
    tmp_path: Path,
) -> None:
    net, first = saved
    (lexical_file,) = settings.index_dir.glob("*.lexical")
    (vectors_file,) = settings.index_dir.glob("*.index")
    if damage == "missing":
        lexical_file.unlink()
    elif damage == "corrupt":
        lexical_file.write_bytes(lexical_file.read_bytes()[:200])
    elif damage == "other cursor":
        shutil.copy(lexical_file, tmp_path / "old.lexical")
        net.person("linus", "Which version control?|Mercurial")
        with database.transaction() as session:
            first.indexes.sync(session, network_id=net.network_id)
        assert first.indexes.save_changed() == 1
        shutil.copy(tmp_path / "old.lexical", lexical_file)
    else:
        vectors_file.unlink()
    indexed.clear()
    rebuilt, restarted = loaded(database, embedder, settings, net.network_id)
    assert sum(indexed) == len(restarted.evidence)  # every row read again
    assert results(restarted) == results(
        fresh_build(database, embedder, settings, net.network_id, tmp_path)
    )
    assert rebuilt.indexes.save_changed() == 1  # the rebuild writes both files again
    indexed.clear()
    _, again = loaded(database, embedder, settings, net.network_id)
    assert indexed == [] and results(again) == results(restarted)


def test_a_saved_file_holds_only_arrays_it_can_be_read_without_pickle(
    saved: tuple[NetworkBuilder, Router], settings: Settings
) -> None:
    (lexical_file,) = settings.index_dir.glob("*.lexical")
    with np.load(lexical_file, allow_pickle=False) as saved:
        assert all(saved[name].dtype != object for name in saved.files)
