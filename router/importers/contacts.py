"""Contacts from outside the workspace: LinkedIn's ``Connections.csv`` and vCard files.

Each contact becomes a person with company, position and how the network's owner knows them,
plus a profile line ("Engineer at Acme Inc.") that routing can search. A contact joins an
existing person when they share an id: the same email (``email:a@b.c``, or a person whose email
is that address), the same LinkedIn profile (``linkedin:jane-doe``), or an explicit link (a
vCard's ``X-ASKAROUND-ID:slack:U123``, or an id attached to the person beforehand). Importing
the same file again changes nothing. The whole file is read and checked before anything is
written, so a malformed file imports nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.errors import Conflict, ImportFormatError
from router.importers import ImportReport
from router.network.people import add_evidence, ensure_person
from router.storage.schema import Evidence, ExternalId, Person

LINKEDIN_COLUMNS = (
    "First Name",
    "Last Name",
    "URL",
    "Email Address",
    "Company",
    "Position",
    "Connected On",
)
MAX_FIELD = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Contact:
    """One person from an address book, as read (nothing stored yet)."""

    name: str
    external_ids: tuple[str, ...]
    email: str | None
    company: str | None
    position: str | None
    how_known: str
    source: str  # linkedin | vcard
    key: str  # stable per contact within its source, for idempotent evidence


def _clean(value: str | None, limit: int = MAX_FIELD) -> str | None:
    text = " ".join((value or "").split())
    return text[:limit] if text else None


def _email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def _connected_on(value: str) -> str | None:
    for fmt in ("%d %b %Y", "%d %B %Y", "%m/%d/%y", "%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC).date().isoformat()
        except ValueError:
            continue
    return None


def _linkedin_id(url: str | None) -> str | None:
    """``linkedin:jane-doe`` from ``https://www.linkedin.com/in/jane-doe/``."""
    if not url:
        return None
    parts = [p for p in urlparse(url.strip()).path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "in":
        return f"linkedin:{parts[1].lower()}"
    return None


def parse_linkedin(path: Path) -> list[Contact]:
    """The contacts in a LinkedIn ``Connections.csv`` (notes lines before the header are skipped)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc})") from exc
    lines = text.splitlines()
    header_at = next(
        (n for n, line in enumerate(lines) if line.lstrip('"').startswith("First Name")), None
    )
    if header_at is None:
        raise ImportFormatError(
            str(path),
            None,
            "no header line starting 'First Name' (expected LinkedIn's columns: "
            f"{', '.join(LINKEDIN_COLUMNS)})",
        )
    reader = csv.DictReader(io.StringIO("\n".join(lines[header_at:])))
    missing = [c for c in LINKEDIN_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFormatError(str(path), header_at + 1, f"missing columns {', '.join(missing)}")
    contacts = []
    for n, row in enumerate(reader, start=header_at + 2):
        name = _clean(f"{row.get('First Name') or ''} {row.get('Last Name') or ''}")
        if name is None:
            continue  # LinkedIn leaves rows of deleted accounts empty
        email = _email(row.get("Email Address"))
        linkedin = _linkedin_id(row.get("URL"))
        ids = tuple(i for i in (linkedin, f"email:{email}" if email else None) if i)
        if not ids:
            ids = (f"linkedin-contact:{name.lower()}",)
        since = _connected_on(row.get("Connected On") or "")
        contacts.append(
            Contact(
                name=name,
                external_ids=ids,
                email=email,
                company=_clean(row.get("Company")),
                position=_clean(row.get("Position")),
                how_known=f"LinkedIn connection since {since}" if since else "LinkedIn connection",
                source="linkedin",
                key=ids[0],
            )
        )
        if len(contacts) > 100_000:
            raise ImportFormatError(str(path), n, "more than 100000 contacts")
    return contacts


def _unescape(value: str) -> str:
    return (
        value.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";")
    ).replace("\\\\", "\\")


def _vcard_lines(text: str) -> list[str]:
    """Unfolded content lines (a line starting with a space or tab continues the previous one)."""
    out: list[str] = []
    for raw in text.splitlines():
        if raw[:1] in (" ", "\t") and out:
            out[-1] += raw[1:]
        elif raw.strip():
            out.append(raw.rstrip())
    return out


def parse_vcard(path: Path) -> list[Contact]:
    """The contacts in a ``.vcf`` file (vCard 3 or 4): FN/N, EMAIL, ORG, TITLE, NOTE, URL."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc})") from exc
    contacts: list[Contact] = []
    card: dict[str, list[str]] | None = None
    for n, line in enumerate(_vcard_lines(text), start=1):
        head, sep, value = line.partition(":")
        if not sep:
            raise ImportFormatError(str(path), n, f"a content line with no ':' ({line[:40]!r})")
        name = head.split(";")[0].split(".")[-1].upper()
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            card = {}
        elif name == "END" and value.strip().upper() == "VCARD":
            if card is None:
                raise ImportFormatError(str(path), n, "END:VCARD without BEGIN:VCARD")
            contact = _vcard_contact(card)
            if contact is not None:
                contacts.append(contact)
            card = None
        elif card is not None:
            card.setdefault(name, []).append(value)
    if card is not None:
        raise ImportFormatError(str(path), None, "the last card has no END:VCARD")
    if not contacts and "BEGIN:VCARD" not in text.upper():
        raise ImportFormatError(str(path), None, "no BEGIN:VCARD found; is this a vCard file?")
    return contacts


