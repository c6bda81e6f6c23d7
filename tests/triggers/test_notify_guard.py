"""The address classifier and resolver behind the notify hook's SSRF guard."""

from __future__ import annotations

import socket
from ipaddress import ip_address, ip_network

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from orchestrator.service.notify_guard import (
    AddressRefused,
    GuardedResolver,
    address_refusal,
    url_refusal,
)
from orchestrator.settings import load_settings


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.1.2.3", "private"),
    ],
)
def test_internal_addresses_are_refused(address: str, kind: str) -> None:
    why = address_refusal(ip_address(address))
    assert why is not None and f"a {kind} address" in why


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ip_address(address)) is None


def test_the_allowlist_opens_only_its_networks() -> None:
    allowed = [ip_network("10.1.0.0/16"), ip_network("127.0.0.1/32")]
    assert address_refusal(ip_address("10.1.200.3"), allowed) is None
    assert address_refusal(ip_address("127.0.0.1"), allowed) is None
    assert address_refusal(ip_address("::ffff:10.1.0.9"), allowed) is None
    assert address_refusal(ip_address("10.2.0.1"), allowed) is not None
    assert address_refusal(ip_address("127.0.0.2"), allowed) is not None
    assert address_refusal(ip_address("::1"), allowed) is not None


def test_urls_with_ip_literals_are_checked_before_connecting() -> None:
    assert "loopback" in str(url_refusal("http://127.0.0.1:6379/"))
    assert "link-local" in str(url_refusal("http://[::ffff:169.254.169.254]/latest"))
    assert "link-local" in str(url_refusal("http://[fe80::1%25eth0]/"))
    assert url_refusal("https://hooks.example.com/x") is None  # a name: checked at connect
    assert "credentials" in str(url_refusal("https://a:b@hooks.example.com/"))
    assert "http or https" in str(url_refusal("gopher://hooks.example.com/"))


class _Fixed(AbstractResolver):
    """Answers every name with the given addresses (a rebinding DNS server, say)."""

    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=h, port=port, family=family, proto=0, flags=0)
            for h in self.hosts
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_keeps_only_allowed_addresses() -> None:
    both = GuardedResolver([], _Fixed("127.0.0.1", "93.184.215.14"))
    assert [r["host"] for r in await both.resolve("evil.example")] == ["93.184.215.14"]
    with pytest.raises(AddressRefused, match=r"evil\.example resolves only to refused"):
        await GuardedResolver([], _Fixed("169.254.169.254")).resolve("evil.example")
    opened = GuardedResolver([ip_network("127.0.0.1/32")], _Fixed("127.0.0.1"))
    assert [r["host"] for r in await opened.resolve("evil.example")] == ["127.0.0.1"]


def test_the_allowlist_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DAGQ_TRIGGERS__NOTIFY_ALLOWED_NETWORKS", '["10.1.0.0/16","::1/128"]')
    nets = load_settings().triggers.notify_allowed_networks
    assert [str(n) for n in nets] == ["10.1.0.0/16", "::1/128"]
    assert (
        load_settings(triggers={"notify_allowed_networks": []}).triggers.notify_allowed_networks
        == []
    )
