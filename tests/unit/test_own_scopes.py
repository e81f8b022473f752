"""The scopes under sealbox's own prefixes: those its routes look for are granted, the
rest are refused when granted (they would allow nothing) but can still be taken back."""

from __future__ import annotations

import pytest

from sealbox.accounts.scopes import check_scopes, unknown_own_scope
from sealbox.exceptions import ConfigError
from sealbox.transit.registry import SCOPE_OPERATIONS


@pytest.mark.parametrize(
    "scope",
    [
        "users:me",
        "users:admin",
        "clients:admin",
        "tokens:revoke",
        "tokens:introspect",
        "transit:admin",
        "transit:encrypt:orders",
        "transit:read:*",
        "transit:export:a.b_c-1",
        "kv:admin",
        "kv:read:*",
        "kv:write:secret/app/",
        # Not sealbox's prefixes: the application's own.
        "orders:read",
        "transit",
        "transitx:anything",
        "openid",
    ],
)
def test_scopes_a_route_looks_for_and_application_scopes_are_taken(scope: str) -> None:
    assert unknown_own_scope(scope) is None
    assert check_scopes([scope]) == [scope]


@pytest.mark.parametrize(
    "scope",
    [
        "users:*",
        "users:read",
        "clients:*",
        "tokens:*",
        "tokens:introspec",
        "tokens:revoke:orders",
        "transit:*",
        "transit:*:orders",
        "transit:encrypt",
        "transit:encrypt:",
        "transit:encrpyt:orders",
        "transit:encrypt:orders*",
        "transit:encrypt:-orders",
        "kv:*",
        "kv:read",
        "kv:read:",
        "kv:delete:secret/",
    ],
)
def test_scopes_under_sealbox_prefixes_that_allow_nothing_are_refused(scope: str) -> None:
    assert unknown_own_scope(scope) is not None
    with pytest.raises(ConfigError) as refused:
        check_scopes([scope])
    assert refused.value.code == "invalid_scope"
    assert refused.value.facts["scope"] == scope
    # Taking one back, granted before sealbox refused it, still works.
    assert check_scopes([scope], granting=False) == [scope]


def test_the_transit_scope_operations_are_the_ones_the_service_authorizes() -> None:
    pytest.importorskip("fastapi")
    from sealbox.service.routes.transit import HANDLERS

    assert set(SCOPE_OPERATIONS) == {*HANDLERS, "export", "read"}


def test_a_client_with_a_scope_that_allows_nothing_is_refused() -> None:
    pytest.importorskip("sqlalchemy")
    from sealbox.accounts import clients

    with pytest.raises(ConfigError) as refused:
        clients.check_scopes(["transit:*"])
    assert refused.value.code == "bad_scope"
    assert clients.check_scopes([]) == []
    assert clients.check_scopes(["b", "a", "b"]) == ["a", "b"]
