"""``dagq up`` as a new user meets it: the README's run command, then the printed link in a browser.

Nothing is prepared: a fresh data dir, no Redis configured (the embedded one starts), the
repository's root as the working directory (where ``examples/`` is), and an environment with
nothing of ours in it.  Set ``DAGQ_E2E_SCREENSHOT=1`` to also (re)write the README's picture,
``docs/img/designer-browser.png``.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import orjson
from playwright.sync_api import Page

from e2e.helpers import (
    ROOT,
    screen_text,
    type_keys,
    wait_for_app,
    wait_for_no_text,
    wait_for_text,
)
from e2e.stack import Service, dagq_command, free_port

EXAMPLES = ("Data Processing Pipeline", "Order Processing", "Batch Records", "Enrich Record")
README_PICTURE = ROOT / "docs" / "img" / "designer-browser.png"
FIRST_SCREEN_S = 60
"""Deadline for the first screen: ``dagq up``'s app process starts cold (textual-serve
spawns it when the browser connects), and its list's columns are sized on the table's
first idle moment; on a loaded machine (a full ``-n 2`` run beside other work) the rows
showed cut to their headers' widths for more than the default 20 s."""


def open_from_list(page: Page, name: str) -> None:
    """Move the Workflows list's cursor down to ``name``'s row and press Enter.

    The list has the focus when the screen opens, its cursor on the first row; the rows' order
    is read off the screen, so no key depends on a focus change landing first.
    """
    lines = screen_text(page).splitlines()
    header = next(i for i, line in enumerate(lines) if re.search(r"Name\s+Id\s+Ver", line))
    row = next(i for i, line in enumerate(lines) if f"│ {name} " in line)
    type_keys(page, press=["ArrowDown"] * (row - header - 1) + ["Enter"])


def test_dagq_up_then_the_printed_link_shows_the_designer_with_the_examples(
    page: Page, tmp_path: Path
) -> None:
    data_dir = tmp_path / "dagq-data"
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "DAGQ_DATA_DIR": str(data_dir),
    }
    up = Service.start(
        "dagq up", [*dagq_command(), "up", "--port", str(free_port())], env=env, cwd=ROOT
    )
    try:
        link = up.wait_for_line(r"^\s+(http://\S+/\?token=\S+)\s*$", timeout_s=60).group(1)
        up.wait_for_line(r"Press Ctrl\+C to stop")
        local = orjson.loads((data_dir / "local.json").read_bytes())
        assert local["api_url"].startswith("http://127.0.0.1:")

        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto(link)
        wait_for_app(page, timeout_s=FIRST_SCREEN_S)
        wait_for_text(page, "local-admin (workflow_admin)", timeout_s=FIRST_SCREEN_S)
        for name in EXAMPLES:
            wait_for_text(page, name, timeout_s=FIRST_SCREEN_S)
        seeded = len(list((ROOT / "examples").glob("*.yaml")))  # every example is seeded
        wait_for_text(page, f"{seeded} workflows", timeout_s=FIRST_SCREEN_S)

        open_from_list(page, "Data Processing Pipeline")
        wait_for_text(page, "Workflow Designer — Data Processing Pipeline")
        wait_for_text(page, re.compile(r"Status: Valid ✓\s+Nodes: 7\s+Edges: 7"))
        for node in ("fetch_data", "quality_check", "store_backup", "notify"):
            wait_for_text(page, node)
        # Select the decision by keyboard: its condition shows in the properties.
        type_keys(page, "g")
        wait_for_text(page, "Go to node")
        type_keys(page, "quality", press=["Enter"])
        wait_for_no_text(page, "Go to node")
        wait_for_text(page, "Node: quality_check")
        wait_for_text(page, "output.quality > 0.95")
        if os.environ.get("DAGQ_E2E_SCREENSHOT"):
            README_PICTURE.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(README_PICTURE))
    finally:
        code = up.stop(signal.SIGINT, timeout_s=30)
    assert code == 0, up.text
    assert "dagq stopped." in up.text
