"""Reading a Slack workspace export safely: the archive checked in full, nothing extracted.

An export is a zip of ``users.json``, ``channels.json`` (and ``groups.json`` for private
channels when the export has them) and one folder per channel holding a JSON list of messages
per day. An unsafe archive (absolute or ``..`` paths, symlinks, encrypted members, absurd sizes or
compression ratios) or a malformed file raises ``ImportFormatError``. No database here.
"""

from __future__ import annotations

import html
import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from router.errors import ImportFormatError
from router.progress import Progress, silent

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


def when(ts: str) -> datetime:
    """A Slack timestamp ("1700000000.000100") as an aware UTC datetime."""
    return datetime.fromtimestamp(float(ts), tz=UTC)


# --- writing (the caller's transaction) ----------------------------------------------------
