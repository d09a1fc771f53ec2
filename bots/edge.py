"""The Slack edge's plugin module: its CLI commands and its HTTP mount, added through askaround's hook."""

from __future__ import annotations

from fastapi import FastAPI

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
