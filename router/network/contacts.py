"""Who you know where: people's company and position, matched fuzzily ("Acme Inc." is "ACME").

Contacts come from address books (LinkedIn, vCard); ``who_knows`` answers "who do I know at
Acme?" from what the network holds, with how the owner knows each person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.network.people import primary_external_id
from router.storage.schema import Person

# Legal-form and filler words that do not tell one company from another.
COMPANY_NOISE = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "companies",
        "ltd",
        "limited",
        "llc",
        "llp",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "spa",
        "srl",
        "pty",
        "kk",
        "the",
        "group",
        "holdings",
        "holding",
        "international",
        "intl",
    ]
)
MATCH_THRESHOLD = 0.84


@dataclass(frozen=True)
class ContactMatch:
    """A person at the company asked about, and how well their company name matched."""

    person_id: int
    external_id: str
    name: str
    company: str
    position: str | None
    how_known: str | None
    similarity: float

    def describe(self) -> str:
        """'Engineer at Acme Inc.; LinkedIn connection since 2023-03-15'."""
        role = f"{self.position} at {self.company}" if self.position else f"at {self.company}"
        return f"{role}; {self.how_known}" if self.how_known else role


def company_key(name: str) -> str:
    """A company name reduced to what identifies it: 'Acme, Inc.' and 'ACME' both give 'acme'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w and w not in COMPANY_NOISE]
    return " ".join(words)


def company_similarity(a: str, b: str) -> float:
    """1.0 for the same company under different spellings, lower the further apart they are."""
    ka, kb = company_key(a), company_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb or ka.replace(" ", "") == kb.replace(" ", ""):
        return 1.0
    wa, wb = ka.split(), kb.split()
    shorter, longer = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if longer[: len(shorter)] == shorter:  # "acme" vs "acme robotics": probably the same
        return 0.9
    return SequenceMatcher(None, ka, kb).ratio()


def position_matches(wanted: str, position: str | None) -> bool:
    """True when every word of ``wanted`` starts a word of ``position`` ('eng' ~ 'Engineer')."""
    if position is None:
        return False
    have = re.split(r"[^a-z0-9]+", position.lower())
    words = [w.rstrip("s") for w in re.split(r"[^a-z0-9]+", wanted.lower()) if w]
    return all(any(h.startswith(w) for h in have if h) for w in words)


def who_knows(
    session: Session,
    *,
    network_id: int,
    company: str,
    position: str | None = None,
    exclude: frozenset[int] = frozenset(),
    limit: int = 20,
) -> list[ContactMatch]:
    """People of the network at ``company`` (fuzzy), optionally in ``position``, best first."""
    rows = session.scalars(
        select(Person).where(
            Person.network_id == network_id,
            Person.company.is_not(None),
            Person.erased_at.is_(None),
        )
    ).all()
    matches = []
    for person in rows:
        if person.id in exclude or person.company is None:
            continue
        similarity = company_similarity(company, person.company)
        if similarity < MATCH_THRESHOLD:
            continue
        if position and not position_matches(position, person.position):
            continue
        matches.append(
            ContactMatch(
                person_id=person.id,
                external_id=primary_external_id(person),
                name=person.display_name,
                company=person.company,
                position=person.position,
                how_known=person.how_known,
                similarity=similarity,
            )
        )
    matches.sort(key=lambda m: (-m.similarity, m.name.lower()))
    return matches[:limit]
