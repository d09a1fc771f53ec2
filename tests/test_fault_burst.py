"""A burst of concurrent writes on one question: every request gets a clear answer (no 5xx, no
stall) and the ledger holds exactly one favour per answer, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from askaround.settings import AppSettings
from router.storage.schema import Answer, Favour
from tests.api_client import ApiHarness
from tests.live_server import LiveServer

PEOPLE = 30  # 30 answers and 30 helpful marks: 60 writes on one question


def test_burst_of_answers_and_helpful_marks_on_one_question_never_fails_with_5xx(
    tmp_path: Path, database_url: str, now: datetime
) -> None:
    settings = AppSettings(
        data_dir=tmp_path / "data", database_url=database_url, model_name="hashing-test"
    )
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("burst")
    post = api.client.post
    for n in range(PEOPLE + 1):
        person = post(
            "/v1/people",
            json={"name": f"P{n}", "external_ids": [f"t:{n}"]},
            headers=tenant.headers,
        ).json()
        post(
            f"/v1/people/{person['id']}/evidence",
            json={"kind": "interest", "text": "grafana dashboards alerting"},
            headers=tenant.headers,
        )
    asked = post(
        "/v1/questions",
        json={"question": "grafana dashboards alerting?", "asker": "t:0", "k": PEOPLE},
        headers=tenant.headers,
    )
    assert asked.status_code == 201, asked.text
    asks = asked.json()["question"]["asks"]
    assert len(asks) == PEOPLE

    with (
        LiveServer.start(api.client.app) as server,
        httpx.Client(base_url=server.url, headers=tenant.headers, timeout=60) as client,
        ThreadPoolExecutor(max_workers=2 * PEOPLE) as pool,
    ):

        def answer(ask: dict[str, object]) -> httpx.Response:
            person = f"t:{int(str(ask['person_id'])) - 1}"  # P{n} was the (n+1)th created
            return client.post(
                f"/v1/asks/{ask['id']}/answer", json={"person": person, "text": "use alert rules"}
            )

        def helpful(answer_id: int) -> httpx.Response:
            return client.post(f"/v1/answers/{answer_id}/helpful", json={"asker": "t:0"})

        # Every ask answered twice at once, then every answer marked helpful twice at once.
        answered = list(pool.map(answer, asks + asks))
        ids = sorted({r.json()["id"] for r in answered if r.status_code == 201})
        marked = list(pool.map(helpful, ids + ids))
    statuses = Counter(response.status_code for response in answered + marked)
    print(statuses)
    assert not [s for s in statuses if s >= 500 and s != 503], statuses
    with api.services.database.transaction() as session:
        answers = session.scalars(select(Answer)).all()
        favours = session.scalars(select(Favour)).all()
        assert len(answers) == len(ids)
        assert len({answer.ask_id for answer in answers}) == len(answers)  # one per ask
        helpful_marked = sum(1 for answer in answers if answer.helpful)
        assert Counter(favour.kind for favour in favours) == Counter(
            {"answer": len(answers), "helpful": helpful_marked}
            if helpful_marked
            else {"answer": len(answers)}
        )
    assert len(ids) == PEOPLE - sum(  # an ask is unanswered only if both tries were turned away
        1
        for n in range(PEOPLE)
        if {answered[n].status_code, answered[n + PEOPLE].status_code} <= {503}
    ), statuses
    api.close()
