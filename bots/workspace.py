"""Slack identities in the core's terms: a workspace is a network, a member is a person.

A workspace's network is found by ``Network.slack_team_id``; a member is the person known by the
external id ``slack:<user id>`` in it (``email:<address>`` is attached too when free, so people
imported from elsewhere are the same people).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.network import people, profiles
from router.storage.schema import ExternalId, Network, Person

SLACK_PREFIX = "slack:"
TEAM_ID_SIZE = profiles.column_size(Network.slack_team_id)
# Slack's other ids (member, channel, event, trigger, view) are a dozen or so characters; 64
# keeps any key built of a team id and two of them within the 200-character key columns.
ID_SIZE = 64


def slack_external_id(user_id: str) -> str:
    return f"{SLACK_PREFIX}{user_id}"


def slack_user_id(person: Person) -> str | None:
    """The Slack member id of ``person``, or None if they are not on Slack."""
    for row in sorted(person.external_ids, key=lambda row: row.id):
        if row.value.startswith(SLACK_PREFIX):
            return row.value.removeprefix(SLACK_PREFIX)
    return None


def find_team_network(session: Session, *, team_id: str) -> Network | None:
    return session.scalar(select(Network).where(Network.slack_team_id == team_id))


def team_network(
    session: Session, *, team_id: str, now: datetime, name: str | None = None
) -> Network:
    """The network of workspace ``team_id``, created (as ``slack-<team id>``) on first contact."""
    if not team_id:
        raise InvalidInput("a Slack request without a team id")
    network = find_team_network(session, team_id=team_id)
    if network is not None:
        return network
    network = people.ensure_network(session, name=name or f"slack-{team_id}", now=now)
    if network.slack_team_id not in (None, team_id):
        raise InvalidInput(f"network {network.name!r} belongs to another Slack workspace")
    network.slack_team_id = team_id
    session.flush()
    return network


def claim_network(session: Session, *, network: Network, team_id: str) -> None:
    """Tie ``network`` to workspace ``team_id`` unless either is already tied elsewhere."""
    if network.slack_team_id == team_id:
        return
    if network.slack_team_id is not None:
        raise InvalidInput(
            f"network {network.name!r} belongs to Slack workspace {network.slack_team_id}, "
            f"not {team_id}"
        )
    other = find_team_network(session, team_id=team_id)
    if other is not None:
        raise InvalidInput(f"Slack workspace {team_id} already belongs to network {other.name!r}")
    network.slack_team_id = team_id
    session.flush()


def team_of(session: Session, *, network_id: int) -> str | None:
    return session.scalar(select(Network.slack_team_id).where(Network.id == network_id))


def member_person(
    session: Session,
    *,
    network_id: int,
    user_id: str,
    now: datetime,
    display_name: str | None = None,
) -> Person:
    """The person behind Slack member ``user_id``, created on first contact."""
    person = find_member(session, network_id=network_id, user_id=user_id)
    if person is not None:
        return person
    return people.ensure_person(
        session,
        network_id=network_id,
        external_ids=[slack_external_id(user_id)],
        display_name=display_name or user_id,
        now=now,
    )


def display_name(user: dict[str, Any]) -> str:
    """How Slack shows a member: display name, else real name, else handle, else id (each
    cleaned and clipped as the core stores names)."""
    profile = _profile(user)
    return (
        profiles.mirrored_name(
            profile.get("display_name"),
            profile.get("real_name"),
            user.get("real_name"),
            user.get("name"),
            user.get("id"),
        )
        or "someone"
    )


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    profile = user.get("profile")
    return profile if isinstance(profile, dict) else {}


def is_human(user: dict[str, Any]) -> bool:
    """Bots, apps and Slackbot are members too; they never ask or answer."""
    return not (
        user.get("is_bot") or user.get("is_app_user") or user.get("id") in ("USLACKBOT", "", None)
    )


def apply_member(
    session: Session, *, network_id: int, user: dict[str, Any], now: datetime
) -> Person:
    """Create or update the person for one Slack member record (users.list / users.json shape);
    odd fields are cleaned by the core, InvalidInput only for an id that cannot be one."""
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput("a Slack member without an id")
    if not usable_id(user_id):
        raise InvalidInput("a Slack member id that is not one Slack uses")
    return profiles.mirror_person(
        session,
        network_id=network_id,
        external_id=slack_external_id(user_id),
        name=display_name(user),
        now=now,
        email=_profile(user).get("email"),
        timezone=user.get("tz"),
        deactivated=bool(user.get("deleted")),
    )


def find_member(session: Session, *, network_id: int, user_id: str) -> Person | None:
    return people.find_person(
        session, network_id=network_id, external_id=slack_external_id(user_id)
    )


def find_team_member(session: Session, *, team_id: str, user_id: str) -> tuple[int, Person] | None:
    """The network id and person of a member of a known workspace, or None (nothing created)."""
    network = find_team_network(session, team_id=team_id)
    if network is None:
        return None
    person = find_member(session, network_id=network.id, user_id=user_id)
    return None if person is None else (network.id, person)


def slack_ids(session: Session, *, person_ids: list[int]) -> dict[int, str]:
    """Slack member ids by person id, for the people who have one."""
    if not person_ids:
        return {}
    rows = session.execute(
        select(ExternalId.person_id, ExternalId.value)
        .where(ExternalId.person_id.in_(person_ids), ExternalId.value.like(f"{SLACK_PREFIX}%"))
        .order_by(ExternalId.id)
    ).all()
    found: dict[int, str] = {}
    for person_id, value in rows:
        found.setdefault(int(person_id), value.removeprefix(SLACK_PREFIX))
    return found


def unusable_id(body: dict[str, Any]) -> str | None:
    """What names the first id in a Slack request body that the database could not take as it
    is (too long for its column, a NUL, anything but printable ASCII), or None when all can.

    The edge refuses such a request before any write; Slack itself never sends one.
    """
    for what, value, limit in _ids(body):
        if value is not None and value != "" and not usable_id(value, limit):
            return what
    return None


def usable_id(value: object, limit: int = ID_SIZE) -> bool:
    """Whether ``value`` can be a Slack id: printable ASCII without spaces, at most ``limit``."""
    return (
        isinstance(value, str)
        and len(value) <= limit
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def _ids(body: dict[str, Any]) -> list[tuple[str, object, int]]:
    """(what, value, longest allowed) of every id a request's kind of payload may carry."""

    def part(parent: dict[str, Any], name: str) -> dict[str, Any]:
        value = parent.get(name)
        return value if isinstance(value, dict) else {}

    def id_or_self(value: object) -> object:
        return value.get("id") if isinstance(value, dict) else value

    event, user = part(body, "event"), part(body, "user")
    return [
        ("team id", body.get("team_id"), TEAM_ID_SIZE),
        ("team id", part(body, "team").get("id"), TEAM_ID_SIZE),
        ("team id", user.get("team_id"), TEAM_ID_SIZE),
        ("team id", part(body, "view").get("team_id"), TEAM_ID_SIZE),
        ("team id", part(event, "user").get("team_id"), TEAM_ID_SIZE),
        ("user id", body.get("user_id"), ID_SIZE),
        ("user id", user.get("id"), ID_SIZE),
        ("user id", id_or_self(event.get("user")), ID_SIZE),
        ("channel id", body.get("channel_id"), ID_SIZE),
        ("channel id", part(body, "channel").get("id"), ID_SIZE),
        ("channel id", part(body, "container").get("channel_id"), ID_SIZE),
        ("channel id", id_or_self(event.get("channel")), ID_SIZE),
        ("event id", body.get("event_id"), ID_SIZE),
        ("trigger id", body.get("trigger_id"), ID_SIZE),
        ("view id", part(body, "view").get("id"), ID_SIZE),
    ]
