"""Asks by email, against a real SMTP server in the test process (aiosmtpd on 127.0.0.1, port 0):
headers, text and HTML parts, the signed link, the answer page, the answer flowing back to the
asker, retries without duplicates, and the weekly summary by email."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from router.delivery.channels import LogChannel
from router.delivery.email import ByEmail, EmailChannel, SmtpConfig
from router.delivery.outbox import deliver_due
from router.ledger.schedule import enqueue_due_summaries
from router.ledger.weeks import iso_week, week_bounds
from router.settings import Settings
from tests.api_client import ApiHarness, Tenant

QUESTION = "Why does my Grafana alert rule never fire?"
LINK = re.compile(r"http://testserver/respond/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[A-Za-z0-9_-]+")


class Inbox:
    """An aiosmtpd handler that keeps every message; it can refuse the next few with a 451."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_next = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse_next:
                self.refuse_next -= 1
                return "451 4.3.0 try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class LoopbackController(Controller):
    """aiosmtpd's controller on a free port: the port is read back once the server listens."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_tls": "none",
            "smtp_from": "ask@askaround.test",
            "public_url": "http://testserver",
            "link_secret": "a-test-secret-of-enough-length",
        }
    )


@pytest.fixture
def api(mail_settings: Settings, now: datetime) -> Iterator[ApiHarness]:
    harness = ApiHarness.start(mail_settings, now=now)
    yield harness
    harness.close()


def _post(api: ApiHarness, tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=tenant.headers)
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def _network(api: ApiHarness) -> Tenant:
    """Alex asks; Ada (email only, no Slack) knows Grafana."""
    tenant = api.network("acme")
    _post(
        api,
        tenant,
        "/v1/people",
        {"name": "Alex", "external_ids": ["t:alex"], "email": "alex@example.org"},
    )
    ada = _post(
        api, tenant, "/v1/people", {"name": "Ada", "external_ids": ["email:ada@example.org"]}
    )
    _post(
        api,
        tenant,
        f"/v1/people/{ada['id']}/evidence",
        {"kind": "answer", "text": "Grafana alert rules need a datasource that evaluates"},
    )
    return tenant


def _deliver(api: ApiHarness, now: datetime, tmp_path: Path) -> None:
    channel = ByEmail(
        EmailChannel(SmtpConfig.of(api.services.settings), clock=lambda: now),
        LogChannel(tmp_path / "others.jsonl"),
    )
    deliver_due(api.services.database, channel, now=now, worker_id="test")


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def _ask_by_email(
    api: ApiHarness, tenant: Tenant, now: datetime, tmp_path: Path, inbox: Inbox
) -> str:
    """Ask Ada by email; the path of the answer link in her email."""
    _post(api, tenant, "/v1/questions", {"question": QUESTION, "asker": "t:alex", "k": 1})
    _deliver(api, now, tmp_path)
    (message,) = inbox.to("ada@example.org")
    text, _ = _parts(message)
    match = LINK.search(text)
    assert match is not None, text
    return match.group(0).removeprefix("http://testserver")


def test_an_ask_email_has_headers_text_and_html_parts_and_a_signed_link(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    tenant = _network(api)
    _post(api, tenant, "/v1/questions", {"question": QUESTION, "asker": "t:alex", "k": 1})
    _deliver(api, now, tmp_path)
    (message,) = inbox.messages
    assert inbox.envelopes == [("ask@askaround.test", ["ada@example.org"])]
    assert message["Subject"] == f"Alex asks: {QUESTION}"
    assert message["From"] == "ask@askaround.test" and message["To"] == "Ada <ada@example.org>"
    assert re.fullmatch(r"<[0-9a-f]{32}@askaround\.test>", str(message["Message-ID"]))
    assert message.get_content_type() == "multipart/alternative"
    text, markup = _parts(message)
    assert QUESTION in text and "Why you:" in text
    link = LINK.search(text)
    assert link is not None and f'href="{link.group(0)}"' in markup
    assert "works once for each action" in text


def test_answering_from_the_link_reaches_the_asker_by_email_and_works_once(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    page = api.client.get(path)
    assert page.status_code == 200 and "Alex asked:" in page.text and "Not my area" in page.text
    assert "no-referrer" in page.headers["Referrer-Policy"]
    done = api.client.post(path, data={"action": "answer", "text": "Check the evaluation interval"})
    assert done.status_code == 200 and "You answered this question" in done.text
    again = api.client.post(path, data={"action": "answer", "text": "Something else"})
    assert again.status_code == 409 and "You answered this question" in again.text
    passing = api.client.post(path, data={"action": "pass"})
    assert passing.status_code == 409
    _deliver(api, now, tmp_path)
    (reply,) = inbox.to("alex@example.org")
    assert reply["Subject"] == f"Ada answered: {QUESTION}"
    text, markup = _parts(reply)
    assert "Check the evaluation interval" in text and "Check the evaluation interval" in markup
    assert "Something else" not in text


def test_pass_and_not_my_area_work_from_the_page(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    declined = api.client.post(path, data={"action": "decline"})
    assert declined.status_code == 200 and "not your area" in declined.text
    assert api.client.post(path, data={"action": "answer", "text": "late"}).status_code == 409


def test_an_altered_or_expired_link_is_refused(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    network, ask, person, expiry, signature = path.removeprefix("/respond/").split(".")
    forged = f"/respond/{network}.{ask}.{int(person) + 1}.{expiry}.{signature}"
    assert api.client.get(forged).status_code == 403
    later = ApiHarness.start(api.services.settings, now=now + timedelta(days=8))
    try:
        assert later.client.get(path).status_code == 410
    finally:
        later.close()


def test_a_link_whose_signature_is_not_ascii_is_refused_not_a_500(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    forged = path.rsplit(".", 1)[0] + ".\u00e9t\u00e9"
    assert api.client.get(forged).status_code == 403
    assert api.client.post(forged, data={"action": "pass"}).status_code == 403


def test_an_answer_with_a_nul_character_from_the_page_is_refused_and_the_ask_waits(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    refused = api.client.post(path, data={"action": "answer", "text": "Check\x00 the interval"})
    assert refused.status_code == 400 and "NUL" in refused.text
    done = api.client.post(path, data={"action": "answer", "text": "Check the interval"})
    assert done.status_code == 200 and "You answered this question" in done.text


def test_a_refused_send_is_retried_and_delivered_once(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    tenant = _network(api)
    _post(api, tenant, "/v1/questions", {"question": QUESTION, "asker": "t:alex", "k": 1})
    inbox.refuse_next = 1
    _deliver(api, now, tmp_path)
    assert inbox.messages == []
    for later in (now + timedelta(hours=1), now + timedelta(hours=2)):
        _deliver(api, later, tmp_path)
    assert len(inbox.to("ada@example.org")) == 1


def test_the_weekly_summary_goes_by_email_too(
    api: ApiHarness, now: datetime, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    tenant = _network(api)
    path = _ask_by_email(api, tenant, now, tmp_path, smtp[0])
    api.client.post(path, data={"action": "answer", "text": "Check the evaluation interval"})
    week = iso_week(now)
    monday_after = week_bounds(week)[1] + timedelta(hours=12)  # the week is over everywhere
    with api.services.database.transaction() as session:
        run = enqueue_due_summaries(
            session, network_id=tenant.network_id, now=monday_after, week=week
        )
    assert len(run.enqueued) == 2
    _deliver(api, monday_after, tmp_path)
    summaries = [m for m in inbox.messages if str(m["Subject"]).startswith("Your Askaround week")]
    assert {str(m["To"]) for m in summaries} == {"Alex <alex@example.org>", "Ada <ada@example.org>"}
    text, _ = _parts(summaries[0])
    assert "This week you gave" in text


# RFC 5321 allows 254 characters; this one is 250 (a 64-character local part, labels under 64)
LONG_ADDRESS = "a" * 64 + "@" + "x" * 60 + "." + "y" * 60 + "." + "z" * 59 + ".com"


def test_a_person_with_a_250_character_address_is_asked_by_email_at_that_address(
    api: ApiHarness, smtp: tuple[Inbox, int], now: datetime, tmp_path: Path
) -> None:
    inbox = smtp[0]
    assert len(LONG_ADDRESS) == 250
    tenant = api.network("acme")
    _post(api, tenant, "/v1/people", {"name": "Alex", "external_ids": ["t:alex"]})
    ada = _post(
        api,
        tenant,
        "/v1/people",
        {"name": "Ada", "external_ids": [f"email:{LONG_ADDRESS}"], "email": LONG_ADDRESS},
    )
    _post(
        api,
        tenant,
        f"/v1/people/{ada['id']}/evidence",
        {"kind": "answer", "text": "Grafana alert rules need a datasource that evaluates"},
    )
    _post(api, tenant, "/v1/questions", {"question": QUESTION, "asker": "t:alex", "k": 1})
    _deliver(api, now, tmp_path)
    assert inbox.envelopes == [("ask@askaround.test", [LONG_ADDRESS])]
