"""Byte sizes as people write them, and a task's ``resources`` in a spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.sizes import SizeError, compact_bytes, format_bytes, parse_bytes
from orchestrator.spec.model import WorkflowSpec

MIB = 1024**2


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512MiB", 512 * MIB),
        ("512Mi", 512 * MIB),
        ("4GiB", 4 * 1024 * MIB),
        ("1.5G", int(1.5 * 1024 * MIB)),
        ("300MB", 300_000_000),
        ("2048", 2048),
        (" 64 kib ", 64 * 1024),
        (1024, 1024),
    ],
)
def test_sizes_parse(text: object, size: int) -> None:
    assert parse_bytes(text) == size
    assert parse_bytes(compact_bytes(size)) == size


@pytest.mark.parametrize("text", ["", "12XB", "-1MiB", "MiB", True, None, "2PiB", "nan"])
def test_bad_sizes_say_what_is_accepted(text: object) -> None:
    with pytest.raises(SizeError, match="size"):
        parse_bytes(text)


def test_format() -> None:
    assert format_bytes(256 * MIB) == "256 MiB"
    assert format_bytes(1536 * MIB) == "1.5 GiB"
    assert format_bytes(100) == "100 B"
    assert compact_bytes(768 * MIB) == "768MiB"


def _spec(resources: object) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {
            "id": "w",
            "name": "W",
            "nodes": [{"id": "a", "type": "task", "handler": "h", "resources": resources}],
        }
    )


def test_a_task_declares_its_resources() -> None:
    node = _spec({"memory": "768MiB", "cpu": 0.5}).nodes[0]
    assert node.resources is not None  # type: ignore[union-attr]
    assert node.resources.memory == 768 * MIB  # type: ignore[union-attr]
    dumped = _spec({"memory": "768MiB"}).model_dump(mode="json")
    assert dumped["nodes"][0]["resources"] == {"memory": "768MiB", "cpu": None}
    with pytest.raises(ValidationError, match="is not a size"):
        _spec({"memory": "lots"})
    with pytest.raises(ValidationError, match="greater than 0"):
        _spec({"cpu": 0})
    with pytest.raises(ValidationError):
        _spec({"memory": "10KiB"})  # below 1 MiB
    with pytest.raises(ValidationError):
        _spec({"disk": "1GiB"})
