"""The JavaScript SDK in a real headless Chromium (Debian's), against the real gateway and
DynamoDB Local: page views, clicks, a conversion, retries with the same event_id."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.items import from_item
from liveinsight.stream import catch_up

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# HeadlessChrome is a crawler by user agent (and is filtered), so the test browses as a person.
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian chromium is not installed (apt-get install chromium); .ci/run installs it",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    return [from_item(i) for i in client.scan(TableName=table, ConsistentRead=True)["Items"]]


def wait_for(predicate, timeout_s: float = 60.0) -> Any:
    """Poll until ``predicate()`` is truthy (bounded); the browser posts asynchronously."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_demo_site_visit_is_stored_exactly_as_the_session_rules_say(gateway, browser) -> None:
    client = dynamodb_client(gateway.settings)
    prefix = gateway.settings.table_prefix
    context = browser.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    page.goto(f"{gateway.url}/demo/")
    page.wait_for_function("window.liveinsight && window.liveinsight.sessionId")
    session_id = page.evaluate("liveinsight.sessionId")
    user_id = page.evaluate("liveinsight.userId")
    assert session_id.startswith("sess_") and session_id.endswith(user_id[-8:])
    assert user_id.startswith("user_")

    page.click("#to-products")  # a click, then the products page loads: page_view
    page.wait_for_url("**/products.html")
    page.wait_for_function("window.liveinsight && window.liveinsight.sessionId")
    assert page.evaluate("liveinsight.sessionId") == session_id  # same tab, same session
    page.click("#buy")  # a click on the button and the conversion it triggers
    page.evaluate("liveinsight.flush()")

    events = wait_for(lambda: (evs := scan(client, f"{prefix}Events")) and len(evs) >= 5 and evs)
    kinds = sorted(e["event_type"] for e in events)
    assert kinds == ["click", "click", "conversion", "page_view", "page_view"]
    assert {e["session_id"] for e in events} == {session_id}
    assert {e["user_id"] for e in events} == {user_id}
    conversion = next(e for e in events if e["event_type"] == "conversion")
    assert conversion["properties"] == {"name": "purchase", "value": 49}
    assert {e["properties"]["target"] for e in events if e["event_type"] == "click"} == {
        "#to-products",
        "#buy",
    }

    catch_up(gateway.settings)
    (visit,) = scan(client, f"{prefix}Sessions")
    views = sorted(
        (e for e in events if e["event_type"] == "page_view"), key=lambda e: e["timestamp"]
    )
    assert visit["session_id"] == session_id
    assert visit["total_events"] == 5
    assert visit["entry_page"] == "/demo/" and visit["exit_page"] == "/demo/products.html"
    assert visit["start_time"] == min(e["timestamp"] for e in events)
    assert visit["last_activity"] == max(e["timestamp"] for e in events)
    assert views[0]["page_url"] == "/demo/"
    context.close()


def test_failed_posts_are_retried_with_the_same_event_ids(gateway, browser) -> None:
    client = dynamodb_client(gateway.settings)
    context = browser.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    attempts: list[str] = []

    def flaky(route: Any) -> None:
        attempts.append(route.request.post_data or "")
        if len(attempts) == 1:
            route.fulfill(
                status=503, headers={"Retry-After": "1"}, body='{"error": "backend_unavailable"}'
            )
        else:
            route.continue_()

    page.route("**/collect", flaky)
    page.goto(f"{gateway.url}/demo/cart.html")
    page.wait_for_function("window.liveinsight && liveinsight.sent >= 1", timeout=20_000)
    events = wait_for(lambda: scan(client, f"{gateway.settings.table_prefix}Events"))
    assert len(attempts) >= 2
    sent = [json.loads(body) for body in attempts[:2]]
    assert sent[0]["events"] == sent[1]["events"]  # the very same events, ids included
    assert sent[1]["sent_at"] >= sent[0]["sent_at"]  # each body says when it was sent
    assert [e["event_type"] for e in events] == ["page_view"]
    context.close()


# The page's clock runs 10 minutes fast, and its first post is answered late.
SKEWED_PAGE = """
(() => {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + 10 * 60 * 1000;
  const realFetch = window.fetch.bind(window);
  let posts = 0;
  window.fetch = (...args) => {
    const answer = realFetch(...args);
    if (posts++ > 0) return answer;
    window.__firstPostAnswered = false;
    return answer.then((r) => new Promise((ok) => setTimeout(() => { window.__firstPostAnswered = true; ok(r); }, 1500)));
  };
})();
"""


def _visibility(page: Any, state: str) -> None:
    page.evaluate(
        "(state) => { Object.defineProperty(document, 'visibilityState', "
        "{value: state, configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }",
        state,
    )


def test_hide_and_show_mid_request_and_a_fast_clock_lose_nothing(gateway, browser) -> None:
    """The race of issue 16: a post in flight, the tab hidden (beacon) and shown again, then a
    conversion and a click; and a client clock 10 minutes fast, which sent_at corrects."""
    client = dynamodb_client(gateway.settings)
    context = browser.new_context(user_agent=DESKTOP_UA)
    context.add_init_script(SKEWED_PAGE)
    page = context.new_page()
    page.goto(f"{gateway.url}/demo/cart.html")
    page.wait_for_function("window.__firstPostAnswered === false")  # [page_view] in flight
    _visibility(page, "hidden")
    _visibility(page, "visible")
    page.evaluate(
        "liveinsight.conversion('purchase', 10); liveinsight.track('click', {target: '#x'})"
    )
    page.wait_for_function("window.__firstPostAnswered === true")
    page.wait_for_function("liveinsight.pending().length === 0", timeout=20_000)
    prefix = gateway.settings.table_prefix
    events = wait_for(lambda: (evs := scan(client, f"{prefix}Events")) and len(evs) >= 3 and evs)
    assert sorted(e["event_type"] for e in events) == ["click", "conversion", "page_view"]
    now = time.time() * 1000
    for event in events:  # stored at the server's time, not the page's 10-minutes-fast clock
        assert abs(event["timestamp"] - now) < 60_000, event
    context.close()


def test_sdk_and_demo_are_served_by_the_gateway(gateway) -> None:
    import httpx

    sdk = httpx.get(f"{gateway.url}/sdk/liveinsight.js")
    assert sdk.status_code == 200 and "javascript" in sdk.headers["content-type"]
    assert "sendBeacon" in sdk.text
    assert "liveinsight.js" in httpx.get(f"{gateway.url}/demo/").text
