"""Regenerate docs/console.png and docs/shelter.png from the demo region.

    .venv/bin/python -m tests.screens.screenshot [--theme dark] [--lang fr-FR]

A throwaway SQLite database, a uvicorn subprocess on a free port, one allocation run, one
proposal into the demo's Valenciennes centre accepted (so that the shelter sees a household
on its way), then headless Chromium: the console at 1366×1400, the shelter's screen as a
360×800 phone shows it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import httpx

from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, Server, free_port

SHELTER = "shl_demo_val_tisserands"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--theme", choices=["light", "dark"], default="dark")
    parser.add_argument("--lang", choices=["fr-FR", "en-GB"], default="fr-FR")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'abri.db'}"
        os.environ["DATABASE_URL"] = url
        from app.auth.models import Role
        from app.auth.service import create_token
        from app.core.db import get_sessionmaker
        from app.core.migrate import upgrade_to_head
        from app.demo.loader import load_demo

        upgrade_to_head(url)
        with get_sessionmaker()() as session:
            load_demo(session, "ter_59")  # migration 0006 made it
            _, operator = create_token(session, Role.operator, "night operator")
            _, shelter = create_token(session, Role.shelter, "night desk", SHELTER)
            session.commit()

        port = free_port()
        server = Server(f"http://127.0.0.1:{port}", port, url)
        server.start()
        try:
            prepare(server.url, operator)
            shoot(server.url, "console", operator, args, 1366, 1400)
            shoot(server.url, "shelter", shelter, args, 360, 800)
        finally:
            server.stop()


def prepare(base: str, operator: str) -> None:
    """One run; accept its first proposal into the shelter shown, or else its first."""
    op = {"Authorization": f"Bearer {operator}"}
    run = httpx.post(f"{base}/api/v1/allocations", headers=op, timeout=60)
    run.raise_for_status()
    proposals = run.json()["proposals"]
    here = [p for p in proposals if p["shelter_id"] == SHELTER] or proposals[:1]
    for p in here[:1]:
        accept = f"{base}/api/v1/placements/{p['placement_id']}/accept"
        httpx.post(accept, headers=op, timeout=10).raise_for_status()


def shoot(base: str, screen: str, token: str, args: argparse.Namespace, w: int, h: int) -> None:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / f"{screen}.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": w, "height": h}, locale=args.lang, color_scheme=args.theme
        )
        page.goto(f"{base}/{screen}")
        page.locator("#token-input").fill(token)
        page.locator("#token-input").press("Enter")
        page.locator("body[data-loaded]").wait_for()
        if screen == "shelter":
            page.locator("[data-testid=plus]:not([disabled])").first.click()
        page.wait_for_timeout(300)
        page.screenshot(path=str(out))
        browser.close()
    print(out)


if __name__ == "__main__":
    main()
