"""HTTP mode: the Slack app mounted at ``/slack/events`` in the FastAPI app ``askaround serve`` runs.

The app factory calls ``mount_slack(app, services)`` when ``ASKAROUND_SLACK_SIGNING_SECRET`` is
set. Bolt's dispatch is synchronous, so it runs in the thread pool rather than on the event loop
(the adapter bolt ships for Starlette would block the loop). The courier that delivers the
outbox and runs the periodic jobs starts and stops with the app's lifespan.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from askaround.wiring import Services
from bots import logs, messages, workspace
from bots.app import create_slack_app
from bots.runtime import SlackBot
from router.errors import Unavailable

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
MAX_BODY = 1024 * 1024  # Slack's payloads are a few kilobytes
JOB_INTERVAL = 60.0
UNUSABLE = "This request could not be understood; nothing was done"


def mount_slack(
    fastapi_app: FastAPI,
    services: Services,
    *,
    bot: SlackBot | None = None,
    run_courier: bool = True,
) -> SlackBot:
    """Serve Slack's requests at /slack/events (and OAuth at /slack/install when configured)."""
    if not services.settings.slack_signing_secret:
        raise Unavailable("HTTP mode needs ASKAROUND_SLACK_SIGNING_SECRET")
    bot = bot or SlackBot.build(services)
    slack = create_slack_app(services, bot=bot)

    secret = services.settings.slack_signing_secret or ""

    async def events(request: Request) -> Response:
        return await _dispatch(slack, request, secret)

    fastapi_app.add_api_route(EVENTS_PATH, events, methods=["POST"], include_in_schema=False)
    if slack.oauth_flow is not None:

        async def install(request: Request) -> Response:
            return await _oauth(slack, request, callback=False)

        async def redirect(request: Request) -> Response:
            return await _oauth(slack, request, callback=True)

        fastapi_app.add_api_route(INSTALL_PATH, install, methods=["GET"], include_in_schema=False)
        fastapi_app.add_api_route(REDIRECT_PATH, redirect, methods=["GET"], include_in_schema=False)
    if run_courier:
        _run_with_lifespan(fastapi_app, bot)
    return bot


