"""Every failure as ``{"error": code, "detail": reason}``: core errors, validation, unknown routes.

AskaroundError      → its status (InvalidInput 422, NotFound 404, Conflict 409,
                      PermissionDenied 403, Unauthenticated 401, Unavailable 503)
malformed JSON      → 400 malformed_json
RequestValidation   → 422 invalid_input, with the failing fields in ``errors``
HTTPException       → its status (unknown path 404, wrong method 405)
IntegrityError      → 409 conflict (a race the core's checks could not see)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
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
    404: "not_found",
    405: "method_not_allowed",
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
DATA_ERRORS = _responses(400, 401, 404, 409, 422)


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


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(409, "conflict", "this clashes with data stored at the same time; retry")


async def _internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(500, "internal", "internal error")


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one JSON shape."""
    app.add_exception_handler(AskaroundError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _internal_error)
