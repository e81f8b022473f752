"""The issuer of an ``otpauth://`` URI holds no colon, whatever the service's issuer is:
authenticators split the label ``ISSUER:ACCOUNT`` on its first colon (Google's Key Uri
Format allows none in the issuer, literal or percent-encoded)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sealbox.accounts.totp import authenticator_issuer, otpauth_uri


@pytest.mark.parametrize(
    "issuer",
    ["https://[::1]:8443/", "https://[2001:db8::5]/", "http://[fe80::1%25eth0]:80", "a:b"],
)
def test_an_issuer_whose_host_is_an_ipv6_literal_is_named_without_a_colon(issuer: str) -> None:
    shown = authenticator_issuer(issuer)
    assert ":" not in shown and shown.strip()
    parts = urlsplit(otpauth_uri("JBSWY3DPEHPK3PXP", "alice", issuer))
    label_issuer, _, account = unquote(parts.path.removeprefix("/")).partition(":")
    assert (label_issuer, account) == (shown, "alice")
    assert parse_qs(parts.query)["issuer"] == [shown]


def test_a_dns_host_issuer_is_its_host_name() -> None:
    assert authenticator_issuer("https://auth.example.com:8443/base") == "auth.example.com"
