"""Every failure as ``{"error": code, "detail": reason}``: core errors, validation, unknown routes.

AskaroundError      → its status (InvalidInput 422, NotFound 404, Conflict 409,
                      PermissionDenied 403, Unauthenticated 401, Unavailable 503)
malformed JSON      → 400 malformed_json
RequestValidation   → 422 invalid_input, with the failing fields in ``errors``
HTTPException       → its status (unknown path 404, wrong method 405 with every allowed method
                      in ``Allow``; ``OPTIONS`` answers 204 with the same ``Allow``)
IntegrityError      → 409 conflict (a race the core's checks could not see)
OperationalError,   → 503 busy with ``Retry-After`` (SQLite locked, a PostgreSQL deadlock or
pool TimeoutError     serialization failure, no free connection): the request changed nothing
other DBAPIError    → 500, logged as one line with its SQLSTATE: never the statement's values
                      nor the database's message (PostgreSQL quotes the offending value)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from router.errors import (
    AskaroundError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

STATUS: dict[type[AskaroundError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    Unauthenticated: 401,
    Unavailable: 503,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


class FieldError(BaseModel):
    loc: list[str | int]
    message: str


class ErrorOut(BaseModel):
    """What every error response carries: a stable code and a reason for people."""

    error: str
    detail: str
    errors: list[FieldError] | None = None


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": "Error"} for status in statuses}


# The error statuses every data endpoint may answer, documented in OpenAPI.
DATA_ERRORS = _responses(400, 401, 403, 404, 409, 422, 503)
RETRY_AFTER_SECONDS = 1
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def status_for(exc: AskaroundError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(
    status: int, code: str, detail: str, *, errors: list[FieldError] | None = None
) -> JSONResponse:
    body = ErrorOut(error=code, detail=detail, errors=errors).model_dump(exclude_none=True)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _field_errors(raw: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(
            loc=[part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            message=str(error.get("msg", "invalid")),
        )
        for error in raw
    ]


async def _core_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AskaroundError)
    return error_response(status_for(exc), exc.code, str(exc) or exc.code)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in raw):
        reason = next(
            str(e.get("ctx", {}).get("error", "")) for e in raw if e["type"] == "json_invalid"
        )
        return error_response(
            400, "malformed_json", f"the body is not valid JSON: {reason}".strip()
        )
    errors = _field_errors(raw)
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error.loc)}: {error.message}" for error in errors
    )
    return error_response(422, "invalid_input", detail or "invalid input", errors=errors)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this path (several routes may share one path)."""
    path = request.url.path
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(method.upper() for method in item if method in HTTP_METHODS)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    for name, value in headers.items():
        response.headers[name] = value
    return response


async def _integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(409, "conflict", "this clashes with data stored at the same time; retry")


# SQLSTATEs that mean "try again": serialization failure, deadlock, lock not available,
# too many connections, the server shutting down or starting.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "53300", "57P01", "57P03"}


def is_busy(exc: Exception) -> bool:
    """Whether a database error means "busy, retry" rather than a bug."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in RETRYABLE_SQLSTATES
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message or "connection" in message


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 for a busy database, else 500; either way logged without values or messages."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or "-"
    kind = type(orig or exc).__name__
    if is_busy(exc):
        log.warning("busy: %s (%s) on %s %s", kind, sqlstate, request.method, request.url.path)
        response = error_response(503, "busy", "the database is busy; retry after a moment")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.error("database error %s (%s) on %s %s", kind, sqlstate, request.method, request.url.path)
    return error_response(500, "internal", "internal error")


async def _db_error(request: Request, exc: Exception) -> JSONResponse:
    return _database_error(request, exc)


async def _internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(500, "internal", "internal error")


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one JSON shape."""
    app.add_exception_handler(AskaroundError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _db_error)
    app.add_exception_handler(PoolTimeout, _db_error)
    app.add_exception_handler(Exception, _internal_error)
