"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Why Playwright runs in a thread of its own: its sync API keeps an asyncio event loop running
in the thread that started it, for as long as the browser lives. Django then takes that thread
for an async context and refuses every ORM call in it (SynchronousOnlyOperation) — in the
browser tests and in every later test of the session. So the browser lives on one dedicated
thread, and tests hold ``Remote`` proxies whose calls are handed to that thread and waited
for. The test's own thread never sees an event loop: it loads data and asserts on the database
as any other test does, and Django's async-safety check stays on everywhere.

A test asks for ``page`` (a fresh browser context on the live server) and logs in through the
real admin form (``login_as`` gives the user a known password first)::

    @pytest.mark.browser
    def test_reviewer_approves(page, live_server, workspace):
        login_as(page, live_server, workspace["users"]["legal"])
        page.get_by_role("link", name="My queue").click()
        ...

A failing browser test leaves a screenshot and the page's HTML in var/test-artifacts/ and
names them in its report. ``MARKETINGAI_CHROMIUM`` points at the browser (default
/usr/bin/chromium); ``MARKETINGAI_SKIP_BROWSER_TESTS=1`` skips these tests, saying so.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (containers run as root), and no background traffic to the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Milliseconds a single browser action or wait may take before the test fails.
ACTION_TIMEOUT_MS = 5_000


def chromium_path() -> str:
    return os.environ.get("MARKETINGAI_CHROMIUM") or DEFAULT_CHROMIUM


def browser_tests_skipped() -> bool:
    return os.environ.get("MARKETINGAI_SKIP_BROWSER_TESTS", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


class Remote:
    """A Playwright object used from the test's thread; every access runs on the browser thread."""

    __slots__ = ("_target", "_executor")

    def __init__(self, target: Any, executor: ThreadPoolExecutor):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_executor", executor)

    def _run(self, function, *args, **kwargs):
        args = [_unwrap(a) for a in args]
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(self._executor.submit(function, *args, **kwargs).result(), self._executor)

    def __getattr__(self, name: str):
        value = self._executor.submit(getattr, self._target, name).result()
        if callable(value) and not _is_playwright_object(value):
            return lambda *args, **kwargs: self._run(value, *args, **kwargs)
        return _wrap(value, self._executor)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Playwright objects are changed through their methods.")

    def __enter__(self):
        return self._run(type(self._target).__enter__, self._target)

    def __exit__(self, *exc_info):
        return self._run(type(self._target).__exit__, self._target, *exc_info)

    def __repr__(self) -> str:
        return f"Remote({self._target!r})"


def _is_playwright_object(value: Any) -> bool:
    return type(value).__module__.startswith("playwright.")


def _wrap(value: Any, executor: ThreadPoolExecutor) -> Any:
    if _is_playwright_object(value):
        return Remote(value, executor)
    if isinstance(value, list):
        return [_wrap(item, executor) for item in value]
    return value


def _unwrap(value: Any) -> Any:
    return value._target if isinstance(value, Remote) else value


def expect(remote: Remote, message: str | None = None) -> Remote:
    """Playwright's auto-waiting ``expect`` for a page or locator proxy."""
    from playwright.sync_api import expect as playwright_expect

    return remote._run(playwright_expect, remote, message)


def save_artifacts(page: Remote, name: str) -> list[Path]:
    """Save a full-page screenshot and the HTML of ``page``; return both paths."""
    from django.conf import settings

    folder = Path(settings.VAR_DIR) / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    stem = (
        f"{re.sub(r'[^A-Za-z0-9_-]+', '_', name).strip('_')[:120]}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    screenshot, html = folder / f"{stem}.png", folder / f"{stem}.html"
    html.write_text(page.content(), encoding="utf-8")
    page.screenshot(path=str(screenshot), full_page=True)
    return [screenshot, html]


def admin_login(page: Remote, live_server, username: str, password: str) -> None:
    """Log in through the admin's own login form; fail with the page saved when it does not work."""
    from django.urls import reverse

    page.goto(live_server.url + reverse("admin:login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#user-tools, .errornote").first.wait_for()
    if page.locator("#user-tools").count() == 1:
        return
    refusal = " ".join(page.locator(".errornote").all_inner_texts())
    paths = save_artifacts(page, f"login-{username}")
    raise AssertionError(
        f"Admin login as {username!r} failed: {refusal.strip().rstrip('.') or page.url}. "
        f"Saved {', '.join(str(p) for p in paths)}."
    )


BROWSER_PASSWORD = "browser-test-password"


def login_as(page: Remote, live_server, user) -> None:
    """Give ``user`` a known password and log in as them through the admin's login form."""
    user.set_password(BROWSER_PASSWORD)
    user.save(update_fields=["password"])
    admin_login(page, live_server, user.username, BROWSER_PASSWORD)


# --- Fixtures and hooks (registered as a plugin by tests/conftest.py) ----------------------


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session, on its own thread (see the module docstring)."""
    path = chromium_path()
    if not Path(path).is_file():
        pytest.fail(
            f"No Chromium at {path}: install Debian's chromium package (apt-get install chromium) "
            "or point MARKETINGAI_CHROMIUM at a Chromium binary; "
            "MARKETINGAI_SKIP_BROWSER_TESTS=1 skips the browser tests.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The browser tests need Playwright: pip install -e '.[dev]'.", pytrace=False)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")

    def launch():
        driver = sync_playwright().start()
        return driver, driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)

    driver, browser = executor.submit(launch).result()
    try:
        yield Remote(browser, executor)
    finally:
        executor.submit(browser.close).result()
        executor.submit(driver.stop).result()
        executor.shutdown()


@pytest.fixture
def page(chromium, live_server, settings):
    """A fresh browser context (no cookies) with one page, on the live server."""
    # Plain http on loopback: secure-only cookies would never come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="MARKETINGAI_SKIP_BROWSER_TESTS is set: browser tests skipped.")
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if browser_tests_skipped() and item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and isinstance(page, Remote):
        try:
            paths = save_artifacts(page, item.nodeid)
        except Exception as exc:  # the browser itself may be what broke
            report.sections.append(("browser artifacts", f"Could not save the page: {exc}"))
        else:
            report.sections.append(("browser artifacts", "\n".join(str(p) for p in paths)))
    return report
