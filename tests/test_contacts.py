"""Contacts from LinkedIn and vCard files, and "who do I know at Acme?" from the API and the CLI."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from router.errors import ImportFormatError, InvalidInput
from router.importers.contacts import import_contacts, parse_linkedin, parse_vcard
from router.lifecycle.questions import ask_question
from router.network import people
from router.network.contacts import company_similarity, who_knows
from router.routing.contacts import ContactQuestion, detect
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Person
from tests.api_client import ApiHarness

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"
LINKEDIN = FIXTURES / "Connections.csv"
VCARD = FIXTURES / "contacts.vcf"


def _import(database: Database, now: datetime, *paths: Path, network: str = "me") -> int:
    with database.transaction() as session:
        network_id = people.ensure_network(session, name=network, now=now).id
        for path in paths:
            parse = parse_linkedin if path.suffix == ".csv" else parse_vcard
            import_contacts(session, network_id=network_id, contacts=parse(path), now=now)
    return network_id


def test_linkedin_connections_skip_the_notes_and_keep_every_column() -> None:
    contacts = parse_linkedin(LINKEDIN)
    assert [c.name for c in contacts] == ["Jane Doe", "Omar Haddad", "Lin Wei", "Ada Byron"]
    jane = contacts[0]
    assert jane.external_ids == ("linkedin:jane-doe-4a1b2c",)
    assert (jane.company, jane.position) == ("Acme Inc.", "Staff Engineer")
    assert jane.how_known == "LinkedIn connection since 2023-03-15"
    assert contacts[1].external_ids == ("linkedin:omarhaddad", "email:omar@haddad.example")
    assert contacts[2].position == "Head of Data, EMEA"


def test_vcard_reads_folded_lines_escapes_and_explicit_links() -> None:
    priya, bo = parse_vcard(VCARD)
    assert priya.name == "Priya Raman" and priya.company == "Acme"
    assert priya.position == "Site Reliability Engineer"
    assert priya.how_known == "Met at KubeCon 2024 in Paris, talked about on-call rotations"
    assert "email:priya@acme.example" in priya.external_ids
    assert bo.external_ids[0] == "slack:UBO" and bo.company == "Umbrella Ltd"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Name,Email\nAna,a@b.c\n", "First Name"),
        ("First Name,Last Name,URL\nAna,B,x\n", "missing columns"),
    ],
)
def test_a_file_that_is_not_linkedins_is_refused_with_the_reason(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "Connections.csv"
    path.write_text(text)
    with pytest.raises(ImportFormatError, match=problem):
        parse_linkedin(path)


def test_a_vcard_without_its_end_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.vcf"
    path.write_text("BEGIN:VCARD\nFN:Ana\n")
    with pytest.raises(ImportFormatError, match="END:VCARD"):
        parse_vcard(path)


def test_importing_contacts_twice_changes_nothing(database: Database, now: datetime) -> None:
    _import(database, now, LINKEDIN, VCARD)
    with database.transaction() as session:
        before = [
            (p.display_name, p.company, p.position, p.how_known)
            for p in session.scalars(select(Person).order_by(Person.id))
        ]
    network_id = _import(database, now, LINKEDIN, VCARD)
    with database.transaction() as session:
        after = [
            (p.display_name, p.company, p.position, p.how_known)
            for p in session.scalars(select(Person).order_by(Person.id))
        ]
        assert people.count_people(session, network_id=network_id) == 6
    assert after == before


def test_a_contact_joins_the_person_with_the_same_email_or_an_explicit_link(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        network_id = people.ensure_network(session, name="me", now=now).id
        omar = people.ensure_person(
            session,
            network_id=network_id,
            external_ids=["slack:UOMAR"],
            display_name="Omar H",
            email="OMAR@haddad.example",
            now=now,
        ).id
        bo = people.ensure_person(
            session, network_id=network_id, external_ids=["slack:UBO"], display_name="Bo", now=now
        ).id
    _import(database, now, LINKEDIN, VCARD)
    with database.transaction() as session:
        merged = people.find_person(
            session, network_id=network_id, external_id="linkedin:omarhaddad"
        )
        linked = people.find_person(session, network_id=network_id, external_id="slack:UBO")
        assert merged is not None and merged.id == omar and merged.company == "ACME Corporation"
        assert linked is not None and linked.id == bo and linked.position == "Brewer"
        assert people.count_people(session, network_id=network_id) == 6


def _linkedin_file(tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """A Connections.csv of (name, profile slug, email, company) rows."""
    lines = ["First Name,Last Name,URL,Email Address,Company,Position,Connected On"]
    for name, slug, email, company in rows:
        first, last = name.split()
        lines.append(
            f"{first},{last},https://www.linkedin.com/in/{slug},{email},{company},Engineer,1 Mar 2024"
        )
    path = tmp_path / "Connections.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rows_of_one_file_sharing_an_email_become_one_person_and_a_clash_is_skipped(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    with database.transaction() as session:
        network_id = people.ensure_network(session, name="me", now=now).id
        kim = people.ensure_person(
            session, network_id=network_id, external_ids=["slack:UKIM"], display_name="Kim", now=now
        )
        kim.email, kim_id = "kim@lee.example", kim.id
    path = _linkedin_file(
        tmp_path,
        [
            ("Ann Ng", "ann-ng", "ann@ng.example", "Acme"),
            ("Ann Ng", "ann-ng-2", "ann@ng.example", "Globex"),  # the same Ann, a second profile
            ("Ann Ng", "ann-ng", "kim@lee.example", "Initech"),  # Ann's profile, Kim's email
        ],
    )
    with database.transaction() as session:
        report = import_contacts(
            session, network_id=network_id, contacts=parse_linkedin(path), now=now
        )
    assert (report.people_created, report.people_seen, report.skipped) == (1, 1, 1)
    with database.transaction() as session:
        ann = people.find_person(session, network_id=network_id, external_id="linkedin:ann-ng")
        again = people.find_person(session, network_id=network_id, external_id="linkedin:ann-ng-2")
        kim_now = session.get(Person, kim_id)
        assert ann is not None and again is not None and ann.id == again.id != kim_id
        assert ann.company == "Globex" and kim_now is not None and kim_now.company is None
        assert people.count_people(session, network_id=network_id) == 2


def test_a_big_address_book_is_written_in_a_few_statements(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    """Bulk lookups and inserts: the statement count does not grow with the contacts (row by row
    it was about five per contact), so the import holds the write lock for a moment."""
    rows = [(f"Person N{n}", f"p-{n}", f"p{n}@x.example", f"Co {n % 7}") for n in range(600)]
    path = _linkedin_file(tmp_path, rows)
    contacts = parse_linkedin(path)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with database.transaction() as session:
        network_id = people.ensure_network(session, name="me", now=now).id
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.transaction() as session:
            report = import_contacts(session, network_id=network_id, contacts=contacts, now=now)
        with database.transaction() as session:
            again = import_contacts(session, network_id=network_id, contacts=contacts, now=now)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert (report.people_created, report.evidence_created) == (600, 600)
    assert (again.people_seen, again.evidence_seen, again.people_created) == (600, 600, 0)
    kinds = Counter(" ".join(s.split()[:3]) for s in statements)
    # SQLite returns new ids in order only one insert at a time; every lookup is in bulk
    lookups = [s for s in statements if not s.startswith("INSERT INTO people")]
    assert len(lookups) < 40, kinds.most_common(5)
    assert kinds["INSERT INTO people"] <= 600


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Acme Inc.", "ACME", True),
        ("ACME Corporation", "acme", True),
        ("Société Générale S.A.", "Societe Generale", True),
        ("Acme", "Apex", False),
        ("Globex", "Initech", False),
    ],
)
def test_company_names_match_across_case_punctuation_and_legal_forms(
    a: str, b: str, same: bool
) -> None:
    assert (company_similarity(a, b) >= 0.84) is same


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Who do I know at Acme?", ContactQuestion("Acme")),
        ("who do we know at ACME Inc.", ContactQuestion("ACME Inc")),
        ("Do I know anyone at Globex?", ContactQuestion("Globex")),
        ("anyone I know at Initech?", ContactQuestion("Initech")),
        ("Which engineers do I know at Acme?", ContactQuestion("Acme", "engineers")),
        ("who do I know at Acme who is a designer?", ContactQuestion("Acme", "designer")),
        ("What tool do you use to analyse retention?", None),
        ("How do you know when a sourdough is proofed?", None),
    ],
)
def test_who_do_i_know_at_is_recognised_in_plain_words(
    text: str, expected: ContactQuestion | None
) -> None:
    assert detect(text) == expected


def test_who_knows_finds_people_at_a_company_by_any_spelling_and_position(
    database: Database, now: datetime
) -> None:
    network_id = _import(database, now, LINKEDIN, VCARD)
    with database.transaction() as session:
        at_acme = who_knows(session, network_id=network_id, company="acme")
        engineers = who_knows(session, network_id=network_id, company="ACME", position="engineers")
    assert sorted(m.name for m in at_acme) == ["Jane Doe", "Omar Haddad", "Priya Raman"]
    assert sorted(m.name for m in engineers) == ["Jane Doe", "Priya Raman"]


def _route_in_imported_contacts(api: ApiHarness, now: datetime, question: str) -> Any:
    """POST /v1/route ``question`` (k 5) in a network holding the LinkedIn and vCard contacts."""
    tenant = api.network("me")
    _import(api.services.database, now, LINKEDIN, VCARD, network="me")
    response = api.client.post(
        "/v1/route", json={"question": question, "k": 5}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_route_answers_who_do_i_know_at_acme_with_how_you_know_them(
    api: ApiHarness, now: datetime
) -> None:
    body = _route_in_imported_contacts(api, now, "Who do I know at Acme Inc.?")
    assert body["intent"] == "contacts"
    shown = {c["name"]: c["reasons"][0]["text"] for c in body["candidates"]}
    assert shown["Jane Doe"] == "Staff Engineer at Acme Inc.; LinkedIn connection since 2023-03-15"
    assert "KubeCon" in shown["Priya Raman"]
    assert set(shown) == {"Jane Doe", "Omar Haddad", "Priya Raman"}
    assert "you know 3 people at Acme Inc" in body["notes"][0]


def test_asking_people_who_you_know_is_refused_not_sent(api: ApiHarness, now: datetime) -> None:
    tenant = api.network("me")
    _import(api.services.database, now, LINKEDIN, network="me")
    with api.services.database.transaction() as session:
        ada = people.get_person(
            session, network_id=tenant.network_id, external_id="linkedin:adabyron"
        )
        with pytest.raises(InvalidInput, match="who you know"):
            ask_question(
                session,
                router=api.services.router,
                settings=api.services.settings,
                network_id=tenant.network_id,
                asker_id=ada.id,
                text="who do I know at Acme?",
                now=now,
            )


def test_cli_imports_linkedin_and_vcard_then_routes_who_do_i_know(settings: Settings) -> None:
    from tests.test_cli import run_cli

    for kind, path in (("linkedin", LINKEDIN), ("vcard", VCARD)):
        result = run_cli(settings, "import", kind, str(path), "--network", "me")
        assert result.returncode == 0, result.stderr
    again = run_cli(settings, "import", "linkedin", str(LINKEDIN), "--network", "me")
    assert "people 0 new / 4 known" in again.stdout
    routed = run_cli(settings, "route", "who do I know at ACME?", "--network", "me")
    assert routed.returncode == 0, routed.stderr
    assert "Jane Doe" in routed.stdout and "LinkedIn connection since 2023-03-15" in routed.stdout
    assert "Priya Raman" in routed.stdout and "Lin Wei" not in routed.stdout


def test_route_finds_who_you_know_when_the_question_has_zero_width_characters(
    api: ApiHarness, now: datetime
) -> None:
    body = _route_in_imported_contacts(api, now, "\ufeffWho do I know at \u2060Acme\u200b?")
    assert body["intent"] == "contacts"
    assert {c["name"] for c in body["candidates"]} == {"Jane Doe", "Omar Haddad", "Priya Raman"}
    assert "\u200b" not in body["notes"][0] and "at Acme" in body["notes"][0]


def test_the_core_finds_who_you_know_when_the_question_starts_with_a_byte_order_mark(
    database: Database, settings: Settings, now: datetime
) -> None:
    """Routed through the core directly, not only through an edge that cleans the text first."""
    network_id = _import(database, now, LINKEDIN, VCARD)
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with database.transaction() as session:
        route = router.route(
            session,
            network_id=network_id,
            question="\ufeffwho do I know at Acme?",
            asker_id=None,
            k=5,
            now=now,
        )
    assert route.intent == "contacts"
    assert {c.name for c in route.candidates} == {"Jane Doe", "Omar Haddad", "Priya Raman"}


def test_a_contact_whose_name_is_invisible_is_skipped_and_the_rest_imported(
    database: Database, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "Connections.csv"
    path.write_text(
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        "\u200b,\u2060,https://www.linkedin.com/in/ghost,,Acme,,15 Mar 2023\n"
        "Jane,Doe,https://www.linkedin.com/in/jane-doe,,Acme,,15 Mar 2023\n",
        encoding="utf-8",
    )
    _import(database, now, path)
    with database.transaction() as session:
        assert session.scalars(select(Person.display_name)).all() == ["Jane Doe"]
