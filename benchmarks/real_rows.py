"""Real text for the benchmarks: answers and question titles from the shared Stack Exchange sites,
embedded once by the real model and cached in benchmarks/results/ (git-ignored; never the dumps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from router.importers.stackexchange import question_context, read_posts, strip_html
from router.search.backfill import evidence_document
from router.search.embedding import Embedder

SITES = Path("/work/shared/data/stackexchange")
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SITES = ("beer", "ai", "history-meta", "music-meta", "bicycles-meta", "french-meta")


@dataclass
class RealRows:
    """Answers (text, context, owner) with their vectors, and question titles to ask."""

    texts: list[str]
    contexts: list[str]
    owners: list[str]
    vectors: npt.NDArray[np.float32]
    questions: list[str]


def load_real_rows(
    embedder: Embedder | None, sites: tuple[str, ...] = DEFAULT_SITES, *, limit: int | None = None
) -> RealRows:
    """Read the sites' answers (the first ``limit``) and question titles; vectors (none without
    an embedder) come from the cache when present."""
    texts, contexts, owners, questions = [], [], [], []
    for site in sites:
        folder = SITES / site
        if not (folder / "Posts.xml").is_file():
            continue
        posts = list(read_posts(folder))
        by_id = {p.id: p for p in posts if p.is_question}
        for post in posts:
            if post.is_question:
                if post.title:
                    questions.append(post.title)
                continue
            parent = by_id.get(post.parent_id or 0)
            text = strip_html(post.body, limit=600)
            if parent is None or not text or post.owner_id is None:
                continue
            texts.append(text)
            contexts.append(question_context(parent))
            owners.append(f"{site}:{post.owner_id}")
    if limit is not None:
        texts, contexts, owners = texts[:limit], contexts[:limit], owners[:limit]
    if embedder is None:
        return RealRows(texts, contexts, owners, np.zeros((0, 0), dtype=np.float32), questions)
    RESULTS.mkdir(exist_ok=True)
    cache = RESULTS / f"real-rows-{'-'.join(sites)}-{len(texts)}-{embedder.name}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        documents = [
            evidence_document("answer", t, c) for t, c in zip(texts, contexts, strict=True)
        ]
        vectors = embedder.encode(documents)
        np.save(cache, vectors)
    return RealRows(texts, contexts, owners, vectors.astype(np.float32), questions)
