"""The Slack app factory: one slack-bolt ``App`` per ``SlackBot``, listeners grouped by kind.

- Every HTTP request's signature is verified (v0, 5-minute window): a bad or stale one gets 401
  and nothing runs. A request replayed with the very same signature inside the window does
  nothing either (its signature is recorded in ``seen_events``).
- Nothing calls Slack at start-up (no ``auth.test``): tokens come from settings or the
  installation store, so the app serves while Slack's Web API is unreachable.
- Acks come first (``process_before_response=False``; slow work in lazy listeners).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy.exc import OperationalError

from askaround.wiring import Services
from bots import (
    actions,
    commands,
    contacts,
    events,
    followups,
    forget,
    install,
    reuse,
    sharing,
    shortcuts,
    views,
)
from bots.clients import web_client
from bots.runtime import SlackBot

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-slack-signature"
RECENT_SIGNATURES = 10_000  # remembered in memory too (a replay comes within 5 minutes)
GUARD_WAIT = 0.1  # seconds the replay check may wait for a busy database


def create_slack_app(services: Services, *, bot: SlackBot | None = None) -> App:
    """The bolt app for these services (HTTP mode verifies signatures; Socket Mode needs none)."""
    bot = bot or SlackBot.build(services)
    settings = services.settings
    secret = settings.slack_signing_secret or ""
    lookup = install.token_lookup(bot.installations, settings)
    oauth = None
    if install.multi_workspace(settings) and bot.installations is not None:
        oauth = install.oauth_settings(settings, bot.database, bot.installations, clock=bot.clock)
    app = App(
        name="askaround",
        signing_secret=secret,
        client=web_client(settings, None),
        # bolt takes an Authorize instance as it is (its type hint names only functions)
        authorize=install.StoredTokenAuthorize(lookup),  # type: ignore[arg-type]
        oauth_settings=oauth,
        token_verification_enabled=False,
        request_verification_enabled=bool(secret),
        process_before_response=False,
        listener_executor=bot.listeners,
    )
    app.use(_replay_guard(bot))
    if oauth is not None:
        app.enable_token_revocation_listeners()
    forget.register(app, bot)  # before /ask: its matcher claims `/ask forget-me`
    contacts.register(app, bot)  # and this one 'who do I know at Acme?'
    reuse.register(app, bot)  # and questions a past answer may already answer
    commands.register(app, bot)
    actions.register(app, bot)
    followups.register(app, bot)
    shortcuts.register(app, bot)
    sharing.register(app, bot)
    views.register(app, bot)
    events.register(app, bot)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        kind = body.get("type") or body.get("command")
        log.error("Slack listener failed (%s): %s", kind, error, exc_info=error)

    return app


def _replay_guard(bot: SlackBot) -> Callable[..., BoltResponse | None]:
    """Drop an HTTP request whose exact signature was seen before (a replay in the window).

    Signatures are remembered in this process and in ``seen_events``; when the database is busy
    (an import holds SQLite's write lock) the guard does not wait for it, so the ack stays
    quick: the process's memory still catches replays, and every listener is idempotent anyway
    (a ``/ask`` by its trigger id, clicks by their ask or answer).
    """
    recent: OrderedDict[str, None] = OrderedDict()
    lock = threading.Lock()

    def seen_here(key: str) -> bool:
        with lock:
            if key in recent:
                return True
            recent[key] = None
            while len(recent) > RECENT_SIGNATURES:
                recent.popitem(last=False)
            return False

    def guard(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        signature = _header(req, SIGNATURE_HEADER)
        if req.mode != "http" or not signature:
            return next()
        key = "slack-sig:" + hashlib.sha256(signature.encode()).hexdigest()
        first = not seen_here(key)
        if first:
            try:
                with bot.database.transaction(wait=GUARD_WAIT) as session:
                    first = bot.first_time(session, key)
            except OperationalError:
                log.info("database busy: replay check from memory only")
        if not first:
            log.warning("replayed Slack request ignored")
            return BoltResponse(status=200, body="")
        return next()

    return guard


def _header(req: BoltRequest, name: str) -> str | None:
    values = req.headers.get(name) or []
    return values[0] if values else None
