"""End to end in Debian's Chromium: the operator's console and the shelter's screen.

Each test gets a real server (uvicorn subprocess) on the suite's database with the demo region
loaded, as the dashboard's browser test does. axe-core (shipped by the axe-playwright-python
package) checks each screen in both languages and both themes. Cost: about a minute for the
module on this machine (four server starts, one or two engine runs of at most 5 s each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, Server, free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

DEMO_SHELTER = "shl_demo_val_tisserands"  # a general centre in Valenciennes (demo data)
POLL = "?interval=2"


@pytest.fixture
def tokens(session: Any, make_token: Callable[..., str]) -> dict[str, str]:
    from app.demo.loader import load_demo

    load_demo(session, "ter_59")
    session.commit()
    session.close()
    return {
        "operator": make_token("operator", name="night operator"),
        "viewer": make_token("viewer"),
        "shelter": make_token("shelter", shelter_id=DEMO_SHELTER, name="night desk"),
    }


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


def new_page(browser: Any, width: int = 1366, height: int = 900) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="fr-FR", color_scheme="light"
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    page = new_page(browser)
    yield page
    page.context.close()
    assert page.errors == [], page.errors


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    page = new_page(browser, 360, 740)
    yield page
    page.context.close()
    assert page.errors == [], page.errors


def api(server: Server, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"},
        timeout=60, **kw,
    )  # fmt: skip


def requests_with(server: Server, token: str, reference: str) -> list[dict[str, Any]]:
    resp = api(server, token, "GET", "/api/v1/requests", params={"reference": reference})
    return resp.json()["items"]


def sign_in(page: Any, server: Server, screen: str, token: str) -> None:
    page.goto(f"{server.url}/{screen}{POLL}")
    page.locator("#token-input").fill(token)
    page.locator("#token-input").press("Enter")
    page.locator("body[data-loaded]").wait_for()
    assert token not in page.url
    assert page.evaluate(f"sessionStorage.getItem('abri.{screen}.token')") == token


def assert_accessible(page: Any, where: str) -> None:
    """No serious or critical axe violation, in French and English, light and dark."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for step in ("fr-light", "toggle-theme", "toggle-lang", "toggle-theme"):
        if step == "toggle-theme":
            page.get_by_test_id("theme-toggle").click()
        elif step == "toggle-lang":
            page.get_by_test_id("lang-toggle").click()
        theme = page.evaluate("document.documentElement.dataset.theme")
        lang = page.evaluate("document.documentElement.lang")
        found = axe.run(page).response["violations"]
        bad = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in found
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{where} {lang}/{theme}: {bad}"
    # Back to French, light: what the rest of the test reads.
    page.get_by_test_id("lang-toggle").click()
    assert page.evaluate("document.documentElement.lang") == "fr"


def fill_member(page: Any, age: int, sex_key: str) -> None:
    """Keyboard only: the focused row's age, Tab, the sex by its first letter, Enter."""
    page.keyboard.type(str(age))
    page.keyboard.press("Tab")
    page.keyboard.press(sex_key)
    page.keyboard.press("Enter")  # adds the next row and focuses its age


def map_click(page: Any, fx: float, fy: float) -> None:
    # A locator click: re-resolved and retried if a refresh redraws the map meanwhile.
    svg = page.get_by_test_id("request-map").locator("svg")
    width, height = svg.evaluate("e => [e.clientWidth, e.clientHeight]")
    svg.click(position={"x": width * fx, "y": height * fy})


