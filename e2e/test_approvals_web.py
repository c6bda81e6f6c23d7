"""Approvals in real Chromium: an operator approves a waiting refund from the Approvals
screen of the browser-served TUI; a designer is refused.  A real API, worker and web."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml
from playwright.sync_api import BrowserContext, Page

from e2e.conftest import E2E_USERS
from e2e.helpers import ROOT, sign_in, type_keys, wait_for_app, wait_for_text
from e2e.stack import Stack, redis_url, stack, wait_until

__all__ = ["redis_url", "stack"]  # fixtures, imported so pytest finds them here

SPEC = yaml.safe_load((ROOT / "examples" / "refund-approval.yaml").read_text())


def _waiting_run(stack: Stack) -> str:
    stack.api("POST", "/workflows", "root", SPEC)
    run = stack.api(
        "POST", "/workflows/refund-approval/runs", "bob",
        {"parameters": {"customer": "ada", "amount": 120}},
    )  # fmt: skip
    run_id = str(run["runId"])

    def waiting() -> bool | None:
        node = stack.get(f"/runs/{run_id}")["nodes"]["manager_ok"]
        return node["status"] == "waiting" or None

    wait_until(waiting, "the approval to wait", timeout_s=60)
    return run_id


def test_an_operator_approves_and_a_designer_is_refused(
    new_context: Callable[[], BrowserContext], stack: Stack, tmp_path: Path
) -> None:
    run_id = _waiting_run(stack)

    designer: Page = new_context().new_page()
    sign_in(designer, stack.web.base_url, "alice", E2E_USERS["alice"][1])
    wait_for_app(designer)
    wait_for_text(designer, "alice (workflow_designer)")
    type_keys(designer, "6")
    wait_for_text(designer, "Approvals")
    type_keys(designer, "a")
    wait_for_text(designer, re.compile(r"designers cannot decide\s+approvals\s+\(run:approve\)"))

    operator: Page = new_context().new_page()
    sign_in(operator, stack.web.base_url, "bob", E2E_USERS["bob"][1])
    wait_for_app(operator)
    wait_for_text(operator, "bob (workflow_operator)")
    type_keys(operator, "2")  # the monitor's title counts the approvals waiting for bob
    wait_for_text(operator, "dagq · ☑ 1 approval waiting")
    type_keys(operator, "6")
    wait_for_text(operator, "Refund 120 EUR to ada? Risk: low")
    wait_for_text(operator, "approvals 0 of 1")  # the highlighted row's details: loaded
    type_keys(operator, "a")
    wait_for_text(operator, "Approve manager_ok")
    type_keys(operator, "known customer", press=["Enter"])
    wait_for_text(operator, "No approval is waiting for you.")

    def approved() -> bool | None:
        node = stack.get(f"/runs/{run_id}")["nodes"]["manager_ok"]
        return node["status"] == "completed" or None

    wait_until(approved, "the approval to be decided", timeout_s=30)
    [decision] = stack.get(f"/runs/{run_id}")["nodes"]["manager_ok"]["output"]["decisions"]
    assert (decision["by"], decision["approved"], decision["comment"]) == (
        "bob", True, "known customer",
    )  # fmt: skip
    # and the designer's refusal never reached the API as a decision
    entries = stack.get("/audit?limit=100")["entries"]
    assert [e["user"] for e in entries if e.get("action") == "decideApproval"] == ["bob"]
