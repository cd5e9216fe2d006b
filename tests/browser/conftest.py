"""A real browser for the web pages: Debian's Chromium, headless, driven by Playwright.

Chromium comes from the system (``scripts/setup.sh`` installs Debian's package), never from
Playwright's own download. As root (CI) it runs without its sandbox. Screenshots of the main
pages go to ``$WARMLINE_SCREENSHOTS`` when it is set (``docs/screenshots`` to refresh the ones
the docs show), else to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path(os.environ.get("WARMLINE_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/setup.sh (Debian package chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the main pages' screenshots go."""
    folder = Path(os.environ.get("WARMLINE_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
