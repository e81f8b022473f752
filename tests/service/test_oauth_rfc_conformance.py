"""The authorization server against the letter of its RFCs, over real HTTPS with real
clients: token type hints (RFC 7009 §2.1-2.2, RFC 7662 §2.1), where the metadata of an
issuer with a path lives (RFC 8414 §3), and the ``x5t#S256`` of a bound token against
OpenSSL's own fingerprint of the certificate (RFC 8705 §3.1)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import bearer, login, register


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# A hint naming the other kind, one no registry has, and one longer than any registered
# name: RFC 7009 §2.2 ignores an invalid hint, and it "does not influence the response".
ODD_HINTS = ("refresh_token", "access_token", "id_token", "x" * 65, "h" * 2000)


def test_a_token_type_hint_of_any_value_or_length_is_ignored_by_introspection(authz) -> None:
    reader = authz.register("resource-server", "users:me", "tokens:introspect")
    with authz.client() as c:
        register(c, "alice")
        tokens = login(c, "alice").json()
        for token, kind in ((tokens["access_token"], "Bearer"), (tokens["refresh_token"], None)):
            for hint in ODD_HINTS:
                answer = c.post(
                    "/auth/introspect",
                    data={"token": token, "token_type_hint": hint},
                    headers=reader.basic,
                )
                assert answer.status_code == 200, (hint[:20], answer.text)
                assert answer.json()["active"] is True
                assert kind is None or answer.json()["token_type"] == kind


def test_a_token_type_hint_of_any_value_or_length_is_ignored_by_revocation(authz) -> None:
    client = authz.register("reporting", "users:me")
    for hint in ODD_HINTS:
        token = authz.client_token(client).json()["access_token"]
        with authz.client() as c:
            answer = c.post(
                "/auth/revoke",
                data={"token": token, "token_type_hint": hint},
                headers=client.basic,
            )
            assert answer.status_code == 200, (hint[:20], answer.text)
            assert answer.content == b""
            gone = c.post("/auth/introspect", data={"token": token}, headers=client.basic)
        assert gone.json() == {"active": False}


def test_an_issuer_with_a_path_has_its_metadata_where_rfc_8414_puts_it(tmp_path: Path) -> None:
    # RFC 8414 §3.1: the well-known string goes between the host and the issuer's path, and
    # §3.3: the issuer in the document MUST be the one the URL was made from.
    issuer = "https://auth.example.test/tenant"
    with auth_server(tmp_path, issuer=issuer) as server, server.client() as c:
        doc = c.get("/.well-known/oauth-authorization-server/tenant")
        other = c.get("/.well-known/oauth-authorization-server/another")
        deeper = c.get("/.well-known/oauth-authorization-server/tenant/more")
    assert doc.status_code == 200, doc.text
    assert doc.headers["content-type"] == "application/json"
    assert doc.json()["issuer"] == issuer
    assert doc.json()["token_endpoint"] == f"{issuer}/auth/token"
    # Only the issuer's own path: any other is no document of this server's.
    assert other.status_code == deeper.status_code == 404


def test_an_issuer_without_a_path_has_no_metadata_below_the_well_known_name(authz) -> None:
    with authz.client() as c:
        assert c.get("/.well-known/oauth-authorization-server/sealbox").status_code == 404
        assert c.get("/.well-known/oauth-authorization-server/").status_code == 404


def test_a_bound_tokens_x5t_s256_is_the_openssl_sha256_fingerprint_base64url(authz) -> None:
    openssl = require_tool("openssl")
    reporter = authz.register("reporter", "users:me", cert=authz.cert_a, secret=False)
    with authz.client(cert=authz.cert_a) as c:
        answer = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "client_id": reporter.client_id},
        )
    assert answer.status_code == 200, answer.text
    printed = subprocess.run(
        [openssl, "x509", "-in", str(authz.cert_a[0]), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    digest = bytes.fromhex(printed.strip().split("=", 1)[1].replace(":", ""))
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert _claims(answer.json()["access_token"])["cnf"] == {"x5t#S256": expected}
    # Refused with invalid_token without that certificate, and with another one.
    for cert in (None, authz.cert_b):
        with authz.client(cert=cert) as c:
            refused = c.get("/users/me", headers=bearer(answer.json()["access_token"]))
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


# RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ).
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


@pytest.mark.parametrize("scope", ['say"hi', "back\\slash", "caf\u00e9", "del\x7f", "ctl\x01"])
def test_an_error_description_quoting_a_scope_keeps_to_rfc_6749s_characters(
    authz, scope: str
) -> None:
    client = authz.register("reporting", "users:me")
    answer = authz.client_token(client, scope=scope)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_scope"
    description = answer.json()["error_description"]
    assert DESCRIPTION.fullmatch(description), description
    assert description.startswith("the client may not be granted ")
    # sealbox's own message (JSON, any character) still quotes what was asked for.
    assert scope in answer.json()["message"]


@pytest.mark.parametrize("separator", ["\t", "\n", "\u2003", "\u00a0"])
def test_scopes_asked_for_are_separated_by_spaces_only(authz, separator: str) -> None:
    # RFC 6749 §3.3: scope = scope-token *( SP scope-token ). Another separator is part
    # of a scope-token no client holds, not a way to ask for two scopes.
    client = authz.register("reporting", "users:me", "orders:read")
    both = authz.client_token(client, scope="users:me  orders:read")
    assert both.status_code == 200, both.text
    assert sorted(both.json()["scope"].split(" ")) == ["orders:read", "users:me"]
    answer = authz.client_token(client, scope=f"users:me{separator}orders:read")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_scope"
