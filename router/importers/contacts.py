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

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from router.errors import ImportFormatError
from router.importers import ImportReport
from router.network.bulk import NewEvidence, add_evidence_rows, chunks
from router.network.profiles import EMAIL_SIZE
from router.question_text import visible
from router.storage.schema import Evidence, ExternalId, Person
from router.storage.text import storable

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
    return text[:limit] if visible(text) else None  # zero-width only: as good as empty


def _email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if _EMAIL.fullmatch(text) and len(text) <= EMAIL_SIZE else None


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


def import_contacts(
    session: Session, *, network_id: int, contacts: list[Contact], now: datetime
) -> ImportReport:
    """Store ``contacts`` as people (merged with whoever shares an id or email); idempotent.

    In bulk, as ``ensure_person`` would one by one: every id, email and profile key is looked up
    in a few chunked queries, people and their new ids are written in one flush and the profile
    evidence in one insert, so a big address book holds the write lock for a moment."""
    for contact in contacts:
        storable(contact.name, what="a name")
        for value in contact.external_ids:
            storable(value, what="an external id")
    report = ImportReport()
    owner_of, by_email = _known_people(session, network_id=network_id, contacts=contacts)
    attached: list[tuple[Person, str]] = []
    created: list[Person] = []
    chosen: list[tuple[Contact, Person]] = []
    for contact in contacts:
        ids = [value.strip() for value in contact.external_ids if value.strip()]
        owners = {id(owner_of[v]): owner_of[v] for v in ids if v in owner_of}
        if contact.email and contact.email in by_email:
            owners.setdefault(id(by_email[contact.email]), by_email[contact.email])
        if len(owners) > 1:
            report.skipped += 1  # its ids name two different people: leave both alone
            continue
        if owners:
            person = next(iter(owners.values()))
            report.people_seen += 1
        else:
            person = Person(  # not in the session: inserted with the others below
                network_id=network_id,
                display_name=contact.name,
                created_at=now,
                timezone="UTC",
                opted_out=False,
                deactivated=False,
            )
            created.append(person)
            report.people_created += 1
        for value in ids:
            if value not in owner_of:
                owner_of[value] = person
                attached.append((person, value))
        person.display_name = contact.name
        if contact.email and not person.email:
            person.email = contact.email
        if person.email:
            by_email.setdefault(person.email.lower(), person)
        if contact.company:
            person.company = contact.company
        if contact.position:
            person.position = contact.position
        if contact.how_known and (person.how_known is None or contact.source == "linkedin"):
            person.how_known = contact.how_known
        chosen.append((contact, person))
    _insert_people(session, created)
    if attached:
        session.execute(
            insert(ExternalId),
            [
                {"network_id": network_id, "person_id": person.id, "value": value}
                for person, value in attached
            ],
        )
    _profiles(session, network_id=network_id, chosen=chosen, now=now, report=report)
    session.flush()
    return report


def _insert_people(session: Session, created: list[Person]) -> None:
    """Insert the new people in one statement and give each its id."""
    if not created:
        return
    columns = (
        *("network_id", "display_name", "created_at", "timezone", "opted_out", "deactivated"),
        *("email", "company", "position", "how_known"),
    )
    ids = session.scalars(
        insert(Person).returning(Person.id, sort_by_parameter_order=True),
        [{name: getattr(person, name) for name in columns} for person in created],
    ).all()
    for person, person_id in zip(created, ids, strict=True):
        person.id = person_id


def _known_people(
    session: Session, *, network_id: int, contacts: list[Contact]
) -> tuple[dict[str, Person], dict[str, Person]]:
    """The stored people the contacts' ids name (by id value) and whose email they carry."""
    values = list(dict.fromkeys(v.strip() for c in contacts for v in c.external_ids if v.strip()))
    emails = list(dict.fromkeys(c.email for c in contacts if c.email))
    owner_ids: dict[str, int] = {}
    for part in chunks(values):
        owner_ids.update(
            session.execute(
                select(ExternalId.value, ExternalId.person_id).where(
                    ExternalId.network_id == network_id, ExternalId.value.in_(part)
                )
            )
            .tuples()
            .all()
        )
    email_ids: dict[str, int] = {}
    for part in chunks(emails):
        for email, person_id in session.execute(
            select(func.lower(Person.email), Person.id)
            .where(
                Person.network_id == network_id,
                func.lower(Person.email).in_(part),
                Person.erased_at.is_(None),
            )
            .order_by(Person.id.desc())
        ).tuples():
            email_ids[email] = person_id  # the lowest id wins, as the first match did
    people: dict[int, Person] = {}
    wanted = sorted(set(owner_ids.values()) | set(email_ids.values()))
    for some in chunks(wanted):
        people.update((p.id, p) for p in session.scalars(select(Person).where(Person.id.in_(some))))
    return (
        {value: people[person_id] for value, person_id in owner_ids.items()},
        {email: people[person_id] for email, person_id in email_ids.items()},
    )


def _profiles(
    session: Session,
    *,
    network_id: int,
    chosen: list[tuple[Contact, Person]],
    now: datetime,
    report: ImportReport,
) -> None:
    """Each contact's role as profile evidence, kept current: a changed role replaces the text."""
    roles = {}
    for contact, person in chosen:
        role = " at ".join(p for p in (contact.position, contact.company) if p)
        if role:
            roles[f"contact:{contact.source}:{contact.key}"] = (contact, person, role)
    stored: dict[str, Evidence] = {}
    for part in chunks(list(roles)):
        stored.update(
            (row.source_key or "", row)
            for row in session.scalars(
                select(Evidence).where(
                    Evidence.network_id == network_id, Evidence.source_key.in_(part)
                )
            )
        )
    fresh = []
    for key, (contact, person, role) in roles.items():
        row = stored.get(key)
        if row is not None:
            report.evidence_seen += 1
            if row.text != role:
                row.text, row.embedding, row.embedding_model = role, None, None
            continue
        fresh.append(
            NewEvidence(
                person_id=person.id,
                kind="profile",
                text=role,
                source=contact.source,
                source_key=key,
                created_at=now,
            )
        )
    report.evidence_created += add_evidence_rows(session, network_id=network_id, rows=fresh)
