"""The SSRF guard's rules, with a resolver the test controls (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from emporium.platform.http.ssrf import SsrfGuard, SsrfRefused, parse_ip_literal, refusal

ANSWERS = {
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example": ["10.0.0.7"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
}


async def resolver(host: str, port: int) -> list[str]:
    if host not in ANSWERS:
        raise OSError("no such host")
    return ANSWERS[host]


GUARD = SsrfGuard(frozenset(), resolver)


@pytest.mark.parametrize(
    ("literal", "ip"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.example", None),
    ],
)
def test_ip_literals_are_read_as_resolvers_read_them(literal: str, ip: str | None) -> None:
    parsed = parse_ip_literal(literal)
    assert (str(parsed) if parsed else None) == ip


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "0.0.0.0", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1",
     "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "224.0.0.1"],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    ["http://internal.example/", "https://mixed.example/x", "http://metadata.example/", "http://localhost:9/",
     "http://2130706433/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/", "file:///etc/passwd",
     "gopher://public.example/", "ftp://public.example/"],
)  # fmt: skip
async def test_registration_refuses(url: str) -> None:
    with pytest.raises(SsrfRefused):
        await GUARD.check_url(url)


async def test_registration_accepts_public_names_and_names_that_do_not_resolve_yet() -> None:
    await GUARD.check_url("https://public.example/hooks")
    await GUARD.check_url("https://not-yet.example/hooks")  # decided at connect time


async def test_connect_time_checks_every_record_and_returns_the_checked_address() -> None:
    assert await GUARD.address_to_connect("public.example", 443) == "93.184.216.34"
    for host in ("mixed.example", "internal.example", "127.0.0.1", "0177.0.0.1"):
        with pytest.raises(SsrfRefused):
            await GUARD.address_to_connect(host, 443)


async def test_the_allowlist_is_the_only_exception() -> None:
    allowing = SsrfGuard.allowing(["127.0.0.1", "internal.example"], resolver)
    await allowing.check_url("http://127.0.0.1:8080/")
    assert await allowing.address_to_connect("internal.example", 80) == "10.0.0.7"
    with pytest.raises(SsrfRefused):
        await allowing.address_to_connect("metadata.example", 80)
