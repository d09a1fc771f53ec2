"""A serve worker that dies before it listens (kept free of imports, so it starts fast)."""

from __future__ import annotations

from typing import Any


def exit_at_once(_slot: int, _sock: Any, _listening: Any) -> None:
    raise SystemExit(3)
