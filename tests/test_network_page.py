"""The network page for the key holder: the give/take graph, givers and takers, topic experts,
unanswered questions and asks per person with the Gini figure, in headless Chromium, with the
screenshots checked and every number matching ``GET /v1/network/overview``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from router.ledger.fairness import gini
from router.settings import Settings
from tests import test_web_page
from tests.api_client import ApiHarness, Tenant
from tests.test_web_page import Site, _serving, browser, page

__all__ = ["browser", "page"]


def _post(api: ApiHarness, tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=tenant.headers)
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def _seed(api: ApiHarness) -> Tenant:
    """Cy answers the asker (helpful), Ada answers Bob, and one question waits on Bob."""
    tenant = api.network("acme")
    topics = {
        "asker": ("interest", "sourdough"),
        "ada": ("answer", "Grafana dashboards and Prometheus alert rules"),
        "bob": ("answer", "dbt incremental models on Snowflake"),
        "cy": ("answer", "Stripe webhooks and idempotency keys"),
    }
    for name, (kind, text) in topics.items():
        person = _post(
            api, tenant, "/v1/people", {"name": name.title(), "external_ids": [f"t:{name}"]}
        )
        body = {"kind": kind, "text": text}
        if kind == "answer":
            body["context"] = f"How do I work with {text}? [{text.split()[0].lower()}]"
        _post(api, tenant, f"/v1/people/{person['id']}/evidence", body)
    for asker, question, answerer, helpful in (
        ("asker", "How do I retry a Stripe webhook?", "cy", True),
        ("bob", "Why does my Grafana alert rule not fire?", "ada", False),
        ("asker", "How do dbt incremental models work on Snowflake?", None, False),
    ):
        asked = _post(
            api, tenant, "/v1/questions", {"question": question, "asker": f"t:{asker}", "k": 1}
        )
        ask = asked["question"]["asks"][0]
        if answerer is None:
            continue
        assert ask["person_name"] == answerer.title(), asked
        answer = _post(
            api,
            tenant,
            f"/v1/asks/{ask['id']}/answer",
            {"person": f"t:{answerer}", "text": "Here is how."},
        )
        if helpful:
            _post(api, tenant, f"/v1/answers/{answer['id']}/helpful", {"asker": f"t:{asker}"})
    return tenant


@pytest.fixture
def network_site(settings: Settings, now: datetime) -> Iterator[Site]:
    api = ApiHarness.start(settings, now=now)
    try:
        tenant = _seed(api)
        with _serving(api) as url:
            yield Site(url=url, api=api, tenant=tenant)
    finally:
        api.close()


def _overview(site: Site) -> dict[str, Any]:
    response = site.api.client.get("/v1/network/overview", headers=site.tenant.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_the_overview_api_adds_up(network_site: Site) -> None:
    data = _overview(network_site)
    names = {n["person_id"]: n["name"] for n in data["nodes"]}
    edges = {(names[e["giver_id"]], names[e["taker_id"]]): e["weight"] for e in data["edges"]}
    assert edges == {("Cy", "Asker"): 2.0, ("Ada", "Bob"): 1.0}
    assert sum(n["given"] for n in data["nodes"]) == sum(n["received"] for n in data["nodes"])
    assert [n["name"] for n in data["top_givers"]] == ["Cy", "Ada"]
    assert {n["name"] for n in data["only_take"]} == {"Asker", "Bob"}
    assert [q["text"] for q in data["unanswered"]] == [
        "How do dbt incremental models work on Snowflake?"
    ]
    experts = {t["topic"]: [e["name"] for e in t["experts"]] for t in data["topics"]}
    assert experts["grafana"] == ["Ada"] and experts["sourdough"] == ["Asker"]
    totals = [p["total"] for p in data["asks"]["people"]]
    assert sorted(totals) == [1, 1, 1]
    assert data["asks"]["gini"] == round(gini([*totals, 0]), 4)  # Asker was asked nothing


def _ink(png: bytes) -> tuple[float, set[tuple[int, int, int]]]:
    """Share of pixels that are not background, and the distinct strong colours drawn."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(image.getdata())
    inked = [p for p in pixels if sum(p) < 720]
    strong = {(r // 32, g // 32, b // 32) for r, g, b in inked if max(r, g, b) - min(r, g, b) > 60}
    return len(inked) / len(pixels), strong


@test_web_page.pytestmark[1]
@test_web_page.pytestmark[0]
def test_the_network_page_draws_the_graph_tables_and_chart_with_the_apis_numbers(
    network_site: Site, page: Page
) -> None:
    data = _overview(network_site)
    page.goto(network_site.url + "/network")
    page.get_by_label("API key").fill(network_site.tenant.key)
    page.get_by_role("button", name="Show the network").click()
    graph = page.locator("#graph")
    expect(graph.locator("circle")).to_have_count(len(data["nodes"]))
    expect(graph.locator("line")).to_have_count(len(data["edges"]))
    expect(page.locator("#legend")).to_contain_text("only takes")
    for node in data["nodes"]:
        expect(graph.locator(f'circle[data-person="{node["person_id"]}"]')).to_have_count(1)
    givers = page.locator("#givers tbody tr")
    expect(givers).to_have_count(len(data["top_givers"]))
    first = data["top_givers"][0]
    expect(givers.first).to_contain_text(first["name"])
    expect(givers.first.locator("td").nth(1)).to_have_text(f"{first['given']:g}")
    expect(page.locator("#takers tbody tr")).to_have_count(len(data["only_take"]))
    expect(page.locator("#unanswered")).to_contain_text(data["unanswered"][0]["text"])
    expect(page.locator("#topics")).to_contain_text("grafana")
    expect(page.locator("#gini")).to_contain_text(f"Gini {data['asks']['gini']:.2f}")
    bars = sum(1 for p in data["asks"]["people"] for n in p["asks"] if n)
    expect(page.locator("#asks-chart rect.bar")).to_have_count(bars)

    share, colours = _ink(graph.screenshot())
    assert share > 0.01, "the graph is blank"
    assert len(colours) >= 2, f"expected givers and takers in different colours, got {colours}"
    legend_share, _ = _ink(page.locator("#legend").screenshot())
    assert legend_share > 0.01, "the legend is blank"
    chart_share, _ = _ink(page.locator("#asks-chart").screenshot())
    assert chart_share > 0.01, "the asks chart is blank"


@test_web_page.pytestmark[1]
@test_web_page.pytestmark[0]
def test_a_long_unanswered_question_and_hostile_names_stay_inside_the_network_page(
    network_site: Site, page: Page
) -> None:
    api, tenant = network_site.api, network_site.tenant
    _post(
        api,
        tenant,
        "/v1/people",
        {"name": '"><img src=x onerror=alert(1)>', "external_ids": ["t:x"]},
    )
    long_question = "Why does Snowflake " + "Z" * 3000 + " time out?"
    _post(api, tenant, "/v1/questions", {"question": long_question, "asker": "t:x", "k": 1})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(network_site.url + "/network")
    page.get_by_label("API key").fill(tenant.key)
    page.get_by_role("button", name="Show the network").click()
    expect(page.locator("#unanswered")).to_contain_text("ZZZZ")
    expect(page.locator("#unanswered")).to_contain_text('"><img src=x onerror=alert(1)>')
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0
    assert page.locator("img").count() == 0 and dialogs == []
