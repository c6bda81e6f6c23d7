"""The inspector's as-you-type checks (pure functions, no Textual)."""

from __future__ import annotations

import pytest

from app.fields import check_timeout
from app.kinds import KINDS


@pytest.mark.parametrize("text", ["0", "0s", "0ms", "0.0"])
def test_a_zero_timeout_is_refused_as_it_is_typed(text: str) -> None:
    problem = check_timeout(text)
    assert problem is not None and "more than 0" in problem


@pytest.mark.parametrize("text", ["300ms", "30s", "24h"])
def test_a_positive_timeout_is_accepted(text: str) -> None:
    assert check_timeout(text) is None


def test_the_timeout_fields_use_the_timeout_check() -> None:
    for kind in ("task", "compensation"):
        (field,) = [f for f in KINDS[kind].fields if f.key == "timeout"]
        assert field.check is check_timeout
