"""``askaround import slack-export``: answered questions in public channels become evidence, ties
and historical favours; unsafe or malformed archives are refused and nothing is stored."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from askaround.cli.app import app
from askaround.cli.registry import build_cli
from bots import slack_export
from bots.slack_export import ArchiveLimits, import_slack_export, looks_like_question, plain_text
from router.errors import ImportFormatError
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, Favour, Network, Person, Tie
from tests.slack_world import member

T0 = 1_730_000_000  # Oct 2024


def ts(offset: int) -> str:
    return f"{T0 + offset}.000100"


USERS = [
    member("UANA", "Ana"),
    member("UBO", "Bo"),
    member("UCY", "Cy", deleted=True),
    {"id": "UBOT", "name": "deploybot", "is_bot": True, "team_id": "T0FAKE"},
]
CHANNELS = [{"id": "C1", "name": "brewing"}, {"id": "C2", "name": "random"}]
BREWING_DAY1 = [
    {
        "type": "message",
        "user": "UANA",
        "text": "Which hops for a hazy IPA?",
        "ts": ts(0),
        "thread_ts": ts(0),
    },
    {
        "type": "message",
        "user": "UBO",
        "text": "Citra and Mosaic, <@UANA>, dry hopped late.",
        "ts": ts(60),
        "thread_ts": ts(0),
    },
    {"type": "message", "user": "UANA", "text": "thanks!", "ts": ts(90), "thread_ts": ts(0)},
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "UCY",
        "text": "<@UCY> has joined",
        "ts": ts(100),
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B1",
        "text": "Deployed v2",
        "ts": ts(110),
    },
    {
        "type": "message",
        "user": "UBO",
        "text": "Brew day on Saturday",
        "ts": ts(200),
        "thread_ts": ts(200),
    },
    {
        "type": "message",
        "user": "UANA",
        "text": "I will bring the grain mill along then",
        "ts": ts(260),
        "thread_ts": ts(200),
    },
]
BREWING_DAY2 = [  # a late reply in yesterday's thread, from a deactivated member
    {
        "type": "message",
        "user": "UCY",
        "text": "Galaxy works too, whirlpool at 80C first.",
        "ts": ts(86_400),
        "thread_ts": ts(0),
    },
    {
        "type": "message",
        "user": "UBO",
        "bot_id": "B2",
        "text": "automated reply from a bot user",
        "ts": ts(86_500),
        "thread_ts": ts(0),
    },
]


def make_export(
    path: Path, files: dict[str, Any] | None = None, *, raw: dict[str, bytes] | None = None
) -> Path:
    content: dict[str, Any] = {
        "users.json": USERS,
        "channels.json": CHANNELS,
        "brewing/2024-10-27.json": BREWING_DAY1,
        "brewing/2024-10-28.json": BREWING_DAY2,
    }
    content.update(files or {})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in content.items():
            if value is not None:
                archive.writestr(name, json.dumps(value))
        for name, data in (raw or {}).items():
            archive.writestr(name, data)
    return path


def _import(
    database: Database, path: Path, now: datetime, **kwargs: Any
) -> slack_export.ExportReport:
    with database.transaction() as session:
        network = session.scalar(select(Network).where(Network.name == "brewers"))
        if network is None:
            network = Network(name="brewers", created_at=now)
            session.add(network)
            session.flush()
        return import_slack_export(session, path=path, network_id=network.id, now=now, **kwargs)


def _counts(database: Database) -> tuple[int, int, int, int]:
    with database.transaction() as session:
        return (
            int(session.scalar(select(func.count(Person.id))) or 0),
            int(session.scalar(select(func.count(Evidence.id))) or 0),
            int(session.scalar(select(func.sum(Tie.count))) or 0),
            int(session.scalar(select(func.count(Favour.id))) or 0),
        )


def test_answered_questions_become_evidence_ties_and_favours(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    report = _import(database, make_export(tmp_path / "export.zip"), now)
    assert (report.questions, report.answers, report.ties, report.favours) == (1, 2, 2, 2)
    assert (report.skipped_bots, report.skipped_system) == (2, 1)
    with database.transaction() as session:
        rows = session.execute(
            select(Person.display_name, Evidence.kind, Evidence.text, Evidence.context)
            .join(Person, Person.id == Evidence.person_id)
            .order_by(Evidence.id)
        ).all()
        favours = session.execute(select(Favour.kind, Favour.giver_id, Favour.taker_id)).all()
        people = {p.display_name: p for p in session.scalars(select(Person))}
    assert [(name, kind, ctx) for name, kind, _, ctx in rows] == [
        ("Bo", "answer", "Which hops for a hazy IPA?"),
        ("Cy", "answer", "Which hops for a hazy IPA?"),
    ]
    assert rows[0][2] == "Citra and Mosaic, @Ana, dry hopped late."  # mentions read as names
    assert {(k, g, t) for k, g, t in favours} == {
        ("history", people["Bo"].id, people["Ana"].id),
        ("history", people["Cy"].id, people["Ana"].id),
    }
    assert people["Cy"].deactivated and not people["Bo"].deactivated
    assert "deploybot" not in people


def test_importing_the_same_export_twice_adds_nothing(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    path = make_export(tmp_path / "export.zip")
    _import(database, path, now)
    before = _counts(database)
    again = _import(database, path, now)
    assert _counts(database) == before
    assert (again.answers, again.already_known, again.people) == (0, 2, 0)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.json", "/abs/users.json", "brewing/../../x.json", "C:\\evil.json"]
)
def test_an_archive_with_a_path_that_escapes_is_refused_and_nothing_is_stored(
    database: Database, tmp_path: Path, now: datetime, name: str
) -> None:
    path = make_export(tmp_path / "evil.zip", raw={name: b"[]"})
    with pytest.raises(ImportFormatError, match="unsafe archive"):
        _import(database, path, now)
    assert _counts(database) == (0, 0, 0, 0)


def test_a_zip_bomb_is_refused(database: Database, tmp_path: Path, now: datetime) -> None:
    path = make_export(
        tmp_path / "bomb.zip",
        raw={"random/2024-10-27.json": b"[" + b" " * (20 * 1024 * 1024) + b"]"},
    )
    with pytest.raises(ImportFormatError, match="zip bomb"):
        _import(database, path, now)
    assert _counts(database) == (0, 0, 0, 0)


def test_an_absurdly_large_archive_is_refused(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    path = make_export(tmp_path / "big.zip")
    with pytest.raises(ImportFormatError, match="expands beyond"):
        _import(database, path, now, limits=ArchiveLimits(max_total_bytes=1024))


def test_a_symlink_in_the_archive_is_refused(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    path = make_export(tmp_path / "link.zip")
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("brewing/2024-10-29.json")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ImportFormatError, match="symbolic link"):
        _import(database, path, now)


def test_a_malformed_day_file_names_the_file_and_stores_nothing(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    path = make_export(
        tmp_path / "bad.zip", raw={"brewing/2024-10-29.json": b'[{"ts": "1", "user":'}
    )
    with pytest.raises(ImportFormatError, match=r"brewing/2024-10-29.json.*invalid JSON"):
        _import(database, path, now)
    assert _counts(database) == (0, 0, 0, 0)


@pytest.mark.parametrize("missing", ["users.json", "channels.json"])
def test_an_archive_without_its_listings_is_not_a_slack_export(
    database: Database, tmp_path: Path, now: datetime, missing: str
) -> None:
    path = make_export(tmp_path / "partial.zip", {missing: None})
    with pytest.raises(ImportFormatError, match="is this a Slack export"):
        _import(database, path, now)


def test_not_a_zip_is_refused(database: Database, tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "notes.zip"
    path.write_text("hello")
    with pytest.raises(ImportFormatError, match="not a zip archive"):
        _import(database, path, now)


def test_progress_is_reported_while_reading_and_importing(
    database: Database, tmp_path: Path, now: datetime
) -> None:
    seen: list[tuple[str, int, int]] = []
    _import(
        database,
        make_export(tmp_path / "export.zip"),
        now,
        progress=lambda s, d, t: seen.append((s, d, t)),
    )
    assert ("reading export", 2, 2) in seen and ("importing threads", 2, 2) in seen


def test_question_like_thread_starters() -> None:
    assert looks_like_question("Which hops for a hazy IPA?")
    assert looks_like_question("anyone know a good grain mill")
    assert not looks_like_question("Brew day on Saturday")
    assert not looks_like_question("ok?")
    assert (
        plain_text("see <https://x.org|the docs> &amp; <#C1|brewing>", {})
        == "see the docs & #brewing"
    )


def test_the_cli_imports_into_the_workspace_network_and_reports(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
        "ASKAROUND_DATA_DIR": str(settings.data_dir),
        "ASKAROUND_MODEL_NAME": "hashing-test",
    }.items():
        monkeypatch.setenv(key, value)
    build_cli()
    path = make_export(tmp_path / "export.zip")
    result = CliRunner().invoke(app, ["import", "slack-export", str(path)])
    assert result.exit_code == 0, result.output
    assert "network 'slack-T0FAKE'" in result.output and "2 answers" in result.output
    assert "2 embedded" in result.output


def test_the_cli_refuses_a_bad_archive_in_one_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    build_cli()
    path = make_export(tmp_path / "evil.zip", raw={"../x.json": b"[]"})
    from askaround.cli import main

    with pytest.raises(SystemExit) as exited:
        monkeypatch.setattr("sys.argv", ["askaround", "import", "slack-export", str(path)])
        main()
    assert exited.value.code == 2
