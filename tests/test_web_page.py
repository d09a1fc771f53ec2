"""The web page at ``/``, driven in headless Chromium as a community manager would use it.

A real uvicorn server on a free loopback port serves ``create_app`` over the test database (with
the hashing embedder); Playwright drives Debian's Chromium (``/usr/bin/chromium``), never a
browser Playwright would download.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from router.settings import Settings
from tests.api_client import ApiHarness, Tenant

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Why does my Grafana alert rule not fire?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; ./run test does)",
    ),
]


@dataclass
class Site:
    url: str
    api: ApiHarness
    tenant: Tenant


def _seed(api: ApiHarness) -> Tenant:
    """A small network with one question answered (and found helpful) this week."""
    tenant = api.network("acme")
    people = {
        "asker": "Curious about everything",
        "ada": "Grafana dashboards and Prometheus alert rules",
        "bob": "dbt incremental models on Snowflake",
        "cy": "Stripe webhooks and idempotency keys",
    }
    for name, text in people.items():
        person = api.client.post(
            "/v1/people",
            json={"name": name.title(), "external_ids": [f"t:{name}"]},
            headers=tenant.headers,
        ).json()
        api.client.post(
            f"/v1/people/{person['id']}/evidence",
            json={"kind": "answer", "text": text, "context": f"How do I work with {text}?"},
            headers=tenant.headers,
        )
    asked = api.client.post(
        "/v1/questions",
        json={"question": "How do I retry a Stripe webhook?", "asker": "t:asker", "k": 1},
        headers=tenant.headers,
    ).json()
    ask = asked["question"]["asks"][0]
    assert ask["person_name"] == "Cy", asked
    answer = api.client.post(
        f"/v1/asks/{ask['id']}/answer",
        json={"person": "t:cy", "text": "Resend it from the dashboard."},
        headers=tenant.headers,
    ).json()
    helpful = api.client.post(
        f"/v1/answers/{answer['id']}/helpful", json={"asker": "t:asker"}, headers=tenant.headers
    )
    assert helpful.status_code == 200, helpful.text
    return tenant


@contextmanager
def _serving(api: ApiHarness) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(api.client.app, host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def _site(settings: Settings, now: datetime, *, open_network: str | None) -> Iterator[Site]:
    api = ApiHarness.start(settings, now=now, open_network=open_network)
    try:
        tenant = _seed(api)
        with _serving(api) as url:
            yield Site(url=url, api=api, tenant=tenant)
    finally:
        api.close()


@pytest.fixture
def site(settings: Settings, now: datetime) -> Iterator[Site]:
    with _site(settings, now, open_network=None) as running:
        yield running


@pytest.fixture
def open_site(settings: Settings, now: datetime) -> Iterator[Site]:
    with _site(settings, now, open_network="acme") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", timezone_id="UTC")
    opened = context.new_page()
    yield opened
    context.close()


def _use_key(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()


def _person_with_evidence(
    site: Site, name: str, external_id: str, evidence: dict[str, str]
) -> None:
    """Store a person and one piece of their evidence through the API."""
    api, tenant = site.api, site.tenant
    person = api.client.post(
        "/v1/people", json={"name": name, "external_ids": [external_id]}, headers=tenant.headers
    ).json()
    added = api.client.post(
        f"/v1/people/{person['id']}/evidence", json=evidence, headers=tenant.headers
    )
    assert added.status_code == 201, added.text


def test_a_manager_pastes_a_key_asks_and_sees_who_would_be_asked_and_why(
    site: Site, page: Page
) -> None:
    page.goto(site.url)
    expect(page.locator("#connection")).to_contain_text("Not connected yet")
    _use_key(page, site.tenant.key)
    expect(page.locator("#connection")).to_contain_text("Connected to network acme")
    assert page.evaluate("sessionStorage.getItem('askaround.apiKey')") == site.tenant.key

    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_label("Question", exact=True).press("Enter")
    candidates = page.locator("li.candidate")
    expect(candidates.first).to_be_visible()
    expect(candidates.first.locator("h3")).to_have_text("Ada")
    expect(candidates.first.locator(".xid")).to_have_text("t:ada")
    expect(candidates.first.locator(".because")).to_have_text("Asked because:")
    evidence = candidates.first.locator('li.reason[data-kind="evidence"]')
    expect(evidence.first.locator(".reason-text")).to_contain_text(
        'answered "How do I work with Grafana dashboards'
    )
    expect(evidence.first.locator("blockquote")).to_have_text(
        "Grafana dashboards and Prometheus alert rules"
    )
    expect(page.locator("#ask-result h2")).to_contain_text("would be asked")
    expect(page.locator("#ask-error")).to_be_hidden()


def test_a_bad_key_is_refused_with_a_readable_message_and_not_kept(site: Site, page: Page) -> None:
    page.goto(site.url)
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Who would be asked?").click()
    expect(page.locator("#ask-error")).to_have_text(
        "This server needs an API key: paste one in the box at the top."
    )

    _use_key(page, "ak_NotARealKey0000000000000000000")
    expect(page.locator("#key-error")).to_contain_text("That key is not valid")
    expect(page.get_by_label("API key")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('askaround.apiKey')") is None
    expect(page.locator("li.candidate")).to_have_count(0)


def test_a_key_revoked_while_the_page_is_open_is_forgotten_with_a_readable_message(
    site: Site, page: Page
) -> None:
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    expect(page.locator("#connection")).to_contain_text("acme")
    page.evaluate("sessionStorage.setItem('askaround.apiKey', 'ak_revoked000000000000000000')")
    page.reload()
    expect(page.locator("#key-error")).to_contain_text("That key is not valid")
    expect(page.locator("#connection")).to_contain_text("Not connected yet")


def test_the_summary_tab_shows_the_networks_week(site: Site, page: Page) -> None:
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    expect(page.locator("#connection")).to_contain_text("acme")
    ask_tab = page.get_by_role("tab", name="Ask a question")
    ask_tab.focus()
    ask_tab.press("ArrowRight")  # the tabs work from the keyboard
    summary_tab = page.get_by_role("tab", name="Weekly summary")
    expect(summary_tab).to_be_focused()
    expect(summary_tab).to_have_attribute("aria-selected", "true")
    result = page.locator("#summary-result")
    expect(result.locator("h2")).to_have_text("Week 2026-W48 in acme")
    expect(result.locator("table tbody tr")).to_have_count(1)
    expect(result.locator("table tbody tr td").first).to_have_text("Cy")
    expect(result.locator("ul.only-take li")).to_have_text(["Asker"])
    expect(page.locator("#panel-ask")).to_be_hidden()

    page.get_by_label("Week", exact=True).fill("2027-W01")
    page.get_by_role("button", name="Show summary").click()
    expect(page.locator("#summary-error")).to_contain_text("That was not accepted")


def test_local_development_mode_reads_the_open_network_without_a_key(
    open_site: Site, page: Page
) -> None:
    page.goto(open_site.url)
    expect(page.locator("#connection")).to_contain_text(
        "Local development mode: reading network acme"
    )
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Who would be asked?").click()
    expect(page.locator("li.candidate h3").first).to_have_text("Ada")


def test_names_and_evidence_are_shown_as_text_never_run_as_markup(site: Site, page: Page) -> None:
    _person_with_evidence(
        site,
        "<b>Eve</b>",
        "t:eve",
        {"kind": "interest", "text": "<img src=x onerror=alert(1)> Grafana alert rule"},
    )
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_text("Options").click()
    page.get_by_label("People to ask").fill("5")
    page.get_by_role("button", name="Who would be asked?").click()
    eve = page.locator("li.candidate", has_text="t:eve")
    expect(eve.locator("h3")).to_have_text("<b>Eve</b>")
    expect(eve.locator(".reason-text").first).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("#ask-result img, #ask-result b").count() == 0
    assert dialogs == []


LONG_WORD = "W" * 3000
RTL = "\u202egnp.exe"


def _page_overflow(page: Page) -> int:
    """How far the page is wider than the window, in CSS pixels (0: no sideways scrolling)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def test_long_words_and_direction_overrides_stay_inside_the_page(site: Site, page: Page) -> None:
    _person_with_evidence(
        site,
        "N" * 200,
        "t:" + "x" * 190,
        {
            "kind": "answer",
            "text": f"Grafana alert rule {LONG_WORD} {RTL} 🔥",
            "context": f"{RTL} Grafana {LONG_WORD}",
        },
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    page.get_by_label("Question", exact=True).fill(f"Grafana alert rule {LONG_WORD}")
    page.get_by_text("Options").click()
    page.get_by_label("People to ask").fill("5")
    page.get_by_role("button", name="Who would be asked?").click()
    expect(page.locator("li.candidate", has_text="NNNN").locator("h3")).to_be_visible()
    assert _page_overflow(page) == 0
    page.get_by_role("tab", name="Weekly summary").click()
    expect(page.locator("#summary-result h2")).to_be_visible()
    assert _page_overflow(page) == 0
    assert errors == []


_RECT_OF = """([node, needle]) => {
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  let text = walker.nextNode();
  while (text && !text.data.includes(needle)) text = walker.nextNode();
  const range = document.createRange();
  const at = text.data.indexOf(needle);
  range.setStart(text, at);
  range.setEnd(text, at + needle.length);
  return range.getBoundingClientRect().left;
}"""


def test_a_name_with_a_right_to_left_override_cannot_reorder_the_rest_of_its_line(
    site: Site, page: Page
) -> None:
    question = "Which torque wrench do you trust for carbon seatposts?"
    _person_with_evidence(
        site,
        "\u202eEvil",
        "t:evil",
        {"kind": "answer", "text": "A beam wrench, never a clicker.", "context": question},
    )
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    page.get_by_label("Question", exact=True).fill(question)
    page.get_by_role("button", name="Who would be asked?").click()
    meta = page.locator(".past-answer .meta", has_text="answered by").first
    expect(meta).to_be_visible()
    handle = meta.element_handle()
    name_left = page.evaluate(_RECT_OF, [handle, "Evil"])
    year_left = page.evaluate(_RECT_OF, [handle, str(site.api.now.year)])
    assert year_left > name_left  # the date still reads after the name, not reversed before it
