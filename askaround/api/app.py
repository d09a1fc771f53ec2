"""The app factory: one FastAPI app from one ``Services``; nothing global or read at import."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI

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
from askaround.api.dependencies import Clock
from askaround.wiring import Services

DESCRIPTION = """\
Route questions to the people in a network who can answer them, ask them, and keep the give
and take of favours balanced.

Every data endpoint acts for the network of the API key it is called with
(`Authorization: Bearer <key>` or `X-API-Key: <key>`; create one with
`askaround keys create --network N`). Errors are `{"error": code, "detail": reason}`.
A web page for people (ask a question, read the weekly summary) is served at `/`.
"""


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
        docs_url="/v1/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.open_network = open_network
    app.state.clock = clock
    services.database  # noqa: B018 - connect and migrate now, not inside the first request
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(web.router)  # the page for people, outside the API and its schema
    app.include_router(respond.router)  # the page emailed asks link to (answer / pass)
    if services.settings.slack_signing_secret:
        from bots.http import mount_slack

        mount_slack(app, services)  # Slack's HTTP mode at /slack/events
    return app
