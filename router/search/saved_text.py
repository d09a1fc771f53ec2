"""BM25 and the evidence table saved beside a network's vectors, so a restart reads no evidence
text: one ``.npz`` of plain arrays (no pickles: the data directory may be writable by others),
written atomically at the same change-log cursor as the vectors file.

Loading returns None for anything missing, unreadable, inconsistent or at another cursor, and
the caller then rebuilds from the database as it would without the file.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from router.search.atomic_file import write_atomically
from router.search.lexical import LexicalIndex
from router.search.network_index import NetworkIndex

log = logging.getLogger(__name__)
FORMAT = 1
SUFFIX = ".lexical"  # beside ``network-N-model.index``; erasure deletes it with the vectors
_EVIDENCE = ("evidence_ids", "evidence_people", "evidence_created", "evidence_answers")


def save_text_state(path: Path, index: NetworkIndex) -> None:
    """Write the index's BM25 and evidence table at its cursor (the caller holds its read lock)."""
    arrays = {f"lexical_{name}": values for name, values in index.lexical.arrays().items()}
    ids, people, created, answers, weights = index.evidence.columns()
    arrays |= dict(zip(_EVIDENCE, (ids, people, created, answers), strict=True))
    arrays["evidence_weights"] = weights
    arrays["header"] = np.asarray([FORMAT, index.cursor], dtype=np.int64)
    write_atomically(path, lambda out: np.savez(out, **arrays))  # type: ignore[arg-type]


def load_text_state(path: Path, *, cursor: int, into: NetworkIndex) -> bool:
    """Fill ``into`` (a fresh index) with the BM25 and evidence table saved at ``cursor``; False
    (``into`` untouched) when there is no such file or it cannot be trusted."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays: dict[str, npt.NDArray[np.generic]] = {name: saved[name] for name in saved.files}
        header = arrays["header"]
        if len(header) != 2 or int(header[0]) != FORMAT or int(header[1]) != cursor:
            return False
        lexical = LexicalIndex.from_arrays(
            {
                name.removeprefix("lexical_"): values
                for name, values in arrays.items()
                if name.startswith("lexical_")
            }
        )
        ids, people, created, answers = (arrays[name] for name in _EVIDENCE)
        weights = arrays["evidence_weights"]
        if not len(ids) == len(people) == len(created) == len(answers) == len(weights):
            raise ValueError("saved evidence columns differ in length")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("saved evidence ids repeat")
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile) as error:
        log.warning("ignoring saved BM25 file %s (%s); rebuilding from the database", path, error)
        return False
    into.lexical = lexical
    into.track(
        np.asarray(ids, dtype=np.int64),
        np.asarray(people, dtype=np.int64),
        np.asarray(created, dtype=np.float64),
        np.asarray(answers, dtype=np.bool_),
        np.asarray(weights, dtype=np.float64),
    )
    return True
