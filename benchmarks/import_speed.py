"""Import speed before and after, side by side in one process: what dominates an import is the model.

Measures, interleaved on the same beer answers (so machine load hits both alike):

* embedding rows/s the old way (sentence-transformers on torch, the import's chunks in file order)
  and the new way (ONNX Runtime, chunks of length-sorted batches, every available core);
* model start-up in a fresh process each way (torch + sentence-transformers vs onnxruntime +
  tokenizers);
* the database part of the import (the same code both ways), once;

and prints the estimated import rows/s each way and their ratio.

    .venv/bin/python -m benchmarks.import_speed [--sample 512] [--site beer]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from askaround.settings import AppSettings
from benchmarks.real_rows import SITES, load_real_rows
from router.importers.stackexchange import import_stackexchange
from router.network.people import ensure_network
from router.search.backfill import evidence_document
from router.search.embedding import SentenceTransformerEmbedder
from router.search.onnx_encoder import OnnxEmbedder
from router.storage.database import Database

LOAD_TORCH = (
    "from router.search.embedding import SentenceTransformerEmbedder as E; "
    "E('all-MiniLM-L6-v2').encode(['warm'])"
)
LOAD_ONNX = "from router.search.onnx_encoder import OnnxEmbedder as E; E('all-MiniLM-L6-v2').encode(['warm'])"


def start_up(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=512)
    parser.add_argument("--site", default="beer")
    parser.add_argument("--chunk", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = AppSettings()
    torch_model = SentenceTransformerEmbedder(
        settings.model_name, threads=settings.torch_threads, batch_size=64
    )
    onnx_model = OnnxEmbedder(settings.model_name, batch_size=64)
    real = load_real_rows(None, sites=(args.site,))
    documents = [
        evidence_document("answer", t, c) for t, c in zip(real.texts, real.contexts, strict=True)
    ]
    sample = random.Random(5).sample(documents, min(args.sample, len(documents)))
    spent = {"torch": 0.0, "onnx": 0.0}
    for start in range(0, len(sample), args.chunk):
        part = sample[start : start + args.chunk]
        for name, model in (("torch", torch_model), ("onnx", onnx_model)):
            began = time.perf_counter()
            model.encode(part)
            spent[name] += time.perf_counter() - began
    rate = {name: len(sample) / seconds for name, seconds in spent.items()}
    loads = {"torch": start_up(LOAD_TORCH), "onnx": start_up(LOAD_ONNX)}
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'import.db'}")
        database.migrate()
        began = time.perf_counter()
        with database.transaction() as session:
            network_id = ensure_network(session, name=args.site, now=datetime.now(UTC)).id
            report = import_stackexchange(
                session, network_id=network_id, folder=SITES / args.site, now=datetime.now(UTC)
            )
        writes = time.perf_counter() - began
        database.dispose()
    rows = report.evidence_created
    print(
        f"{args.site}: {rows} evidence rows; sample of {len(sample)} embedded both ways, interleaved"
    )
    print(f"  database part of the import (same both ways): {writes:.1f}s")
    for name in ("torch", "onnx"):
        total = loads[name] + writes + rows / rate[name]
        print(
            f"  {name:>5}: embedding {rate[name]:.1f} rows/s, model start-up {loads[name]:.1f}s "
            f"-> import ≈ {total:.0f}s, {rows / total:.1f} rows/s"
        )
    before = loads["torch"] + writes + rows / rate["torch"]
    after = loads["onnx"] + writes + rows / rate["onnx"]
    print(f"  import rows/s after / before: {before / after:.2f}x")


if __name__ == "__main__":
    main()
