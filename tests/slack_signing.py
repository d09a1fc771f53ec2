"""Sign requests exactly as Slack does, and build the payloads Slack sends the bot.

Slack's v0 scheme: ``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{raw body}"))`` with
``X-Slack-Request-Timestamp: {ts}`` (Unix seconds); receivers reject anything older than 5 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

SECRET = "test-signing-secret-0123456789abcdef"


def signature(secret: str, timestamp: int, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }


def slash_command_body(
    text: str,
    *,
    user_id: str,
    response_url: str,
    team_id: str = "T0FAKE",
    command: str = "/ask",
    trigger_id: str | None = None,
) -> str:
    """A slash command; each gets its own ``trigger_id`` as in Slack, unless one is given."""
    trigger_id = trigger_id or f"trig-{uuid.uuid4().hex[:12]}"
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "team_domain": "fake",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "AFAKE",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def block_action_body(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = "T0FAKE",
    trigger_id: str = "trig-2",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "AFAKE",
        "trigger_id": trigger_id,
        "container": {"type": "message", "channel_id": channel_id, "message_ts": message_ts},
        "channel": {"id": channel_id},
        "message": {"ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "actions",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    *,
    callback_id: str,
    private_metadata: str,
    values: dict[str, dict[str, dict[str, Any]]],
    user_id: str,
    team_id: str = "T0FAKE",
) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "AFAKE",
        "trigger_id": "trig-3",
        "view": {
            "id": "V123",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], *, event_id: str, team_id: str = "T0FAKE") -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": "AFAKE",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    )
