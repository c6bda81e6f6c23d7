"""A way back in after the one-time link (issue 12, item 13): ``dagq up`` says, once its link
was used, that ``dagq login-link`` prints a new one; that command does, for the running
stack; a reused link's page says what happened and how to get a new one.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from e2e.stack import dagq_in
from e2e.test_up_cleanup import Up


async def _visit(link: str) -> tuple[int, str, str]:
    """Open ``link`` in a fresh browser-like session: status, where it led, the page's text."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
        session.get(link) as page,
    ):
        return page.status, str(page.url), await page.text()


@pytest.mark.timeout(300)
def test_a_used_link_says_how_to_get_a_new_one_and_login_link_prints_one(
    tmp_path: Path, data_dir: Path
) -> None:
    before = dagq_in(data_dir, tmp_path, "login-link")
    assert before.returncode == 1 and "no dagq up runs on the data dir" in before.stderr

    up = Up(data_dir, tmp_path)
    try:
        assert "it works once: `dagq login-link` prints a new one" in up.service.text
        status, where, _ = asyncio.run(_visit(up.link))
        assert status == 200 and "/login" not in where  # signed in
        up.service.wait_for_line(r"The one-time sign-in link was used; `dagq login-link`")

        _, where, page = asyncio.run(_visit(up.link))
        assert where.endswith("/login?m=link-used")
        assert "That sign-in link was used already" in page and "dagq login-link" in page

        made = dagq_in(data_dir, tmp_path, "login-link")
        assert made.returncode == 0, made.stderr
        fresh = re.search(r"^\s+(http://\S+/\?token=\S+)$", made.stdout, re.M)
        assert fresh is not None and fresh.group(1) != up.link
        assert fresh.group(1).startswith(up.link.split("/?", 1)[0])
        status, where, _ = asyncio.run(_visit(fresh.group(1)))
        assert status == 200 and "/login" not in where
        _, where, _ = asyncio.run(_visit(fresh.group(1)))
        assert where.endswith("/login?m=link-used")  # once only

        nobody = dagq_in(data_dir, tmp_path, "login-link", "--user", "nobody")
        assert nobody.returncode == 1 and "'nobody' is not an enabled user" in nobody.stderr
        code = up.service.stop(timeout_s=60)
    finally:
        up.service.stop()
    assert code == 0, up.service.text
