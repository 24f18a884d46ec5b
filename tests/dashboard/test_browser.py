"""End to end: a real server, the demo region, headless Chromium driving /dashboard.

Runs on the suite's database (SQLite file, or PostgreSQL with ABRI_TEST_DATABASE_URL): the
server is a uvicorn subprocess pointed at the same DATABASE_URL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
POLL_S = 1  # the page's ?interval=, so that the test does not wait 15 s for a refresh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Generous: on a shared 2-core machine a worker's start (imports, warm-up) took over 30 s.
START_TIMEOUT_S = 90


def wait_until_up(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start within {START_TIMEOUT_S} s")


@dataclass
class Server:
    url: str
    port: int
    database_url: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ALLOCATION_TIME_LIMIT_S": "5",
            "ALLOCATION_INTERVAL_S": "0",
            "LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        try:
            wait_until_up(self.proc, self.url)
        except BaseException:
            self.stop()  # a server that came up late must not outlive the test
            raise

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def demo(session: Any, make_token: Callable[..., str]) -> dict[str, str]:
    """The demo region, loaded with the demo command's own loader, and two tokens."""
    from app.demo.loader import load_demo

    load_demo(session, "ter_59")
    session.commit()
    session.close()
    return {"viewer": make_token("viewer"), "operator": make_token("operator")}


@pytest.fixture
def server(migrated_database: str, demo: dict[str, str]) -> Iterator[Server]:
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
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == [], errors


