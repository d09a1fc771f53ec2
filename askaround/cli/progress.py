"""A tqdm progress bar on stderr that satisfies the core's ``Progress`` protocol."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm


class ProgressBar:
    """One bar per stage; a new stage name closes the previous bar."""

    def __init__(self) -> None:
        self._bar: tqdm[None] | None = None
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage or self._bar is None:
            self.close()
            self._bar = tqdm(
                total=total or None, desc=stage, unit="row", file=sys.stderr, leave=True
            )
            self._stage = stage
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
