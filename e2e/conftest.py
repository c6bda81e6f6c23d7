"""Browser-test fixtures: Debian chromium under Playwright, a real `dagq web`, artifacts on failure.

Chromium missing is a failure, not a skip: CI installs it (``apt-get install chromium``), and a
silently skipped browser suite would hide a broken front end.  ``DAGQ_CHROMIUM`` overrides the
executable path.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from e2e.helpers import (
    CHROMIUM_ARGS,
    XTERM_CAPTURE_JS,
    WebServer,
    save_artifacts,
    start_web_server,
)
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.store.embedded import EmbeddedRedis
from tests import logscan

CHROMIUM = os.environ.get("DAGQ_CHROMIUM", "/usr/bin/chromium")
HELLO_APP = Path(__file__).with_name("hello_app.py")
E2E_USERS = {
    "alice": ("designer", "alice-e2e-password"),
    "bob": ("operator", "bob-e2e-password"),
    "root": ("admin", "root-e2e-password"),
}
_GOOGLE_FONTS = re.compile(r"^https?://fonts\.(googleapis|gstatic)\.com/")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
_CONTEXTS_KEY = pytest.StashKey[list[BrowserContext]]()

OutsideRequests = list[str]


def pytest_configure(config: pytest.Config) -> None:
    """The secret scan of the session's logs, when e2e runs on its own (``tests/logscan.py``)."""
    logscan.install(config)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The browser executable; its absence fails the run with the way to fix it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need it. Install it with "
            "`apt-get update && apt-get install -y chromium` (or set DAGQ_CHROMIUM).",
            pytrace=False,
        )
    return CHROMIUM


# Module scope, not session: while the sync driver is up it holds an asyncio loop as "running"
# in this thread, which breaks pytest-asyncio tests run later in the same session
# (`pytest tests e2e`).  Torn down after each e2e module, it costs one browser start per module.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver for one test module."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    """Headless Debian chromium with the flags that keep it off the (closed) network."""
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def outside_requests() -> OutsideRequests:
    """URLs the page tried to fetch from hosts other than this machine (all aborted)."""
    return []


@pytest.fixture
def new_context(
    request: pytest.FixtureRequest, browser: Browser, outside_requests: OutsideRequests
) -> Iterator[Callable[[], BrowserContext]]:
    """Make fresh browser contexts (separate cookie jars: one per person in a test); every page
    of them is saved to ``test-artifacts/`` if the test fails."""
    contexts: list[BrowserContext] = []
    request.node.stash[_CONTEXTS_KEY] = contexts

    def make() -> BrowserContext:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(XTERM_CAPTURE_JS)

        def guard(route: Route) -> None:
            url = route.request.url
            host = re.sub(r"^[a-z]+://([^/]+?)(:\d+)?(/.*)?$", r"\1", url)
            if _GOOGLE_FONTS.match(url) or host not in _LOCAL_HOSTS:
                outside_requests.append(url)
                route.abort()
            else:
                route.continue_()

        context.route(re.compile(r"^https?://"), guard)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    """A page in a fresh context; saved to ``test-artifacts/`` if the test fails."""
    return new_context().new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed test, keep a screenshot and the terminal text of each of its pages."""
    report = yield
    if report.failed and report.when == "call":  # type: ignore[attr-defined]
        pages = [p for c in item.stash.get(_CONTEXTS_KEY, []) for p in c.pages if not p.is_closed()]
        for i, page in enumerate(pages):
            # The first page keeps the plain test name; a second person's page gets a suffix
            # (kept clear of save_artifacts' cut at 150 characters).
            name = item.nodeid if i == 0 else f"{item.nodeid[:140]}-page{i + 1}"
            try:
                for path in save_artifacts(page, name):
                    report.sections.append(("artifact", str(path)))  # type: ignore[attr-defined]
            except Exception as exc:  # a broken page must not hide the real failure
                report.sections.append(("artifact", f"could not save: {exc}"))  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
def e2e_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A policies directory with a designer, an operator and an admin (with passwords)."""
    directory = ensure_policies_dir(tmp_path_factory.mktemp("e2e-policies"))
    store = UserStore.in_dir(directory)
    for name, (role, password) in E2E_USERS.items():
        store.add(name, role, password=password)
    return directory


@pytest.fixture
def web_server(e2e_policies: Path, tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    """Start real `dagq web` processes (default app: ``hello_app.py``); stopped after the test."""
    servers: list[WebServer] = []

    def start(app_command: str | None = None, *extra_args: str) -> WebServer:
        data_dir = tmp_path / f"data{len(servers)}"
        data_dir.mkdir()
        command = app_command or f"{shlex.quote(sys.executable)} {shlex.quote(str(HELLO_APP))}"
        server = start_web_server(
            policies=e2e_policies,
            data_dir=data_dir,
            app_command=command,
            extra_args=["--admin", "root", *extra_args],
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A ``dagq up`` data dir; whatever the test's outcome, no Redis of it outlives the test."""
    folder = tmp_path / "data"
    yield folder
    EmbeddedRedis(folder).stop()