def _vcard_contact(card: dict[str, list[str]]) -> Contact | None:
    def first(key: str) -> str | None:
        values = card.get(key) or []
        return _unescape(values[0]).strip() if values else None

    name = _clean(first("FN"))
    if name is None and first("N"):
        family, _, rest = (first("N") or "").partition(";")
        given = rest.split(";")[0]
        name = _clean(f"{given} {family}")
    if name is None:
        return None
    emails = [e for e in (_email(_unescape(v)) for v in card.get("EMAIL", [])) if e]
    linked = [_clean(_unescape(v)) for v in card.get("X-ASKAROUND-ID", [])]
    linkedin = [_linkedin_id(_unescape(v)) for v in card.get("URL", [])]
    ids = tuple(
        dict.fromkeys(
            [i for i in linked if i]
            + [f"email:{e}" for e in emails]
            + [i for i in linkedin if i]
            + ([f"vcard:{uid}"] if (uid := _clean(first("UID"))) else [])
        )
    )
    if not ids:
        ids = (f"vcard-contact:{name.lower()}",)
    org = first("ORG")
    note = _clean(first("NOTE"), 300)
    return Contact(
        name=name,
        external_ids=ids,
        email=emails[0] if emails else None,
        company=_clean(org.split(";")[0]) if org else None,
        position=_clean(first("TITLE")),
        how_known=note or "in your address book",
        source="vcard",
        key=ids[-1] if ids[-1].startswith("vcard:") else ids[0],
    )


def _owner_by_email(session: Session, *, network_id: int, email: str | None) -> str | None:
    """An id of the person whose email field is ``email`` (and who has no ``email:`` id yet)."""
    if email is None:
        return None
    person_id = session.scalar(
        select(Person.id)
        .where(
            Person.network_id == network_id,
            func.lower(Person.email) == email,
            Person.erased_at.is_(None),
        )
        .limit(1)
    )
    if person_id is None:
        return None
    return session.scalar(
        select(ExternalId.value).where(ExternalId.person_id == person_id).limit(1)
    )


def import_contacts(
    session: Session, *, network_id: int, contacts: list[Contact], now: datetime
) -> ImportReport:
    """Store ``contacts`` as people (merged with whoever shares an id or email); idempotent."""
    report = ImportReport()
    for contact in contacts:
        ids = list(contact.external_ids)
        known = _owner_by_email(session, network_id=network_id, email=contact.email)
        if known is not None and known not in ids:
            ids.append(known)
        existing = session.scalar(
            select(func.count(ExternalId.id)).where(
                ExternalId.network_id == network_id, ExternalId.value.in_(ids)
            )
        )
        try:  # ensure_person checks its ids before writing anything
            person = ensure_person(
                session, network_id=network_id, external_ids=ids, display_name=contact.name, now=now
            )
        except Conflict:
            report.skipped += 1  # its ids name two different people: leave both alone
            continue
        if existing:
            report.people_seen += 1
        else:
            report.people_created += 1
        if contact.email and not person.email:
            person.email = contact.email
        if contact.company:
            person.company = contact.company
        if contact.position:
            person.position = contact.position
        if contact.how_known and (person.how_known is None or contact.source == "linkedin"):
            person.how_known = contact.how_known
        _profile(
            session, network_id=network_id, person=person, contact=contact, now=now, report=report
        )
    session.flush()
    return report


def _profile(
    session: Session,
    *,
    network_id: int,
    person: Person,
    contact: Contact,
    now: datetime,
    report: ImportReport,
) -> None:
    """The contact's role as profile evidence, kept current: a changed role replaces the text."""
    role = " at ".join(p for p in (contact.position, contact.company) if p)
    if not role:
        return
    key = f"contact:{contact.source}:{contact.key}"
    row = session.scalar(
        select(Evidence).where(Evidence.network_id == network_id, Evidence.source_key == key)
    )
    if row is not None:
        report.evidence_seen += 1
        if row.text != role:
            row.text, row.embedding, row.embedding_model = role, None, None
        return
    add_evidence(
        session,
        network_id=network_id,
        person_id=person.id,
        kind="profile",
        text=role,
        source=contact.source,
        source_key=key,
        created_at=now,
    )
    report.evidence_created += 1
