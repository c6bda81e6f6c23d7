"""An inbox entry the orchestrators cannot apply is listed by the Queues API."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.conftest import until


async def _get(api: Api, path: str) -> Any:
    response = await api.client.get(path, headers=api.auth("admin"))
    assert response.status == 200
    return await response.json()


async def test_an_unreadable_inbox_entry_is_a_dead_letter_of_the_queues_api(api: Api) -> None:
    inbox = api.conn.keys.inbox(0)
    await api.conn.redis.xadd(inbox, {"d": b"not a message"})

    async def dead_lettered() -> bool:
        return bool((await _get(api, "/api/v1/queues"))["deadLetters"] == 1)

    await until(dead_lettered, "the entry to be dead-lettered", timeout_s=20)
    [letter] = (await _get(api, "/api/v1/queues/dead-letters"))["deadLetters"]
    assert letter["source"] == "inbox"
    assert letter["stream"] == inbox
    assert letter["reason"].startswith("malformed inbox message")
    assert letter["runId"] is None and letter["handler"] is None
