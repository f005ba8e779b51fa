"""Browser fixtures: the real app served over HTTP and driven by headless Chromium.

Every test gets a fresh, emptied database (through the `app` fixture), its own browser
context, and fails on any console or page error, which is how CSP violations surface.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Response, sync_playwright
from werkzeug.serving import make_server

from outreach.auth.models import User
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HERE = Path(__file__).parent
FAILED_LOAD = "Failed to load resource:"


class BrowserLog:
    """The errors a page reports, less the ones that are the app working as designed."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        self.refused_pages: set[str] = set()
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append((message.text, message.location.get("url", "")))

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"page error: {error}")

    def _on_response(self, response: Response) -> None:
        # A form answered 422, a wrong password 401: Chromium logs those as failed loads.
        if response.request.is_navigation_request() and 400 <= response.status < 500:
            self.refused_pages.add(response.url)

    def errors(self) -> list[str]:
        """Everything unexpected so far; waits briefly, as Playwright delivers events only
        while one of its calls runs."""
        if not self.page.is_closed():
            self.page.wait_for_timeout(50)
        return [
            f"console: {text} ({url})"
            for text, url in self.console
            if not (text.startswith(FAILED_LOAD) and self._expected_failure(url))
        ] + self.page_errors

    def _expected_failure(self, url: str) -> bool:
        return url in self.refused_pages


CALL_REPORT = pytest.StashKey[pytest.TestReport]()
BROWSER_LOG = pytest.StashKey[BrowserLog]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `browser` before `-m` selection runs."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test whose page logged errors fails itself (not its teardown); a test that failed
    anyway shows them beside its traceback, since they often explain it."""
    log = item.stash.get(BROWSER_LOG, None)
    try:
        result = yield
    except BaseException:
        if log is not None and (errors := log.errors()):
            item.add_report_section("call", "browser errors", "\n".join(errors))
        raise
    if log is not None and (errors := log.errors()):
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[pytest.TestReport]:
    """Keep the call's report on the item: the `page` teardown screenshots failures."""
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, served from a thread; yields its base URL."""
    assert app.config.get("WTF_CSRF_ENABLED", True), "browser tests keep CSRF protection on"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the run; CI installs it, so only a developer machine may skip."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}", pytrace=False)
        pytest.skip(reason)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context; its errors fail the test and a failure leaves a
    screenshot in test-results/."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    request.node.stash[BROWSER_LOG] = BrowserLog(page)
    yield page
    report = request.node.stash.get(CALL_REPORT, None)
    if report is not None and report.failed and not page.is_closed():
        folder = request.config.rootpath / "test-results"
        folder.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=folder / f"{name}.png", full_page=True)
    context.close()


def sign_in(page: Page, base_url: str, user: User, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would, and wait for the redirect."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert urlsplit(page.url).path != "/login", f"{user.email} was not signed in"
