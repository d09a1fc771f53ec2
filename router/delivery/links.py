"""Signed, expiring links for people without an account: one link per ask, to answer or pass.

A token names the network, the ask and the person it was sent to, and when it stops working,
signed with HMAC-SHA256 under the server's link secret; nothing is stored. Each action still
works once because the ask itself does (an answered or passed ask cannot change again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from router.errors import PermissionDenied, Unavailable

MIN_SECRET_CHARS = 16


@dataclass(frozen=True)
class AskLink:
    network_id: int
    ask_id: int
    person_id: int
    expires_at: datetime


def _key(secret: str | None) -> bytes:
    if not secret or len(secret) < MIN_SECRET_CHARS:
        raise Unavailable(
            f"set ASKAROUND_LINK_SECRET (at least {MIN_SECRET_CHARS} random characters) "
            "to send and open answer links"
        )
    return secret.encode()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_ask_link(*, secret: str | None, link: AskLink) -> str:
    """The token for ``link``: ``network.ask.person.expiry.signature``, URL-safe."""
    body = f"{link.network_id}.{link.ask_id}.{link.person_id}.{int(link.expires_at.timestamp())}"
    return f"{body}.{_mac(_key(secret), body)}"


def read_ask_link(token: str, *, secret: str | None, now: datetime) -> AskLink:
    """The link a token stands for; PermissionDenied if it was altered or has expired."""
    key = _key(secret)
    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise PermissionDenied("this link is not one Askaround sent")
    if not signature.isascii() or not hmac.compare_digest(_mac(key, body), signature):
        raise PermissionDenied("this link is not one Askaround sent")
    network_id, ask_id, person_id, expiry = (int(p) for p in parts)
    expires_at = datetime.fromtimestamp(expiry, tz=UTC)
    if now >= expires_at:
        raise PermissionDenied("this link has expired; the question may have been answered")
    return AskLink(network_id, ask_id, person_id, expires_at)
