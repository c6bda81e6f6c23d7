"""dagq's asyncio connections pack commands with hiredis: the bytes redis-py's Python
packer makes, the same errors for values Redis cannot take, and real round trips."""

from __future__ import annotations

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from orchestrator.store.connection import make_client
from orchestrator.store.packing import (
    HiredisConnection,
    HiredisUnixConnection,
    packed_by_hiredis,
)
from tests.conftest import ON_CLUSTER

# The shapes of a compare-and-set call (store/runs.py): keys, a version, a JSON header,
# field names and encoded values, event times, entry ids; and what else Redis takes.
_APPLY: tuple[str | bytes | int | float, ...] = (
    "EVALSHA",
    "3f786850e387550fdab836ed7e6dc881de23001b",
    9,
    "p{s3}:run:r-1",
    "p{s3}:ev:r-1",
    b"p{s3}:runs",
    -1,
    0,
    orjson.dumps({"id": "r-1", "nh": 4, "lim": 0}),
    "meta",
    b"[4,1,0,1796130883286]",
    "n:b1",
    1796130883286,
    "1796130883286-0",
    "ünïcode ✓",
    b"\x00\xff\r\n",
    1.5,
    1e20,
    0.1,
    10**30,
    "",
    b"",
    b"x" * 70_000,
)


def _py(*args: str | bytes | int | float | memoryview | bytearray) -> bytes:
    return b"".join(Connection().pack_command(*args))


def _hiredis(*args: str | bytes | int | float | memoryview | bytearray) -> bytes:
    return b"".join(HiredisConnection().pack_command(*args))


def test_hiredis_packs_the_bytes_redis_py_packs() -> None:
    assert _hiredis(*_APPLY) == _py(*_APPLY)
    assert _hiredis("CONFIG GET", "maxmemory") == _py("CONFIG GET", "maxmemory")
    assert _hiredis(b"SET", memoryview(b"k"), bytearray(b"v")) == _py(
        b"SET", memoryview(b"k"), bytearray(b"v")
    )


@pytest.mark.parametrize("bad", [None, True, [1], {"a": 1}, object()])
def test_a_value_redis_cannot_take_is_a_data_error(bad: object) -> None:
    with pytest.raises(redis.DataError):
        HiredisConnection().pack_command("SET", "k", bad)


def test_pools_of_redis_pys_classes_pack_with_hiredis_others_stay_as_they_were() -> None:
    tcp = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    assert packed_by_hiredis(tcp).connection_class is HiredisConnection
    unix = aioredis.ConnectionPool.from_url("unix:///tmp/nowhere.sock")
    assert unix.connection_class is UnixDomainSocketConnection
    assert packed_by_hiredis(unix).connection_class is HiredisUnixConnection
    latin = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0", encoding="latin-1")
    assert packed_by_hiredis(latin).connection_class is Connection


@pytest.mark.skipif(ON_CLUSTER, reason="a cluster client keeps redis-py's own connections")
async def test_a_client_round_trips_what_it_packs(redis_url: str, key_prefix: str) -> None:
    client = make_client(redis_url)
    try:
        assert client.connection_pool.connection_class is HiredisConnection
        key = f"{key_prefix}packed"
        values = list(_APPLY[3:])
        async with client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *values)
            pipe.lrange(key, 0, -1)
            _, stored = await pipe.execute()
        expected = [v if isinstance(v, bytes) else str(v).encode() for v in values]
        assert stored == expected
        with pytest.raises(redis.DataError):
            await client.set(key, None)  # type: ignore[arg-type]
    finally:
        await client.aclose()
