"""Socket Mode: the bot connects out to Slack over a WebSocket, so it needs no public URL.

``askaround bot --socket`` with ``ASKAROUND_SLACK_APP_TOKEN`` (``xapp-...``, scope
``connections:write``) and ``ASKAROUND_SLACK_BOT_TOKEN``. Requests arrive over the socket
(no signatures to check: the connection is authenticated by the app token); the courier
delivers the outbox and runs the periodic jobs beside it.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler

from askaround.wiring import Services
from bots import logs
from bots.app import create_slack_app
from bots.clients import web_client
from bots.runtime import SlackBot
from router.errors import Unavailable

log = logging.getLogger(__name__)


def socket_handler(services: Services, *, bot: SlackBot) -> SocketModeHandler:
    """The Socket Mode handler for the bot's app (not yet connected)."""
    settings = services.settings
    if not settings.slack_app_token or not settings.slack_app_token.startswith("xapp-"):
        raise Unavailable("Socket Mode needs ASKAROUND_SLACK_APP_TOKEN (an xapp-... app token)")
    app = create_slack_app(services, bot=bot)
    return SocketModeHandler(
        app, app_token=settings.slack_app_token, web_client=web_client(settings, None)
    )


def run_socket_mode(services: Services, *, interval: float = 60.0) -> None:
    """Connect and serve until interrupted; the courier runs alongside."""
    logs.configure()
    bot = SlackBot.build(services)
    handler = socket_handler(services, bot=bot)
    bot.warm_up()  # the model and each network's index load while the socket connects
    bot.courier.start(interval=interval)
    try:
        handler.start()  # type: ignore[no-untyped-call]  # blocks; reconnects on its own
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        bot.close(wait=False)
