"""Importing a Stack Exchange dump: answers become evidence, askers and answerers people and ties."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from router.errors import ImportFormatError, InvalidInput
from router.importers import ImportReport, parse_when
from router.importers.stackexchange import import_stackexchange, strip_html
from router.network.people import ensure_network, find_person
from router.storage.database import Database
from router.storage.schema import Evidence, ExternalId, Person, Tie

SITE = Path(__file__).parent / "fixtures" / "stackexchange"
CUTOFF = datetime(2020, 4, 1, tzinfo=UTC)


def _import(
    database: Database,
    now: datetime,
    folder: Path = SITE,
    **options: object,
) -> ImportReport:
    with database.transaction() as session:
        network = ensure_network(session, name="homebrew", now=now)
        return import_stackexchange(
            session,
            network_id=network.id,
            folder=folder,
            now=now,
            **options,  # type: ignore[arg-type]
        )


def _counts(database: Database) -> dict[str, int]:
    with database.transaction() as session:
        return {
            "people": session.scalar(select(func.count(Person.id))) or 0,
            "ids": session.scalar(select(func.count(ExternalId.id))) or 0,
            "evidence": session.scalar(select(func.count(Evidence.id))) or 0,
            "tie_rows": session.scalar(select(func.count(Tie.id))) or 0,
            "ties": session.scalar(select(func.sum(Tie.count))) or 0,
        }


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _copy_site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    shutil.copytree(SITE, folder)
    return folder


def test_answer_becomes_evidence_with_its_question_title_and_tags_as_context(
    database: Database, now: datetime
) -> None:
    _import(database, now, site_url="https://beer.stackexchange.com/")
    with database.transaction() as session:
        evidence = session.scalars(
            select(Evidence).where(Evidence.source_key == "se:answer:2")
        ).one()
        author = session.get(Person, evidence.person_id)
    assert evidence.kind == "answer"
    assert evidence.source == "stackexchange"
    assert evidence.text == (
        "Citra and Mosaic hops give strong citrus & tropical aroma when dry hopped."
    )
    assert evidence.context == "Which hops give a citrus aroma? [hops, ipa]"
    assert evidence.created_at == datetime(2020, 1, 2, 9, tzinfo=UTC)
    assert evidence.link == "https://beer.stackexchange.com/a/2"
    assert author is not None and author.display_name == "Alice Hopwood"


def test_link_is_left_out_when_the_folder_does_not_name_the_site(
    database: Database, now: datetime
) -> None:
    _import(database, now)
    with database.transaction() as session:
        links = set(session.scalars(select(Evidence.link)))
    assert links == {None}


def test_askers_and_answerers_become_people_but_deleted_accounts_and_bots_do_not(
    database: Database, now: datetime
) -> None:
    report = _import(database, now)
    with database.transaction() as session:
        ids = set(session.scalars(select(ExternalId.value)))
    # Gina (7) never posted; the Community bot (-1) and the ownerless answer 16 are skipped.
    assert ids == {"se:1", "se:2", "se:3", "se:4", "se:5", "se:6"}
    assert report.people_created == 6
    assert report.evidence_created == 16


def test_answering_someone_is_a_tie_but_answering_yourself_is_not(
    database: Database, now: datetime
) -> None:
    _import(database, now)
    with database.transaction() as session:
        network = ensure_network(session, name="homebrew", now=now)

        def person(user: int) -> int:
            found = find_person(session, network_id=network.id, external_id=f"se:{user}")
            assert found is not None
            return found.id

        ties = {(tie.helper_id, tie.helped_id): tie.count for tie in session.scalars(select(Tie))}
        carol_helped_dave = ties[(person(3), person(4))]
        self_ties = [pair for pair in ties if pair[0] == pair[1]]
    assert carol_helped_dave == 3  # answers 7, 15 and the late answer 30
    assert self_ties == []
    assert _counts(database)["ties"] == 14


def test_until_imports_only_posts_created_strictly_before_it(
    database: Database, now: datetime
) -> None:
    report = _import(database, now, until=CUTOFF)
    with database.transaction() as session:
        latest = session.scalar(select(func.max(Evidence.created_at)))
        ids = set(session.scalars(select(ExternalId.value)))
    assert latest == datetime(2020, 3, 11, 9, tzinfo=UTC)
    assert ids == {"se:1", "se:2", "se:3", "se:4", "se:5"}  # Frank only asked after the cutoff
    assert report.evidence_created == 9
    assert _counts(database)["ties"] == 9


def test_importing_twice_changes_nothing(database: Database, now: datetime) -> None:
    first = _import(database, now)
    before = _counts(database)
    second = _import(database, now)
    assert _counts(database) == before
    assert (second.people_created, second.evidence_created, second.ties_added) == (0, 0, 0)
    assert (second.people_seen, second.evidence_seen, second.ties_seen) == (
        first.people_created,
        first.evidence_created,
        first.ties_added,
    )


def test_importing_later_posts_counts_only_their_ties(database: Database, now: datetime) -> None:
    _import(database, now, until=CUTOFF)
    report = _import(database, now)
    assert report.ties_added == 5
    assert report.evidence_created == 7
    assert _counts(database)["ties"] == 14


def test_malformed_row_names_the_file_and_line_and_stores_nothing(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    folder = _copy_site(tmp_path)
    posts = folder / "Posts.xml"
    posts.write_text(
        posts.read_text().replace('CreationDate="2020-04-03T09:00:00.000"', 'CreationDate="soon"')
    )
    with pytest.raises(ImportFormatError) as caught:
        _import(database, now, folder=folder)
    assert caught.value.source.endswith("Posts.xml")
    assert caught.value.line == _line_of(posts, 'CreationDate="soon"')
    assert "CreationDate" in str(caught.value)
    assert _counts(database) == {"people": 0, "ids": 0, "evidence": 0, "tie_rows": 0, "ties": 0}


def test_broken_xml_names_the_line_and_leaves_an_earlier_import_untouched(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    _import(database, now, until=CUTOFF)
    before = _counts(database)
    folder = _copy_site(tmp_path)
    posts = folder / "Posts.xml"
    posts.write_text(posts.read_text().replace('<row Id="24" ', '<row Id="24" <'))
    with pytest.raises(ImportFormatError) as caught:
        _import(database, now, folder=folder)
    assert caught.value.line is not None
    assert caught.value.line == _line_of(posts, '<row Id="24" <')
    assert "malformed XML" in str(caught.value)
    assert _counts(database) == before


def test_missing_users_file_is_refused(database: Database, now: datetime, tmp_path: Path) -> None:
    folder = _copy_site(tmp_path)
    (folder / "Users.xml").unlink()
    with pytest.raises(ImportFormatError, match=r"Users\.xml: file not found"):
        _import(database, now, folder=folder)
    assert _counts(database)["evidence"] == 0


def test_wrong_root_element_is_refused(database: Database, now: datetime, tmp_path: Path) -> None:
    folder = _copy_site(tmp_path)
    shutil.copy(folder / "Users.xml", folder / "Posts.xml")
    with pytest.raises(ImportFormatError, match="expected <posts>"):
        _import(database, now, folder=folder)


def test_import_reports_progress_to_the_end(database: Database, now: datetime) -> None:
    seen: list[tuple[str, int, int]] = []
    _import(database, now, progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = {stage for stage, _, _ in seen}
    assert {"reading Posts.xml", "reading Users.xml", "importing posts"} <= stages
    last = [entry for entry in seen if entry[0] == "importing posts"][-1]
    assert last[1] == last[2] > 0


def test_about_me_becomes_profile_evidence_only_when_asked(
    database: Database, now: datetime
) -> None:
    _import(database, now)
    assert _counts(database)["evidence"] == 16
    report = _import(database, now, profiles=True)
    with database.transaction() as session:
        profiles = session.scalars(select(Evidence).where(Evidence.kind == "profile")).all()
    assert report.evidence_created == 1  # only Alice wrote something about herself
    assert [profile.text for profile in profiles] == [
        "Homebrewer. I grow my own hops and brew sour beers."
    ]


def test_post_bodies_lose_their_markup_and_overlong_ones_are_cut() -> None:
    html = "<p>Use <code>a &lt; b</code></p><ul><li>one</li><li>two</li></ul>"
    assert strip_html(html) == "Use a < b one two"
    cut = strip_html("<p>" + "word " * 100 + "</p>", limit=50)
    assert len(cut) <= 52 and cut.endswith(" …")


def test_until_accepts_an_iso_date_or_timestamp_and_refuses_anything_else() -> None:
    assert parse_when("2020-04-01") == CUTOFF
    assert parse_when("2020-04-01T11:00:00+02:00") == datetime(2020, 4, 1, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="ISO date"):
        parse_when("last tuesday")


def test_import_command_names_the_network_after_the_folder_and_embeds_the_answers(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from askaround.cli import main

    monkeypatch.setenv("ASKAROUND_DATABASE_URL", database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    argv = ["askaround", "import", "stackexchange", str(SITE), "--until", "2020-04-01"]
    monkeypatch.setattr("sys.argv", argv)
    main()
    assert "network 'stackexchange': people 5 new" in capsys.readouterr().out
    database = Database(database_url)
    with database.transaction() as session:
        vectors = session.scalars(select(Evidence.embedding_model)).all()
    database.dispose()
    assert vectors == ["hashing-test"] * 9


def test_import_command_with_a_bad_date_exits_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from askaround.cli import main

    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    argv = ["askaround", "import", "stackexchange", str(SITE), "--until", "soon"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "error: 'soon' is not an ISO date" in capsys.readouterr().err


@pytest.mark.parametrize(
    "site_url",
    ["javascript:alert(document.domain)//", "data:text/html,<script>x</script>", "beer.se", " "],
)
def test_a_site_url_that_is_not_a_web_address_is_refused_and_stores_nothing(
    database: Database, now: datetime, site_url: str
) -> None:
    with pytest.raises(InvalidInput, match="site URL"):
        _import(database, now, site_url=site_url)
    assert _counts(database) == dict.fromkeys(_counts(database), 0)
    with database.transaction() as session:
        assert session.scalars(select(Evidence.link)).all() == []


def test_a_user_whose_display_name_is_invisible_is_imported_as_user_and_their_id(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    folder = _copy_site(tmp_path)
    users = folder / "Users.xml"
    users.write_text(
        users.read_text().replace('DisplayName="Bob Yeastley"', 'DisplayName="&#x200B;&#x2060;"')
    )
    report = _import(database, now, folder)
    assert report.people_created == 6
    with database.transaction() as session:
        bob = session.scalar(
            select(Person.display_name)
            .join(ExternalId, ExternalId.person_id == Person.id)
            .where(ExternalId.value == "se:2")
        )
    assert bob == "user 2"
