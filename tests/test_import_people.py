"""Importing a people file: people with their ids, stated interests and profile, from CSV or JSONL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from router.errors import ImportFormatError
from router.importers import ImportReport
from router.importers.people_file import import_people_file
from router.network.people import ensure_network, ensure_person, find_person
from router.progress import Progress, silent
from router.storage.database import Database
from router.storage.schema import Evidence, ExternalId, Person

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "name,external_ids,email,timezone,interests,profile\n"


def _import(
    database: Database, now: datetime, path: Path, progress: Progress = silent
) -> ImportReport:
    with database.transaction() as session:
        network = ensure_network(session, name="team", now=now)
        return import_people_file(
            session, network_id=network.id, path=path, now=now, progress=progress
        )


def _people(database: Database) -> dict[str, tuple[str, str | None, str, set[str], set[str]]]:
    """name -> (timezone, email, ids, interests, profiles) as stored."""
    with database.transaction() as session:
        result = {}
        for person in session.scalars(select(Person)):
            evidence = session.scalars(
                select(Evidence).where(Evidence.person_id == person.id)
            ).all()
            result[person.display_name] = (
                person.timezone,
                person.email,
                ";".join(sorted(row.value for row in person.external_ids)),
                {row.text for row in evidence if row.kind == "interest"},
                {row.text for row in evidence if row.kind == "profile"},
            )
        return result


def _evidence_count(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count(Evidence.id))) or 0


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_people_csv_brings_people_with_ids_interests_and_profile(
    database: Database, now: datetime
) -> None:
    report = _import(database, now, FIXTURES / "people.csv")
    people = _people(database)
    assert people["Ada Lovelace"] == (
        "Europe/London",
        "ada@example.com",
        "email:ada@example.com;slack:U001",
        {"analytical engines", "Bernoulli numbers"},
        {"Writes programs for machines that do not exist yet; happy to review notes."},
    )
    assert people["Grace Hopper"][2:4] == (
        "github:ghopper;slack:U002",
        {"compilers", "COBOL", "nanoseconds"},
    )
    assert people["Alan Turing"][0] == "UTC"
    assert (report.people_created, report.evidence_created) == (3, 7)


def test_people_jsonl_gives_the_same_people_as_the_csv(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    _import(database, now, FIXTURES / "people.csv")
    from_csv = _people(database)
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other.migrate()
    _import(other, now, FIXTURES / "people.jsonl")
    assert _people(other) == from_csv
    other.dispose()


def test_importing_people_twice_changes_nothing(database: Database, now: datetime) -> None:
    _import(database, now, FIXTURES / "people.jsonl")
    before = (_people(database), _evidence_count(database))
    report = _import(database, now, FIXTURES / "people.jsonl")
    assert (_people(database), _evidence_count(database)) == before
    assert (report.people_created, report.people_seen) == (0, 3)
    assert (report.evidence_created, report.evidence_removed, report.evidence_seen) == (0, 0, 7)


def test_dropped_interest_is_removed_and_changed_profile_replaced(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    _import(database, now, FIXTURES / "people.csv")
    changed = _write(
        tmp_path,
        "people.csv",
        HEADER + "Ada Lovelace,slack:U001,,,Bernoulli numbers;poetry,Now retired.\n",
    )
    report = _import(database, now, changed)
    ada = _people(database)["Ada Lovelace"]
    assert ada[3] == {"Bernoulli numbers", "poetry"}
    assert ada[4] == {"Now retired."}
    assert (report.evidence_created, report.evidence_removed) == (2, 2)


def test_columns_left_out_leave_stored_interests_alone(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    _import(database, now, FIXTURES / "people.csv")
    renamed = _write(tmp_path, "people.csv", "name,external_ids\nAda King,slack:U001\n")
    _import(database, now, renamed)
    people = _people(database)
    assert "Ada Lovelace" not in people
    assert people["Ada King"][3] == {"analytical engines", "Bernoulli numbers"}


def test_person_already_known_by_one_id_gets_the_others_attached(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        network = ensure_network(session, name="team", now=now)
        ensure_person(
            session,
            network_id=network.id,
            external_ids=["github:ghopper"],
            display_name="G",
            now=now,
        )
    report = _import(database, now, FIXTURES / "people.csv")
    with database.transaction() as session:
        network = ensure_network(session, name="team", now=now)
        by_slack = find_person(session, network_id=network.id, external_id="slack:U002")
        by_github = find_person(session, network_id=network.id, external_id="github:ghopper")
    assert by_slack is not None and by_github is not None
    assert by_slack.id == by_github.id
    assert (report.people_created, report.people_seen) == (2, 1)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Bad Zone,slack:U9,,Mars/Olympus,,", "timezone 'Mars/Olympus'"),
        (",slack:U9,,,,", "name is missing"),
        ("No Ids,,,,,", "needs an external id or an email"),
        ("Odd Id,U9,,,,", "not of the form kind:value"),
        ("Bad Mail,,not-an-address,,,", "is not an address"),
        ("Too Many,slack:U9,,,,,extra", "more values than columns"),
        ("Twice,slack:U001,,,,", "slack:U001 is already on line 2"),
    ],
)
def test_bad_csv_line_is_named_and_nothing_is_stored(
    database: Database, now: datetime, tmp_path: Path, line: str, reason: str
) -> None:
    path = _write(tmp_path, "people.csv", HEADER + "Ada,slack:U001,,,chess,\n" + line + "\n")
    with pytest.raises(ImportFormatError, match=reason) as caught:
        _import(database, now, path)
    assert caught.value.line == 3
    assert caught.value.source == str(path)
    assert _people(database) == {}
    assert _evidence_count(database) == 0


def test_malformed_json_line_is_named(database: Database, now: datetime, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "people.jsonl",
        '{"name": "Ada", "external_ids": ["slack:U1"]}\n\n{"name": "Bob", "external_ids": [\n',
    )
    with pytest.raises(ImportFormatError, match="malformed JSON") as caught:
        _import(database, now, path)
    assert caught.value.line == 3
    assert _people(database) == {}


def test_json_fields_of_the_wrong_shape_are_refused(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    path = _write(
        tmp_path, "people.jsonl", '{"name": "Ada", "external_ids": "slack:U1", "hobby": 1}\n'
    )
    with pytest.raises(ImportFormatError, match="unknown field 'hobby'"):
        _import(database, now, path)
    path.write_text('{"name": "Ada", "external_ids": "slack:U1"}\n')
    with pytest.raises(ImportFormatError, match="external_ids must be a list"):
        _import(database, now, path)


def test_unknown_csv_column_is_refused_on_the_header_line(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    path = _write(tmp_path, "people.csv", "name,external_ids,interest\nAda,slack:U1,chess\n")
    with pytest.raises(ImportFormatError, match="unknown column 'interest'") as caught:
        _import(database, now, path)
    assert caught.value.line == 1


def test_people_file_must_be_csv_or_jsonl(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    path = _write(tmp_path, "people.xlsx", "whatever")
    with pytest.raises(ImportFormatError, match=r"\.csv or \.jsonl"):
        _import(database, now, path)


def test_people_import_reports_progress(database: Database, now: datetime) -> None:
    seen: list[tuple[str, int, int]] = []
    _import(database, now, FIXTURES / "people.csv", lambda *entry: seen.append(entry))
    assert seen[-1] == ("importing people", 3, 3)


def test_ids_are_stored_once_even_when_email_is_also_an_id(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    path = _write(
        tmp_path, "people.csv", HEADER + "Ada,slack:U1;email:ada@example.com,ada@example.com,,,\n"
    )
    _import(database, now, path)
    with database.transaction() as session:
        assert session.scalar(select(func.count(ExternalId.id))) == 2


def test_import_people_command_uses_the_default_network_and_reports_a_bad_line(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from askaround.cli import main

    monkeypatch.setenv("ASKAROUND_DATABASE_URL", database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    monkeypatch.setattr("sys.argv", ["askaround", "import", "people", str(FIXTURES / "people.csv")])
    main()
    assert "network 'default': people 3 new / 0 known, evidence 7 new" in capsys.readouterr().out
    bad = _write(tmp_path, "bad.jsonl", '{"name": "Ada", "external_ids": ["slack:U1"]}\n[1]\n')
    monkeypatch.setattr("sys.argv", ["askaround", "import", "people", str(bad), "-n", "other"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert f"error: {bad}:2: each line must be a JSON object" in capsys.readouterr().err
