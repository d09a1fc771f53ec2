"""Events API: the Home tab, replies in an ask's thread (answers), and members joining, changing
or leaving.

Slack retries an event it thinks we missed (``X-Slack-Retry-Num``) with the same ``event_id``;
each event is recorded in ``seen_events`` in the same transaction as its effect, so a retry
does nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bots import home, members, replies, workspace
from bots.runtime import SlackBot

log = logging.getLogger(__name__)


def event_key(body: dict[str, Any]) -> str:
    return f"slack-event:{body.get('team_id') or ''}:{body.get('event_id') or ''}"


def register(app: App, bot: SlackBot) -> None:
    """Home tab and member events."""

    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return  # the Messages tab
        user = event.get("user")
        if not isinstance(user, str) or not user:
            log.warning("Home tab event without a member ignored")  # else a person "None"
            return
        with bot.transaction() as session:
            if not bot.first_time(session, event_key(body)):
                return
        home.publish(bot, client, team_id=str(body.get("team_id") or ""), user_id=user)

    def member_changed(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user")
        if not isinstance(user, dict) or not workspace.is_human(user):
            return
        team_id = str(body.get("team_id") or user.get("team_id") or "")
        with bot.transaction() as session:
            if not bot.first_time(session, event_key(body)):
                return
            network = workspace.team_network(session, team_id=team_id, now=bot.now())
            members.apply_one(session, network_id=network.id, member=user, now=bot.now())

    @app.event("message")
    def message(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        replies.thread_reply(bot, client, body, event)  # a reply in an ask's thread answers it

    app.event("user_change")(member_changed)
    app.event("team_join")(member_changed)

    if bot.installations is None:
        # One configured token: nothing to forget, but the events are acknowledged (an
        # unhandled event gets a 404, which Slack retries and eventually counts against the app).
        def configured_token(body: dict[str, Any]) -> None:
            log.warning(
                "Slack says the app was uninstalled or its tokens revoked in %s",
                body.get("team_id"),
            )

        app.event("app_uninstalled")(configured_token)
        app.event("tokens_revoked")(configured_token)
