"""The embedded Redis: a real redis-server process in a temporary data dir."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator.errors import Unavailable
from orchestrator.settings import Settings
from orchestrator.store.connection import connect, redact_url, redis_url_for
from orchestrator.store.embedded import EmbeddedRedis


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A data dir with a short path, so the unix socket fits in sun_path."""
    path = Path(tempfile.mkdtemp(prefix="dq-"))
    try:
        yield path
    finally:
        # Never leave a server behind, whatever the test did.
        EmbeddedRedis(path).stop()
        subprocess.run(["rm", "-rf", str(path)], check=False)


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"process {pid} did not exit"
        time.sleep(0.02)


def test_start_share_and_owner_stops(short_dir: Path) -> None:
    owner = EmbeddedRedis(short_dir)
    guest = EmbeddedRedis(short_dir)
    assert not owner.running() and owner.url() is None

    url = owner.ensure()
    assert owner.owner and owner.running()
    pid = owner.pid()
    assert pid is not None

    # A second EmbeddedRedis joins the same server as a guest.
    assert guest.ensure() == url
    assert not guest.owner and guest.pid() == pid
    client = _client(url)
    client.set("k", "v")
    assert _client(guest.url() or "").get("k") == b"v"

    guest.close()  # a guest leaving leaves the server up
    assert owner.running()
    assert client.get("k") == b"v"
    client.close()

    owner.close()  # the owner leaving stops it
    _wait_gone(pid)
    assert not owner.running() and not guest.running()
    assert not owner.pid_file.exists() and not owner.port_file.exists()


