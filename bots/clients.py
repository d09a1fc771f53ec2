"""Slack Web API clients: one per workspace token, pointed at ``settings.slack_api_url``, retrying.

Every client retries a 429 after the ``Retry-After`` the server gave, a 500/503 with backoff, and a
dropped connection. Calls that are safe to repeat (reads, ``chat.update``, ``views.publish``) go
through it as they are. Posting a message is not safe to repeat: a 5xx or a dropped connection
leaves its outcome unknown, so ``poster`` returns a client that retries only 429s (a 429 means
Slack did nothing) and leaves the unknown cases to ``SlackChannel``, which looks before it
re-posts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.client import HTTPException, RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from askaround.settings import AppSettings
from router.errors import Unavailable

log = logging.getLogger(__name__)

# What a call that may or may not have reached Slack raises.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    URLError,
    ConnectionError,
    RemoteDisconnected,
    HTTPException,
    TimeoutError,
)

# What a Web API call raises when Slack said no or could not be reached.
SLACK_FAILURES: tuple[type[Exception], ...] = (SlackApiError, *CONNECTION_ERRORS)

TokenLookup = Callable[[str], str | None]  # team id -> bot token


def retry_handlers(*, repeatable: bool = True, backoff: float = 0.5) -> list[RetryHandler]:
    """The retry policy: 429 honouring Retry-After; for repeatable calls also 5xx and drops."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    handlers: list[RetryHandler] = [RateLimitErrorRetryHandler(max_retry_count=3)]
    if repeatable:
        handlers.append(ServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval))
        handlers.append(
            ConnectionErrorRetryHandler(
                max_retry_count=2,
                interval_calculator=interval,
                error_types=[URLError, ConnectionResetError, RemoteDisconnected],
            )
        )
    return handlers


def web_client(
    settings: AppSettings, token: str | None, *, repeatable: bool = True, backoff: float = 0.5
) -> WebClient:
    """A client for one token at the configured API URL, with the retry policy."""
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=retry_handlers(repeatable=repeatable, backoff=backoff),
    )


class SlackClients:
    """Clients per workspace, built on first use; the token comes from settings or installs."""

    def __init__(
        self, settings: AppSettings, *, tokens: TokenLookup | None = None, backoff: float = 0.5
    ) -> None:
        self.settings = settings
        self._tokens = tokens
        self.backoff = backoff
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, bool], WebClient] = {}

    def token(self, team_id: str | None) -> str:
        """The bot token for ``team_id``: an installation's, else the configured single token."""
        token = self._tokens(team_id) if (self._tokens is not None and team_id) else None
        token = token or self.settings.slack_bot_token
        if not token:
            raise Unavailable(f"no Slack bot token for workspace {team_id or '(unknown)'}")
        return token

    def for_team(self, team_id: str | None) -> WebClient:
        """The retrying client for repeatable calls in this workspace."""
        return self._get(team_id, repeatable=True)

    def poster(self, team_id: str | None) -> WebClient:
        """The client for ``chat.postMessage``: retries only what certainly did not happen."""
        return self._get(team_id, repeatable=False)

    def _get(self, team_id: str | None, *, repeatable: bool) -> WebClient:
        token = self.token(team_id)
        with self._lock:
            client = self._clients.get((token, repeatable))
            if client is None:
                client = web_client(
                    self.settings, token, repeatable=repeatable, backoff=self.backoff
                )
                self._clients[(token, repeatable)] = client
            return client

    def forget(self) -> None:
        """Drop cached clients after an uninstall or a token rotation."""
        with self._lock:
            self._clients.clear()


def respond(url: str | None, message: dict[str, Any], *, replace: bool = False) -> bool:
    """Reply through a request's ``response_url`` (ephemeral unless replacing); False if it failed.

    A reply is the answer to what someone just did; if Slack cannot take it now there is no
    point in delivering it later, so it is logged and dropped (state changes are already stored
    and their messages are in the outbox).
    """
    if not url:
        return False
    body = {"response_type": "ephemeral", **message}
    if replace:
        body["replace_original"] = True
    try:
        response = WebhookClient(url, timeout=10, retry_handlers=retry_handlers()).send_dict(body)
    except CONNECTION_ERRORS as exc:
        log.warning("response_url reply failed: %s", exc)
        return False
    if response.status_code != 200:
        log.warning("response_url reply refused: %s %s", response.status_code, response.body)
        return False
    return True
