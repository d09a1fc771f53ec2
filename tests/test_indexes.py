"""The FAISS vector index and the BM25 lexical index on their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from router.search import vectors as vectors_module
from router.search.lexical import LexicalIndex, tokenize
from router.search.vectors import VectorIndex


def unit(rows: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_index_finds_the_identical_vector_first() -> None:
    vectors = unit(200, 32, 1)
    index = VectorIndex(32, exact_max=1000, hnsw_m=16, ef_search=64)
    index.add(np.arange(100, 300, dtype=np.int64), vectors)
    ids, scores = index.search(vectors[17], 5)
    assert ids[0] == 117 and scores[0] > 0.999
    assert not index.approximate


def test_index_goes_approximate_past_the_threshold_and_keeps_recall() -> None:
    """HNSW recall@10 against the exact index on random unit vectors (the hard case for ANN)."""
    vectors = unit(3000, 64, 2)
    queries = unit(50, 64, 3)
    exact = VectorIndex(64, exact_max=10_000, hnsw_m=32, ef_search=128)
    approx = VectorIndex(64, exact_max=1000, hnsw_m=32, ef_search=128)
    ids = np.arange(3000, dtype=np.int64)
    for start in range(0, 3000, 500):
        exact.add(ids[start : start + 500], vectors[start : start + 500])
        approx.add(ids[start : start + 500], vectors[start : start + 500])
    assert approx.approximate and not exact.approximate
    recall = np.mean(
        [len(set(exact.search(q, 10)[0]) & set(approx.search(q, 10)[0])) / 10 for q in queries]
    )
    assert recall >= 0.9, recall


def test_removed_vectors_are_never_returned_exact_or_approximate(tmp_path: Path) -> None:
    vectors = unit(300, 16, 4)
    for exact_max in (1000, 10):
        index = VectorIndex(16, exact_max=exact_max, hnsw_m=16, ef_search=64)
        index.add(np.arange(300, dtype=np.int64), vectors)
        index.remove(np.asarray([5, 6], dtype=np.int64))
        ids, _ = index.search(vectors[5], 20)
        assert 5 not in ids and 6 not in ids and len(index) == 298
        index.save(tmp_path / f"i{exact_max}.faiss", model="m")
        loaded = VectorIndex.load(
            tmp_path / f"i{exact_max}.faiss",
            model="m",
            dimension=16,
            exact_max=exact_max,
            hnsw_m=16,
            ef_search=64,
        )
        assert loaded is not None and len(loaded) == 298
        assert 5 not in loaded.search(vectors[5], 20)[0]


def test_a_saved_index_from_another_model_is_not_trusted(tmp_path: Path) -> None:
    index = VectorIndex(8, exact_max=10, hnsw_m=16, ef_search=16)
    index.add(np.arange(3, dtype=np.int64), unit(3, 8, 5))
    index.save(tmp_path / "x.faiss", model="model-a")
    assert (
        VectorIndex.load(
            tmp_path / "x.faiss",
            model="model-b",
            dimension=8,
            exact_max=10,
            hnsw_m=16,
            ef_search=16,
        )
        is None
    )
    (tmp_path / "y.faiss").write_bytes(b"garbage")
    (tmp_path / "y.json").write_text(
        '{"model": "model-a", "dimension": 8, "approximate": false, "masked": []}'
    )
    assert (
        VectorIndex.load(
            tmp_path / "y.faiss",
            model="model-a",
            dimension=8,
            exact_max=10,
            hnsw_m=16,
            ef_search=16,
        )
        is None
    )


def test_tokens_keep_tool_names_and_drop_stop_words() -> None:
    assert tokenize("Do you use Node.js, C++ or dbt for the ETL jobs?") == [
        "node.js",
        "c++",
        "dbt",
        "etl",
        "jobs",
    ]


def test_bm25_prefers_the_rare_term_and_forgets_removed_documents() -> None:
    index = LexicalIndex()
    index.add(1, "monitoring with dashboards and alerts")
    index.add(2, "Grafana dashboards")
    index.add(3, "dashboards dashboards everywhere")
    ids, scores = index.search("grafana dashboards", 3)
    assert ids[0] == 2 and scores[0] > scores[-1]
    index.remove([2])
    ids, _ = index.search("grafana", 3)
    assert list(ids) == []
    index.add(2, "Grafana again")
    assert list(index.search("grafana", 3)[0]) == [2]
    assert len(index) == 3


def test_an_edited_vector_is_found_at_its_new_place_exact_or_approximate(tmp_path: Path) -> None:
    """Removing and adding an id again (an edit) leaves it searchable, before and after a save."""
    vectors = unit(301, 16, 6)
    for exact_max in (1000, 10):
        index = VectorIndex(16, exact_max=exact_max, hnsw_m=16, ef_search=64)
        index.add(np.arange(300, dtype=np.int64), vectors[:300])
        index.remove(np.asarray([7], dtype=np.int64))
        index.add(np.asarray([7], dtype=np.int64), vectors[300:])
        index.add(np.asarray([8], dtype=np.int64), vectors[300:])  # replaced in place
        assert index.search(vectors[300], 2)[0].tolist() in ([7, 8], [8, 7])
        assert 8 not in index.search(vectors[8], 5)[0] and len(index) == 300
        index.save(tmp_path / f"e{exact_max}.index", model="m")
        loaded = VectorIndex.load(
            tmp_path / f"e{exact_max}.index",
            model="m",
            dimension=16,
            exact_max=exact_max,
            hnsw_m=16,
            ef_search=64,
        )
        assert loaded is not None and len(loaded) == 300
        assert sorted(loaded.search(vectors[300], 2)[0].tolist()) == [7, 8]
        assert 8 not in loaded.search(vectors[8], 5)[0]


def test_the_half_precision_graph_returns_the_exact_top_results() -> None:
    """HNSW stores 16-bit vectors: on clustered vectors its top 10 are the exact top 10."""
    rng = np.random.default_rng(7)
    centres = unit(40, 64, 8)
    vectors = centres[rng.integers(0, 40, 4000)] + 0.08 * rng.standard_normal((4000, 64))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    exact = VectorIndex(64, exact_max=10_000, hnsw_m=32, ef_search=256)
    approx = VectorIndex(64, exact_max=1000, hnsw_m=32, ef_search=256)
    ids = np.arange(4000, dtype=np.int64)
    exact.add(ids, vectors)
    approx.add(ids, vectors)
    assert approx.approximate
    same = []
    for q in vectors[rng.integers(0, 4000, 40)] + 0.05 * rng.standard_normal((40, 64)):
        q = (q / np.linalg.norm(q)).astype(np.float32)
        truth, truth_scores = exact.search(q, 10)
        found, scores = approx.search(q, 10)
        same.append(len(set(truth.tolist()) & set(found.tolist())) / 10)
        assert np.allclose(np.sort(scores), np.sort(truth_scores), atol=2e-3) or same[-1] < 1
    assert np.mean(same) >= 0.95, np.mean(same)


def test_bm25_after_removals_scores_as_an_index_built_without_them() -> None:
    """Document frequencies are remembered per term, and forgotten again after a removal."""
    words = ["grafana", "stripe", "dbt", "kafka", "postgres", "redis", "react", "rust"]
    rng = np.random.default_rng(9)
    texts = {i: " ".join(rng.choice(words, size=6)) for i in range(1, 600)}
    churned = LexicalIndex()
    churned.add_many(list(texts), list(texts.values()))
    churned.search("grafana kafka rust", 10)  # remembers the live counts
    gone = [i for i in texts if i % 3 == 0]
    churned.remove(gone)
    churned.add_many([1000, 1001], ["grafana stripe", "kafka kafka rust"])  # pending tails
    kept = {i: t for i, t in texts.items() if i % 3} | {1000: "grafana stripe"}
    kept[1001] = "kafka kafka rust"
    fresh = LexicalIndex()
    fresh.add_many(list(kept), list(kept.values()))
    for query in ("grafana kafka rust", "stripe", "dbt postgres redis react"):
        a_ids, a_scores = churned.search(query, 20)
        _, b_scores = fresh.search(query, 20)
        assert np.allclose(np.sort(a_scores), np.sort(b_scores), rtol=1e-5)
        assert set(a_ids.tolist()) <= set(kept)


def test_the_buffer_beside_a_graph_stays_bounded_without_a_background_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vectors_module, "PENDING_MAX", 5)
    vectors = unit(40, 16, 10)
    index = VectorIndex(16, exact_max=10, hnsw_m=16, ef_search=64)
    index.add(np.arange(20, dtype=np.int64), vectors[:20])
    for i in range(20, 40):
        index.add(np.asarray([i], dtype=np.int64), vectors[i : i + 1])
        assert index.pending <= 5
    assert [index.search(vectors[i], 1)[0].tolist() for i in range(40)] == [[i] for i in range(40)]


def test_vectors_added_to_a_graph_are_found_before_they_join_it(tmp_path: Path) -> None:
    """New vectors wait beside the HNSW graph (searched exactly) and join it in one fold."""
    vectors = unit(340, 16, 9)
    index = VectorIndex(16, exact_max=10, hnsw_m=16, ef_search=64)
    index.add(np.arange(300, dtype=np.int64), vectors[:300])
    index.fold()
    for i in range(300, 340):  # one write at a time, as routes apply them
        index.add(np.asarray([i], dtype=np.int64), vectors[i : i + 1])
    assert index.approximate and index.pending == 40
    index.remove(np.asarray([301], dtype=np.int64))
    index.add(np.asarray([302], dtype=np.int64), vectors[:1])  # an edit while waiting
    assert index.search(vectors[320], 1)[0].tolist() == [320]
    assert 301 not in index.search(vectors[301], 20)[0]
    assert sorted(index.search(vectors[0], 2)[0].tolist()) == [0, 302]
    before = [index.search(vectors[i], 5)[0].tolist() for i in range(0, 340, 17)]
    index.fold(15)  # a slice: the oldest waiting vectors join first
    assert index.pending == 26
    assert [index.search(vectors[i], 5)[0].tolist() for i in range(0, 340, 17)] == before
    index.fold()
    assert index.pending == 0 and len(index) == 339
    assert [index.search(vectors[i], 5)[0].tolist() for i in range(0, 340, 17)] == before
    index.add(np.asarray([400], dtype=np.int64), vectors[5:6])
    index.save(tmp_path / "g.index", model="m")  # folds what still waits
    loaded = VectorIndex.load(
        tmp_path / "g.index", model="m", dimension=16, exact_max=10, hnsw_m=16, ef_search=64
    )
    assert loaded is not None and len(loaded) == 340
    assert sorted(loaded.search(vectors[5], 2)[0].tolist()) == [5, 400]
