"""A minimal SSE reader over an aiohttp response, for the tests."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import ClientResponse


async def read_frames(resp: ClientResponse) -> list[dict[str, Any]]:
    """Every frame until the stream closes: ``{"id", "event", "data"}`` (data parsed)."""
    frames: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    data_lines: list[str] = []
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data_lines:
                current["data"] = orjson.loads("\n".join(data_lines))
                current.setdefault("event", "message")
                frames.append(current)
            current, data_lines = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data_lines.append(value)
        elif name in ("id", "event"):
            current[name] = value
    return frames
