"""Embedding speed and agreement of model variants on a site's real answers, side by side.

Each named model (``models/manifest.json`` names, run on ONNX Runtime as ``serve`` and imports
run them) embeds the same answers; rounds alternate between models so a shared machine's load
falls on all alike. Prints docs/s per round and each model's cosine to the first one.

    .venv/bin/python -m benchmarks.embedding_speed [--site ../shared/data/stackexchange/beer]
        [--limit 800] [--rounds 2] [MODEL ...]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from router.importers.site import SiteAnswer
from router.importers.stackexchange import read_site
from router.search.backfill import evidence_document
from router.search.onnx_encoder import OnnxEmbedder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITE = ROOT.parent / "shared" / "data" / "stackexchange" / "beer"
MODELS = ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-128", "all-MiniLM-L6-v2-int8-128"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE)
    parser.add_argument("--limit", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    site = read_site(args.site)
    answers = [post for post in site.posts if isinstance(post, SiteAnswer)]
    documents = [evidence_document("answer", a.text, a.context) for a in answers][: args.limit]
    embedders = {name: OnnxEmbedder(name) for name in args.models}
    vectors = {}
    print(f"{len(documents)} answers from {args.site.name}")
    for round_ in range(1, args.rounds + 1):
        for name, embedder in embedders.items():
            embedder.encode(documents[:64])  # the bulk session, warm
            started = time.perf_counter()
            vectors[name] = embedder.encode(documents)
            seconds = time.perf_counter() - started
            print(
                f"  round {round_} {name} ({embedder.path.name}): "
                f"{len(documents) / seconds:.1f} docs/s (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    first = args.models[0]
    for name in args.models[1:]:
        cosines = np.sum(vectors[first] * vectors[name], axis=1)
        print(
            f"{name} against {first}: cosine min {cosines.min():.3f}, "
            f"5th percentile {np.percentile(cosines, 5):.3f}, median {np.median(cosines):.4f}"
        )


if __name__ == "__main__":
    main()
