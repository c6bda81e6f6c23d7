"""Where a ``notify`` POST may go: dagq's guard against server-side request forgery.

Anyone who can save a workflow chooses its notify URL, and every orchestrator POSTs
there from inside the network.  So, like the webhook senders of GitLab or Grafana:

- the URL must be ``http``/``https`` without credentials (checked at save too,
  :func:`orchestrator.spec.notify_url.notify_url_problem`);
- the addresses actually connected to must be public: loopback, private, link-local,
  multicast, reserved, unspecified and otherwise non-global addresses are refused, IPv4
  and IPv6 alike (an IPv4-mapped IPv6 address counts as its IPv4 address).  Host names
  are checked on what they resolve to, by the resolver the connector uses to connect
  (:class:`GuardedResolver`), so a name re-pointed after the check (DNS rebinding) is
  refused as well; an IP literal, which aiohttp never resolves, is checked up front;
- ``triggers.notify_allowed_networks`` lets an admin open what they need
  (``10.1.0.0/16``, ``127.0.0.1/32``...);
- redirects are not followed (the caller posts with ``allow_redirects=False``).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from orchestrator.spec.notify_url import notify_url_problem

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class AddressRefused(OSError):
    """A notify POST would connect to an address the guard refuses."""


def address_refusal(address: Address, allowed: Sequence[Network] = ()) -> str | None:
    """Why dagq refuses to connect to ``address``, or ``None`` when it may."""
    candidates: list[Address] = [address]
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        candidates.insert(0, address.ipv4_mapped)
    if any(a.version == n.version and a in n for a in candidates for n in allowed):
        return None
    ip = candidates[0]
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    )
    for kind, hit in kinds:
        if hit:
            return f"{address} is a {kind} address (not in triggers.notify_allowed_networks)"
    return None


def url_refusal(url: str, allowed: Sequence[Network] = ()) -> str | None:
    """Why ``url`` is refused before any connection (scheme, credentials, an IP literal)."""
    if problem := notify_url_problem(url):
        return problem
    host = urlsplit(url).hostname or ""
    try:
        literal = ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a name: checked on its resolved addresses at connect time
    return address_refusal(literal, allowed)


def refusal_in(exc: BaseException) -> AddressRefused | None:
    """The :class:`AddressRefused` behind an aiohttp connection error, if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen
        inner = getattr(seen, "os_error", None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__
    return None


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, keeping only the addresses allowed."""

    def __init__(self, allowed: Sequence[Network], inner: AbstractResolver | None = None):
        self.allowed = tuple(allowed)
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        why = ""
        for result in results:
            refused = address_refusal(ip_address(_bare(result["host"])), self.allowed)
            if refused is None:
                kept.append(result)
            else:
                why = why or refused
        if not kept:
            raise AddressRefused(f"{host} resolves only to refused addresses: {why}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _bare(host: Any) -> str:
    return str(host).split("%", 1)[0]
