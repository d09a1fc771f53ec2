"""Writes to one person are made one at a time: a PATCH of their ids replaces the set even while
another PATCH runs, evidence added or edited while they are being forgotten never outlives them,
two declines at once both lower the evidence that matched, and a question or answer of theirs
written while they are forgotten does not keep its text."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from router.errors import NotFound
from router.lifecycle.questions import answer_ask, decline_ask
from router.network import directory, people, profiles
from router.network.erasure import erase_person
from router.network.people import delete_evidence, ensure_network
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Answer, Evidence, ExternalId, Question
from tests.api_client import ApiHarness

HOLD = 0.5  # how long the first writer keeps its transaction open while the second one starts


def _second_writer(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _person(database: Database, now: datetime) -> tuple[int, int]:
    with database.transaction() as session:
        network_id = ensure_network(session, name="acme", now=now).id
        person = directory.create_person(
            session, network_id=network_id, name="Ana", external_ids=["t:ana"], now=now
        )
        return network_id, person.id


def test_two_patches_of_a_persons_ids_leave_the_set_of_the_last_not_both(
    database: Database, now: datetime
) -> None:
    network_id, person_id = _person(database, now)

    def patch(ids: list[str]) -> None:
        with database.transaction() as session:
            directory.update_person(
                session, network_id=network_id, person_id=person_id, external_ids=ids
            )

    with database.transaction() as session:
        directory.update_person(
            session, network_id=network_id, person_id=person_id, external_ids=["t:ana", "t:one"]
        )
        thread, errors = _second_writer(lambda: patch(["t:ana", "t:two"]))
        thread.join(HOLD)  # it waits for this transaction (or, unfixed, works beside it)
    thread.join()
    assert not errors, errors
    with database.transaction() as session:
        ids = set(
            session.scalars(select(ExternalId.value).where(ExternalId.person_id == person_id))
        )
    assert ids == {"t:ana", "t:two"}


@pytest.mark.parametrize("kind", ["answer", "interest"])
def test_evidence_added_while_a_person_is_forgotten_is_refused_not_kept(
    database: Database, now: datetime, kind: str
) -> None:
    network_id, person_id = _person(database, now)

    def add() -> None:
        with database.transaction() as session:
            directory.create_evidence(
                session,
                network_id=network_id,
                person_id=person_id,
                kind=kind,
                text="marmalade zeppelin calibration",
                source="api",
                created_at=now,
                now=now,
            )

    with database.transaction() as session:
        erase_person(session, network_id=network_id, person_id=person_id, now=now)
        thread, errors = _second_writer(add)
        thread.join(HOLD)
    thread.join()
    assert [type(error) for error in errors] == [NotFound]
    with database.transaction() as session:
        kept = session.scalars(select(Evidence).where(Evidence.person_id == person_id)).all()
    assert kept == []


def _evidence(database: Database, network_id: int, person_id: int, now: datetime) -> int:
    with database.transaction() as session:
        return directory.create_evidence(
            session,
            network_id=network_id,
            person_id=person_id,
            kind="answer",
            text="marmalade zeppelin calibration",
            source="api",
            created_at=now,
            now=now,
        ).id


@pytest.mark.parametrize("remover", ["erase the person", "delete the evidence"])
def test_an_edit_of_evidence_removed_meanwhile_is_not_found_not_a_crash(
    database: Database, now: datetime, remover: str
) -> None:
    network_id, person_id = _person(database, now)
    evidence_id = _evidence(database, network_id, person_id, now)

    def edit() -> None:
        with database.transaction() as session:
            directory.update_evidence(
                session, network_id=network_id, evidence_id=evidence_id, text="new", now=now
            )

    with database.transaction() as session:
        if remover == "erase the person":
            erase_person(session, network_id=network_id, person_id=person_id, now=now)
        else:
            delete_evidence(session, network_id=network_id, evidence_id=evidence_id)
        thread, errors = _second_writer(edit)
        thread.join(HOLD)
    thread.join()
    assert [type(error) for error in errors] == [NotFound], errors
    with database.transaction() as session:
        assert session.get(Evidence, evidence_id) is None


def test_two_declines_at_once_of_asks_matched_by_the_same_evidence_both_lower_it(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings.model_copy(update={"rest_hours": 0.0}), now=now)
    tenant = api.network("acme")
    h = tenant.headers
    ada = api.client.post("/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]}, headers=h)
    evidence = api.client.post(
        f"/v1/people/{ada.json()['id']}/evidence",
        json={"kind": "answer", "text": "zymurgy and fermentation temperatures"},
        headers=h,
    ).json()
    asks = []
    for asker in ("t:alex", "t:bo"):
        api.client.post("/v1/people", json={"name": asker, "external_ids": [asker]}, headers=h)
        question = api.client.post(
            "/v1/questions",
            json={"question": "zymurgy fermentation temperatures?", "asker": asker, "k": 1},
            headers=h,
        ).json()["question"]
        (ask,) = question["asks"]
        assert evidence["id"] in [reason["evidence_id"] for reason in ask["reasons"]]
        asks.append(ask["id"])
    database = api.services.database

    def decline(ask_id: int) -> None:
        with database.transaction() as session:
            decline_ask(
                session,
                network_id=tenant.network_id,
                ask_id=ask_id,
                person_id=ada.json()["id"],
                now=now,
            )

    with database.transaction() as session:
        decline_ask(
            session,
            network_id=tenant.network_id,
            ask_id=asks[0],
            person_id=ada.json()["id"],
            now=now,
        )
        thread, errors = _second_writer(lambda: decline(asks[1]))
        thread.join(HOLD)
    thread.join()
    assert not errors, errors
    with database.transaction() as session:
        stored = session.get(Evidence, evidence["id"])
        assert stored is not None and stored.weight == pytest.approx(0.25)


def test_a_mirrored_profile_keeps_a_250_character_address_on_the_person_and_as_its_id(
    database: Database, now: datetime
) -> None:
    address = "a" * 64 + "@" + "x" * 60 + "." + "y" * 60 + "." + "z" * 59 + ".com"
    with database.transaction() as session:
        network = people.ensure_network(session, name="n", now=now)
        person = profiles.mirror_person(
            session,
            network_id=network.id,
            external_id="slack:U1",
            name="Ada",
            now=now,
            email=address.upper(),
        )
        person_id = person.id
    with database.transaction() as session:
        found = people.find_person(session, network_id=network.id, external_id=f"email:{address}")
        assert found is not None and found.id == person_id and found.email == address


def _people(api: ApiHarness, h: dict[str, str], *names: str) -> dict[str, int]:
    ids = {}
    for name in names:
        made = api.client.post(
            "/v1/people", json={"name": name, "external_ids": [f"t:{name}"]}, headers=h
        )
        ids[name] = made.json()["id"]
    return ids


def test_a_question_asked_while_its_asker_is_forgotten_is_refused_not_kept_with_its_text(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    h = tenant.headers
    ids = _people(api, h, "ana", "ada")
    api.client.post(
        f"/v1/people/{ids['ada']}/evidence",
        json={"kind": "answer", "text": "zymurgy and fermentation temperatures"},
        headers=h,
    )
    asked: list[int] = []

    def ask() -> None:
        answer = api.client.post(
            "/v1/questions",
            json={"question": "zymurgy fermentation temperatures?", "asker": "t:ana"},
            headers=h,
        )
        asked.append(answer.status_code)

    with api.services.database.transaction() as session:
        erase_person(session, network_id=tenant.network_id, person_id=ids["ana"], now=now)
        thread, errors = _second_writer(ask)
        thread.join(HOLD)  # it waits for the erasure (or, unfixed, stores its question beside it)
    thread.join()
    assert not errors, errors
    assert asked == [404]
    with api.services.database.transaction() as session:
        texts = session.scalars(select(Question.text).where(Question.asker_id == ids["ana"]))
        assert [text for text in texts if text != "[erased]"] == []


def test_an_answer_given_while_its_author_is_forgotten_loses_its_text_with_them(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    h = tenant.headers
    ids = _people(api, h, "alex", "ada")
    api.client.post(
        f"/v1/people/{ids['ada']}/evidence",
        json={"kind": "answer", "text": "zymurgy and fermentation temperatures"},
        headers=h,
    )
    question = api.client.post(
        "/v1/questions",
        json={"question": "zymurgy fermentation temperatures?", "asker": "t:alex", "k": 1},
        headers=h,
    ).json()["question"]
    (ask,) = question["asks"]

    def erase() -> None:
        with api.services.database.transaction() as session:
            erase_person(session, network_id=tenant.network_id, person_id=ids["ada"], now=now)

    with api.services.database.transaction() as session:
        answer_ask(
            session,
            network_id=tenant.network_id,
            ask_id=ask["id"],
            person_id=ids["ada"],
            text="keep it at 18 degrees, marmalade zeppelin",
            now=now,
        )
        thread, errors = _second_writer(erase)
        thread.join(HOLD)  # it waits for the answer (or, unfixed, reads the answers before it)
    thread.join()
    assert not errors, errors
    with api.services.database.transaction() as session:
        texts = session.scalars(select(Answer.text).where(Answer.person_id == ids["ada"])).all()
    assert texts == ["[erased]"]
