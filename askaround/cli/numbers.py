"""Ids typed on the command line: plain ASCII digits only, as the HTTP API reads them.

``int()`` accepts ``2_0``, ``+1``, `` 7`` and other scripts' digits, so ``history 2_0`` would show
question #20; a typo must be an error, not somebody else's record.
"""

from __future__ import annotations

import typer

from router.storage.schema.base import MAX_ID


def plain_id(text: str) -> int:
    """The id ``text`` names, or a one-line BadParameter saying what an id looks like."""
    if not (text.isascii() and text.isdigit()):
        raise typer.BadParameter(f"{text!r} is not an id: ids are plain digits, like 12")
    value = int(text)
    if not 1 <= value <= MAX_ID:
        raise typer.BadParameter(f"{text} is not an id: ids run from 1 to {MAX_ID}")
    return value
