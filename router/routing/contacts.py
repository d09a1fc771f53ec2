"""Questions about the network itself ("who do I know at Acme?"), answered from contacts.

``detect`` recognises the question in plain words; ``contacts_route`` answers it as a ``Route``
whose candidates are the people at that company, each with how the owner knows them, so every
surface that renders a route renders this too. Nobody is asked: the directory is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from router.network.contacts import who_knows
from router.routing.route import Candidate, Reason, Route

CONTACTS_INTENT = "contacts"
_WHO = r"(?:who|whom|anyone|anybody|someone|somebody|people|folks|contacts?)"
_AT = r"(?:at|from|in|with)"
_PATTERNS = (
    # who do I know at Acme? / who do we know at Acme Inc in sales? / anyone I know at ACME?
    re.compile(
        rf"^\s*{_WHO}\b(?:\s+(?:do|does|did)\s+(?:i|we|you))?\s+(?:i\s+|we\s+)?"
        rf"(?:know|knows|have)\s+{_AT}\s+(?P<rest>.+)$",
        re.I,
    ),
    # do I know anyone at Acme? / do we know somebody from Acme?
    re.compile(
        rf"^\s*(?:do|does)\s+(?:i|we)\s+know\s+{_WHO}\s+"
        rf"(?:(?:who\s+)?(?:works?|working)\s+)?{_AT}\s+(?P<rest>.+)$",
        re.I,
    ),
    # which engineers do I know at Acme?
    re.compile(
        rf"^\s*which\s+(?P<position>[\w\s-]+?)\s+do\s+(?:i|we)\s+know\s+{_AT}\s+(?P<rest>.+)$",
        re.I,
    ),
    # who works at Acme? / anyone working at Acme?
    re.compile(rf"^\s*{_WHO}\s+(?:works?|working)\s+(?:at|for)\s+(?P<rest>.+)$", re.I),
)
_POSITION_TAIL = re.compile(
    r"^(?P<company>.+?)\s+(?:who\s+(?:is|are|works?\s+as)|as|working\s+as|in)\s+"
    r"(?:an?\s+|the\s+)?(?P<position>[\w\s-]+)$",
    re.I,
)


@dataclass(frozen=True)
class ContactQuestion:
    """What a contacts question asks: a company and, optionally, a position."""

    company: str
    position: str | None = None


def detect(text: str) -> ContactQuestion | None:
    """The company (and position) a "who do I know at X?" question names, or None."""
    text = " ".join(text.split()).rstrip(" ?!.")
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        rest = match.group("rest").strip()
        position = match.groupdict().get("position")
        tail = _POSITION_TAIL.match(rest)
        if tail is not None:
            rest, position = tail.group("company"), tail.group("position")
        rest = rest.strip(" ,")
        if not rest or len(rest) > 100:
            return None
        return ContactQuestion(company=rest, position=position.strip() if position else None)
    return None


def contacts_route(
    session: Session,
    *,
    network_id: int,
    text: str,
    asked: ContactQuestion,
    k: int,
    exclude: frozenset[int] = frozenset(),
) -> Route:
    """The people you know at the company asked about, as a route nobody is sent."""
    matches = who_knows(
        session,
        network_id=network_id,
        company=asked.company,
        position=asked.position,
        exclude=exclude,
        limit=max(k, 10),
    )
    candidates = tuple(
        Candidate(
            person_id=m.person_id,
            external_id=m.external_id,
            name=m.name,
            score=m.similarity,
            reasons=(Reason(kind="contact", text=m.describe()),),
        )
        for m in matches
    )
    who = f"{asked.position} at {asked.company}" if asked.position else f"at {asked.company}"
    notes = (
        f"you know {len(candidates)} {'person' if len(candidates) == 1 else 'people'} {who}"
        if candidates
        else f"nobody in this network is known to work {who}",
    )
    return Route(question=text, candidates=candidates, notes=notes, intent=CONTACTS_INTENT)
