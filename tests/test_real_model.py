"""End to end with the real all-MiniLM-L6-v2 model and the real FAISS index (no fakes)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from router.demo import load_demo
from router.errors import Unavailable
from router.routing.router import Router
from router.search.embedding import DEFAULT_MODELS_DIR, Embedder, SentenceTransformerEmbedder
from router.search.onnx_encoder import OnnxEmbedder, quantise_onnx
from router.settings import Settings
from router.storage.database import Database

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", threads=2)


def test_model_loads_offline_from_the_package_and_gives_unit_vectors(
    minilm: SentenceTransformerEmbedder,
) -> None:
    vectors = minilm.encode(["Grafana dashboards", "Prometheus alerting", "sourdough bread"])
    assert vectors.shape == (3, 384) and minilm.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_an_unknown_model_name_is_a_clear_error_not_a_download() -> None:
    with pytest.raises(Unavailable, match="unknown embedding model"):
        SentenceTransformerEmbedder("no-such-model-anywhere")


@pytest.mark.parametrize("default_model", [False, True], ids=["published", "default"])
def test_demo_questions_reach_the_people_who_answered_similar_ones(
    database: Database,
    settings: Settings,
    now: datetime,
    minilm: SentenceTransformerEmbedder,
    default_model: bool,
) -> None:
    embedder: Embedder = minilm
    if default_model:  # the model `serve` runs unless told otherwise (int8, 128 tokens)
        embedder = OnnxEmbedder(Settings.model_fields["model_name"].default)
    router = Router(database=database, embedder=embedder, settings=settings)
    with database.transaction() as session:
        network_id, questions = load_demo(session, embedder=embedder, now=now)
    expectations = {
        "Our Grafana alerts are too noisy at night. How do you tune them?": "Tom Becker",
        "Which provider handles EU VAT for subscriptions?": "Priya Raman",
        "Has anyone used dbt with Snowflake for incremental models?": "Maya Okafor",
        "My Postgres query plan ignores the new index": "Sara Lindqvist",
    }
    asker = questions[0].asker_id
    for question, expected in expectations.items():
        with database.transaction() as session:
            result = router.route(
                session, network_id=network_id, question=question, asker_id=asker, k=3, now=now
            )
        assert result.candidates[0].name == expected, (question, result.candidates)
        assert any(r.kind == "evidence" for r in result.candidates[0].reasons)


def test_onnx_encoder_gives_the_torch_vectors_without_torch_on_the_query_path(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    shutil.copy(DEFAULT_MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    onnx = OnnxEmbedder("all-MiniLM-L6-v2", models_dir=tmp_path, batch_size=4)
    assert onnx.name == minilm.name and onnx.dimension == minilm.dimension
    assert (tmp_path / "all-MiniLM-L6-v2-onnx" / "model.onnx").is_file()
    assert onnx.path.name == "model-fused.onnx"  # the vectors below come from the fused graph
    texts = [
        "Which hops for a hazy IPA?",
        "x",
        "Kafka or Kinesis for event streams, and how do you monitor consumer lag? " * 30,
        *[f"question number {n} about brewing lagers at home" for n in range(9)],
    ]
    ours, theirs = onnx.encode(texts), minilm.encode(texts)
    assert float(np.min(np.sum(ours * theirs, axis=1))) >= 0.9999
    single = onnx.encode(texts[:1])[0]
    assert float(single @ theirs[0]) >= 0.9999


def test_manifest_variants_cut_tokens_and_quantise_on_the_one_exported_graph(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    shutil.copy(DEFAULT_MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    full = OnnxEmbedder("all-MiniLM-L6-v2", models_dir=tmp_path, batch_size=4)
    short = OnnxEmbedder("all-MiniLM-L6-v2-128", models_dir=tmp_path, batch_size=4)
    int8 = OnnxEmbedder("all-MiniLM-L6-v2-int8-128", models_dir=tmp_path, batch_size=4)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["all-MiniLM-L6-v2-onnx"]
    assert (short.name, int8.name) == ("all-MiniLM-L6-v2-128", "all-MiniLM-L6-v2-int8-128")
    assert int8.path.name == "model-fused-int8.onnx"
    long_text = "Kafka or Kinesis for event streams, and how do you monitor consumer lag? " * 30
    texts = ["Which hops for a hazy IPA?", long_text]
    full_vectors, short_vectors = full.encode(texts), short.encode(texts)
    assert float(full_vectors[0] @ short_vectors[0]) >= 0.9999  # under 128 tokens: the same
    assert float(full_vectors[1] @ short_vectors[1]) < 0.999  # the rest of the text is cut
    torch_short = SentenceTransformerEmbedder("all-MiniLM-L6-v2-128", models_dir=tmp_path)
    assert float(np.min(np.sum(torch_short.encode(texts) * short_vectors, axis=1))) >= 0.9999
    assert float(np.min(np.sum(int8.encode(texts) * short_vectors, axis=1))) >= 0.9
    with pytest.raises(Unavailable, match="ONNX Runtime only"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2-int8-128", models_dir=tmp_path)


def test_two_workers_quantising_the_graph_at_once_both_get_it(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    """`serve --workers 2` on a fresh clone: both workers quantise the one fused graph at once,
    and ONNX Runtime's shape inference wrote and deleted one scratch file beside it for both."""
    shutil.copy(DEFAULT_MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    fused = OnnxEmbedder("all-MiniLM-L6-v2", models_dir=tmp_path, batch_size=4).path
    with ThreadPoolExecutor(max_workers=2) as pool:
        made = [
            pool.submit(quantise_onnx, fused, fused.with_name(f"worker-{n}-int8.onnx"))
            for n in range(2)
        ]
        for future in made:
            future.result()  # raised FileNotFoundError for "model-fused-inferred.onnx"
    assert all(fused.with_name(f"worker-{n}-int8.onnx").is_file() for n in range(2))
