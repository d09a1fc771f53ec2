"""The same sentence-transformers model run by ONNX Runtime: no torch on the query path.

The graph (transformer, mean pooling and L2 normalisation, fp32) is exported once from the packaged
weights into ``models/<name>-onnx/`` (git-ignored) the first time it is needed, then fused by ONNX
Runtime's optimizer (attention, GELU, layer norms: about a fifth faster); the export is the only
step that loads torch. Its vectors equal torch's (cosine ≥ 0.9999, see the model tests), so
it keeps the model's name and no re-embedding is needed when switching.

Threads come from the cores this process may run on (``os.sched_getaffinity``): a one-question
session runs single-threaded so concurrent routes run side by side instead of fighting over cores;
a bulk session (imports) uses every available core.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from router.errors import Unavailable
from router.progress import Progress, silent
from router.search.embedding import DEFAULT_MODELS_DIR, Vectors, manifest_entry, resolve_model_path

log = logging.getLogger(__name__)
QUERY_BATCH_MAX = 8  # up to this many texts run on the single-threaded session
SUPPORTED_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def available_cores() -> int:
    """Cores this process may actually use (a container's or taskset's limit, not the host's)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _check_pipeline(model_dir: Path) -> int:
    """The max sequence length, if the model is exactly transformer → mean pooling → normalise."""
    modules = json.loads((model_dir / "modules.json").read_text())
    if [m["type"] for m in modules] != SUPPORTED_MODULES:
        raise Unavailable(f"{model_dir} is not transformer + mean pooling + normalise")
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise Unavailable(f"{model_dir} pools with {sorted(modes)}, not the mean")
    config = json.loads((model_dir / "sentence_bert_config.json").read_text())
    return int(config.get("max_seq_length", 256))


def export_onnx(model_dir: Path, target: Path) -> None:
    """Write the model's sentence-embedding graph to ``target`` (via a unique temp dir + rename)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    sample = tokenizer(
        ["an example", "a second, longer example"], padding=True, return_tensors="pt"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
    try:
        axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
        with warnings.catch_warnings():  # tracer chatter about shapes fixed at trace time
            warnings.simplefilter("ignore")
            torch.onnx.export(
                SentenceEmbedding(),
                tuple(sample[name] for name in INPUTS),
                str(staging / target.name),
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fuse_onnx(plain: Path, target: Path, model_dir: Path) -> None:
    """Write the graph with attention, GELU and layer norms fused into single kernels (ONNX
    Runtime's BERT optimizer, no torch): the same vectors, faster on a CPU."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_dir / "config.json").read_text())
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".fuse-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fused = optimize_model(
                str(plain),
                model_type="bert",
                num_heads=int(config["num_attention_heads"]),
                hidden_size=int(config["hidden_size"]),
                opt_level=1,
            )
            fused.save_model_to_file(str(staging / target.name))
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _graph(model_dir: Path, folder: Path, entry: dict[str, Any] | None) -> Path:
    """The graph to run, made on first use: exported, fused where the optimizer can, and
    quantised to int8 weights when the manifest entry asks for ``"precision": "int8"``."""
    plain = folder / "model.onnx"
    if not plain.is_file():
        export_onnx(model_dir, plain)
    fused = folder / "model-fused.onnx"
    if not fused.is_file():
        try:
            fuse_onnx(plain, fused, model_dir)
        except Exception as exc:  # an architecture the optimizer does not know: run unfused
            log.warning("could not fuse %s (%s); running the plain graph", plain, exc)
    graph = fused if fused.is_file() else plain
    precision = (entry or {}).get("precision", "fp32")
    if precision == "fp32":
        return graph
    if precision != "int8":
        raise Unavailable(f"unknown precision {precision!r} in the model manifest")
    quantised = graph.with_name(graph.stem + "-int8.onnx")
    if not quantised.is_file():
        quantise_onnx(graph, quantised)
    return quantised


def quantise_onnx(graph: Path, target: Path) -> None:
    """Write ``graph`` with its matrix weights as int8 (dynamic quantisation: activations are
    scaled per batch at run time): about twice as fast on a CPU, vectors close but not equal."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".quantise-"))
    try:
        # quantize_dynamic writes "<graph>-inferred.onnx" beside its input and deletes it: from
        # a link in this process's own folder, two workers quantising at once do not collide
        source = staging / graph.name
        try:
            os.link(graph, source)
        except OSError:
            shutil.copyfile(graph, source)
        quantize_dynamic(
            str(source),
            str(staging / target.name),
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or another mean-pooled sentence-transformers model) on ONNX Runtime."""

    def __init__(
        self,
        name: str,
        *,
        batch_size: int = 64,
        threads: int | None = None,
        models_dir: Path = DEFAULT_MODELS_DIR,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = resolve_model_path(name, models_dir)
        max_length = _check_pipeline(model_dir)
        entry = manifest_entry(name, models_dir)
        self.name = entry["name"] if entry else str(model_dir)
        max_length = int(entry.get("max_seq_length", max_length)) if entry else max_length
        # variants of one model (token limit, precision) share its exported graphs
        weights = entry.get("variant_of", self.name) if entry else self.name
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in weights)[-80:]
        self.path = _graph(model_dir, models_dir / f"{safe}-onnx", entry)
        self._runtime = onnxruntime
        self.bulk_threads = threads or available_cores()
        self._query = self._session(1)
        self._bulk: Any = None
        self._bulk_lock = threading.Lock()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self.batch_size = batch_size
        self.dimension = int(self.encode(["dimension probe"]).shape[1])

    def _session(self, threads: int) -> Any:
        options = self._runtime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._runtime.ExecutionMode.ORT_SEQUENTIAL
        return self._runtime.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )

    def _bulk_session(self) -> Any:
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = self._session(self.bulk_threads)
            return self._bulk

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors:
        """Unit vectors for ``texts``; batches are sorted by length so padding stays small."""
        out = np.zeros((len(texts), getattr(self, "dimension", 0) or 0), dtype=np.float32)
        if not texts:
            return out
        session = self._query if len(texts) <= QUERY_BATCH_MAX else self._bulk_session()
        encoded = self._tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encoded], kind="stable")
        results: list[tuple[np.ndarray, np.ndarray]] = []
        done = 0
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encoded[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in INPUTS}
            for j, i in enumerate(rows):
                item = encoded[i]
                n = len(item.ids)
                feed["input_ids"][j, :n] = item.ids
                feed["attention_mask"][j, :n] = item.attention_mask
                feed["token_type_ids"][j, :n] = item.type_ids
            results.append((rows, session.run(None, feed)[0]))
            done += len(rows)
            progress("embedding", done, len(texts))
        if out.shape[1] == 0:
            out = np.zeros((len(texts), results[0][1].shape[1]), dtype=np.float32)
        for rows, vectors in results:
            out[rows] = vectors
        return out
