"""Request bodies, read once at the edge: too large is a JSON 413, JSON that is not JSON a 400.

FastAPI's own handling let three kinds of hostile body through in the wrong shape: a body whose
``Content-Length`` announced more than the limit got Starlette's plain-text 413 (its limiter
replaces whatever the app answers); a body its JSON parser choked on for other reasons than
syntax (bad UTF-8, nesting deeper than Python's recursion limit, an integer of thousands of
digits) was ``bad_request`` instead of ``malformed_json``; and an object with the same key twice
was taken silently, the last value winning, where another parser in front of the API may take
the first. This middleware reads the body (at most ``limit`` bytes), refuses those with the API's
error shape, and hands the same bytes on to the app.
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askaround.api.errors import error_response

NO_BODY = ("GET", "HEAD", "OPTIONS")


class MalformedJson(ValueError):
    """The body is not one JSON document the API can read."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different (a repeated key means two readers may disagree)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise MalformedJson(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def parse_strict_json(body: bytes) -> Any:
    """The JSON document in ``body``; MalformedJson saying why when it is not one."""
    try:
        return json.loads(body, object_pairs_hook=_no_duplicates)
    except MalformedJson:
        raise
    except json.JSONDecodeError as exc:
        raise MalformedJson(exc.msg) from exc
    except UnicodeDecodeError as exc:
        raise MalformedJson("it is not UTF-8 text") from exc
    except RecursionError as exc:
        raise MalformedJson("it is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise MalformedJson(str(exc)) from exc


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI would read the body as JSON (``application/json`` or ``…+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class Bodies:
    """Refuse a body over ``limit`` bytes (413) or API JSON that is not strict JSON (400)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        length = headers.get(b"content-length", b"").strip()
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send, 413, "too_large", self._too_large())
            return
        if scope["method"] in NO_BODY:
            await self.app(scope, receive, send)
            return
        try:
            body, last = await self._read(receive)
        except HTTPException as exc:  # the framework's own limiter saw it first
            if exc.status_code != 413:
                raise
            await self._refuse(scope, receive, send, 413, "too_large", self._too_large())
            return
        if body is None:
            await self._refuse(scope, receive, send, 413, "too_large", self._too_large())
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if body and str(scope["path"]).startswith("/v1/") and _is_json(content_type):
            try:
                parse_strict_json(body)
            except MalformedJson as exc:
                detail = f"the body is not valid JSON: {exc}"
                await self._refuse(scope, receive, send, 400, "malformed_json", detail)
                return
        await self.app(scope, self._replay(body, last, receive), send)

    def _too_large(self) -> str:
        return f"the body is larger than {self.limit} bytes"

    async def _read(self, receive: Receive) -> tuple[bytes | None, Message]:
        """The whole body (None once it passes the limit) and the last message received."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None, message
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), message

    @staticmethod
    def _replay(body: bytes, last: Message, receive: Receive) -> Receive:
        """A receive that gives the app the body read here, then whatever comes next."""
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                if last["type"] != "http.request":
                    return last  # the client went away before the body was whole
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str
    ) -> None:
        await error_response(status, code, detail)(scope, receive, send)
