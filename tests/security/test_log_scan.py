"""The session's secret scan (``tests/logscan.py``) fails a run whose logs hold a secret.

The end-to-end cases run an inner pytest session in a subprocess, with the plugin loaded as
the real suite loads it, once alone and once under pytest-xdist: a leak in the test process's
own log and a leak in a ``dagq``-style child process's log both fail the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.logscan import PIECE_CHARS, SecretScan

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import logging, subprocess, sys
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from tests.logscan import register_secret

def test_logs_the_secret_part_of_a_new_key(tmp_path):
    _, key = UserStore.in_dir(ensure_policies_dir(tmp_path / "p")).add("ada", "admin")
    # Only the part after the key id: the redaction patterns cannot know it is a key.
    logging.getLogger("dagq.test").warning("oops %s", key.split("_", 2)[2])

def test_a_child_process_logs_a_password():
    register_secret("Tr0ub4dor-and-3", "the Redis password")
    child = (
        "import logging; from orchestrator.logs import setup_logging; "
        "setup_logging('child'); logging.getLogger('dagq.child').warning('pw Tr0ub4dor-and-3')"
    )
    subprocess.run([sys.executable, "-c", child], check=True)
"""

CLEAN = """
import logging
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore

def test_logs_a_key_through_the_redacting_pipeline(tmp_path):
    _, key = UserStore.in_dir(ensure_policies_dir(tmp_path / "p")).add("ada", "admin")
    logging.getLogger("dagq.test").warning("new key %s, api_key=%s", key, key)
"""


def _inner_session(tmp_path: Path, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    # Only the plugins the case needs: the suite's others (snapshots, browsers, fuzzing) would
    # triple the start-up time of every inner session.
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(tmp_path),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.logscan",
         "--rootdir", str(tmp_path), "-c", os.devnull, *extra, str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip


def test_a_leak_fails_an_otherwise_green_session(tmp_path: Path) -> None:
    result = _inner_session(tmp_path, LEAKY)
    assert "2 passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1, result.stdout
    assert "secrets found in the session's logs" in result.stdout
    assert "API key dagq_" in result.stdout
    assert "the Redis password" in result.stdout and "child-" in result.stdout
    assert "Tr0ub4dor-and-3" not in result.stdout  # reported by label, never by value


def test_each_xdist_worker_scans_its_own_logs_and_the_run_fails(tmp_path: Path) -> None:
    result = _inner_session(tmp_path, LEAKY, "-p", "xdist.plugin", "-n", "2")
    assert "2 passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1, result.stdout
    assert "API key dagq_" in result.stdout
    assert "the Redis password" in result.stdout


def test_a_redacted_key_passes(tmp_path: Path) -> None:
    result = _inner_session(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secrets found" not in result.stdout


def test_scan_finds_whole_secrets_and_long_pieces(tmp_path: Path) -> None:
    scan = SecretScan(tmp_path)
    jwt_secret = "0123456789abcdef" * 4
    scan.register(jwt_secret, "the JWT secret")
    scan.register("hunter2-hunter2", "a password")
    scan.register("short", "too short to search")
    (tmp_path / "a.log").write_text("line one\nuser typed hunter2-hunter2 here\n")
    # 49 of the 64 characters, as the rich traceback once printed them.
    (tmp_path / "b.log").write_text(f"key = '{jwt_secret[:49]}…'\n")
    (tmp_path / "c.log").write_text(f"short fragments {jwt_secret[: PIECE_CHARS - 1]} short\n")
    assert scan.scan() == ["a.log:2: a password", "b.log:1: part of the JWT secret"]
