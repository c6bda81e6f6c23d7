"""Helpers of the browser tests: read and drive the xterm.js terminal, sign in, run `dagq web`.

The terminal is drawn on a canvas, so its text is not in the DOM: an init script catches the
xterm ``Terminal`` object when textual.js assigns it, and :func:`screen_text` reads its buffer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from orchestrator.logs import LOG_DIR_ENV

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

XTERM_CAPTURE_JS = """
Object.defineProperty(Object.prototype, 'terminal', {configurable: true,
  get() { return undefined; },
  set(v) {
    Object.defineProperty(this, 'terminal',
      {value: v, writable: true, configurable: true, enumerable: true});
    if (v && v.buffer && typeof v.write === 'function')
      (window.__xterms = window.__xterms || []).push(v);
  }});
"""

_SCREEN_JS = """
() => { const t = (window.__xterms || [])[0]; if (!t) return '';
  const b = t.buffer.active, out = [];
  for (let y = 0; y < t.rows; y++) {
    const l = b.getLine(b.viewportY + y); out.push(l ? l.translateToString(true) : ''); }
  return out.join('\\n'); }
"""

_POLL_MS = 100


def screen_text(page: Page) -> str:
    """The terminal's visible screen as text, one line per row ('' before it exists)."""
    text: str = page.evaluate(_SCREEN_JS)
    return text


def wait_for_text(
    page: Page, pattern: str | re.Pattern[str], timeout_s: float = 20
) -> re.Match[str]:
    """Poll the screen until ``pattern`` (a regex or literal text) appears; fail with the screen."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
    deadline = time.monotonic() + timeout_s
    while True:
        screen = screen_text(page)
        match = regex.search(screen)
        if match:
            return match
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{regex.pattern!r} did not appear within {timeout_s}s; the screen:\n{screen}"
            )
        page.wait_for_timeout(_POLL_MS)


def wait_for_no_text(page: Page, text: str, timeout_s: float = 20) -> None:
    """Poll the screen until ``text`` is gone (a dialog closed); fail with the screen."""
    deadline = time.monotonic() + timeout_s
    while text in (screen := screen_text(page)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} still there after {timeout_s}s; the screen:\n{screen}")
        page.wait_for_timeout(_POLL_MS)


def type_keys(page: Page, text: str = "", *, press: Sequence[str] = ()) -> None:
    """Type ``text`` into the terminal, then press each key (Playwright names: ``"Enter"``,
    ``"Control+q"``, ``"ArrowDown"``)."""
    page.locator(".xterm-helper-textarea").focus()
    if text:
        page.keyboard.type(text)
    for key in press:
        page.keyboard.press(key)


def sign_in(page: Page, base_url: str, user: str, password: str) -> None:
    """Open the app URL, get sent to the sign-in page, and sign in through the form."""
    page.goto(base_url + "/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def wait_for_app(page: Page, timeout_s: float = 30) -> None:
    """Wait until the app's first output reached the terminal (``body.-first-byte``)."""
    page.wait_for_selector("body.-first-byte", state="attached", timeout=timeout_s * 1000)


def save_artifacts(page: Page, name: str) -> list[Path]:
    """Save a screenshot and the terminal text under ``test-artifacts/``; returns the files."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]
    saved: list[Path] = []
    shot = ARTIFACTS / f"{safe}.png"
    page.screenshot(path=str(shot), full_page=True)
    saved.append(shot)
    text = ARTIFACTS / f"{safe}.screen.txt"
    text.write_text(f"url: {page.url}\n\n{screen_text(page)}\n", encoding="utf-8")
    saved.append(text)
    return saved


@dataclass
class WebServer:
    """A running ``dagq web`` subprocess and what it printed."""

    process: subprocess.Popen[str]
    base_url: str = ""
    login_url: str = ""
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop it as Ctrl+C would, and wait (kill after a grace period)."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


_LINK = re.compile(r"(https?://\S+?)(/\?token=\S+|/login)\s*$")


def start_web_server(
    *,
    policies: Path,
    data_dir: Path,
    app_command: str,
    extra_args: Sequence[str] = (),
    timeout_s: float = 30,
) -> WebServer:
    """Start the real ``dagq web`` on a free port and wait for its sign-in link on stdout."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(data_dir),
        "DAGQ_DATA_DIR": str(data_dir),
        # Planted so a test can prove the app never receives the server's secrets.
        "DAGQ_E2E_PLANTED_SECRET": "server-only-secret",
        # The session's log folder, scanned for secrets at the end (tests/logscan.py).
        **{k: v for k, v in os.environ.items() if k == LOG_DIR_ENV},
    }
    command = [
        sys.executable, "-c", "from serve.cli import main; main()", "web",
        "--host", "127.0.0.1", "--port", "0", "--policies", str(policies),
        "--api", "http://127.0.0.1:9", "--app-command", app_command, *extra_args,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=data_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = WebServer(process)
    ready = threading.Event()

    def drain() -> None:
        # Keep reading for the whole run so the pipe never fills up and blocks the server.
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)
            match = _LINK.search(line)
            if match and not ready.is_set():
                server.base_url = match.group(1)
                server.login_url = match.group(1) + match.group(2)
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("dagq web did not start:\n" + "".join(server.output))
    return server
