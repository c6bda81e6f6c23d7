"""Commands packed by hiredis on dagq's asyncio connections, as redis-py's own sync ones are.

redis-py's synchronous connections pack each command with hiredis's C packer when
hiredis is installed (``redis.connection.HiredisRespSerializer``); its asyncio
connections always pack in Python: an encode call, a length and a bytes join per
argument.  A worker's compare-and-set script (``store/runs.py``) carries 20 to 60
arguments per run written, and that packing was about 7% of a worker's CPU
(``docs/benchmarks.md``, "Profile").  :func:`packed_by_hiredis` gives a pool's
connections redis-py's hiredis serializer: the same RESP bytes (tested), and a value
Redis cannot take (``None``, a bool, a list) still raises ``redis.DataError``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE

_SERIALIZER = HiredisRespSerializer()


class _HiredisPacking:
    """Mixin over an asyncio connection class: hiredis packs its commands."""

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = _SERIALIZER.pack(*args)
        return packed


class HiredisConnection(_HiredisPacking, Connection):
    """A TCP connection whose commands hiredis packs."""


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    """A TLS connection whose commands hiredis packs."""


class HiredisUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    """A Unix-socket connection whose commands hiredis packs."""


_PACKED_BY_HIREDIS: dict[type[Any], type[Any]] = {
    Connection: HiredisConnection,
    SSLConnection: HiredisSSLConnection,
    UnixDomainSocketConnection: HiredisUnixConnection,
}


def packed_by_hiredis(pool: aioredis.ConnectionPool) -> aioredis.ConnectionPool:
    """``pool``, its future connections packing with hiredis.  As it was when hiredis is
    not installed, when the pool makes a connection class of its own, or when it encodes
    otherwise than hiredis does (UTF-8, strict)."""
    kwargs = pool.connection_kwargs
    encoding = str(kwargs.get("encoding", "utf-8")).lower().replace("_", "-")
    if (
        HIREDIS_AVAILABLE
        and encoding in ("utf-8", "utf8")
        and kwargs.get("encoding_errors", "strict") == "strict"
    ):
        pool.connection_class = _PACKED_BY_HIREDIS.get(pool.connection_class, pool.connection_class)
    return pool