def summary(server: Server, token: str) -> dict[str, Any]:
    resp = httpx.get(
        f"{server.url}/api/v1/dashboard/summary",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    resp.raise_for_status()
    return resp.json()


def text(page: Any, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text().strip()


def run_allocation(server: Server, token: str) -> dict[str, Any]:
    resp = httpx.post(
        f"{server.url}/api/v1/allocations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def open_dashboard(page: Any, server: Server, token: str) -> None:
    # The token in the fragment: a browser never sends it to the server.
    page.goto(f"{server.url}/dashboard?interval={POLL_S}#token={token}")
    page.get_by_test_id("tile-free-beds").wait_for()


def test_page_shows_the_api_numbers_and_follows_a_new_run(
    page: Any, server: Server, demo: dict[str, str]
) -> None:
    first = run_allocation(server, demo["operator"])
    open_dashboard(page, server, demo["viewer"])

    # The token left the URL for this tab's sessionStorage.
    assert "token" not in page.url
    assert page.evaluate("sessionStorage.getItem('abri.dashboard.token')") == demo["viewer"]

    data = summary(server, demo["viewer"])
    cap = data["capacity"]
    assert int(text(page, "tile-free-beds")) == cap["totals"]["free_beds"]
    assert int(text(page, "tile-private-rooms")) == cap["totals"]["free_private_rooms"]
    assert int(text(page, "tile-shared-women")) == cap["shared_beds"]["women"]
    assert int(text(page, "tile-shared-men")) == cap["shared_beds"]["men"]
    assert int(text(page, "tile-waiting")) == data["waiting"]["requests"]
    assert int(text(page, "tile-holds")) == data["holds_total"]
    assert int(text(page, "tile-stale")) == data["freshness"]["counts"]["stale"]
    for kind in cap["by_kind"]:
        assert int(text(page, f"kind-{kind['kind']}")) == kind["free_beds"]
    for size in cap["by_size"]:
        assert int(text(page, f"size-{size['size_class']}")) == size["rooms"]
    for p in data["waiting"]["by_priority"]:
        assert int(text(page, f"waiting-p{p['priority']}")) == p["requests"]
    run = data["latest_run"]
    assert run["id"] == first["id"]
    assert text(page, "run-id") == run["id"]
    assert int(text(page, "run-placed")) == run["people_placed"]
    assert page.locator("#unplaced tbody tr[data-code]").count() == len(run["unplaced"])
    assert page.locator("#freshness tbody tr").count() == len(data["freshness"]["shelters"])
    stale_text = text(page, "stale-list")
    for shelter in data["freshness"]["stale"]:
        assert shelter["name"] in stale_text
    assert page.locator("[data-testid=map-svg] .dot").count() == len(data["map"]["shelters"])
    rounded = [p for p in data["map"]["shelters"] if p["position_rounded"]]
    assert rounded, "the demo has confidential shelters"
    assert page.locator("[data-testid=map-svg] .dot.rounded").count() == len(rounded)
    assert page.get_by_test_id("refresh-status").inner_text().startswith("Actualisé à")
    assert page.get_by_test_id("banner").is_hidden()

    # A new run, started by an operator elsewhere, appears without a reload.
    page.evaluate("window.__same_page = true")
    second = run_allocation(server, demo["operator"])
    assert second["id"] != first["id"]
    page.wait_for_function(
        "id => document.querySelector('[data-testid=run-id]').textContent === id",
        arg=second["id"],
        timeout=15_000,
    )
    assert page.evaluate("window.__same_page") is True
    after = summary(server, demo["viewer"])
    assert int(text(page, "tile-holds")) == after["holds_total"]
    assert int(text(page, "tile-free-beds")) == after["capacity"]["totals"]["free_beds"]

    # English on demand, same numbers.
    page.get_by_test_id("lang-toggle").click()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_role("heading", name="Latest plan").is_visible()
    assert text(page, "run-id") == second["id"]


def test_banner_when_the_server_goes_away_and_comes_back(
    page: Any, server: Server, demo: dict[str, str]
) -> None:
    open_dashboard(page, server, demo["viewer"])
    shown = text(page, "tile-free-beds")
    banner = page.get_by_test_id("banner")
    assert banner.is_hidden()

    server.stop()
    banner.wait_for(state="visible", timeout=10_000)
    assert banner.get_attribute("data-kind") == "offline"
    assert "injoignable" in banner.inner_text()
    # The last figures stay on screen.
    assert text(page, "tile-free-beds") == shown

    server.start()
    banner.wait_for(state="hidden", timeout=15_000)


def test_refused_token_asks_for_another(page: Any, server: Server, demo: dict[str, str]) -> None:
    page.goto(f"{server.url}/dashboard?interval={POLL_S}#token=abri_not_a_real_token")
    banner = page.get_by_test_id("banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-kind") == "refused"
    form_input = page.locator("#token-input")
    assert form_input.is_visible()

    form_input.fill(demo["viewer"])
    form_input.press("Enter")
    page.get_by_test_id("tile-free-beds").wait_for()
    banner.wait_for(state="hidden")
    assert page.locator("#login").is_hidden()

    # Keyboard: on a fresh load the skip link comes first and leads to the content.
    page.reload()
    page.get_by_test_id("tile-free-beds").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_token_in_the_query_string_is_not_used(
    page: Any, server: Server, demo: dict[str, str]
) -> None:
    sent: list[str] = []
    page.on("request", lambda req: sent.append(req.headers.get("authorization", "")))
    page.goto(f"{server.url}/dashboard?interval={POLL_S}&token={demo['viewer']}")
    banner = page.get_by_test_id("banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-kind") == "token_in_query"
    assert page.locator("#token-input").is_visible()
    assert "token" not in page.url  # out of the address bar and the history
    assert page.evaluate("sessionStorage.getItem('abri.dashboard.token')") is None
    assert not any(demo["viewer"] in header for header in sent)

    # The form still works, and clears the warning.
    page.locator("#token-input").fill(demo["viewer"])
    page.locator("#token-input").press("Enter")
    page.get_by_test_id("tile-free-beds").wait_for()
    banner.wait_for(state="hidden")


def test_docs_render_from_this_server_only(page: Any, server: Server) -> None:
    origins: set[str] = set()
    refused: list[str] = []
    page.on("request", lambda req: origins.add(req.url.split("/")[2]))
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security" in msg.text
            else None)  # fmt: skip
    page.goto(f"{server.url}/docs")
    page.locator(".opblock").first.wait_for(timeout=20_000)  # the operations are drawn
    assert page.locator(".opblock").count() > 20
    assert origins == {f"127.0.0.1:{server.port}"}
    assert refused == []
