"""``dagq run`` and ``dagq validate --handlers`` as real processes (issue 12, items 2 and 5).

``dagq run`` stores nothing ``workflows push`` would refuse, and refuses at once a spec
whose handlers the given ``--handlers`` do not register, naming the node, the handler and
the nearest names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.store.workflows import WorkflowStore

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = str(ROOT / "examples" / "handlers.py")
CYCLE = """\
id: cyclic
name: Cyclic
nodes:
  - {id: a, type: task, handler: fetchData}
  - {id: b, type: task, handler: fetchData}
edges:
  - {source: a, target: b}
  - {source: b, target: a}
"""
TYPO = """\
id: typo
name: Typo
nodes:
  - {id: fetch, type: task, handler: fetchData}
  - {id: check, type: task, handler: valdiateData}
edges:
  - {source: fetch, target: check}
"""


def dagq(
    *args: str, redis_url: str, prefix: str, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    """``dagq ARGS`` in a fresh process on the test Redis under the test's key prefix."""
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": prefix,
        "DAGQ_DATA_DIR": str(data_dir),
    }
    for name in ("DAGQ_API_URL", "DAGQ_API_KEY", "DAGQ_CONFIG"):
        env.pop(name, None)
    command = [str(Path(sys.executable).with_name("dagq")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


async def test_run_stores_nothing_push_would_refuse(
    tmp_path: Path, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    spec = tmp_path / "cyclic.yaml"
    spec.write_text(CYCLE)
    done = dagq("run", str(spec), redis_url=redis_url, prefix=key_prefix, data_dir=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "CYCLE" in done.stderr and "Traceback" not in done.stderr
    assert not await WorkflowStore(redis_client, Keys(prefix=key_prefix)).exists("cyclic")
    assert not [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")]


async def test_run_with_handlers_refuses_a_handler_they_do_not_register(
    tmp_path: Path, redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text(TYPO)
    done = dagq(
        "run",
        str(spec),
        "--handlers",
        HANDLERS,
        "--wait",
        redis_url=redis_url,
        prefix=key_prefix,
        data_dir=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    line = (
        "node 'check' uses handler 'valdiateData', which no handler of "
        f"{HANDLERS} offers; did you mean validateData?"
    )
    assert line in done.stderr
    assert not [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")]


def test_validate_with_handlers_checks_the_names(tmp_path: Path) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text(TYPO)
    plain = dagq("validate", str(spec), redis_url="", prefix="", data_dir=tmp_path)
    assert plain.returncode == 0, plain.stdout  # the names are only known with --handlers
    checked = dagq(
        "validate", str(spec), "-H", HANDLERS, redis_url="", prefix="", data_dir=tmp_path
    )
    assert checked.returncode == 1
    assert "✗ UNKNOWN_HANDLER [check] node 'check' uses handler 'valdiateData'" in checked.stdout
    assert "did you mean validateData?" in checked.stdout
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(TYPO.replace("valdiateData", "validateData"))
    good = dagq("validate", str(fixed), "-H", HANDLERS, redis_url="", prefix="", data_dir=tmp_path)
    assert good.returncode == 0, good.stdout
    missing = dagq(
        "validate", str(spec), "-H", "no_such_module_x", redis_url="", prefix="", data_dir=tmp_path
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_run_takes_params_as_json_and_as_pairs(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    spec = str(ROOT / "examples" / "data-pipeline.yaml")
    done = dagq(
        "run", spec, "--params", '{"records": 5}', "--param", "quality=0.5", "--json",
        redis_url=redis_url, prefix=key_prefix, data_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    params = json.loads(done.stdout)["parameters"]
    assert (params["records"], params["quality"]) == (5, 0.5)
    bad = dagq(
        "run", spec, "--param", "quality",
        redis_url=redis_url, prefix=key_prefix, data_dir=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr
