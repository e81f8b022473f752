"""Client ids and secrets need no form-encoding in HTTP Basic (docs/clients.md).

RFC 6749 §2.3.1 has a client form-encode its id and secret before base64; curl ``-u``,
requests and Authlib's client send them as they are. The ids and secrets sealbox makes are
letters, digits, ``_`` and ``-``, which form-encoding leaves unchanged, so both agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_module
from tests.service._oauth import AuthServer, auth_server

UNCHANGED_BY_FORM_ENCODING = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_made_ids_and_secrets_hold_no_character_form_encoding_changes(authz) -> None:
    for n in range(20):
        client = authz.register(f"machine-{n}", "users:me")
        assert client.secret is not None
        assert UNCHANGED_BY_FORM_ENCODING.fullmatch(client.client_id), client.client_id
        assert UNCHANGED_BY_FORM_ENCODING.fullmatch(client.secret)


def test_authlib_and_requests_basic_without_encoding_get_a_token_and_revoke_it(
    authz,
) -> None:
    require_module("authlib")
    import requests
    from authlib.integrations.requests_client import OAuth2Session

    client = authz.register("reporting", "users:me")
    base, ca = authz.svc.url, str(authz.svc.ca)
    plain = requests.post(
        f"{base}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret or ""),
        verify=ca,
        timeout=20,
    )
    assert plain.status_code == 200, plain.text
    with OAuth2Session(
        client.client_id,
        client.secret,
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
    ) as session:
        token = session.fetch_token(
            f"{base}/auth/token", grant_type="client_credentials", verify=ca
        )
        assert token["token_type"].lower() == "bearer"
        assert token["scope"] == "users:me"
        assert "refresh_token" not in token
        revoked = session.revoke_token(
            f"{base}/auth/revoke",
            token=token["access_token"],
            token_type_hint="refresh_token",  # a wrong hint still finds it (RFC 7009 §2.1)
            verify=ca,
        )
        assert revoked.status_code == 200
        answer = session.introspect_token(
            f"{base}/auth/introspect", token=token["access_token"], verify=ca
        )
    assert answer.json() == {"active": False}
