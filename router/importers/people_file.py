"""A people file (CSV or JSONL, chosen by extension) as people, their stated interests and profiles.

Fields: ``name`` (required), ``external_ids`` (``slack:U1;email:a@b.c`` in CSV, a list in JSONL),
``email``, ``timezone`` (an IANA name), ``interests`` (``;``-separated in CSV, a list in JSONL) and
``profile`` (free text). Each interest becomes ``interest`` evidence and the profile ``profile``
evidence. For the people it lists, the file is the truth: an interest dropped from the file is
dropped from the network; a field or column left out entirely leaves what is stored alone.

The whole file is checked before anything is written, so a bad line imports nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from router.errors import AskaroundError, ImportFormatError
from router.importers import ImportReport
from router.network.bulk import NewEvidence, add_evidence_rows
from router.network.people import EMAIL_PATTERN, EXTERNAL_ID_PATTERN, ensure_person
from router.network.profiles import EMAIL_SIZE, EXTERNAL_ID_SIZE
from router.progress import Progress, silent
from router.question_text import visible
from router.storage.schema import Evidence, ExternalId
from router.storage.text import unstorable_reason

SOURCE = "people-file"
FIELDS = ("name", "external_ids", "email", "timezone", "interests", "profile")
MAX_NAME = 200
MAX_INTEREST = 300
MAX_PROFILE = 4000
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class PersonRow:
    """One checked line of a people file; ``None`` means the field was not given at all."""

    line: int
    name: str
    external_ids: tuple[str, ...]
    email: str | None
    timezone: str | None
    interests: tuple[str, ...] | None
    profile: str | None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{field} must be a list of strings")
    return [item.strip() for item in value if item.strip()]


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    return value.strip()


def _check(line: int, fields: dict[str, Any], *, from_csv: bool) -> PersonRow:
    """A ``PersonRow`` from one record's fields, or ValueError saying what is wrong with it."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (expected {', '.join(FIELDS)})")
    for field, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            reason = unstorable_reason(item) if isinstance(item, str) else None
            if reason is not None:
                raise ValueError(f"{field} {reason}")
    name = _text(fields.get("name"), "name") or ""
    if not visible(name):
        raise ValueError("name is missing")
    if len(name) > MAX_NAME:
        raise ValueError(f"name is longer than {MAX_NAME} characters")
    raw_ids, raw_interests = fields.get("external_ids"), fields.get("interests")
    if from_csv:
        ids = _split(raw_ids or "")
        interests = None if raw_interests is None else _split(raw_interests)
    else:
        ids = [] if raw_ids is None else _strings(raw_ids, "external_ids")
        interests = None if raw_interests is None else _strings(raw_interests, "interests")
    for value in ids:
        if len(value) > EXTERNAL_ID_SIZE or not _EXTERNAL_ID.fullmatch(value):
            raise ValueError(f"external id {value!r} is not of the form kind:value (slack:U123)")
    email = _text(fields.get("email"), "email") or None
    if email is not None:
        if not _EMAIL.fullmatch(email) or len(email) > EMAIL_SIZE:
            raise ValueError(f"email {email!r} is not an address")
        if f"email:{email.lower()}" not in {value.lower() for value in ids}:
            ids.append(f"email:{email.lower()}")
    if not ids:
        raise ValueError("a person needs an external id or an email")
    timezone = _text(fields.get("timezone"), "timezone") or None
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {timezone!r} is not an IANA name (Europe/Paris)") from None
    for interest in interests or []:
        if len(interest) > MAX_INTEREST:
            raise ValueError(f"an interest is longer than {MAX_INTEREST} characters")
    profile = _text(fields.get("profile"), "profile")
    if profile is not None and len(profile) > MAX_PROFILE:
        raise ValueError(f"profile is longer than {MAX_PROFILE} characters")
    unique = list(dict.fromkeys(ids))
    distinct = None if interests is None else tuple(_distinct(interests))
    return PersonRow(line, name, tuple(unique), email, timezone, distinct, profile)


