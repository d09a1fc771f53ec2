"""What makes a question's text askable: one check every surface (Slack, API, CLI) goes through.

Zero-width and other invisible format characters (and the blank Hangul fillers) are removed,
surrounding space trimmed, and a text with no letter or digit (``?``, ``…``, an emoji alone) is
refused: it would reach real people as an empty question. It sits beside the domains, not in one, because both routing
(``Router.validate`` cleans every routed question) and the lifecycle (asking) use it.
"""

from __future__ import annotations

import unicodedata

from router.errors import InvalidInput

# Unicode categories that never show: format (zero-width space/joiners, BOM, bidi marks),
# controls (other than ordinary whitespace), unassigned, private use and surrogates.
_INVISIBLE = frozenset({"Cf", "Cc", "Cn", "Co", "Cs"})
# Hangul fillers: letters to Unicode (so ``isalnum``), blank on every screen, and never needed
# in modern text; a question of them alone would pass as a word.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


def visible(text: str) -> str:
    """``text`` without invisible characters and without surrounding whitespace."""
    kept = "".join(
        ch
        for ch in text
        if ch in "\n\r\t" or (unicodedata.category(ch) not in _INVISIBLE and ch not in _FILLERS)
    )
    return kept.strip()


def question_text(text: str, *, max_chars: int) -> str:
    """The question as it will be stored and sent; InvalidInput when nothing askable is left."""
    cleaned = visible(text)
    if not cleaned:
        raise InvalidInput("the question is empty")
    if len(cleaned) > max_chars:  # first: too long is the answer whatever the text holds
        raise InvalidInput(f"the question is {len(cleaned)} characters; the limit is {max_chars}")
    if not any(ch.isalnum() for ch in cleaned):
        raise InvalidInput("the question needs at least one word: write it out in full")
    return cleaned
