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

import html
import json
import re
import stat
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots import workspace
from router import ledger, people
from router.errors import ImportFormatError
from router.progress import Progress, silent
from router.schema import Evidence

SOURCE = "slack"
KEY_PREFIX = "slack-export"
MAX_EVIDENCE_CHARS = 8000
MIN_ANSWER_WORDS = 3
MiB = 1024 * 1024

_QUESTION_START = re.compile(
    r"^(how|what|why|where|when|which|who|whom|whose|is|are|am|was|were|does|do|did|can|could|"
    r"should|would|will|shall|may|might|has|have|had|any|anyone|anybody|someone|somebody)\b",
    re.IGNORECASE,
)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(\w+)(?:\^[^>|]*)?(?:\|([^>]*))?>")
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may hold before it is refused as absurd (or a zip bomb)."""

    max_entries: int = 200_000
    max_file_bytes: int = 256 * MiB
    max_total_bytes: int = 2048 * MiB
    max_ratio: int = 200  # uncompressed / compressed, for members above 1 MiB


@dataclass(frozen=True)
class Message:
    channel_id: str
    ts: str
    thread_ts: str | None
    user: str
    text: str


@dataclass
class Export:
    """An export read and checked, before anything touches the database."""

    team_id: str | None
    users: list[dict[str, Any]]
    channels: dict[str, str]  # id -> name
    messages: list[Message]
    files: int = 0
    skipped_bots: int = 0
    skipped_system: int = 0
    skipped_folders: list[str] = field(default_factory=list)


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


# --- reading the archive (no database) -----------------------------------------------------


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why this member must not be trusted, or None."""
    name = info.filename
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return "an absolute or Windows-style path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "a path that climbs out of the archive (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "an encrypted member"
    return None


def _check_archive(archive: zipfile.ZipFile, source: str, limits: ArchiveLimits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ImportFormatError(
            source, None, f"more than {limits.max_entries} files in the archive"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        reason = _unsafe(info)
        if reason is not None:
            raise ImportFormatError(source, None, f"unsafe archive: {info.filename!r} is {reason}")
        if info.filename in seen:
            raise ImportFormatError(
                source, None, f"unsafe archive: {info.filename!r} appears twice"
            )
        seen.add(info.filename)
        if info.file_size > limits.max_file_bytes:
            raise ImportFormatError(
                source,
                None,
                f"{info.filename!r} is {info.file_size // MiB} MiB; the limit is "
                f"{limits.max_file_bytes // MiB} MiB",
            )
        if info.file_size > MiB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ImportFormatError(
                source,
                None,
                f"{info.filename!r} expands more than {limits.max_ratio}x (a zip bomb?)",
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ImportFormatError(
                source, None, f"the archive expands beyond {limits.max_total_bytes // MiB} MiB"
            )


def _read_json(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Any:
    where = f"{source}:{info.filename}"
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise ImportFormatError(where, None, f"cannot be read: {exc}") from exc
    if len(data) > info.file_size:
        raise ImportFormatError(where, None, "is larger than the archive says (tampered?)")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(where, None, "is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ImportFormatError(where, exc.lineno, f"invalid JSON: {exc.msg}") from exc


def _list_of_dicts(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ImportFormatError(where, None, "should be a JSON list of objects")
    return value


def read_export(
    path: Path, *, limits: ArchiveLimits | None = None, progress: Progress = silent
) -> Export:
    """Read and check a Slack export zip; ImportFormatError says what is wrong and where."""
    limits = limits or ArchiveLimits()
    source = path.name
    if not path.is_file():
        raise ImportFormatError(source, None, "no such file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(source, None, f"not a zip archive: {exc}") from exc
    with archive:
        _check_archive(archive, source, limits)
        infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        root = _common_root(list(infos))
        named = {name[len(root) :]: info for name, info in infos.items()}
        if "users.json" not in named:
            raise ImportFormatError(source, None, "no users.json: is this a Slack export?")
        if "channels.json" not in named:
            raise ImportFormatError(source, None, "no channels.json: is this a Slack export?")
        users = _list_of_dicts(
            _read_json(archive, named["users.json"], source), f"{source}:users.json"
        )
        channels: dict[str, str] = {}
        for listing in ("channels.json", "groups.json"):
            if listing in named:
                where = f"{source}:{listing}"
                for channel in _list_of_dicts(_read_json(archive, named[listing], source), where):
                    if not isinstance(channel.get("id"), str) or not isinstance(
                        channel.get("name"), str
                    ):
                        raise ImportFormatError(where, None, "a channel without an id or a name")
                    channels[channel["id"]] = channel["name"]
        by_name = {name: channel_id for channel_id, name in channels.items()}
        export = Export(team_id=_team_id(users), users=users, channels=channels, messages=[])
        day_files = sorted(
            (name, info)
            for name, info in named.items()
            if "/" in name and _DAY_FILE.match(name.rsplit("/", 1)[1])
        )
        skipped: set[str] = set()
        for done, (name, info) in enumerate(day_files, start=1):
            folder = name.rsplit("/", 1)[0]
            channel_id = by_name.get(folder)
            if channel_id is None:
                skipped.add(folder)  # direct messages or folders the listings do not name
                continue
            where = f"{source}:{name}"
            for raw in _list_of_dicts(_read_json(archive, info, source), where):
                _add_message(export, channel_id, raw, where)
            export.files += 1
            progress("reading export", done, len(day_files))
        export.skipped_folders = sorted(skipped)
    return export


def _common_root(names: list[str]) -> str:
    """Exports are sometimes zipped inside one top folder; strip it."""
    if any(name in ("users.json", "channels.json") for name in names):
        return ""
    for name in names:
        if name.endswith("/users.json") and name.count("/") == 1:
            return name.rsplit("/", 1)[0] + "/"
    return ""


def _team_id(users: list[dict[str, Any]]) -> str | None:
    for user in users:
        team = user.get("team_id") or user.get("team")
        if isinstance(team, str) and team:
            return team
    return None


def _add_message(export: Export, channel_id: str, raw: dict[str, Any], where: str) -> None:
    ts = raw.get("ts")
    if not isinstance(ts, str) or not _valid_ts(ts):
        raise ImportFormatError(where, None, f"a message without a valid ts: {str(ts)[:40]!r}")
    subtype = raw.get("subtype")
    if raw.get("bot_id") or subtype in ("bot_message",):
        export.skipped_bots += 1
        return
    if subtype not in (None, "thread_broadcast"):
        export.skipped_system += 1  # joins, topic changes, pins, deletions...
        return
    user = raw.get("user")
    text = raw.get("text")
    if not isinstance(user, str) or not user or not isinstance(text, str):
        export.skipped_system += 1
        return
    thread_ts = raw.get("thread_ts")
    if thread_ts is not None and (not isinstance(thread_ts, str) or not _valid_ts(thread_ts)):
        raise ImportFormatError(where, None, f"a message with an invalid thread_ts: {thread_ts!r}")
    export.messages.append(Message(channel_id, ts, thread_ts, user, text))


def _valid_ts(ts: str) -> bool:
    try:
        return 0 < float(ts) < 10_000_000_000
    except ValueError:
        return False


# --- what a thread means -------------------------------------------------------------------


def looks_like_question(text: str) -> bool:
    """A thread starter that asks something: a question mark, or a question word first."""
    text = text.strip()
    if len(text) < 8:
        return False
    return "?" in text or bool(_QUESTION_START.match(text))


def plain_text(text: str, names: dict[str, str]) -> str:
    """Slack's markup as people read it: mentions as @names, links as their labels."""
    text = _MENTION.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(2) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    return html.unescape(text).strip()


def _when(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


# --- writing (the caller's transaction) ----------------------------------------------------


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
        at = _when(said[0].ts)
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
