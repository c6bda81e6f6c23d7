"""Fixtures of the security tests: a policies directory with the shipped defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.security.policy_file import ensure_policies_dir


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A fresh policies directory holding the default model.conf and policy.csv."""
    return ensure_policies_dir(tmp_path / "policies")


@pytest.fixture
def policies_with_users(policies: Path) -> Path:
    """The defaults plus one user per role: dee (designer), otto (operator), ada (admin)."""
    with (policies / "policy.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "g, dee, workflow_designer\ng, otto, workflow_operator\ng, ada, workflow_admin\n"
        )
    return policies
