"""BM25 built in bulk (one regex pass, numpy counting, merges deferred while loading) gives
exactly the postings and scores of documents added one at a time."""

from __future__ import annotations

from collections import Counter

import numpy as np

from router.search.lexical import LexicalIndex, count_terms, tokenize

WORDS = [
    "Node.js",
    "C++",
    "c#",
    "dashboards",
    "class",
    "glass",
    "bus",
    "is",
    "a",
    "x",
    "e-mail",
    "v1.2.3",
    "ÉCOLE",
    "straße",
    "İstanbul",
    "ΣΑΣ",
    "--",
    "...",
    "k8s",
    "Grafana",
    "kafka",
    "pass.es",
    "the",
    "Stripe's",
    "dbt",
    "+1",
    "#tag",
    "runners",
    "a.b-c.d",
    "ETL",
    "99",
]
GLUE = [" ", ", ", "\n", "\x00", "-", ".", "/", "  "]
QUERIES = ["grafana dashboards", "node.js c++", "kafka runner class", "stripe dbt etl", "x"]


def documents(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(count):
        words = rng.choice(WORDS, size=int(rng.integers(0, 30)))
        glue = rng.choice(GLUE, size=len(words))
        texts.append("".join(f"{w}{g}" for w, g in zip(words, glue, strict=True)))
    return texts


def state(index: LexicalIndex) -> dict[str, object]:
    postings = {
        term: (
            p.rows.tolist(),
            p.tfs.tolist(),
            None if p.capped is None else (p.capped[0].tolist(), p.capped[1].tolist()),
        )
        for term, p in index._postings.items()
    }
    results = [
        (ids.tolist(), scores.tobytes()) for ids, scores in (index.search(q, 50) for q in QUERIES)
    ]
    return {
        "postings": postings,
        "pending": dict(index._pending),
        "lengths": index._lengths.view.tolist(),
        "total": index._total_length,
        "results": results,
    }


def test_bulk_counts_are_what_tokenize_and_a_counter_give() -> None:
    texts = documents(400, 1)
    terms, term_ids, rows, tfs, lengths = count_terms(texts)
    found = [Counter[str]() for _ in texts]
    for term_id, row, tf in zip(term_ids.tolist(), rows.tolist(), tfs.tolist(), strict=True):
        found[row][terms[term_id]] = int(tf)
    assert found == [Counter(tokenize(text)) for text in texts]
    assert lengths.tolist() == [len(tokenize(text)) for text in texts]


def test_a_bulk_build_has_the_postings_and_scores_of_one_document_at_a_time() -> None:
    texts = documents(1300, 2)
    ids = list(range(10, 10 + len(texts)))
    one_by_one = LexicalIndex(common_cap=40)
    for evidence_id, text in zip(ids, texts, strict=True):
        one_by_one.add(evidence_id, text)
    one_by_one.flush()
    for loading in (False, True):
        bulk = LexicalIndex(common_cap=40)
        bulk.loading = loading
        for start in range(0, len(texts), 300):  # the last chunk is small: the pending path
            bulk.add_many(ids[start : start + 300], texts[start : start + 300])
        bulk.flush()
        assert not bulk.loading
        assert state(bulk) == state(one_by_one)


def test_loading_defers_merges_without_changing_any_posting_even_across_removals() -> None:
    """Re-adding ids while loading masks their old rows; merges deferred past the removal
    would keep or drop other rows than a merge per chunk, so the removal settles them first."""
    texts = documents(1500, 3)
    chunks = [
        (list(range(0, 400)), texts[0:400]),
        (list(range(400, 700)), texts[400:700]),
        (list(range(100, 120)), texts[700:720]),  # edits: small, pending path
        (list(range(650, 950)), texts[720:1020]),  # overlaps the chunk before
        (list(range(2000, 2300)), texts[1020:1320]),
    ]
    built = []
    for loading in (False, True):
        index = LexicalIndex(common_cap=60)
        index.loading = loading
        for chunk_ids, chunk_texts in chunks:
            index.add_many(chunk_ids, chunk_texts)
        index.remove(list(range(2100, 2110)))
        index.flush()
        built.append(state(index))
    assert built[0] == built[1]
