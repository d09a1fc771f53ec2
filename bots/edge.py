"""The Slack edge's plugin module: its CLI commands and its HTTP mount, added through askaround's hook."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session

from askaround.edges import CommandHooks
from askaround.wiring import Services
from router.delivery.channels import Channel


def register_commands(cli: CommandHooks) -> None:
    """``askaround bot``, ``askaround slack ...`` and ``askaround import slack-export``."""
    from bots.cli import register_commands as register_slack_commands

    register_slack_commands(cli)


def register_mounts(app: FastAPI, services: Services) -> None:
    """Slack's HTTP mode at /slack/events, when ``ASKAROUND_SLACK_SIGNING_SECRET`` is set."""
    if services.settings.slack_signing_secret:
        from bots.http import mount_slack

        mount_slack(app, services)


def delivery_channel(services: Services) -> Channel | None:
    """Slack DMs, when a bot token (or OAuth) is configured: ``askaround worker`` sends them."""
    settings = services.settings
    if not (settings.slack_bot_token or settings.slack_client_id):
        return None
    from bots.runtime import slack_channel

    return slack_channel(services)


def forget_identifiers(
    session: Session,
    *,
    services: Services,
    network_id: int,
    identifiers: tuple[str, ...],
    now: datetime,
) -> None:
    """In an erasure's transaction (from Slack, the API or the CLI): end the member's requests
    still waiting in the bot's inbox, spooled ones too, and drop their text."""
    from bots import workspace
    from bots.inbox import SPOOL, Inbox

    prefix = workspace.SLACK_PREFIX
    users = [i.removeprefix(prefix) for i in identifiers if i.startswith(prefix)]
    team = workspace.team_of(session, network_id=network_id)
    if team is None or not users:  # not a Slack workspace's network, or not a member of one
        return
    inbox = Inbox(
        database=services.database,
        spool_dir=services.settings.data_dir / SPOOL,
        clock=lambda: now,
    )
    for user in users:
        inbox.forget_member(session, team_id=team, user_id=user)
