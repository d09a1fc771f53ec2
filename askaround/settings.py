"""The application's settings: the core's, plus what only the edges need (Slack).

Kept out of ``router.settings`` so the core knows nothing of Slack; read from the same
``ASKAROUND_*`` environment variables, built explicitly by the caller.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from router.lifecycle.hours import parse_hours
from router.settings import Settings


class AppSettings(Settings):
    """Core settings plus the Slack bot's credentials and Web API address."""

    slack_signing_secret: str | None = None
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_working_hours: str | None = Field(
        default=None,
        description="Workspace default working hours, e.g. 9-18, in each person's timezone: "
        "asks wait for them. Unset: any time. A person's own `/ask hours` wins.",
    )

    @field_validator("slack_working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        return str(parse_hours(value)) if value else None

    api_queue_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long an API request waits for a free database connection before a 503.",
    )
    serve_workers: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        default=1,
        description="Processes `askaround serve` runs on its one socket (`--workers`); each has "
        "its own model and indexes and max(1, cores // N) native threads. `auto`: one per core "
        "while the workers' planned memory fits `serve_memory_mb`.",
    )
    serve_memory_mb: int = Field(
        default=3072,
        ge=256,
        description="The memory `serve --workers auto` plans for, all workers together (each "
        "holds its own indexes: ~350 MB + ~1.75 KB per evidence row, measured).",
    )