def test_operator_enters_a_mother_with_three_children_and_accepts_a_proposal(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    sign_in(page, server, "console", tokens["operator"])
    assert page.locator("#queue tbody tr[data-request-id]").count() > 0
    assert_accessible(page, "console")

    # The form, keyboard only: reference, priority, four people row by row, needs.
    page.locator("#f-reference").focus()
    page.keyboard.type("115-TEST-0001")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # 2 -> 4, immediate danger
    page.locator("#m-age-0").focus()
    for age, sex in ((34, "f"), (9, "h"), (6, "f"), (150, "h")):
        fill_member(page, age, sex)
    page.get_by_role("button", name="Retirer la personne 5").click()
    page.locator("#f-dv").focus()
    page.keyboard.press("Space")
    # The origin by a click on the map, a safety zone by another click.
    map_click(page, 0.45, 0.45)
    assert page.locator("#f-lat").input_value() != ""
    page.get_by_test_id("map-mode-zone").check()
    page.locator("#f-zone-km").fill("8")
    map_click(page, 0.6, 0.3)
    assert page.get_by_test_id("zone-row").count() == 1
    assert page.locator("#z-km-0").input_value() == "8"
    assert page.get_by_test_id("map-zone").count() == 1
    page.locator("#f-maxkm").fill("60")

    # A bad age: the API's error shows on that person's age field, nothing is created.
    page.get_by_test_id("submit-request").click()
    errors = page.get_by_test_id("form-errors")
    errors.wait_for()
    bad_age = page.locator("#m-age-3")
    assert bad_age.get_attribute("aria-invalid") == "true"
    described = bad_age.get_attribute("aria-describedby")
    assert "120" in page.locator(f"#{described.split()[-1]}").inner_text()
    assert requests_with(server, tokens["operator"], "115-TEST-0001") == []
    bad_age.fill("2")
    page.get_by_test_id("submit-request").click()
    page.get_by_test_id("notice").filter(has_text="115-TEST-0001").wait_for()
    [created] = requests_with(server, tokens["operator"], "115-TEST-0001")
    assert [(m["age"], m["sex"]) for m in created["members"]] == [
        (34, "F"), (9, "M"), (6, "F"), (2, "M"),
    ]  # fmt: skip
    assert created["priority"] == 4 and created["needs"]["dv_specialised"] is True
    assert created["max_km"] == 60 and len(created["avoid"]) == 1
    assert created["avoid"][0]["km"] == 8
    page.locator(f"#queue tr[data-request-id='{created['id']}']").wait_for()

    # Run an allocation: the plan, its people per priority against the bound, the reasons.
    page.get_by_test_id("run-allocation").click()
    page.get_by_test_id("run-proposals").wait_for(timeout=60_000)
    run = api(server, tokens["operator"], "GET", "/api/v1/allocations/latest").json()
    assert int(page.get_by_test_id("run-proposals").inner_text()) == len(run["proposals"])
    assert run["unplaced"], "the demo night leaves someone without a bed"
    shown = page.get_by_test_id("unplaced-detail").all_inner_texts()
    assert sorted(shown) == sorted(u["detail"] for u in run["unplaced"])
    rows = page.get_by_test_id("plan-priorities").locator("tbody tr")
    placed = run["objective"]["people_placed_by_priority"]
    assert rows.nth(0).locator("td").nth(0).inner_text() == str(placed.get("4", 0))
    # A proposal into a shelter whose data is stale says so; the others do not.
    summary = api(server, tokens["operator"], "GET", "/api/v1/dashboard/summary").json()
    stale = {s["shelter_id"] for s in summary["freshness"]["stale"]}
    for block in page.get_by_test_id("plan-shelter").all():
        marked = block.locator("h4 [data-testid=stale-mark]").count() == 1
        assert marked == (block.get_attribute("data-shelter-id") in stale)
    assert_accessible(page, "console with a plan")

    # Accept the first proposal.
    first = run["proposals"][0]
    plan_row = "#plan tr[data-placement-id='{}'] [data-testid={}]"
    page.locator(plan_row.format(first["placement_id"], "accept")).click()
    page.get_by_test_id("notice").filter(has_text="en route").wait_for()
    got = api(server, tokens["operator"], "GET", f"/api/v1/placements/{first['placement_id']}")
    assert got.json()["status"] == "accepted"

    # Decline another, which asks for a reason first.
    second = run["proposals"][1]
    page.locator(plan_row.format(second["placement_id"], "decline")).click()
    page.locator("#decline-dialog button[type=submit]").click()
    assert page.locator("#decline-error").is_visible()
    page.get_by_test_id("decline-reason").fill("la structure a rappelé : plus de place")
    page.locator("#decline-dialog button[type=submit]").click()
    page.get_by_test_id("notice").filter(has_text="refusée").wait_for()
    got = api(server, tokens["operator"], "GET", f"/api/v1/placements/{second['placement_id']}")
    assert got.json()["status"] == "declined"
    assert got.json()["decline_reason"] == "la structure a rappelé : plus de place"


def test_options_and_manual_placement_then_amend(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    op = tokens["operator"]
    queue = api(server, op, "GET", "/api/v1/requests", params={"status": "pending"}).json()
    target = next(
        r for r in queue["items"]
        if api(server, op, "GET", f"/api/v1/requests/{r['id']}/options").json()["options"]
    )  # fmt: skip
    options = api(server, op, "GET", f"/api/v1/requests/{target['id']}/options").json()
    sign_in(page, server, "console", op)

    row = page.locator(f"#queue tr[data-request-id='{target['id']}']")
    row.get_by_role("button", name=f"Options pour {target['reference']}").click()
    table = page.get_by_test_id("options-table")
    table.wait_for()
    assert table.locator("tbody tr").count() == len(options["options"])
    assert (
        table.locator("tbody tr").first.get_attribute("data-shelter-id")
        == (options["options"][0]["shelter_id"])
    )
    assert page.get_by_test_id("ruled-out").locator("li").count() >= 1
    assert_accessible(page, "console options")
    table.locator("tbody tr").first.get_by_role("button").click()
    page.get_by_test_id("notice").filter(has_text="Proposition créée").wait_for()
    live = api(server, op, "GET", "/api/v1/placements", params={"request_id": target["id"]})
    [placement] = live.json()["items"]
    assert placement["status"] == "proposed" and placement["source"] == "manual"
    assert placement["shelter_id"] == options["options"][0]["shelter_id"]

    # Amend another pending request: same place in the queue, its needs changed.
    other = next(r for r in queue["items"] if r["id"] != target["id"] and not r["needs"]["pets"])
    page.locator(f"#queue tr[data-request-id='{other['id']}']").get_by_role(
        "button", name=f"Modifier {other['reference']}"
    ).click()
    page.get_by_test_id("form-title").filter(has_text=other["reference"]).wait_for()
    assert page.locator("#f-reference").input_value() == other["reference"]
    page.locator("#f-pets").check()
    page.get_by_test_id("submit-request").click()
    page.get_by_test_id("notice").filter(has_text="garde sa place").wait_for()
    after = api(server, op, "GET", f"/api/v1/requests/{other['id']}").json()
    assert after["needs"]["pets"] is True and after["waiting_since"] == other["waiting_since"]
    assert after["version"] == other["version"] + 1


def test_shelter_confirms_tonight_from_a_phone_and_marks_an_arrival(
    phone: Any, server: Server, tokens: dict[str, str]
) -> None:
    op = tokens["operator"]
    # A household placed by hand into this shelter and accepted: it is on its way.
    body = {
        "reference": "115-TEST-0002",
        "priority": 3,
        "origin": {"lat": 50.357, "lon": 3.523},
        "members": [{"age": 41, "sex": "F"}, {"age": 12, "sex": "F"}],
    }
    req = api(server, op, "POST", "/api/v1/requests", json=body).json()
    options = api(server, op, "GET", f"/api/v1/requests/{req['id']}/options").json()
    here = next(o for o in options["options"] if o["shelter_id"] == DEMO_SHELTER)
    placed = api(
        server, op, "POST", f"/api/v1/requests/{req['id']}/placements",
        json={"shelter_id": DEMO_SHELTER, "room_ids": here["room_ids"]},
    ).json()  # fmt: skip
    assert api(server, op, "POST", f"/api/v1/placements/{placed['id']}/accept").status_code == 200
    before = api(server, tokens["shelter"], "GET", f"/api/v1/shelters/{DEMO_SHELTER}").json()

    page = phone
    sign_in(page, server, "shelter", tokens["shelter"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert "réservé" in page.get_by_test_id("held-summary").inner_text()
    assert not page.get_by_test_id("held-summary").inner_text().startswith("0 ")
    assert_accessible(page, "shelter")

    # One more occupied bed in a free room, another room out of service, one confirm.
    rooms = api(server, tokens["shelter"], "GET", f"/api/v1/shelters/{DEMO_SHELTER}/rooms").json()
    free = [r for r in rooms if not r["out_of_service"] and r["held_beds"] == 0
            and r["occupied_beds"] < r["beds"]]  # fmt: skip
    first, second = free[0], free[1]
    plus = page.locator(f"li[data-room-id='{first['id']}'] [data-testid=plus]")
    box = plus.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44  # a thumb's target
    plus.click()
    page.locator(f"li[data-room-id='{second['id']}'] [data-testid=out-of-service]").check()
    assert page.get_by_test_id("rooms-draft-note").is_visible()
    page.get_by_test_id("confirm").click()
    page.get_by_test_id("notice").filter(has_text="confirmées").wait_for()
    rooms_path = f"/api/v1/shelters/{DEMO_SHELTER}/rooms"
    after = {r["id"]: r for r in api(server, tokens["shelter"], "GET", rooms_path).json()}
    assert after[first["id"]]["occupied_beds"] == first["occupied_beds"] + 1
    assert after[second["id"]]["out_of_service"] is True
    shelter = api(server, tokens["shelter"], "GET", f"/api/v1/shelters/{DEMO_SHELTER}").json()
    assert shelter["availability_updated_at"] > (before["availability_updated_at"] or "")
    assert "il y a 0 min" in page.get_by_test_id("last-confirmed").inner_text()

    # The household coming: its composition, on its way; then it is in.
    item = page.locator(f"[data-testid=incoming-item][data-placement-id='{placed['id']}']")
    assert "F 41 · F 12" in item.inner_text() and "en route" in item.inner_text()
    item.get_by_test_id("arrive").click()
    page.locator(f"[data-placement-id='{placed['id']}'][data-status=arrived]").wait_for()
    got = api(server, tokens["shelter"], "GET", f"/api/v1/placements/{placed['id']}").json()
    assert got["status"] == "arrived"
    assert page.locator(f"[data-placement-id='{placed['id']}'] [data-testid=end]").is_visible()


def fill_minimal(page: Any, reference: str) -> None:
    page.locator("#f-reference").fill(reference)
    page.locator("#m-age-0").fill("29")
    page.locator("#m-sex-0").select_option("F")
    page.locator("#f-lat").fill("50,36")  # a French decimal comma is understood
    page.locator("#f-lon").fill("3.52")


def test_double_submit_and_a_lost_answer_create_one_request(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    sign_in(page, server, "console", tokens["operator"])
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server creates the request…
            route.abort()  # …and its answer never reaches the browser
        else:
            route.continue_()

    page.route("**/api/v1/requests", lose_first_answer)
    fill_minimal(page, "115-TEST-0003")
    page.get_by_test_id("submit-request").dblclick()
    page.get_by_test_id("notice").filter(has_text="115-TEST-0003").wait_for(timeout=20_000)
    assert len(keys) >= 2 and len(set(keys)) == 1 and keys[0]
    assert len(requests_with(server, tokens["operator"], "115-TEST-0003")) == 1
    # The form is empty again, ready for the next call.
    assert page.locator("#f-reference").input_value() == ""


def test_a_form_survives_a_reload_and_the_server_going_away(
    desk: Any, server: Server, tokens: dict[str, str]
) -> None:
    page = desk
    sign_in(page, server, "console", tokens["operator"])
    fill_minimal(page, "115-TEST-0004")
    page.reload()
    page.locator("body[data-loaded]").wait_for()
    assert page.locator("#f-reference").input_value() == "115-TEST-0004"
    assert page.locator("#m-age-0").input_value() == "29"

    server.stop()
    page.get_by_test_id("submit-request").click()
    banner = page.get_by_test_id("banner")
    banner.wait_for(state="visible", timeout=10_000)
    assert "injoignable" in banner.inner_text() and "attente" in banner.inner_text()
    assert page.get_by_test_id("draft-note").is_visible()
    assert page.locator("#f-reference").input_value() == "115-TEST-0004"

    server.start()
    page.get_by_test_id("notice").filter(has_text="115-TEST-0004").wait_for(timeout=20_000)
    banner.wait_for(state="hidden")
    assert len(requests_with(server, tokens["operator"], "115-TEST-0004")) == 1


def test_a_role_sees_only_its_screen(desk: Any, server: Server, tokens: dict[str, str]) -> None:
    page = desk
    page.goto(f"{server.url}/console")
    page.locator("#token-input").fill(tokens["shelter"])
    page.locator("#token-input").press("Enter")
    page.locator("#login-error").filter(has_text="accès").wait_for()
    assert page.locator("#app").is_hidden()
    assert page.evaluate("sessionStorage.getItem('abri.console.token')") is None
    sign_in(page, server, "console", tokens["operator"])
    page.get_by_role("button", name="Se déconnecter").click()
    assert page.locator("#login").is_visible()
    assert page.evaluate("Object.keys(sessionStorage).length") == 0