def test_files_private_and_password_required(short_dir: Path) -> None:
    with EmbeddedRedis(short_dir) as embedded:
        url = embedded.ensure()
        assert stat.S_IMODE(embedded.dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(embedded.password_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(embedded.conf_file.stat().st_mode) == 0o600
        password = embedded.password_file.read_text().strip()
        assert len(password) >= 32 and f":{password}@" in url

        port = int(embedded.port_file.read_text())
        bare = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            bare.ping()
        bare.close()
        wrong = redis.Redis(host="127.0.0.1", port=port, password="nope", socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            wrong.ping()
        wrong.close()

        # The unix socket works too, with the password.
        socket_url = embedded.socket_url()
        assert socket_url is not None and socket_url.startswith("unix://")
        via_socket = _client(socket_url)
        assert via_socket.ping()
        via_socket.close()
        assert password not in redact_url(url)


def test_aof_persists_across_restart(short_dir: Path) -> None:
    first = EmbeddedRedis(short_dir)
    client = _client(first.ensure())
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.close()
    first.close()
    assert not first.running()
    assert (first.dir / "appendonly.aof").stat().st_size > 0

    second = EmbeddedRedis(short_dir)
    client = _client(second.ensure())
    assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
    client.close()
    second.close()


def test_kill_9_leaves_stale_files_that_are_recovered(short_dir: Path) -> None:
    first = EmbeddedRedis(short_dir)
    client = _client(first.ensure(stay=True))
    client.set("survives", "yes")
    client.close()
    pid = first.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    # The pidfile and socket are left behind by a killed server.
    assert first.pid_file.exists() and first.socket_path.exists()
    assert not first.running()

    second = EmbeddedRedis(short_dir)
    url = second.ensure()
    assert second.owner and second.pid() not in (None, pid)
    client = _client(url)
    # Written before the kill: the AOF had it in the page cache.
    assert client.get("survives") == b"yes"
    client.close()
    # The dead server's keep marker does not make the new one stay.
    assert not second.keep_file.exists()
    second.close()
    assert not second.running()
    first.close()  # its server is long gone: nothing to do, no error


def test_stale_pidfile_of_another_live_process(short_dir: Path) -> None:
    embedded = EmbeddedRedis(short_dir)
    embedded.dir.mkdir(parents=True)
    # Our own pid: alive, but not a redis-server (a reused pid after a crash).
    embedded.pid_file.write_text(f"{os.getpid()}\n")
    embedded.port_file.write_text("1\n")
    assert not embedded.running()
    url = embedded.ensure()
    assert embedded.pid() != os.getpid()
    assert _client(url).ping()
    embedded.close()
    assert not embedded.running()


def test_stay_keeps_it_until_stop(short_dir: Path) -> None:
    keeper = EmbeddedRedis(short_dir)
    keeper.ensure(stay=True)
    keeper.close()
    assert keeper.running()

    # A later plain user is a guest; leaving does not stop it either.
    user = EmbeddedRedis(short_dir)
    user.ensure()
    assert not user.owner
    user.close()
    assert keeper.running()

    EmbeddedRedis(short_dir).stop()
    assert not keeper.running()
    assert not keeper.keep_file.exists()


def test_guest_asking_to_stay_outlives_the_owner(short_dir: Path) -> None:
    owner = EmbeddedRedis(short_dir)
    owner.ensure()
    EmbeddedRedis(short_dir).ensure(stay=True)  # like `dagq redis start` afterwards
    owner.close()
    assert owner.running()
    owner.stop()
    assert not owner.running()


def test_two_processes_starting_at_once_share_one_server(short_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from orchestrator.store.embedded import EmbeddedRedis; "
        "e = EmbeddedRedis(Path(sys.argv[1])); print(e.ensure(stay=True)); print(e.pid())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(short_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=60)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert len({tuple(out) for out in outputs}) == 1  # same URL, same pid
    embedded = EmbeddedRedis(short_dir)
    assert embedded.running() and str(embedded.pid()) == outputs[0][1]
    embedded.stop()


def test_owner_process_exit_stops_it(short_dir: Path) -> None:
    # An owner that forgets close() still stops its server at interpreter exit.
    code = (
        "import sys; from pathlib import Path; "
        "from orchestrator.store.embedded import EmbeddedRedis; "
        "e = EmbeddedRedis(Path(sys.argv[1])); e.ensure(); print(e.pid())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(short_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    _wait_gone(int(out.stdout))
    assert not EmbeddedRedis(short_dir).running()


def test_long_data_dir_has_no_socket_but_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    embedded = EmbeddedRedis(deep)
    try:
        url = embedded.ensure()
        assert _client(url).ping()
        assert embedded.socket_url() is None
    finally:
        embedded.stop()


async def test_connect_uses_embedded_and_closes_what_it_started(short_dir: Path) -> None:
    settings = Settings(data_dir=short_dir, redis_url=None)
    conn = await connect(settings)
    assert conn.embedded is not None and conn.embedded.owner
    assert await conn.redis.ping()
    assert conn.keys.prefix == settings.workflow.storage.prefix
    assert conn.server_version.startswith("6.2")
    assert "***" in conn.safe_url
    await conn.aclose()
    assert not EmbeddedRedis(short_dir).running()


async def test_connect_stay_keeps_it(short_dir: Path) -> None:
    settings = Settings(data_dir=short_dir, redis_url=None)
    async with await connect(settings, stay=True) as conn:
        assert await conn.redis.ping()
    assert EmbeddedRedis(short_dir).running()
    # A sync caller gets the same URL without starting another server.
    assert redis_url_for(settings) == EmbeddedRedis(short_dir).url()


async def test_connect_refused_is_a_readable_error() -> None:
    settings = Settings(redis_url="redis://:secret@127.0.0.1:1/0")
    with pytest.raises(Unavailable) as caught:
        await connect(settings)
    message = str(caught.value)
    assert message == "cannot reach Redis at redis://:***@127.0.0.1:1/0: connection refused"
    assert "secret" not in message


async def test_connect_bad_url_is_a_readable_error() -> None:
    with pytest.raises(Unavailable, match="invalid Redis URL"):
        await connect(Settings(redis_url="http://example.com"))


async def test_connect_wrong_password_on_embedded(short_dir: Path) -> None:
    embedded = EmbeddedRedis(short_dir)
    url = embedded.ensure()
    try:
        bad = url.replace(embedded.password_file.read_text().strip(), "wrong")
        with pytest.raises(Unavailable, match="authentication failed"):
            await connect(Settings(redis_url=bad))
    finally:
        embedded.close()


def test_redis_url_for_prefers_the_configured_url(short_dir: Path) -> None:
    settings = Settings(data_dir=short_dir, redis_url="redis://example:6379/0")
    assert redis_url_for(settings) == "redis://example:6379/0"
    assert not EmbeddedRedis(short_dir).running()


# --- durability (issue 10 item 10) and orphans (item 11) --------------------------------

_OWNER_THEN = (
    "import os, signal, sys, time; from pathlib import Path; "
    "from orchestrator.store.embedded import EmbeddedRedis; "
    "e = EmbeddedRedis(Path(sys.argv[1])); e.ensure(); print(e.pid(), flush=True); "
    "{then}"
)


def test_the_default_fsync_is_everysec_and_always_reaches_the_server(short_dir: Path) -> None:
    default = EmbeddedRedis(short_dir)
    assert default.fsync == "everysec"
    client = _client(default.ensure())
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.close()
    default.close()

    durable = EmbeddedRedis(short_dir, fsync="always")
    client = _client(durable.ensure())
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    assert durable.fsync_policy() == "always"
    assert "appendfsync always" in durable.conf_file.read_text()
    client.close()
    durable.close()
    assert durable.fsync_policy() is None


def test_an_unknown_fsync_policy_is_refused(short_dir: Path) -> None:
    with pytest.raises(Unavailable, match="always, everysec, no"):
        EmbeddedRedis(short_dir, fsync="sometimes")


def test_the_orphan_of_a_killed_owner_is_adopted_then_stopped(short_dir: Path) -> None:
    # The owner dies by SIGKILL (no atexit): its server is left running, owned by nobody.
    owner = subprocess.run(
        [sys.executable, "-c", _OWNER_THEN.format(then="os.kill(os.getpid(), 9)"), str(short_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert owner.returncode == -signal.SIGKILL
    orphan = int(owner.stdout)
    assert EmbeddedRedis(short_dir).pid() == orphan

    adopter = EmbeddedRedis(short_dir, fsync="always")
    client = _client(adopter.ensure())
    assert adopter.owner and adopter.pid() == orphan  # the same server, now ours
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    client.close()
    adopter.close()
    _wait_gone(orphan)
    assert not adopter.owner_file.exists()


def test_a_live_owner_in_another_process_is_not_robbed(short_dir: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_THEN.format(then="time.sleep(120)"), str(short_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        guest = EmbeddedRedis(short_dir)
        guest.ensure()
        assert not guest.owner
        guest.close()
        assert guest.pid() == pid  # still running: the guest did not stop it
    finally:
        owner.terminate()  # SIGTERM: no atexit either, so the server is orphaned again
        owner.wait(30)
    kept = EmbeddedRedis(short_dir)
    kept.ensure(stay=True)  # `dagq redis start`: adopts it, to stay
    kept.close()
    assert kept.pid() == pid
