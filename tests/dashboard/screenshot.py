"""Regenerate docs/dashboard.png: the demo region after one allocation run.

    .venv/bin/python -m tests.dashboard.screenshot [--out docs/dashboard.png] [--theme light]

A throwaway SQLite database in a temporary directory, a uvicorn subprocess on a free port,
one run, two proposals accepted (so that arrivals show), then headless Chromium at 1366×900.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import httpx

from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, Server, free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "dashboard.png"))
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--lang", choices=["fr-FR", "en-GB"], default="fr-FR")
    parser.add_argument("--full-page", action="store_true")
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
            _, viewer = create_token(session, Role.viewer, "screenshot viewer")
            _, operator = create_token(session, Role.operator, "screenshot operator")
            session.commit()

        port = free_port()
        server = Server(f"http://127.0.0.1:{port}", port, url)
        server.start()
        try:
            op = {"Authorization": f"Bearer {operator}"}
            run = httpx.post(f"{server.url}/api/v1/allocations", headers=op, timeout=60)
            run.raise_for_status()
            for proposal in run.json()["proposals"][:2]:
                httpx.post(
                    f"{server.url}/api/v1/placements/{proposal['placement_id']}/accept",
                    headers=op,
                    timeout=10,
                ).raise_for_status()
            shoot(server.url, viewer, args.out, args.theme, args.lang, args.full_page)
        finally:
            server.stop()
    print(args.out)


def shoot(base: str, token: str, out: str, theme: str, lang: str, full_page: bool) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": 1366, "height": 900}, locale=lang, color_scheme=theme
        )
        page.goto(f"{base}/dashboard?token={token}")
        page.get_by_test_id("run-id").wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=out, full_page=full_page)
        browser.close()


if __name__ == "__main__":
    main()
