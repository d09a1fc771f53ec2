"""The app factory: one FastAPI app from one ``Services``; nothing global or read at import."""

from __future__ import annotations

from datetime import UTC, datetime

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from askaround import edges
from askaround.api import (
    answers,
    asks,
    errors,
    evidence,
    health,
    ledger,
    network,
    overview,
    people,
    questions,
    respond,
    reuses,
    route,
    summary,
    web,
)
from askaround.api.admission import Admission, SafeHeaders, ShuttingDown
from askaround.api.bodies import Bodies
from askaround.api.dependencies import Clock
from askaround.wiring import Services

DESCRIPTION = """\
Route questions to the people in a network who can answer them, ask them, and keep the give
and take of favours balanced.

Every data endpoint acts for the network of the API key it is called with
(`Authorization: Bearer <key>` or `X-API-Key: <key>`, not two different keys at once; create
one with `askaround keys create --network N`). Errors are `{"error": code, "detail": reason}`.
A web page for people (ask a question, read the weekly summary) is served at `/`.

Limits are deliberate and answered with a clear 4xx: evidence cannot be dated more than a day
ahead (422), a snooze (the snooze endpoint or `snoozed_until`) ends within 90 days (422),
weeks run from 2020 to the current one (422), times are ISO 8601, not numbers (422), text must
be storable Unicode without NUL characters (422), ids and numbers in paths and queries are
plain digits 0-9 (`2_0`, `+20`, `020` are 422, not 20). A burst beyond what the database pool can serve queues briefly,
then answers `503` with `Retry-After` (seconds); retry then. So does a request that reaches a
server after it began to stop (`shutting_down`, with `Connection: close`): it was not run.
"""
DOCS_ASSETS = "/v1/docs/assets"


# Every endpoint group, in the order OpenAPI lists them.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    network.router,
    overview.router,
    route.router,
    reuses.router,
    people.router,
    evidence.router,
    questions.router,
    asks.router,
    answers.router,
    ledger.router,
    summary.router,
)


# The largest valid request is a 100,000-character question of escaped emoji (12 bytes each):
# 1.2 MB. Anything bigger is refused with a 413 as it streams in, before it is parsed or even
# authenticated; unlimited, one unauthenticated 300 MB body took a gigabyte of memory. The
# ``Bodies`` middleware enforces it (FastAPI's ``max_body_size`` answered a body announced too
# large with a plain-text 413, replacing the API's JSON error).
MAX_BODY_BYTES = 2 * 1024 * 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    services: Services, *, open_network: str | None = None, clock: Clock = _utc_now
) -> FastAPI:
    """The HTTP API over ``services``.

    ``open_network`` (local development only: ``askaround serve --network N`` on a loopback
    address) lets requests without a key *read* that network; writes always need a key.
    ``clock`` gives each request its ``now`` (tests pin it).
    """
    app = FastAPI(
        title="Askaround",
        version="1",
        description=DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # served below from the swagger-ui-bundle package, not from a CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.open_network = open_network
    app.state.clock = clock
    services.database  # noqa: B018 - connect and migrate now, not inside the first request
    errors.install(app)
    _mount_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(web.router)  # the page for people, outside the API and its schema
    app.include_router(respond.router)  # the page emailed asks link to (answer / pass)
    edges.register_mounts(app, services)  # e.g. Slack's HTTP mode at /slack/events
    app.add_middleware(
        Admission,
        limit=services.database.capacity,
        wait=services.settings.api_queue_seconds,
        retry_after=1,
    )
    # outside admission (a stopping server queues nothing), inside Bodies (which reads the body
    # first: closing a connection with unread bytes would reset it and lose the answer)
    app.add_middleware(ShuttingDown, stopping=services.stopping, retry_after=1)
    app.add_middleware(Bodies, limit=MAX_BODY_BYTES)  # read before a request takes a slot
    app.add_middleware(SafeHeaders)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /v1/docs with its assets served from this server (no CDN to trust)."""
    app.mount(
        DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/v1/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/v1/openapi.json",
            title="Askaround API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