def _distinct(interests: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for interest in interests:
        seen.setdefault(interest.casefold(), interest)
    return list(seen.values())


def _records(path: Path) -> list[tuple[int, dict[str, Any], bool]]:
    """``(line, fields, from_csv)`` for each record of the file, by its extension."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ImportFormatError(str(path), None, "a people file is .csv or .jsonl")
    if not path.is_file():
        raise ImportFormatError(str(path), None, "file not found")
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ImportFormatError(str(path), line, "not UTF-8 text") from None
    if not content.strip():
        raise ImportFormatError(str(path), None, "the file is empty: no people to import")
    if "\x00" in content:
        line = content[: content.index("\x00")].count("\n") + 1
        raise ImportFormatError(str(path), line, "contains a NUL character")
    records: list[tuple[int, dict[str, Any], bool]] = []
    if suffix == ".csv":
        reader = csv.DictReader(content.splitlines(keepends=True), strict=True)
        start = 2
        try:
            columns = [name.strip() for name in reader.fieldnames or []]
            unknown = [name for name in columns if name not in FIELDS]
            if unknown:
                expected = ", ".join(FIELDS)
                raise ImportFormatError(
                    str(path), 1, f"unknown column {unknown[0]!r} (expected {expected})"
                )
            if columns and "name" not in columns:
                raise ImportFormatError(str(path), 1, "the header has no 'name' column")
            for row in reader:
                if None in row:
                    raise ImportFormatError(str(path), start, "more values than columns")
                if None in row.values():
                    raise ImportFormatError(str(path), start, "fewer values than columns")
                fields = {key.strip(): value or "" for key, value in row.items() if key}
                records.append((start, fields, True))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise ImportFormatError(str(path), reader.line_num, f"malformed CSV: {exc}") from None
        return records
    for number, text in enumerate(content.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(str(path), number, f"malformed JSON: {exc.msg}") from None
        if not isinstance(fields, dict):
            raise ImportFormatError(str(path), number, "each line must be a JSON object")
        records.append((number, fields, False))
    return records


def read_people_file(path: Path) -> list[PersonRow]:
    """Every person in the file, checked; the first bad line raises ``ImportFormatError``."""
    rows: list[PersonRow] = []
    line_of: dict[str, int] = {}
    records = _records(path)
    if not records:
        raise ImportFormatError(str(path), None, "no people in the file (only a header?)")
    for line, fields, from_csv in records:
        try:
            row = _check(line, fields, from_csv=from_csv)
        except ValueError as exc:
            raise ImportFormatError(str(path), line, str(exc)) from None
        for value in row.external_ids:
            if value.lower() in line_of:
                earlier = line_of[value.lower()]
                raise ImportFormatError(str(path), line, f"{value} is already on line {earlier}")
            line_of[value.lower()] = line
        rows.append(row)
    return rows


def _key(person_id: int, kind: str, text: str) -> str:
    digest = hashlib.sha256(text.casefold().encode()).hexdigest()[:20]
    return f"{SOURCE}:{person_id}:{kind}:{digest}"


def import_people_file(
    session: Session,
    *,
    network_id: int,
    path: Path,
    now: datetime,
    progress: Progress = silent,
) -> ImportReport:
    """Import the people of a CSV or JSONL file with their interests and profile, idempotently.

    People are matched one by one (a line may name someone by any of their ids); the evidence
    this file gave before is read in one query, and what changes is deleted and inserted in bulk.
    """
    rows = read_people_file(path)
    report = ImportReport()
    line_of_person: dict[int, int] = {}
    stored: dict[int, list[tuple[int, str | None, str]]] = {}  # person -> (id, key, kind)
    for evidence_id, person_id, key, kind in session.execute(
        select(Evidence.id, Evidence.person_id, Evidence.source_key, Evidence.kind).where(
            Evidence.network_id == network_id, Evidence.source == SOURCE
        )
    ):
        stored.setdefault(person_id, []).append((evidence_id, key, kind))
    gone: list[int] = []
    new: list[NewEvidence] = []
    for done, row in enumerate(rows, start=1):
        known = session.scalar(
            select(ExternalId.person_id).where(
                ExternalId.network_id == network_id, ExternalId.value.in_(row.external_ids)
            )
        )
        try:
            person = ensure_person(
                session,
                network_id=network_id,
                external_ids=row.external_ids,
                display_name=row.name,
                email=row.email,
                timezone=row.timezone,
                now=now,
            )
        except AskaroundError as exc:
            raise ImportFormatError(str(path), row.line, str(exc)) from None
        if person.id in line_of_person:
            earlier = line_of_person[person.id]
            raise ImportFormatError(str(path), row.line, f"same person as line {earlier}")
        line_of_person[person.id] = row.line
        report.people_created += known is None
        report.people_seen += known is not None
        report.evidence_seen += _sync_evidence(
            person.id, row=row, stored=stored.get(person.id, []), now=now, gone=gone, new=new
        )
        progress("importing people", done, len(rows))
    if gone:
        session.execute(
            delete(Evidence).where(Evidence.network_id == network_id, Evidence.id.in_(gone))
        )
    report.evidence_removed += len(gone)
    report.evidence_created += add_evidence_rows(session, network_id=network_id, rows=new)
    return report


def _sync_evidence(
    person_id: int,
    *,
    row: PersonRow,
    stored: list[tuple[int, str | None, str]],
    now: datetime,
    gone: list[int],
    new: list[NewEvidence],
) -> int:
    """What makes the person's interests (and profile) from this source exactly those of
    ``row``: stored rows to delete go to ``gone``, rows to add to ``new``; returns how many
    stored rows stay as they are."""
    seen = 0
    wanted: dict[str, tuple[str, str]] = {}
    kinds: set[str] = set()
    if row.interests is not None:
        kinds.add("interest")
        for interest in row.interests:
            wanted[_key(person_id, "interest", interest)] = ("interest", interest)
    if row.profile is not None:
        kinds.add("profile")
        if row.profile:
            wanted[_key(person_id, "profile", row.profile)] = ("profile", row.profile)
    for evidence_id, key, kind in stored:
        if key in wanted:
            seen += 1
            del wanted[key]
        elif kind in kinds:
            gone.append(evidence_id)
    for key, (kind, text) in wanted.items():
        new.append(
            NewEvidence(
                person_id=person_id,
                kind=kind,
                text=text,
                source=SOURCE,
                source_key=key,
                created_at=now,
            )
        )
    return seen
