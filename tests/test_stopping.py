"""Stopping tasks within a deadline when a cancellation gets lost (Python 3.11's
``asyncio.wait_for`` drops one that arrives as its inner future finishes, and redis-py
sends every command through it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from orchestrator.stopping import cancel_and_wait, wait_then_cancel


async def test_a_task_that_lost_the_first_cancellation_is_cancelled_again() -> None:
    lost = asyncio.Event()

    async def swallows_once() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lost.set()  # what wait_for does: the cancellation is gone, the code goes on
        await asyncio.Event().wait()

    task = asyncio.create_task(swallows_once())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], 30.0, "test task")
    assert lost.is_set() and task.cancelled()


async def test_a_task_that_never_ends_is_left_behind_after_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def refuses() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    task = asyncio.create_task(refuses())
    await asyncio.sleep(0)
    assert not await cancel_and_wait([task], 0.3, "a stubborn loop")
    assert "a stubborn loop: 1 task(s) still running" in caplog.text
    release.set()
    await task


async def test_a_task_that_ends_by_itself_is_not_cancelled() -> None:
    stop = asyncio.Event()

    async def loop() -> str:
        await stop.wait()
        return "done"

    task = asyncio.create_task(loop())
    stop.set()
    assert await wait_then_cancel(task, 30.0, "a loop")
    assert task.result() == "done"
