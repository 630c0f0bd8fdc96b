"""SSRF guard for outgoing requests to URLs that customers give us (webhook endpoints).

Two checks, the same rules:

- `check_url(url)` when a URL is registered: http(s) only, and a host that is
  (or resolves only to) public addresses;
- `guarded_transport(guard)` at connect time: the httpx transport resolves the
  host itself, refuses unless **every** A/AAAA record is public, and connects
  to the address it checked (TLS still verifies the host name), so a DNS
  answer that changes between the check and the connection (rebinding) does
  not reach an internal address. Redirects are the client's business: the
  webhook sender does not follow them at all.

IPv4 literals are read the way resolvers read them (`2130706433`,
`0177.0.0.1`, `0x7f.1`, `127.1` are all 127.0.0.1), and IPv6 forms that
embed an IPv4 address (`::ffff:127.0.0.1`, NAT64, 6to4) are judged by the
address they embed. "Public" is `ipaddress`' `is_global` (which excludes
loopback, private, link-local, shared, documentation and reserved ranges),
minus multicast. Hosts in the allowlist (exact names or literals, e.g.
`127.0.0.1,localhost` for local receivers in development and tests) skip
the address check: that is the only exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class SsrfRefused(Exception):
    """The URL or address is not one we may connect to; the message says why (safe to show)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every A/AAAA address of `host` (the system resolver)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_ip_literal(host: str) -> IPAddress | None:
    """`host` as an IP address if it is one in any form a resolver accepts (decimal, octal, hex, short)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    labels = bare.rstrip(".").split(".")
    if not labels or not all(_numeric_label(label) for label in labels):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare.rstrip(".")))
    except OSError:
        return None


def _numeric_label(label: str) -> bool:
    lowered = label.lower()
    if lowered.startswith("0x"):
        return len(lowered) > 2 and all(c in "0123456789abcdef" for c in lowered[2:])
    return lowered.isdigit()


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` must not be connected to, or None if it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal(embedded)
            return f"{ip} embeds {embedded}, {reason}" if reason else None
        if ip.teredo is not None:
            return f"{ip} is a Teredo tunnel address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if not ip.is_global:
        return f"{ip} is not a public address (loopback, private, link-local or reserved)"
    return None


@dataclass(frozen=True, slots=True)
class SsrfGuard:
    allowed_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver
    resolve_timeout: float = 3.0
    schemes: frozenset[str] = field(default_factory=lambda: frozenset({"http", "https"}))

    @classmethod
    def allowing(cls, hosts: Iterable[str], resolver: Resolver = system_resolver) -> SsrfGuard:
        return cls(frozenset(h.strip().lower().strip("[]") for h in hosts if h.strip()), resolver)

    def allowed(self, host: str) -> bool:
        return host.lower().strip("[]").rstrip(".") in self.allowed_hosts

    async def check_url(self, url: str) -> None:
        """At registration: refuse a URL whose host is (or resolves to) a non-public address.

        A name that does not resolve yet is accepted: the connect-time check decides.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in self.schemes:
            raise SsrfRefused(f"only {' and '.join(sorted(self.schemes))} URLs are allowed, not {parts.scheme!r}")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise SsrfRefused("the URL has no host")
        if self.allowed(host):
            return
        ip = parse_ip_literal(host)
        if ip is not None:
            reason = refusal(ip)
            if reason:
                raise SsrfRefused(reason)
            return
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise SsrfRefused(f"{host} is a loopback name")
        try:
            addresses = await asyncio.wait_for(self.resolver(host, parts.port or 443), self.resolve_timeout)
        except (OSError, TimeoutError):
            return
        self._check_all(host, addresses)

    async def address_to_connect(self, host: str, port: int) -> str:
        """At connect time: the checked address to connect to (every record of the name must be public)."""
        ip = parse_ip_literal(host)
        if ip is not None:
            if not self.allowed(host):
                reason = refusal(ip)
                if reason:
                    raise SsrfRefused(reason)
            return str(ip)
        addresses = await asyncio.wait_for(self.resolver(host, port), self.resolve_timeout)
        if not addresses:
            raise SsrfRefused(f"{host} has no address")
        if not self.allowed(host):
            self._check_all(host, addresses)
        return addresses[0]

    @staticmethod
    def _check_all(host: str, addresses: Sequence[str]) -> None:
        for address in addresses:
            reason = refusal(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason:
                raise SsrfRefused(f"{host} resolves to {reason}")


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard checked, resolved here (not again by the socket layer)."""

    def __init__(self, guard: SsrfGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.guard.address_to_connect(host, port)
        return await self.inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise SsrfRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose every TCP connection goes through the guard.

    No proxy (a proxy would resolve the name itself) and no environment settings.
    """

    def __init__(self, guard: SsrfGuard, *, max_connections: int = 100) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )
