"""Search indexes follow the evidence change log: only new changes are applied, any process's
write is seen by routes in another process within seconds, and routes never write."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, event, func, select, text, update

from router.network import people
from router.routing.router import Router
from router.search import lexical
from router.search.backfill import embed_network
from router.search.embedding import HashingEmbedder
from router.search.lexical import LexicalIndex, tokenize
from router.search.vectors import VectorIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, EvidenceChange
from tests.network_builder import NetworkBuilder

ROOT = Path(__file__).resolve().parents[1]


def route_names(router: Router, network_id: int, question: str, now: datetime) -> list[str]:
    with router.database.transaction() as session:
        result = router.route(
            session, network_id=network_id, question=question, asker_id=None, k=3, now=now
        )
    return [c.name for c in result.candidates]


def build(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person("ada", "Which payment provider?|Stripe, the API is pleasant")
    net.person("grace", "How to monitor clusters?|Prometheus with Grafana dashboards")
    return net


def test_every_evidence_write_lands_in_the_change_log_in_its_transaction(
    database: Database, embedder: HashingEmbedder, now: datetime
) -> None:
    net = build(database, embedder, now)
    with database.transaction() as session:
        before = session.scalar(select(func.max(EvidenceChange.seq))) or 0
        session.execute(update(Evidence).values(weight=2.0))  # routes read it from the index
        session.execute(update(Evidence).values(text="edited"))
        session.execute(delete(Evidence).where(Evidence.person_id == net.ids["ada"]))
        logged = session.execute(
            select(EvidenceChange.evidence_id).where(EvidenceChange.seq > before)
        ).all()
    assert len(logged) == 5  # two weight edits, two text edits and one delete
    try:
        with database.transaction() as session:
            session.execute(update(Evidence).values(text="rolled back"))
            raise RuntimeError
    except RuntimeError:
        pass
    with database.transaction() as session:
        assert (
            session.scalar(
                select(func.count(EvidenceChange.seq)).where(EvidenceChange.seq > before)
            )
            == 5
        )


def test_a_check_applies_only_the_changes_since_the_last_one(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = build(database, embedder, now)
    router = Router(database=database, embedder=embedder, settings=settings)
    assert route_names(router, net.network_id, "Stripe payments", now)[0] == "Ada"
    with database.transaction() as session:
        assert router.indexes.sync(session, network_id=net.network_id) == 0
    net.person("linus", "Which version control?|Mercurial, then git")
    with database.transaction() as session:
        # one person's answer: its insert and its embedding, nothing re-read for the others
        assert router.indexes.sync(session, network_id=net.network_id) == 2
        people.delete_evidence(
            session,
            network_id=net.network_id,
            evidence_id=session.scalar(
                select(Evidence.id).where(Evidence.person_id == net.ids["ada"])
            ),
        )
    router.indexes.invalidate(net.network_id)
    assert route_names(router, net.network_id, "Mercurial", now)[0] == "Linus"
    assert "Ada" not in route_names(router, net.network_id, "Stripe payments", now)


def test_a_weight_edit_reaches_the_index_and_routes_read_no_weight_from_the_database(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = build(database, embedder, now)
    router = Router(database=database, embedder=embedder, settings=settings)
    assert route_names(router, net.network_id, "Stripe payments", now)[0] == "Ada"
    with database.transaction() as session:
        stripe = session.scalar(select(Evidence.id).where(Evidence.person_id == net.ids["ada"]))
        session.execute(update(Evidence).where(Evidence.id == stripe).values(weight=0.25))
    router.indexes.invalidate(net.network_id)  # as after any write in this process
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=net.network_id)  # applies the edit
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.lower())

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert route_names(router, net.network_id, "Stripe payments", now)[0] == "Ada"
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements and not any("weight" in statement for statement in statements)
    found = router.search(index, "Stripe")
    assert [(hit.evidence_id, hit.weight) for hit in found] == [(stripe, 0.25)]


def test_the_route_after_a_write_finds_it_in_a_graph_index_before_the_graph_takes_it(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = build(database, embedder, now)
    for n in range(8):
        net.person(f"filler{n}", f"Question {n} about gardening?|Compost and mulch, note {n}")
    router = Router(
        database=database,
        embedder=embedder,
        settings=settings.model_copy(update={"exact_index_max": 4}),
    )
    assert route_names(router, net.network_id, "Stripe payments", now)[0] == "Ada"
    router.indexes.save_changed()
    net.person("linus", "Which version control?|Mercurial, then git")
    router.indexes.invalidate(net.network_id)
    assert route_names(router, net.network_id, "Mercurial version control", now)[0] == "Linus"
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=net.network_id)
    assert index.vectors.approximate and index.vectors.pending == 1  # searched beside the graph
    assert router.indexes.save_changed() == 1 and index.vectors.pending == 0
    reloaded = Router(
        database=database,
        embedder=embedder,
        settings=settings.model_copy(update={"exact_index_max": 4}),
    )
    assert route_names(reloaded, net.network_id, "Mercurial version control", now)[0] == "Linus"


def test_a_write_in_another_process_is_seen_by_routes_here_within_seconds(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = build(database, embedder, now)
    router = Router(
        database=database,
        embedder=embedder,
        settings=settings.model_copy(update={"index_check_seconds": 0.2}),
    )
    assert "Zed" not in route_names(router, net.network_id, "Zanzibar spice routes", now)
    writer = textwrap.dedent(
        f"""
        from datetime import datetime
        from router.network import people
        from router.search.embedding import HashingEmbedder
        from router.search.backfill import embed_pending
        from router.storage.database import Database

        now = datetime.fromisoformat({now.isoformat()!r})
        database = Database({database.url!r})
        with database.transaction() as session:
            zed = people.ensure_person(
                session, network_id={net.network_id}, external_ids=["t:zed"],
                display_name="Zed", now=now,
            )
            people.add_evidence(
                session, network_id={net.network_id}, person_id=zed.id, kind="answer",
                text="Zanzibar spice routes, cloves mostly", source="test", created_at=now,
            )
            embed_pending(session, network_id={net.network_id}, embedder=HashingEmbedder())
        with database.transaction() as session:
            people.delete_evidence(session, network_id={net.network_id}, evidence_id={
            _evidence_of(database, net.ids["grace"])
        })
        """
    )
    subprocess.run(
        [sys.executable, "-c", writer], cwd=ROOT, check=True, timeout=60, capture_output=True
    )
    deadline = time.monotonic() + 5.0
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = route_names(router, net.network_id, "Zanzibar spice routes", now)
        if seen and seen[0] == "Zed":
            break
        time.sleep(0.05)
    assert seen[0] == "Zed"
    assert "Grace" not in route_names(router, net.network_id, "Grafana dashboards", now)


def _evidence_of(database: Database, person_id: int) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(Evidence.id).where(Evidence.person_id == person_id)) or 0)


def test_a_saved_index_is_caught_up_from_the_log_when_loaded(
    database: Database, embedder: HashingEmbedder, now: datetime, settings: Settings
) -> None:
    net = build(database, embedder, now)
    first = Router(database=database, embedder=embedder, settings=settings)
    route_names(first, net.network_id, "Stripe", now)
    assert first.indexes.save_changed() == 1
    net.person("linus", "Which version control?|Mercurial, then git")
    fresh = Router(database=database, embedder=embedder, settings=settings)
    assert route_names(fresh, net.network_id, "Mercurial", now)[0] == "Linus"
    assert len(fresh.indexes.get(database.sessions(), network_id=net.network_id).vectors) == 3


def test_readers_never_see_a_half_written_index_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "n.index"
    stop = threading.Event()

    def keep_saving() -> None:
        size = 10
        while not stop.is_set():
            index = VectorIndex(16, exact_max=10_000, hnsw_m=16, ef_search=16)
            index.add(np.arange(size, dtype=np.int64), rng.random((size, 16), dtype=np.float32))
            index.save(path, model="m", extra={"cursor": size})
            size = 10 if size > 3000 else size * 3

    first = VectorIndex(16, exact_max=10_000, hnsw_m=16, ef_search=16)
    first.save(path, model="m", extra={"cursor": 0})
    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        loads = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            loaded = VectorIndex.load(
                path, model="m", dimension=16, exact_max=10_000, hnsw_m=16, ef_search=16
            )
            assert loaded is not None  # the first save happened before this loop
            assert len(loaded) == loaded.saved_manifest["cursor"]
            loads += 1
    finally:
        stop.set()
        saver.join()
    assert loads > 0
    assert [p.name for p in tmp_path.iterdir()] == ["n.index"]


@pytest.mark.parametrize("merge_at", [256, 2])
def test_bm25_over_posting_lists_scores_like_the_textbook_formula(
    merge_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical, "PENDING_MERGE_MIN", merge_at)  # 2: tails merge all the time
    rng = np.random.default_rng(7)
    words = [f"w{n}" for n in range(40)]
    docs = {i: " ".join(rng.choice(words, size=int(rng.integers(1, 12)))) for i in range(600)}
    index = LexicalIndex()
    index.add_many(list(docs)[:400], list(docs.values())[:400])  # the bulk path
    for i in list(docs)[400:]:
        index.add(i, docs[i])  # the one-at-a-time path
    removed = [int(i) for i in rng.choice(600, size=120, replace=False)]
    index.remove(removed)
    for i in removed[:20]:
        docs[i] = "w1 w2 w3 readded"
        index.add(i, docs[i])
    live = {i: tokenize(t) for i, t in docs.items() if i not in removed[20:]}
    average = sum(len(t) for t in live.values()) / len(live)
    for query in ("w1 w5", "w7", "readded w39", "w2 w2 w11 w30"):
        terms = set(tokenize(query))
        expected: dict[int, float] = {}
        for i, tokens in live.items():
            score = 0.0
            for term in terms:
                df = sum(term in t for t in live.values())
                tf = tokens.count(term)
                if tf and df:
                    idf = np.log(1 + (len(live) - df + 0.5) / (df + 0.5))
                    norm = 1.2 * (1 - 0.75 + 0.75 * len(tokens) / average)
                    score += idf * tf * 2.2 / (tf + norm)
            if score > 0:
                expected[i] = score
        ids, scores = index.search(query, 1000)
        assert set(ids.tolist()) == set(expected)
        for i, s in zip(ids.tolist(), scores.tolist(), strict=True):
            assert abs(s - expected[i]) < 1e-4


def test_other_writers_commit_while_a_big_job_is_being_embedded(
    database: Database, now: datetime
) -> None:
    net = NetworkBuilder(database, HashingEmbedder(name="old-model"), now)
    net.person("ada", *[f"Question {n}?|Answer number {n}" for n in range(6)])
    with database.transaction() as session:
        first = int(session.scalar(select(func.min(Evidence.id))) or 0)
    wrote: list[int] = []

    class WritingMeanwhile(HashingEmbedder):
        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            with database.transaction() as session:  # another writer, e.g. the bot
                if not database.is_sqlite:
                    session.execute(text("SET LOCAL lock_timeout = '2s'"))
                session.execute(update(Evidence).where(Evidence.id == first).values(weight=2.0))
            wrote.append(len(texts))
            return super().encode(texts)

    embedded = embed_network(
        database, network_id=net.network_id, embedder=WritingMeanwhile(), chunk=2
    )
    assert embedded == 6 and wrote == [2, 2, 2]
    with database.transaction() as session:
        assert set(session.scalars(select(Evidence.embedding_model))) == {"hashing-test"}
