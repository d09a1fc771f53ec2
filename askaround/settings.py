"""The application's settings: the core's, plus what only the edges need (Slack).

Kept out of ``router.settings`` so the core knows nothing of Slack; read from the same
``ASKAROUND_*`` environment variables, built explicitly by the caller.
"""

from __future__ import annotations

from pydantic import Field

from router.settings import Settings


class AppSettings(Settings):
    """Core settings plus the Slack bot's credentials and Web API address."""

    slack_signing_secret: str | None = None
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    api_queue_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long an API request waits for a free database connection before a 503.",
    )
