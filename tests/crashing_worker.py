"""Serve workers that die (kept free of imports, so they start fast)."""

from __future__ import annotations

from typing import Any


def exit_at_once(_slot: int, _sock: Any, _listening: Any) -> None:
    raise SystemExit(3)


def exit_after_listening(_slot: int, _sock: Any, listening: Any) -> None:
    listening.set()
    raise SystemExit(1)
