"""Learning from a Slack workspace export: who answered whose questions, in public channels.

An export is a zip of ``users.json``, ``channels.json`` (and ``groups.json`` for private
channels when the export has them) and one folder per channel holding a JSON list of messages
per day. Threads hang together by ``thread_ts``. A thread whose starter looks like a question,
answered by other people, gives each answerer:

- evidence (kind ``answer``; the text is what they replied, the context is the question),
- a tie (they helped the asker), and
- a historical favour from them to the asker (kind ``history``).

Bot and system messages (``bot_id``, a ``subtype`` other than ``thread_broadcast``) are skipped.
Each answerer-in-a-thread has a source key, so importing the same export twice adds nothing.

The archive is read and checked in full before anything is written: an unsafe archive (absolute
or ``..`` paths, symlinks, encrypted members, absurd sizes or compression ratios) or a malformed
file raises ``ImportFormatError`` and nothing is stored. Nothing is extracted to disk.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots import workspace
from bots.slack_archive import (
    KEY_PREFIX,
    MAX_EVIDENCE_CHARS,
    MIN_ANSWER_WORDS,
    SOURCE,
    ArchiveLimits,
    Export,
    Message,
    looks_like_question,
    plain_text,
    read_export,
    when,
)
from router.errors import ImportFormatError
from router.ledger import favours as ledger
from router.network import people
from router.progress import Progress, silent
from router.storage.schema import Evidence


@dataclass
class ExportReport:
    """What an import did; counts of things created now, not of things already known."""

    people: int = 0
    deactivated: int = 0
    channels: int = 0
    files: int = 0
    messages: int = 0
    skipped_bots: int = 0
    skipped_system: int = 0
    threads: int = 0
    questions: int = 0
    answers: int = 0
    already_known: int = 0
    ties: int = 0
    favours: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def import_export(
    session: Session,
    *,
    export: Export,
    network_id: int,
    now: datetime,
    progress: Progress = silent,
) -> ExportReport:
    """Store people, answer evidence, ties and historical favours from a checked export."""
    report = ExportReport(
        channels=len(export.channels),
        files=export.files,
        messages=len(export.messages),
        skipped_bots=export.skipped_bots,
        skipped_system=export.skipped_system,
    )
    person_ids, names = _import_people(
        session, export=export, network_id=network_id, now=now, report=report
    )
    threads: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for message in export.messages:
        if message.thread_ts:
            threads[(message.channel_id, message.thread_ts)].append(message)
    report.threads = len(threads)
    known = set(
        session.scalars(
            select(Evidence.source_key).where(
                Evidence.network_id == network_id, Evidence.source == SOURCE
            )
        )
    )
    for done, ((channel_id, thread_ts), messages) in enumerate(sorted(threads.items()), start=1):
        starter = next((m for m in messages if m.ts == thread_ts), None)
        if starter is not None:
            question = plain_text(starter.text, names)
            if looks_like_question(question):
                report.questions += 1
                _import_thread(
                    session,
                    network_id=network_id,
                    channel_id=channel_id,
                    starter=starter,
                    question=question,
                    replies=[m for m in messages if m.ts != thread_ts],
                    person_ids=person_ids,
                    names=names,
                    known=known,
                    now=now,
                    report=report,
                )
        progress("importing threads", done, len(threads))
    return report


def _import_people(
    session: Session, *, export: Export, network_id: int, now: datetime, report: ExportReport
) -> tuple[dict[str, int], dict[str, str]]:
    person_ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for user in export.users:
        user_id = user.get("id")
        if not isinstance(user_id, str) or not user_id:
            raise ImportFormatError("users.json", None, "a member without an id")
        names[user_id] = workspace.display_name(user)
        if not workspace.is_human(user):
            continue
        existed = people.find_person(
            session, network_id=network_id, external_id=workspace.slack_external_id(user_id)
        )
        person = workspace.apply_member(session, network_id=network_id, user=user, now=now)
        person_ids[user_id] = person.id
        report.people += existed is None
        report.deactivated += bool(person.deactivated)
    return person_ids, names


def _person(
    session: Session,
    *,
    network_id: int,
    user_id: str,
    person_ids: dict[str, int],
    names: dict[str, str],
    now: datetime,
) -> int:
    """A message author missing from users.json (a guest, a shared channel) still gets a person."""
    if user_id not in person_ids:
        person = workspace.member_person(
            session,
            network_id=network_id,
            user_id=user_id,
            now=now,
            display_name=names.get(user_id),
        )
        person_ids[user_id] = person.id
    return person_ids[user_id]


def _import_thread(
    session: Session,
    *,
    network_id: int,
    channel_id: str,
    starter: Message,
    question: str,
    replies: list[Message],
    person_ids: dict[str, int],
    names: dict[str, str],
    known: set[str | None],
    now: datetime,
    report: ExportReport,
) -> None:
    by_answerer: dict[str, list[Message]] = defaultdict(list)
    for reply in sorted(replies, key=lambda m: float(m.ts)):
        if reply.user != starter.user:
            by_answerer[reply.user].append(reply)
    if not by_answerer:
        return
    asker_id = _person(
        session,
        network_id=network_id,
        user_id=starter.user,
        person_ids=person_ids,
        names=names,
        now=now,
    )
    for user_id, said in sorted(by_answerer.items()):
        text = "\n".join(plain_text(m.text, names) for m in said).strip()
        if len(text.split()) < MIN_ANSWER_WORDS:
            continue  # "+1", "thanks!", an emoji: not an answer
        key = f"{KEY_PREFIX}:{channel_id}:{starter.ts}:{user_id}"
        if key in known:
            report.already_known += 1
            continue
        answerer_id = _person(
            session,
            network_id=network_id,
            user_id=user_id,
            person_ids=person_ids,
            names=names,
            now=now,
        )
        if answerer_id == asker_id:
            continue
        at = when(said[0].ts)
        people.add_evidence(
            session,
            network_id=network_id,
            person_id=answerer_id,
            kind="answer",
            text=text[:MAX_EVIDENCE_CHARS],
            context=question[:MAX_EVIDENCE_CHARS],
            source=SOURCE,
            source_key=key,
            created_at=at,
        )
        known.add(key)
        report.answers += 1
        people.record_tie(
            session, network_id=network_id, helper_id=answerer_id, helped_id=asker_id, at=at
        )
        report.ties += 1
        ledger.record_favour(
            session,
            network_id=network_id,
            giver_id=answerer_id,
            taker_id=asker_id,
            kind="history",
            source_key=key,
            now=at,
        )
        report.favours += 1


def import_slack_export(
    session: Session,
    *,
    path: Path,
    network_id: int,
    now: datetime,
    progress: Progress = silent,
    limits: ArchiveLimits | None = None,
) -> ExportReport:
    """Read, check, then import a Slack export into a network, in the caller's transaction."""
    export = read_export(path, limits=limits, progress=progress)
    return import_export(session, export=export, network_id=network_id, now=now, progress=progress)


def export_network(session: Session, *, export: Export, name: str | None, now: datetime) -> int:
    """The network an export goes into: the one named, else the workspace's own (tied by team id)."""
    if name is not None:
        network = people.ensure_network(session, name=name, now=now)
        if export.team_id:
            workspace.claim_network(session, network=network, team_id=export.team_id)
        return network.id
    if not export.team_id:
        raise ImportFormatError("users.json", None, "no team id in the export: name a network")
    return workspace.team_network(session, team_id=export.team_id, now=now).id


__all__ = [
    "ArchiveLimits",
    "Export",
    "ExportReport",
    "Message",
    "export_network",
    "import_export",
    "import_slack_export",
    "looks_like_question",
    "plain_text",
    "read_export",
]
