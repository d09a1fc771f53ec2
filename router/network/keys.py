"""API keys: each belongs to one network and is stored only as a SHA-256 hash plus a short prefix.

The plaintext is handed out once, by ``create_key``; afterwards a key is named by its prefix
(``ak_1a2B3c4D``), which is enough to list and revoke it but not to use it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from router.storage.schema import ApiKey

KEY_MARK = "ak_"
PREFIX_CHARS = len(KEY_MARK) + 8
MAX_LABEL = 100
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``plaintext`` exists only in this value, never in the database."""

    id: int
    network_id: int
    prefix: str
    label: str
    plaintext: str


def hash_key(plaintext: str) -> str:
    """The stored form of a key: hex SHA-256 (a key is 256 random bits: no salt or stretching)."""
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(session: Session, *, network_id: int, label: str = "", now: datetime) -> IssuedKey:
    """Issue a new key for the network; the returned plaintext is the only copy anywhere."""
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"a key label has at most {MAX_LABEL} characters")
    plaintext = KEY_MARK + secrets.token_urlsafe(32)
    row = ApiKey(
        network_id=network_id,
        prefix=plaintext[:PREFIX_CHARS],
        key_hash=hash_key(plaintext),
        label=label,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return IssuedKey(
        id=row.id, network_id=network_id, prefix=row.prefix, label=label, plaintext=plaintext
    )


def list_keys(session: Session, *, network_id: int) -> list[ApiKey]:
    """The network's keys, oldest first, revoked ones included (with when they were revoked)."""
    return list(
        session.scalars(select(ApiKey).where(ApiKey.network_id == network_id).order_by(ApiKey.id))
    )


def revoke_key(session: Session, *, network_id: int, key_or_prefix: str, now: datetime) -> ApiKey:
    """Revoke the network's key, given in full or by prefix; revoking twice keeps the first date."""
    value = key_or_prefix.strip()
    if not value:
        raise InvalidInput("name the key to revoke by its prefix or the whole key")
    if len(value) > PREFIX_CHARS:
        matches = list(
            session.scalars(
                select(ApiKey).where(
                    ApiKey.network_id == network_id, ApiKey.key_hash == hash_key(value)
                )
            )
        )
    else:
        matches = list(
            session.scalars(
                select(ApiKey).where(ApiKey.network_id == network_id, ApiKey.prefix == value)
            )
        )
    if not matches:
        raise NotFound(f"no API key {value[:PREFIX_CHARS]!r} in this network")
    if len(matches) > 1:
        raise Conflict(f"prefix {value!r} names {len(matches)} keys; give the whole key")
    row = matches[0]
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row


def authenticate(session: Session, *, plaintext: str) -> int:
    """The network a key belongs to; Unauthenticated if it is unknown or revoked."""
    if not plaintext or len(plaintext) > MAX_KEY_CHARS:
        raise Unauthenticated("unknown API key")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext)))
    if row is None:
        raise Unauthenticated("unknown API key")
    if row.revoked_at is not None:
        raise Unauthenticated(f"API key {row.prefix} was revoked")
    return row.network_id
