"""The Host field and the request target, as the connection layer's framing checks read them."""

from __future__ import annotations

import pytest

from sealbox.service import framing
from sealbox.service.framing import FramingError, RequestTracker, Stage


def _refusal(head: bytes) -> FramingError:
    """The refusal of ``head``, read whole in one feed and gathered a few bytes at a time."""
    refusals = []
    for size in (len(head), 7):
        t = RequestTracker(1024, one_host=True)
        with pytest.raises(FramingError) as caught:
            for at in range(0, len(head), size):
                t.feed(head[at : at + size])
        refusals.append(caught.value)
    assert [(str(r), r.status) for r in refusals] == [(str(refusals[0]), 400)] * 2
    return refusals[0]


INVALID_HOSTS = {
    "empty": b"",
    "only spaces": b"   ",
    "a space inside": b"local host",
    "userinfo": b"user@evil.example",
    "a path": b"evil.example/x",
    "a query": b"evil.example?x",
    "a fragment": b"evil.example#x",
    "a port of letters": b"localhost:abc",
    "a port beyond 65535": b"localhost:65536",
    "two ports": b"localhost:1:2",
    "no host, a port": b":8443",
    "markup": b"<script>alert(1)</script>",
    "a quote": b'evil"x',
    "a backslash": b"evil\\x",
    "a bad percent-escape": b"evil%zz",
    "non-ASCII": "bücher.example".encode(),
    "an IPv6 address unbracketed": b"::1",
    "an invalid IPv6 literal": b"[::g]",
    "an unclosed IPv6 literal": b"[::1",
    "an IPv6 zone (RFC 6874, not in HTTP's grammar)": b"[fe80::1%25eth0]",
    "a list of hosts": b"localhost, evil.example",
}


@pytest.mark.parametrize("value", INVALID_HOSTS.values(), ids=INVALID_HOSTS.keys())
def test_a_host_that_is_not_a_host_and_port_is_refused(value: bytes) -> None:
    refusal = _refusal(b"GET /health HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
    assert str(refusal) == framing.INVALID_HOST
    assert value.strip() == b"" or value not in str(refusal).encode()


@pytest.mark.parametrize("version", [b"HTTP/1.1", b"HTTP/1.0"])
def test_an_empty_host_is_refused_in_either_version(version: bytes) -> None:
    refusal = _refusal(b"GET /health " + version + b"\r\nHost:\r\n\r\n")
    assert str(refusal) == framing.INVALID_HOST


VALID_HOSTS = [
    b"localhost",
    b"localhost:8443",
    b"LocalHost.:8443",
    b"127.0.0.1",
    b"127.0.0.1:443",
    b"[::1]",
    b"[::1]:8443",
    b"[::ffff:127.0.0.1]:8443",
    b"[v1.fe80::a+en1]",
    b"vault.internal.example",
    b"xn--bcher-kva.example",
    b"host_with.sub-delims!$&'()*+,;=~",
    b"%6Cocalhost",
    b"localhost:",
    b"localhost:00443",
    b"\t localhost:8443 \t",
]


@pytest.mark.parametrize("value", VALID_HOSTS)
def test_a_host_and_port_as_rfc_3986_spells_them_is_taken(value: bytes) -> None:
    t = RequestTracker(1024, one_host=True)
    assert t.feed(b"GET /health HTTP/1.1\r\nhost:" + value + b"\r\n\r\n") == [
        "start",
        "head",
        "done",
    ]
    assert t.stage is Stage.IDLE


ABSOLUTE_REFUSED = {
    "another host": (b"https://evil.example/users/me", b"localhost:8443"),
    "another port": (b"https://localhost:9443/health", b"localhost:8443"),
    "port 0 for none": (b"https://localhost:0/health", b"localhost"),
    "no port for the default": (b"https://localhost/health", b"localhost:8443"),
    "userinfo": (b"https://user@localhost:8443/health", b"localhost:8443"),
    "plain http": (b"http://localhost:8443/health", b"localhost:8443"),
    "another scheme": (b"ftp://localhost:8443/health", b"localhost:8443"),
    "no scheme": (b"localhost:8443/health", b"localhost:8443"),
    "authority-form": (b"localhost:8443", b"localhost:8443"),
    "an empty authority": (b"https:///health", b"localhost:8443"),
    "a query right after the authority": (b"https://evil.example?x=/", b"localhost:8443"),
}


@pytest.mark.parametrize(("target", "host"), ABSOLUTE_REFUSED.values(), ids=ABSOLUTE_REFUSED.keys())
def test_an_absolute_target_naming_another_authority_than_host_is_refused(
    target: bytes, host: bytes
) -> None:
    refusal = _refusal(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert str(refusal) == framing.TARGET_HOST
    assert b"evil" not in str(refusal).encode()


def test_an_absolute_target_without_a_host_in_http10_is_refused() -> None:
    # No Host to compare: the application would build its URLs from the server's own
    # address while the target names another.
    refusal = _refusal(b"GET https://evil.example/health HTTP/1.0\r\n\r\n")
    assert str(refusal) == framing.TARGET_HOST


ABSOLUTE_TAKEN = {
    "the same": (b"https://localhost:8443/health", b"localhost:8443"),
    "another case": (b"HTTPS://LocalHost:8443/health", b"localhost:8443"),
    "the default port named in Host": (b"https://localhost/health", b"localhost:443"),
    "the default port named in the target": (b"https://localhost:443/health", b"localhost"),
    "an IPv6 literal": (b"https://[::1]:8443/health?x=1", b"[::1]:8443"),
    "an empty port": (b"https://localhost:/health", b"localhost"),
    # uvicorn's parser refuses these two itself (its own 400): nothing to refuse here.
    "no path": (b"https://localhost:8443", b"localhost:8443"),
    "a query, no path": (b"https://localhost:8443?x=1", b"localhost:8443"),
}


@pytest.mark.parametrize(("target", "host"), ABSOLUTE_TAKEN.values(), ids=ABSOLUTE_TAKEN.keys())
def test_an_absolute_target_naming_the_host_authority_is_taken(target: bytes, host: bytes) -> None:
    t = RequestTracker(1024, one_host=True)
    head = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    assert t.feed(head) == ["start", "head", "done"]


@pytest.mark.parametrize("target", [b"/health", b"/v1/secret/data/a?list=true", b"*"])
def test_origin_and_asterisk_targets_are_not_compared_with_host(target: bytes) -> None:
    t = RequestTracker(1024, one_host=True)
    head = b"OPTIONS " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert t.feed(head) == ["start", "head", "done"]


def test_an_http10_request_without_host_is_still_taken() -> None:
    t = RequestTracker(1024, one_host=True)
    assert t.feed(b"GET /health HTTP/1.0\r\n\r\n") == ["start", "head", "done"]


def test_a_host_in_a_field_value_or_a_body_is_not_read_as_the_host() -> None:
    t = RequestTracker(1024, one_host=True)
    head = b"POST /a HTTP/1.1\r\nHost: localhost\r\nX-Note: host: a b\r\nContent-Length: 9\r\n\r\n"
    assert t.feed(head + b"Host: a b") == ["start", "head", "done"]


def test_without_one_host_neither_host_nor_target_is_checked() -> None:
    # The answer side and tests of framing alone build trackers without the Host rules.
    t = RequestTracker(1024)
    assert t.feed(b"GET https://evil.example/ HTTP/1.1\r\nHost: a b\r\n\r\n") == [
        "start",
        "head",
        "done",
    ]
