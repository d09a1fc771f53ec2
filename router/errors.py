"""The one error hierarchy of the core; the edges map it to HTTP statuses, Slack replies and exit codes.

AskaroundError
├── InvalidInput        the caller sent something unusable (HTTP 422 / 400)
│   └── ImportFormatError   a file to import is malformed; says which line
├── NotFound            a network, person, question or ask that does not exist (404)
├── Conflict            the request clashes with the current state (409)
├── PermissionDenied    authenticated, but not allowed (403)
├── Unauthenticated     no or bad credentials (401)
└── Unavailable         a dependency is not ready (503), e.g. the model cannot load
"""

from __future__ import annotations


class AskaroundError(Exception):
    """Base of every error the core raises on purpose; ``str(err)`` is a one-line reason for a user."""

    code = "error"


class InvalidInput(AskaroundError):
    code = "invalid_input"


class ImportFormatError(InvalidInput):
    """A file to import is malformed; nothing from it was stored."""

    code = "import_format"

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class NotFound(AskaroundError):
    code = "not_found"


class Conflict(AskaroundError):
    code = "conflict"


class PermissionDenied(AskaroundError):
    code = "permission_denied"


class Unauthenticated(AskaroundError):
    code = "unauthenticated"


class Unavailable(AskaroundError):
    code = "unavailable"
