"""A national admin's territory picker, in Debian's Chromium: the console and the dashboard.

The demo's two territories (Nord 59, Pas-de-Calais 62) on a real server. A national admin
(no territory of its own) picks one with a labelled select, by the keyboard; every API call
the screen makes then names it (``?territory=CODE``), the address keeps it across a reload,
and the data shown are that territory's. A territory's own token never sees the picker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard.test_browser import CHROMIUM_ARGS, Server, free_port
from tests.screens.test_screens_browser import CHROMIUM, api, assert_accessible, new_page, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

NORD_REF, PDC_REF = "115-2026-", "115-62-2026-"  # the demo's case references
NORD_SHELTER, PDC_SHELTER = "CHU Les Tisserands", "CHU Vauban"


@pytest.fixture
def tokens(session: Any) -> dict[str, str]:
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.demo.loader import load_demo, load_two_territory_demo

    load_demo(session, "ter_59")
    load_two_territory_demo(session, "ter_59")
    made = {
        "national": create_token(session, Role.admin, "national desk", national=True)[1],
        "operator": create_token(session, Role.operator, "59 desk", territory_id="ter_59")[1],
        "viewer": create_token(session, Role.viewer, "59 wall", territory_id="ter_59")[1],
    }
    session.commit()
    session.close()
    return made


@pytest.fixture
def server(migrated_database: str, tokens: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    srv = Server(f"http://127.0.0.1:{port}", port, migrated_database)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    page = new_page(browser)
    yield page
    page.context.close()
    assert page.errors == [], page.errors


def api_calls(page: Any) -> list[str]:
    """The URLs of the API calls the page makes from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/v1/" in r.url else None)
    return seen


def territory_of(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("territory", [])


def scoped_calls(seen: list[str]) -> list[str]:
    """Calls that act in a territory (/me and the list of territories name none)."""
    return [u for u in seen if "/api/v1/me" not in u and "/api/v1/territories" not in u]


def queue_references(page: Any) -> list[str]:
    cells = page.locator("#queue tbody tr[data-request-id] td:nth-child(3) span:last-child")
    return [c.strip() for c in cells.all_inner_texts()]


def switch_by_keyboard(page: Any, to: str) -> None:
    """Tab-reachable, and an arrow key moves the choice (no mouse)."""
    page.locator("#territory-pick").focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("#territory-pick").input_value() == to


def test_national_admin_switches_the_console_from_nord_to_pas_de_calais(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    seen = api_calls(page)
    sign_in(page, server, "console", tokens["national"])
    picker = page.get_by_label("Territoire")
    assert picker.is_visible() and picker.input_value() == "59"  # the first, by code
    assert territory_of(page.url) == ["59"]
    refs = queue_references(page)
    assert refs and all(r.startswith(NORD_REF) and not r.startswith(PDC_REF) for r in refs)
    assert scoped_calls(seen) and all(territory_of(u) == ["59"] for u in scoped_calls(seen))
    assert_accessible(page, "console, national admin")

    seen.clear()
    switch_by_keyboard(page, "62")
    page.locator("#queue tbody tr[data-request-id]").first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#queue tbody tr[data-request-id]')]"
        ".every(r => r.textContent.includes('115-62-'))"
    )
    assert sorted(queue_references(page)) == [f"{PDC_REF}00020{i}" for i in range(1, 5)]
    assert page.evaluate("document.activeElement.id") == "territory-pick"  # focus stays
    assert territory_of(page.url) == ["62"]
    assert "Pas-de-Calais" in page.get_by_test_id("who").inner_text()
    assert all(territory_of(u) == ["62"] for u in scoped_calls(seen))

    # A run started here is the Pas-de-Calais' (POST /allocations?territory=62).
    seen.clear()
    page.get_by_test_id("run-allocation").click()
    page.get_by_test_id("run-considered").filter(has_text="4").wait_for(timeout=30_000)
    assert any("/api/v1/allocations?territory=62" in u for u in seen)
    national = tokens["national"]
    ran = api(server, national, "GET", "/api/v1/allocations/latest", params={"territory": "62"})
    assert ran.status_code == 200 and ran.json()["requests_considered"] == 4
    nord = api(server, national, "GET", "/api/v1/allocations/latest", params={"territory": "59"})
    assert nord.status_code == 404  # the Nord's own night is untouched

    # The address remembers the choice: a reload shows the Pas-de-Calais again.
    page.reload()
    page.locator("body[data-loaded]").wait_for()
    assert page.get_by_label("Territoire").input_value() == "62"
    assert all(r.startswith(PDC_REF) for r in queue_references(page))


def test_national_admin_switches_the_dashboard(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    seen = api_calls(page)
    page.goto(f"{server.url}/dashboard?interval=1#token={tokens['national']}")
    page.get_by_test_id("tile-free-beds").wait_for()
    freshness = page.locator("#freshness tbody")
    assert NORD_SHELTER in freshness.inner_text()
    assert PDC_SHELTER not in freshness.inner_text()
    assert page.get_by_label("Territoire").input_value() == "59"
    assert territory_of(page.url) == ["59"] and "token" not in page.url
    # The figures' colour fades in 0.3 s after a theme change: axe judges the settled page.
    page.emulate_media(reduced_motion="reduce")
    assert_accessible(page, "dashboard, national admin")

    switch_by_keyboard(page, "62")
    page.wait_for_function(
        "name => document.querySelector('#freshness tbody').textContent.includes(name)",
        arg=PDC_SHELTER,
    )
    assert NORD_SHELTER not in freshness.inner_text()
    summary = api(
        server, tokens["national"], "GET", "/api/v1/dashboard/summary", params={"territory": "62"}
    ).json()
    shown = page.get_by_test_id("tile-free-beds").inner_text().strip()
    assert int(shown) == summary["capacity"]["totals"]["free_beds"]
    assert territory_of(page.url) == ["62"]
    calls = scoped_calls(seen)
    assert calls and all(territory_of(u) in (["59"], ["62"]) for u in calls)
    assert territory_of(calls[-1]) == ["62"]

    page.reload()
    page.get_by_test_id("tile-free-beds").wait_for()
    assert page.get_by_label("Territoire").input_value() == "62"
    assert PDC_SHELTER in freshness.inner_text()


def test_a_territory_token_never_sees_the_picker(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    seen = api_calls(page)
    # Even with another territory in the address: the token's own territory, no picker.
    page.goto(f"{server.url}/console?interval=2&territory=62")
    page.locator("#token-input").fill(tokens["operator"])
    page.locator("#token-input").press("Enter")
    page.locator("body[data-loaded]").wait_for()
    assert page.get_by_test_id("territory-box").is_hidden()
    assert page.get_by_label("Territoire").is_hidden()
    refs = queue_references(page)
    assert refs and all(not r.startswith(PDC_REF) for r in refs)
    assert not any(territory_of(u) for u in seen)
    assert not any("/api/v1/territories" in u for u in seen)

    page.goto(f"{server.url}/dashboard?interval=1#token={tokens['viewer']}")
    page.get_by_test_id("tile-free-beds").wait_for()
    assert page.get_by_test_id("territory-box").is_hidden()
    assert NORD_SHELTER in page.locator("#freshness tbody").inner_text()
    assert not any(territory_of(u) for u in seen)
