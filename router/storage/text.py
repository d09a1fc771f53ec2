"""What text a database can store: no NUL characters (PostgreSQL refuses them), no lone surrogates.

The core checks every person and evidence write with ``storable``, so hostile text is an
``InvalidInput`` (a 422, a one-line CLI error) on every database instead of a raw driver error.
"""

from __future__ import annotations

from router.errors import InvalidInput


def unstorable_reason(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


def storable(value: str, *, what: str) -> str:
    """``value`` unchanged, or InvalidInput naming ``what`` when a database could not store it."""
    reason = unstorable_reason(value)
    if reason is not None:
        raise InvalidInput(f"{what} {reason}")
    return value


def scrubbed(value: str) -> str:
    """``value`` without NUL characters and lone surrogates: for text copied from elsewhere (a
    Slack profile, a reply quoting what someone typed), where refusing it would lose the rest."""
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(ch for ch in value if not "\ud800" <= ch <= "\udfff")
    return value


def clipped(value: str, limit: int) -> str:
    """``value`` scrubbed, without surrounding blanks and cut to at most ``limit`` characters."""
    return scrubbed(value).strip()[:limit].rstrip()
