"""The CLI's contract for bad input: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Person

pytestmark = pytest.mark.slow  # every test here starts `python -m askaround`


def run_cli(
    settings: Settings, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "ASKAROUND_DATA_DIR": str(settings.data_dir),
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
        "ASKAROUND_MODEL_NAME": "hashing-test",
        "PATH": "/usr/bin:/bin",
        **(env_extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "askaround", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent.parent,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["route", "anything", "-k", "lots"], "Invalid value for '-k'"),
        (["route", "anything", "--bogus"], "No such option: --bogus"),
        (["route", "anything", "--network", "nowhere"], "no network named 'nowhere'"),
        (["summary", "send", "--network", "nowhere"], "no network named 'nowhere'"),
        (["answer", "99999999999999999999", "hi", "-n", "demo", "--as", "t:a"], "2147483647"),
        (["history", "2147483648", "--network", "demo"], "2147483647"),
        (["snooze", "-n", "demo", "--as", "t:a", "--ask", "2147483648"], "2147483647"),
        (["history", "2_0", "--network", "demo"], "plain digits"),  # int() would read #20
        (["answer", "+1", "hi", "-n", "demo", "--as", "t:a"], "plain digits"),
        (["helpful", "0", "-n", "demo", "--as", "t:a"], "from 1 to 2147483647"),
        (["snooze", "-n", "demo", "--as", "t:a", "--ask", " 7"], "plain digits"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    settings: Settings, args: list[str], says: str
) -> None:
    result = run_cli(settings, *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("person", ["#99999999999999999999", "#\u00b2"])
def test_erasing_a_number_no_person_can_have_gets_one_line(settings: Settings, person: str) -> None:
    assert run_cli(settings, "demo").returncode == 0
    result = run_cli(settings, "people", "erase", person, "--network", "demo")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no person" in lines[0], result.stderr


def test_route_on_the_demo_network_explains_each_person(settings: Settings) -> None:
    assert run_cli(settings, "demo").returncode == 0
    result = run_cli(settings, "route", "which payment provider handles EU VAT?", "--json")
    assert result.returncode == 0, result.stderr
    assert '"candidates"' in result.stdout and '"reasons"' in result.stdout


def test_summary_send_twice_queues_each_person_once(settings: Settings) -> None:
    assert run_cli(settings, "demo").returncode == 0
    first = run_cli(settings, "summary", "send", "--network", "demo", "--week", "2026-W47")
    second = run_cli(settings, "summary", "send", "--network", "demo", "--week", "2026-W47")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    queued = int(first.stdout.split(": ")[1].split()[0])
    assert queued > 0
    assert second.stdout.startswith("week 2026-W47: 0 summaries queued")
    assert f"{queued} already sent" in second.stdout
    assert "nothing is due now: every summary due was already sent" in second.stdout


def test_summary_send_honours_network_and_week_with_slack_configured(settings: Settings) -> None:
    assert run_cli(settings, "demo").returncode == 0
    slack = {"ASKAROUND_SLACK_BOT_TOKEN": "xoxb-test"}  # unknown networks: the test above
    future = run_cli(
        settings, "summary", "send", "--network", "demo", "--week", "2099-W01", env_extra=slack
    )
    assert future.returncode == 2 and "week 2099-W01 has not started yet" in future.stderr
    past = run_cli(
        settings, "summary", "send", "--network", "demo", "--week", "2026-W40", env_extra=slack
    )
    assert past.returncode == 0, past.stderr
    assert past.stdout.startswith("week 2026-W40: ") and "Monday" not in past.stdout


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"ASKAROUND_DEFAULT_K": "abc"},
            "setting ASKAROUND_DEFAULT_K: Input should be a valid integer",
        ),
        ({"ASKAROUND_DEFAULT_K": "60"}, "ASKAROUND_DEFAULT_K"),
        (
            {"ASKAROUND_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/x"},
            "cannot use the database",
        ),
        ({"ASKAROUND_DATABASE_URL": "nonsense"}, "cannot use the database"),
    ],
)
def test_bad_settings_get_one_line_naming_the_setting(
    settings: Settings, env: dict[str, str], says: str
) -> None:
    result = run_cli(settings, "route", "anything", env_extra=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def _one_line_refusal(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def _snoozes_and_people(settings: Settings) -> tuple[list[object], int]:
    database = Database(settings.resolved_database_url)
    try:
        with database.transaction() as session:
            snoozes = list(session.scalars(select(Person.snoozed_until).order_by(Person.id)))
            return snoozes, len(snoozes)
    finally:
        database.dispose()


def test_snoozing_for_days_no_clock_can_count_gets_one_line_and_snoozes_nobody(
    settings: Settings,
) -> None:
    assert run_cli(settings, "demo").returncode == 0
    before = _snoozes_and_people(settings)
    for days in ("nan", "inf", "-inf", "1e308"):  # one demo load for all: each run is a process
        result = run_cli(settings, "snooze", "-n", "demo", "--as", "demo:maya", "--days", days)
        _one_line_refusal(result, "a snooze ends in the future, at most 90 days ahead")
        assert _snoozes_and_people(settings) == before, days


def test_migrating_to_a_revision_that_does_not_exist_gets_one_line_and_keeps_the_data(
    settings: Settings,
) -> None:
    assert run_cli(settings, "demo").returncode == 0
    before = _snoozes_and_people(settings)
    for args, says in (
        (["migrate", "downgrade", "nonsense"], "no revision 'nonsense' to go to"),
        (["migrate", "downgrade", ""], "name a revision to go to"),
        (["migrate", "downgrade", "+1"], "Relative revision +1"),
        (["migrate", "--revision", "nonsense"], "no revision 'nonsense' to go to"),
        (["migrate", "--revision", ""], "name a revision"),
    ):
        _one_line_refusal(run_cli(settings, *args), says)
        assert _snoozes_and_people(settings) == before, args
    assert run_cli(settings, "migrate", "status").returncode == 0


def test_a_data_dir_that_is_a_file_gets_one_line_naming_the_setting(
    settings: Settings, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("keep me")
    result = run_cli(
        settings, "route", "anything", env_extra={"ASKAROUND_DATA_DIR": str(not_a_folder)}
    )
    _one_line_refusal(result, "setting ASKAROUND_DATA_DIR")
    assert "not a folder" in result.stderr
    assert not_a_folder.read_text() == "keep me"


def test_a_log_file_that_is_a_folder_is_refused_before_any_message_is_tried(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    result = run_cli(settings, "worker", "--channel", "log", "--log-file", str(folder), "--once")
    _one_line_refusal(result, "is a folder")
    assert list(folder.iterdir()) == []
