"""The web page shows past answers first and "That answers it" credits their author."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from router.storage.schema import Favour
from tests import test_web_page
from tests.test_web_page import QUESTION, Site, _use_key, browser, page, site

__all__ = ["browser", "page", "site"]

pytestmark = test_web_page.pytestmark


def test_the_page_shows_a_past_answer_and_that_answers_it_credits_its_author(
    site: Site, page: Page
) -> None:
    page.goto(site.url)
    _use_key(page, site.tenant.key)
    expect(page.locator("#connection")).to_contain_text("Connected to network acme")
    page.locator("summary").first.click()
    page.get_by_label("Asked by (external id, optional)").fill("t:asker")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_label("Question", exact=True).press("Enter")
    past = page.locator("li.past-answer")
    expect(past.first).to_be_visible()
    expect(page.get_by_role("heading", name="Already answered? 1 past answer")).to_be_visible()
    expect(past.first.locator("h3")).to_contain_text("How do I work with Grafana dashboards")
    expect(past.first.locator(".meta")).to_contain_text("answered by Ada")
    expect(page.locator("li.candidate").first.locator("h3")).to_have_text("Ada")
    past.first.get_by_role("button", name="That answers it").click()
    expect(past.first.locator(".status")).to_have_text(
        "Ada gets a favour for it; nobody needs to be asked."
    )
    with site.api.services.database.transaction() as session:
        kinds = list(session.scalars(select(Favour.kind).where(Favour.kind == "reuse")))
    assert kinds == ["reuse"]
