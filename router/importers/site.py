"""A Q&A site read and checked, ready to write: who took part, their answers, and writing them.

Reading a dump (``router.importers.stackexchange``) needs no database, so it runs before the
caller's transaction; ``write_site`` then only looks up what the network already holds and writes
in a few bulk statements, so a big import holds the database's write lock for seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.importers import ImportReport
from router.network.bulk import NewEvidence, add_evidence_rows, ensure_people, record_ties
from router.progress import Progress, silent
from router.storage.schema import Evidence, ExternalId

WRITE_CHUNK = 2000  # evidence rows per bulk insert (one progress step)


@dataclass(frozen=True)
class SiteAnswer:
    """An answer worth keeping: its author, words, the question it answered, and who asked."""

    post_id: int
    owner: int
    created_at: datetime
    text: str
    context: str
    asker: int | None  # a real account other than the owner, else None


@dataclass(frozen=True)
class SiteProfile:
    text: str
    created_at: datetime


@dataclass
class Site:
    """Posts in file order: a question as its owner's user id, an answer as a ``SiteAnswer``."""

    source: str
    prefix: str  # external ids are ``<prefix><user id>``, keys ``<prefix>answer:<post id>``
    site_url: str | None
    names: dict[int, str] = field(default_factory=dict)  # user id -> display name
    posts: list[int | SiteAnswer] = field(default_factory=list)
    profiles: dict[int, SiteProfile] = field(default_factory=dict)
    skipped: int = 0  # orphan answers and answers with no words


def write_site(
    session: Session,
    *,
    network_id: int,
    site: Site,
    now: datetime,
    profiles: bool = False,
    progress: Progress = silent,
) -> ImportReport:
    """Write the site's people, answers (as evidence) and ties into the caller's transaction;
    what the network already holds (by external id and evidence key) is counted, not written."""
    report = ImportReport(skipped=site.skipped)
    known = _known_values(session, network_id=network_id, prefix=site.prefix)
    names: dict[str, str] = {}  # external id -> name, in the order people are first needed

    def need(user_id: int) -> str:
        external_id = f"{site.prefix}{user_id}"
        if external_id not in names:
            names[external_id] = site.names.get(user_id) or f"user {user_id}"
        return external_id

    fresh: list[tuple[str, SiteAnswer, str | None]] = []  # author, answer, asker
    for post in site.posts:
        if isinstance(post, int):
            need(post)
            continue
        author = need(post.owner)
        if f"{site.prefix}answer:{post.post_id}" in known:
            report.evidence_seen += 1
            report.ties_seen += int(post.asker is not None)
            continue
        fresh.append((author, post, need(post.asker) if post.asker is not None else None))

    person_of = ensure_people(session, network_id=network_id, names=names, now=now)
    report.people_seen += sum(1 for external_id in names if external_id in known)
    report.people_created += sum(1 for external_id in names if external_id not in known)
    for start in range(0, len(fresh), WRITE_CHUNK):
        part = fresh[start : start + WRITE_CHUNK]
        report.evidence_created += add_evidence_rows(
            session,
            network_id=network_id,
            rows=[
                NewEvidence(
                    person_id=person_of[author],
                    kind="answer",
                    text=answer.text,
                    context=answer.context,
                    source=site.source,
                    source_key=f"{site.prefix}answer:{answer.post_id}",
                    link=f"{site.site_url}/a/{answer.post_id}" if site.site_url else None,
                    created_at=answer.created_at,
                )
                for author, answer, _ in part
            ],
        )
        progress("writing", start + len(part), len(fresh))
    report.ties_added += record_ties(
        session,
        network_id=network_id,
        helped=[
            (person_of[author], person_of[asker], answer.created_at)
            for author, answer, asker in fresh
            if asker is not None
        ],
    )
    if profiles:
        _write_profiles(
            session, network_id=network_id, site=site, people=person_of, known=known, report=report
        )
    return report


def _write_profiles(
    session: Session,
    *,
    network_id: int,
    site: Site,
    people: dict[str, int],
    known: set[str],
    report: ImportReport,
) -> None:
    """Each imported person's "about me" as profile evidence."""
    rows: list[NewEvidence] = []
    for external_id, person_id in people.items():
        profile = site.profiles.get(int(external_id[len(site.prefix) :]))
        if profile is None:
            continue
        key = f"{site.prefix}profile:{external_id[len(site.prefix) :]}"
        if key in known:
            report.evidence_seen += 1
            continue
        rows.append(
            NewEvidence(
                person_id=person_id,
                kind="profile",
                text=profile.text,
                source=site.source,
                source_key=key,
                created_at=profile.created_at,
            )
        )
    report.evidence_created += add_evidence_rows(session, network_id=network_id, rows=rows)


def _known_values(session: Session, *, network_id: int, prefix: str) -> set[str]:
    """External ids and evidence keys starting with ``prefix`` already in the network."""
    ids = session.scalars(
        select(ExternalId.value).where(
            ExternalId.network_id == network_id, ExternalId.value.startswith(prefix)
        )
    )
    keys = session.scalars(
        select(Evidence.source_key).where(
            Evidence.network_id == network_id, Evidence.source_key.startswith(prefix)
        )
    )
    return {value for value in ids} | {key for key in keys if key is not None}
