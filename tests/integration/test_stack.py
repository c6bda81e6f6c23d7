"""The in-process local stack behind ``dagq up`` and ``dagq tui``."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import orjson
import pytest

from orchestrator.client import LOCAL_CONFIG, DagqClient, client_for
from orchestrator.runtime.stack import LOCAL_ADMIN, LocalStack, local_policies_dir
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(redis_url: str, prefix: str, data_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_url, data_dir=data_dir, workflow={"storage": {"prefix": prefix}}
    )


async def test_stack_serves_seeds_examples_and_records_a_private_local_config(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(redis_url, key_prefix, tmp_path / "data")
    stack = LocalStack(
        settings,
        handlers=[str(ROOT / "examples" / "handlers.py")],
        policies_dir=tmp_path / "policies",
        examples=ROOT / "examples",
    )
    info = await stack.start()
    try:
        config = tmp_path / "data" / LOCAL_CONFIG
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert orjson.loads(config.read_bytes())["api_url"] == info.api_url
        async with client_for(settings) as client:
            me = await client.whoami()
            assert me["user"] == LOCAL_ADMIN and me["role"] == "workflow_admin"
            ids = {w["id"] for w in (await client.list_workflows()).items}
            assert ids == {"data-processing-pipeline", "order-processing"}
            run = await client.start_run("order-processing", {"fail_at": "ship_order"})
            status = await client.get_run_status(run["runId"])
            for _ in range(600):
                if status.is_complete:
                    break
                await asyncio.sleep(0.05)
                status = await client.get_run_status(run["runId"])
            assert status.status == "compensated"
    finally:
        await stack.stop()
    assert not (tmp_path / "data" / LOCAL_CONFIG).exists()  # no stale pointer to a dead API


async def test_a_second_stack_keeps_the_first_ones_admin_key(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(redis_url, key_prefix, tmp_path / "data")
    first = LocalStack(settings, handlers=[], policies_dir=tmp_path / "policies")
    second = LocalStack(settings, handlers=[], policies_dir=tmp_path / "policies")
    one = await first.start()
    try:
        two = await second.start()
        try:
            assert two.api_key == one.api_key
            async with DagqClient(one.api_url, api_key=one.api_key) as client:
                assert (await client.whoami())["user"] == LOCAL_ADMIN
        finally:
            await second.stop()
    finally:
        await first.stop()


def test_a_local_stack_never_writes_into_a_policies_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "repo"
    (checkout / "policies").mkdir(parents=True)
    (checkout / "policies" / "model.conf").write_text("[request_definition]\n")
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("DAGQ_POLICIES_DIR", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.resolved_policies_dir() == checkout / "policies"  # what `dagq api` uses
    assert local_policies_dir(settings) == tmp_path / "data" / "policies"
    explicit = Settings(data_dir=tmp_path / "data", policies_dir=tmp_path / "mine")
    assert local_policies_dir(explicit) == tmp_path / "mine"
