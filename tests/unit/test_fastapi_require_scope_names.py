"""``BearerAuth.require`` takes scope names as tokens carry them (RFC 6749 §3.3
``scope-token``): one that no token could hold is refused when the route is made, not
answered 403 to every caller once the app serves."""

from __future__ import annotations

import pytest

from sealbox.exceptions import ConfigError
from sealbox.integrations.fastapi import BearerAuth, LocalJWKS
from sealbox.jwt import SigningKeySet


@pytest.fixture
def auth() -> BearerAuth:  # type: ignore[type-arg]
    keys = SigningKeySet.generate("EdDSA")
    return BearerAuth(LocalJWKS(keys, issuer="https://issuer.test", audience="orders-api"))


def test_two_scopes_written_as_one_string_are_refused_when_the_route_is_made(
    auth: BearerAuth,  # type: ignore[type-arg]
) -> None:
    # A token's scope claim is split on spaces: "orders:read orders:write" as one
    # required name is held by no token, so every caller would get 403.
    with pytest.raises(ConfigError) as raised:
        auth.require("orders:read orders:write")
    assert raised.value.code == "invalid_scope"
    assert raised.value.facts["scope"] == "orders:read orders:write"
    assert "orders:read orders:write" not in auth.model.flows.password.scopes  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ['orders"read', "orders\\read", "", "orders\tread", "é"])
def test_a_scope_name_that_would_break_the_challenge_or_match_no_token_is_refused(
    auth: BearerAuth,  # type: ignore[type-arg]
    name: str,
) -> None:
    # A quote or backslash would end the WWW-Authenticate challenge's quoted scope early.
    with pytest.raises(ConfigError):
        auth.require("orders:read", name)


def test_scope_names_of_any_issuer_are_taken(auth: BearerAuth) -> None:  # type: ignore[type-arg]
    # Another issuer may grant names under sealbox's own prefixes: required as given.
    auth.require("orders:read", "kv:anything", "https://api.example/orders.read")
    assert set(auth.model.flows.password.scopes) >= {"orders:read", "kv:anything"}  # type: ignore[attr-defined]
