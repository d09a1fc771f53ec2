"""Progress reporting for long work (imports, embedding): the core calls it, edges render it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how far a stage has come; ``total`` may be 0 when unknown."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def silent(stage: str, done: int, total: int) -> None:
    """A progress sink that shows nothing (tests, library use)."""
