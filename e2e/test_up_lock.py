"""Two ``dagq up`` on one data dir (issue 12, item 1): the second refuses at once, naming the
first (its pid and addresses), and leaves it whole; once the first is gone (``kill -9``: its
lock file stays behind), the next ``dagq up`` takes the data dir over.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from e2e.stack import dagq_in, free_port
from e2e.test_up_cleanup import Up


@pytest.mark.timeout(300)
def test_a_second_up_refuses_and_names_the_first_then_a_dead_ones_lock_is_taken_over(
    tmp_path: Path, data_dir: Path
) -> None:
    first = Up(data_dir, tmp_path)
    try:
        web = first.link.split("/?", 1)[0]
        second = dagq_in(data_dir, tmp_path, "up", "--port", str(free_port()), "--workers", "0")
        assert second.returncode != 0, second.stdout + second.stderr
        assert f"in use by dagq up (pid {first.pid})" in second.stderr
        assert f"web {web}" in second.stderr and f"API {first.api_url}" in second.stderr
        assert "dagq is up" not in second.stdout and "Traceback" not in second.stderr

        # The first stack is untouched: its local.json is there and the CLI reaches it.
        listed = dagq_in(data_dir, tmp_path, "workflows", "ls", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {w["id"] for w in json.loads(listed.stdout)["workflows"]} >= {"order-processing"}

        first.service.process.send_signal(signal.SIGKILL)
        first.service.process.wait(30)
    finally:
        first.service.stop(signal.SIGKILL)
    assert (data_dir / "stack.lock").exists()  # left behind by the killed one

    third = Up(data_dir, tmp_path)
    try:
        assert third.pid != first.pid
        code = third.service.stop(signal.SIGINT, timeout_s=60)
    finally:
        third.service.stop(signal.SIGKILL)
    assert code == 0, third.service.text
