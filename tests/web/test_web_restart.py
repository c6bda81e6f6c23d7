"""A real ``dagq web`` process restarted: a signed-out cookie and a used link stay refused.

Before sign-outs lived in Redis they lived in the process: the same cookie (signed with the
persistent secret in the data dir) opened the designer again after a restart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from serve.login import SESSION_COOKIE

_NO_FOLLOW: dict[str, Any] = {"allow_redirects": False}
_LINK = re.compile(r"(http://\S+?)/\?token=(\S+)\s*$")


class WebProcess:
    """One ``dagq web`` subprocess and the sign-in link it printed."""

    def __init__(self, env: dict[str, str], policies: Path, cwd: Path) -> None:
        command = [
            sys.executable, "-c", "from serve.cli import main; main()", "web",
            "--host", "127.0.0.1", "--port", "0", "--policies", str(policies),
            "--admin", "root", "--api", "http://127.0.0.1:9", "--app-command", "true",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.output: list[str] = []
        self.base_url = ""
        self.token = ""
        ready = threading.Event()

        def drain() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:  # read all along: a full pipe would block the server
                self.output.append(line)
                match = _LINK.search(line)
                if match and not ready.is_set():
                    self.base_url, self.token = match.group(1), match.group(2)
                    ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(60):
            self.stop()
            raise AssertionError("dagq web did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        """Ctrl+C, and wait for the process to end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_web(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> Iterator[Callable[[], WebProcess]]:
    """Start ``dagq web`` processes on one data dir and the test's Redis; stopped at the end."""
    policies = ensure_policies_dir(tmp_path / "policies")
    UserStore.in_dir(policies).add("root", "admin", password="root-password-1")
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "DAGQ_DATA_DIR": str(tmp_path / "data"),  # one data dir: one cookie secret
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
    }
    started: list[WebProcess] = []

    def start() -> WebProcess:
        started.append(WebProcess(env, policies, tmp_path))
        return started[-1]

    yield start
    for process in started:
        process.stop()


async def test_sign_out_and_a_used_link_survive_a_restart(
    start_web: Callable[[], WebProcess],
) -> None:
    first = start_web()
    jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        signed_in = await browser.get(f"{first.base_url}/?token={first.token}")
        page = await signed_in.text()
        assert signed_in.status == 200 and "root (workflow_admin)" in page
        cookie = jar.filter_cookies(signed_in.url)[SESSION_COOKIE].value
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        out = await browser.post(
            f"{first.base_url}/logout",
            data={"csrf": csrf.group(1)},
            headers={"Origin": first.base_url},
            allow_redirects=False,
        )
        assert out.status == 303 and out.headers["Location"].endswith("?m=signed-out")
    first.stop()

    second = start_web()
    async with aiohttp.ClientSession() as browser:
        replayed = await browser.get(
            f"{second.base_url}/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            allow_redirects=False,
        )  # fmt: skip
        assert replayed.status == 303 and replayed.headers["Location"].endswith("/login")
        old_link = await browser.get(f"{second.base_url}/?token={first.token}", **_NO_FOLLOW)
        assert old_link.headers["Location"].endswith("/login?m=link-used")
        fresh = await browser.get(f"{second.base_url}/?token={second.token}", **_NO_FOLLOW)
        assert fresh.status == 303 and fresh.headers["Location"] == f"{second.base_url}/"