async def _bolt_request(request: Request, secret: str | None = None) -> BoltRequest | Response:
    """The request for bolt, or the response refusing it (given ``secret``: as ``_malformed``)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return Response(status_code=413, content="request too large")
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413, content="request too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Response(status_code=400, content="request body is not UTF-8")
    headers: dict[str, str | Sequence[str]] = {
        key: [value] for key, value in request.headers.items()
    }
    refused = _malformed(text, headers, secret) if secret is not None else None
    if refused is not None:
        return refused
    return BoltRequest(body=text, query=dict(request.query_params), headers=headers)


def _response(bolt: BoltResponse) -> Response:
    headers = {
        key: values[0]
        for key, values in bolt.headers.items()
        if values and key.lower() not in ("content-length", "set-cookie")
    }
    response = Response(status_code=bolt.status, content=bolt.body, headers=headers)
    for cookie in bolt.cookies():
        for name, morsel in cookie.items():
            response.set_cookie(
                key=name,
                value=morsel.value,
                max_age=int(morsel["max-age"]) if morsel["max-age"] else None,
                path=morsel["path"] or "/",
                secure=True,
                httponly=True,
            )
    return response


def _malformed(raw: str, headers: dict[str, str | Sequence[str]], secret: str) -> Response | None:
    """A 401 or 400 for what bolt would turn into a traceback or a misleading reply, else None.

    The signature is checked first (so an unsigned request learns nothing about its shape), then
    the body must be what Slack sends: a JSON object, or a form whose ``payload`` is one, naming
    the workspace it comes from.
    """
    if secret:
        verifier = SignatureVerifier(secret)
        timestamp = _first(headers, "x-slack-request-timestamp") or ""
        signature = _first(headers, "x-slack-signature") or ""
        if not _slack_format(timestamp, signature) or not verifier.is_valid(
            raw, timestamp, signature
        ):
            return Response(status_code=401, content="invalid request signature")
    content_type = _first(headers, "content-type") or ""
    try:
        if content_type.startswith("application/json"):
            body = json.loads(raw)
        else:
            form = parse_qs(raw, keep_blank_values=True)
            body = {key: values[0] for key, values in form.items()}
            if "payload" in body:
                body = json.loads(body["payload"])
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return Response(status_code=400, content="malformed request body")
    if not isinstance(body, dict):
        return Response(status_code=400, content="malformed request body")
    if body.get("type") in ("url_verification", "ssl_check") or body.get("ssl_check"):
        return None
    if not _team_of(body):
        return Response(status_code=400, content="the request names no workspace (team_id)")
    if not _well_formed(body):
        return Response(status_code=400, content="malformed request body")
    unusable = workspace.unusable_id(body) or _unnamed(body)
    if unusable is not None:
        return _refused_id(body, unusable)
    return None


def _unnamed(body: dict[str, Any]) -> str | None:
    """What a slash command lacks of the ids Slack always sends: the member (else a person with
    no id would ask) and the trigger id or response url (else every such /ask is one request)."""
    if "command" not in body:
        return None
    if not body.get("user_id"):
        return "user id"
    if not (body.get("trigger_id") or body.get("response_url")):
        return "trigger id"
    return None


def _refused_id(body: dict[str, Any], what: str) -> Response:
    """A slash command (Slack shows the 200's body) is told in words; anything else gets 400."""
    log.warning("Slack request with an unusable %s refused", what)
    if "command" in body:
        reply = messages.error_message(f"{UNUSABLE} (its {what} is missing or not one Slack uses).")
        return JSONResponse({**reply, "response_type": "ephemeral"})
    return Response(status_code=400, content=f"malformed request body: unusable {what}")


def _slack_format(timestamp: str, signature: str) -> bool:
    """Whether the headers look like Slack's: Unix seconds, and ``v0=`` with a hex digest.

    The verifier itself raises on anything else (a timestamp int() refuses, a non-ASCII
    signature), which would be a 500 to a request that proved nothing.
    """
    seconds = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    return seconds and signature.isascii() and signature.startswith("v0=")


def _well_formed(body: dict[str, Any]) -> bool:
    """Whether the parts bolt reads without checking have the types Slack sends them with."""
    kind = body.get("type")
    if kind == "event_callback" and not isinstance(body.get("event"), dict):
        return False
    if kind in ("block_actions", "interactive_message"):
        actions = body.get("actions")
        if not isinstance(body.get("user"), dict) or not isinstance(actions, list) or not actions:
            return False
        if not all(isinstance(action, dict) and _text(action, "action_id") for action in actions):
            return False
        if kind == "block_actions" and not _text(body, "trigger_id"):
            return False  # Slack sends one with every click; bolt's listeners index it
        if any(not isinstance(body.get(part, {}), dict) for part in ("container", "channel")):
            return False
    view = body.get("view")
    if kind not in ("view_submission", "view_closed"):
        return True
    return isinstance(view, dict) and _text(view, "type") and _form_state(view.get("state"))


def _form_state(state: object) -> bool:
    """Whether a view's ``state`` is absent or Slack's ``{"values": {block: {action: {...}}}}``."""
    if state is None:
        return True
    values = state.get("values", {}) if isinstance(state, dict) else None
    return isinstance(values, dict) and all(
        isinstance(block, dict) and all(isinstance(field, dict) for field in block.values())
        for block in values.values()
    )


def _text(part: dict[str, Any], name: str) -> bool:
    return isinstance(part.get(name), str) and bool(part[name])


def _team_of(body: dict[str, Any]) -> str | None:
    """The workspace a Slack request comes from, wherever its kind of payload puts it."""

    def part(name: str) -> dict[str, Any]:
        value = body.get(name)
        return value if isinstance(value, dict) else {}

    for value in (
        body.get("team_id"),
        part("team").get("id"),
        part("user").get("team_id"),
        part("view").get("team_id"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _first(headers: dict[str, str | Sequence[str]], name: str) -> str | None:
    values = headers.get(name) or []
    if isinstance(values, str):
        return values
    return str(values[0]) if values else None


async def _dispatch(slack: App, request: Request, secret: str) -> Response:
    built = await _bolt_request(request, secret)
    if isinstance(built, Response):
        return built
    result: BoltResponse = await run_in_threadpool(slack.dispatch, built)
    return _response(result)


async def _oauth(slack: App, request: Request, *, callback: bool) -> Response:
    built = await _bolt_request(request)
    if isinstance(built, Response):
        return built
    flow = slack.oauth_flow
    assert flow is not None
    handler: Any = flow.handle_callback if callback else flow.handle_installation
    result: BoltResponse = await run_in_threadpool(handler, built)
    return _response(result)


def _run_with_lifespan(fastapi_app: FastAPI, bot: SlackBot) -> None:
    """Start the courier with the app and stop it on shutdown, around the app's own lifespan."""
    inner = fastapi_app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        logs.configure()  # uvicorn configures only its own loggers
        bot.warm_up()
        bot.courier.start(interval=JOB_INTERVAL)
        try:
            async with inner(app) as state:
                yield state
        finally:
            await run_in_threadpool(bot.courier.stop)

    fastapi_app.router.lifespan_context = lifespan
