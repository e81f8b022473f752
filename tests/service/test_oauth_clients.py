"""RFC 8414 metadata and machine clients (client credentials) over real HTTPS."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from sealbox.integrations.fastapi.client_auth import basic_credentials
from sealbox.service.client_admin import rotate_client_secret
from tests.conftest import require_module, require_tool
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import PASSWORD, bearer, login, register


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- metadata ----------------------------------------------------------------------------


def test_metadata_document_names_the_endpoints_grants_and_auth_methods(authz) -> None:
    with authz.client() as c:
        first = c.get("/.well-known/oauth-authorization-server")
        second = c.get("/.well-known/openid-configuration")
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "application/json"
    doc = first.json()
    assert doc == second.json()
    base = authz.svc.url
    assert doc["issuer"] == "sealbox"
    assert doc["token_endpoint"] == f"{base}/auth/token"
    assert doc["revocation_endpoint"] == f"{base}/auth/revoke"
    assert doc["introspection_endpoint"] == f"{base}/auth/introspect"
    assert doc["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert doc["grant_types_supported"] == ["password", "refresh_token", "client_credentials"]
    methods = ["client_secret_basic", "client_secret_post", "tls_client_auth"]
    # "none": the password grant's public first-party client authenticates not at all.
    assert doc["token_endpoint_auth_methods_supported"] == [*methods, "none"]
    assert doc["revocation_endpoint_auth_methods_supported"] == [*methods, "none"]
    assert doc["introspection_endpoint_auth_methods_supported"] == methods
    # Every scope a route of the service asks for.
    assert {"clients:admin", "users:admin", "users:me", "tokens:revoke", "transit:admin"} <= set(
        doc["scopes_supported"]
    )
    assert doc["tls_client_certificate_bound_access_tokens"] is True
    # No authorization endpoint, so no response type: RFC 8414 §3.2 omits a member of zero
    # elements rather than answer [] (and a response type named would be untrue).
    assert "authorization_endpoint" not in doc
    assert "response_types_supported" not in doc
    assert [name for name, value in doc.items() if value in ([], "", None)] == []


def test_metadata_offers_certificates_only_where_the_service_takes_them(tmp_path: Path) -> None:
    from tests.service.conftest import make_settings, run_service

    with run_service(make_settings(tmp_path / "data")) as svc, svc.client() as c:
        doc = c.get("/.well-known/oauth-authorization-server").json()
    assert "tls_client_auth" not in doc["token_endpoint_auth_methods_supported"]
    assert "tls_client_auth" not in doc["introspection_endpoint_auth_methods_supported"]
    assert doc["tls_client_certificate_bound_access_tokens"] is False


def test_metadata_uses_an_https_issuer_as_the_base_of_every_endpoint(tmp_path: Path) -> None:
    issuer = "https://auth.example.test"
    with auth_server(tmp_path, issuer=issuer) as server, server.client() as c:
        doc = c.get("/.well-known/oauth-authorization-server").json()
    assert doc["issuer"] == issuer
    assert doc["token_endpoint"] == f"{issuer}/auth/token"
    assert doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"


def test_hvac_reads_the_metadata_and_introspects_through_its_raw_adapter(authz) -> None:
    # hvac has no OAuth API; its generic adapter still speaks plain HTTPS to any URL.
    require_module("hvac")
    from hvac.adapters import RawAdapter

    reader = authz.register("resource-server", "users:me")
    adapter = RawAdapter(base_uri=authz.svc.url, verify=str(authz.svc.ca))
    doc = adapter.get("/.well-known/oauth-authorization-server").json()
    assert doc["introspection_endpoint"].endswith("/auth/introspect")
    issued = authz.client_token(reader).json()["access_token"]
    answer = adapter.post(
        "/auth/introspect", data={"token": issued}, auth=(reader.client_id, reader.secret)
    ).json()
    assert answer["active"] is True
    assert answer["client_id"] == reader.client_id


# -- client credentials ------------------------------------------------------------------


def test_client_credentials_with_basic_gives_an_access_token_and_no_refresh_token(
    authz,
) -> None:
    client = authz.register("reporting", "transit:admin", "transit:encrypt:orders")
    answer = authz.client_token(client)
    assert answer.status_code == 200
    body = answer.json()
    assert "refresh_token" not in body
    assert body["token_type"] == "bearer"
    assert body["scope"] == "transit:admin transit:encrypt:orders"
    claims = _claims(body["access_token"])
    assert claims["sub"] == claims["client_id"] == client.client_id
    assert claims["gty"] == "client_credentials"
    assert "uid" not in claims
    assert "cnf" not in claims  # no client certificate on this connection


def test_a_client_token_is_accepted_by_transit_routes_by_scope(authz) -> None:
    client = authz.register("reporting", "transit:admin", "transit:encrypt:orders")
    token = authz.client_token(client).json()["access_token"]
    narrow = authz.client_token(client, scope="transit:encrypt:orders").json()["access_token"]
    with authz.client() as c:
        assert c.post("/v1/keys/orders", json={}, headers=bearer(token)).status_code in (200, 201)
        sealed = c.post(
            "/v1/keys/orders/encrypt", json={"plaintext": "aGVsbG8="}, headers=bearer(narrow)
        )
        assert sealed.status_code == 200, sealed.text
        assert sealed.json()["ciphertext"].startswith("sealbox:v1:")
        refused = c.post(
            "/v1/keys/orders/decrypt",
            json={"ciphertext": sealed.json()["ciphertext"]},
            headers=bearer(narrow),
        )
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert f'"user": "{client.client_id}"' in authz.svc.audit()


def test_users_me_refuses_a_client_token_with_a_clear_code(authz) -> None:
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]
    with authz.client() as c:
        me = c.get("/users/me", headers=bearer(token))
        # Told before the body is judged: an empty one is not a validation error first.
        account_routes = [
            c.post(path, json=body, headers=bearer(token))
            for path in ("/auth/logout", "/auth/password")
            for body in ({}, None)
        ]
    assert me.status_code == 403
    assert me.json()["error"] == "user_token_required"
    for answer in account_routes:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "user_token_required"


def test_a_scope_the_client_does_not_hold_is_invalid_scope(authz) -> None:
    client = authz.register("reporting", "transit:encrypt:orders")
    answer = authz.client_token(client, scope="transit:admin")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_a_wrong_secret_is_401_invalid_client_with_a_basic_challenge(authz) -> None:
    client = authz.register("reporting", "users:me")
    wrong = type(client)(client.name, client.client_id, "sbs_" + "A" * 43)
    unknown = type(client)("x", "sbc_unknown", client.secret)
    answers = [authz.client_token(wrong), authz.client_token(unknown)]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Basic")
        assert answer.json()["error"] == "invalid_client"
    # The same answer for an unknown client and a wrong secret: no oracle.
    assert answers[0].json() == answers[1].json()


def test_client_secret_post_works_and_two_methods_at_once_are_refused(authz) -> None:
    client = authz.register("reporting", "users:me")
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.secret,
    }
    with authz.client() as c:
        assert c.post("/auth/token", data=form).status_code == 200
        both = c.post("/auth/token", data=form, headers=client.basic)
        none = c.post("/auth/token", data={"grant_type": "client_credentials"})
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"
    assert none.status_code == 401
    assert none.json()["error"] == "invalid_client"


def test_curl_gets_a_client_token_with_http_basic(authz) -> None:
    curl = require_tool("curl")
    client = authz.register("reporting", "users:me")
    out = subprocess.run(
        [
            curl,
            "-sS",
            "--cacert",
            str(authz.svc.ca),
            "-u",
            f"{client.client_id}:{client.secret}",
            "-d",
            "grant_type=client_credentials",
            f"{authz.svc.url}/auth/token",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    body = json.loads(out.stdout)
    assert body["scope"] == "users:me"
    assert "refresh_token" not in body
    wrong = subprocess.run(
        [
            curl,
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            str(authz.svc.ca),
            "-u",
            f"{client.client_id}:wrong",
            "-d",
            "grant_type=client_credentials",
            f"{authz.svc.url}/auth/token",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert wrong.stdout == b"401"


def test_tls_client_auth_authenticates_by_the_certificate_subject(authz) -> None:
    client = authz.register("by-cert", "users:me", cert=authz.cert_a, secret=False)
    form = {"grant_type": "client_credentials", "client_id": client.client_id}
    with authz.client(cert=authz.cert_a) as c:
        good = c.post("/auth/token", data=form)
    with authz.client(cert=authz.cert_b) as c:
        other = c.post("/auth/token", data=form)
    with authz.client() as c:
        without = c.post("/auth/token", data=form)
    assert good.status_code == 200, good.text
    assert "x5t#S256" in _claims(good.json()["access_token"])["cnf"]
    assert other.status_code == without.status_code == 401
    assert other.json()["error"] == without.json()["error"] == "invalid_client"


# -- rotation ------------------------------------------------------------------------------


def test_a_rotated_secret_keeps_the_old_one_working_within_the_overlap_only(authz) -> None:
    client = authz.register("reporting", "users:me")
    old = client
    made = rotate_client_secret(authz.svc.settings, "reporting", overlap=1)
    new = type(client)(client.name, client.client_id, made.secret.expose_secret())
    assert authz.client_token(new).status_code == 200
    assert authz.client_token(old).status_code == 200  # within the overlap
    time.sleep(1.2)
    assert authz.client_token(old).status_code == 401  # past it
    assert authz.client_token(new).status_code == 200


def test_a_rotation_without_overlap_ends_the_old_secret_at_once(authz) -> None:
    client = authz.register("reporting", "users:me")
    rotate_client_secret(authz.svc.settings, "reporting", overlap=3600)
    made = rotate_client_secret(authz.svc.settings, "reporting", overlap=0)
    newest = type(client)(client.name, client.client_id, made.secret.expose_secret())
    assert authz.client_token(client).status_code == 401
    assert authz.client_token(newest).status_code == 200


# -- administration over HTTP --------------------------------------------------------------


def _admin_token(authz: AuthServer, scopes: tuple[str, ...] = ("clients:admin", "users:me")) -> str:
    from sealbox.service.admin import create_user

    create_user(authz.svc.settings, "root", lambda _n: PASSWORD, list(scopes))
    with authz.client() as c:
        return login(c, "root").json()["access_token"]


def test_admins_list_create_rotate_and_delete_clients_over_http(authz) -> None:
    token = _admin_token(authz)
    with authz.client() as c:
        made = c.post(
            "/clients", json={"name": "billing", "scopes": ["users:me"]}, headers=bearer(token)
        )
        assert made.status_code == 201
        secret = made.json()["client_secret"]
        listed = c.get("/clients", headers=bearer(token))
        rotated = c.post(
            "/clients/billing/rotate-secret", json={"overlap": 60}, headers=bearer(token)
        )
        plain = c.post("/clients/billing/rotate-secret", headers=bearer(token))
        again = c.post("/clients", json={"name": "billing"}, headers=bearer(token))
        gone = c.delete("/clients/billing", headers=bearer(token))
        missing = c.delete("/clients/billing", headers=bearer(token))
    assert listed.status_code == 200
    assert [x["name"] for x in listed.json()["clients"]] == ["billing"]
    assert secret not in listed.text and '"client_secret":' not in listed.text
    assert rotated.status_code == 200
    assert rotated.json()["client_secret"] != secret
    assert rotated.json()["previous_secret_expires"] is not None
    assert plain.status_code == 200  # no body: no overlap
    assert plain.json()["previous_secret_expires"] is None
    assert again.status_code == 409 and again.json()["error"] == "client_exists"
    assert gone.status_code == 204
    assert missing.status_code == 404 and missing.json()["error"] == "client_not_found"


def test_client_administration_needs_the_clients_admin_scope(authz) -> None:
    with authz.client() as c:
        register(c, "mallory")
        token = login(c, "mallory").json()["access_token"]
        answer = c.get("/clients", headers=bearer(token))
        anonymous = c.get("/clients")
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"
    assert anonymous.status_code == 401


def test_a_client_admin_gives_and_takes_secrets_of_clients_within_its_own_scopes_only(
    authz,
) -> None:
    token = _admin_token(authz, ("clients:admin", "users:me"))
    root = authz.register("root-tool", "users:admin", "transit:admin")
    with authz.client() as c:
        wider = c.post(
            "/clients",
            json={"name": "escalate", "scopes": ["users:me", "users:admin", "transit:admin"]},
            headers=bearer(token),
        )
        taken = c.post("/clients/root-tool/rotate-secret", headers=bearer(token))
        within = c.post(
            "/clients", json={"name": "narrow", "scopes": ["users:me"]}, headers=bearer(token)
        )
        listed = c.get("/clients", headers=bearer(token))
    # A clients:admin token minting a users:admin client would be users:admin itself.
    assert wider.status_code == 403, wider.text
    assert wider.json()["error"] == "insufficient_scope"
    assert wider.json()["message"] == "this needs the scope users:admin transit:admin"
    assert 'scope="users:admin transit:admin"' in wider.headers["www-authenticate"]
    assert "client_secret" not in wider.text
    # Nor may it take a new secret of a client holding more than it does.
    assert taken.status_code == 403 and "client_secret" not in taken.text
    assert authz.client_token(root).status_code == 200  # the old secret still works
    assert within.status_code == 201
    assert sorted(x["name"] for x in listed.json()["clients"]) == ["narrow", "root-tool"]


def test_client_credentials_sent_with_a_password_or_refresh_grant_are_checked(authz) -> None:
    app = authz.register("app", "users:me")
    wrong = base64.b64encode(f"{app.client_id}:sbs_wrong".encode()).decode()
    form = {"grant_type": "password", "username": "bob", "password": PASSWORD}
    with authz.client() as c:
        register(c, "bob")
        refused = c.post("/auth/token", data=form, headers={"Authorization": f"Basic {wrong}"})
        posted = c.post(
            "/auth/token", data={**form, "client_id": app.client_id, "client_secret": "sbs_x"}
        )
        right = c.post("/auth/token", data=form, headers=app.basic)
        named = c.post("/auth/token", data={**form, "client_id": "anything"})
        # Swagger UI's password flow with no client filled in: an empty id and secret.
        swagger = c.post("/auth/token", data=form, headers={"Authorization": "Basic Og=="})
        refresh = {"grant_type": "refresh_token", "refresh_token": right.json()["refresh_token"]}
        stale = c.post("/auth/token", data=refresh, headers={"Authorization": f"Basic {wrong}"})
        fresh = c.post("/auth/token", data=refresh, headers=app.basic)
    for answer in (refused, posted, stale):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
        assert answer.headers["www-authenticate"].startswith("Basic ")
    assert right.status_code == 200 and named.status_code == 200
    assert swagger.status_code == 200, swagger.text
    # The refused refresh did not use the token up.
    assert fresh.status_code == 200, fresh.text


def test_a_parameter_given_twice_is_invalid_request_at_every_form_endpoint(authz) -> None:
    app = authz.register("twice", "users:me")
    form = "application/x-www-form-urlencoded"
    with authz.client() as c:
        register(c, "dana")
        answers = {
            body: c.post(path, content=body, headers={"content-type": form, **app.basic})
            for path, body in [
                (
                    "/auth/token",
                    "grant_type=client_credentials&grant_type=password&username=dana&password=x",
                ),
                (
                    "/auth/token",
                    f"grant_type=password&username=dana&password=wrong&password={PASSWORD}",
                ),
                ("/auth/revoke", "token=a&token=b"),
                ("/auth/introspect", "token=a&token=b"),
            ]
        }
        once = c.post(
            "/auth/token", data={"grant_type": "password", "username": "dana", "password": PASSWORD}
        )
    for body, answer in answers.items():
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"] == "invalid_request"
        assert answer.json()["error_description"].endswith("given more than once")
        assert "access_token" not in answer.text
    assert once.status_code == 200


# -- canaries ------------------------------------------------------------------------------


def test_a_client_secret_never_reaches_the_audit_log_errors_or_logs(
    authz, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = authz.register("reporting", "users:me")
    assert client.secret is not None
    token = authz.client_token(client).json()["access_token"]
    wrong = authz.client_token(type(client)(client.name, client.client_id, client.secret + "x"))
    with authz.client() as c:
        bad_form = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "client_secret": client.secret},
        )
        post = c.post(
            "/auth/introspect",
            data={"token": token, "client_id": client.client_id, "client_secret": client.secret},
        )
    assert post.json()["active"] is True
    database = (Path(authz.svc.settings.data_dir) / "sealbox.db").read_bytes()
    texts = [
        authz.svc.audit(),
        caplog.text,
        wrong.text,
        bad_form.text,
        post.text,
    ]
    for text in texts:
        assert client.secret not in text
    assert client.secret.encode() not in database


def test_a_plus_in_basic_credentials_is_a_space_as_form_urlencoding_says() -> None:
    # RFC 6749 Appendix B: the parts are application/x-www-form-urlencoded, where "+" is
    # a space (a client library that encodes "my app" as "my+app").
    raw = base64.b64encode(b"my+app:s%2Bcret+one").decode()
    request = Request({"type": "http", "headers": [(b"authorization", f"Basic {raw}".encode())]})
    assert basic_credentials(request) == ("my app", "s+cret one")


def test_basic_credentials_are_form_urlencoded_first_as_rfc_6749_says(authz) -> None:
    client = authz.register("reporting", "users:me")
    assert client.secret is not None
    # RFC 6749 §2.3.1: each part is application/x-www-form-urlencoded before base64.
    encoded = "".join(f"%{ord(ch):02X}" for ch in client.secret[:4]) + client.secret[4:]
    raw = f"{client.client_id}:{encoded}".encode()
    with authz.client() as c:
        answer = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        )
        garbled = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic not-base64!"},
        )
    assert answer.status_code == 200, answer.text
    assert garbled.status_code == 401
    assert garbled.json()["error"] == "invalid_client"


def test_a_certificate_client_introspects_over_mtls_without_a_secret(authz) -> None:
    reader = authz.register(
        "reader", "users:me", "tokens:introspect", cert=authz.cert_b, secret=False
    )
    other = authz.register("reporting", "users:me")
    token = authz.client_token(other).json()["access_token"]
    form = {"token": token, "client_id": reader.client_id}
    with authz.client(cert=authz.cert_b) as c:
        seen = c.post("/auth/introspect", data=form)
    with authz.client(cert=authz.cert_a) as c:
        refused = c.post("/auth/introspect", data=form)
    assert seen.status_code == 200
    assert seen.json()["active"] is True
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_tls_client_auth_matches_a_subject_written_another_way_and_refuses_a_non_dn(
    authz,
) -> None:
    # cert_a's subject prints as "CN=reporter-a"; an administrator may write it otherwise.
    token = _admin_token(authz, ("clients:admin", "users:me"))
    with authz.client() as c:
        made = c.post(
            "/clients",
            json={
                "name": "spelled",
                "scopes": ["users:me"],
                "secret": False,
                "tls_client_auth_subject_dn": "cn = Reporter-A",
            },
            headers=bearer(token),
        )
        garbage = c.post(
            "/clients",
            json={
                "name": "garbage",
                "scopes": ["users:me"],
                "secret": False,
                "tls_client_auth_subject_dn": "reporter-a",
            },
            headers=bearer(token),
        )
        listed = c.get("/clients", headers=bearer(token)).json()["clients"]
    assert made.status_code == 201, made.text
    assert garbage.status_code == 422
    assert garbage.json()["error"] == "validation_error"
    assert "not a distinguished name" in garbage.json()["message"]
    assert [x["name"] for x in listed] == ["spelled"]
    form = {"grant_type": "client_credentials", "client_id": made.json()["client_id"]}
    with authz.client(cert=authz.cert_a) as c:
        good = c.post("/auth/token", data=form)
    with authz.client(cert=authz.cert_b) as c:
        other = c.post("/auth/token", data=form)
    assert good.status_code == 200, good.text
    assert other.status_code == 401


def test_a_client_body_giving_a_member_twice_is_refused_and_makes_no_client(authz) -> None:
    # As at /auth/register: a proxy reading the first "scopes" and this service the last
    # would judge two different requests.
    token = _admin_token(authz)
    body = b'{"name": "twice", "scopes": ["users:me"], "scopes": ["clients:admin"]}'
    headers = {**bearer(token), "content-type": "application/json"}
    with authz.client() as c:
        answer = c.post("/clients", content=body, headers=headers)
        rotated = c.post(
            "/clients/nobody/rotate-secret",
            content=b'{"overlap": 1, "overlap": 2}',
            headers=headers,
        )
        listed = c.get("/clients", headers=bearer(token)).json()["clients"]
    for refused in (answer, rotated):
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"][0]["type"] == "json_invalid"
    assert "client_secret" not in answer.text
    assert listed == []


def test_a_registered_client_named_at_the_password_grant_must_authenticate(authz) -> None:
    # RFC 6749 §4.3.2 and §6: a client that was issued credentials authenticates; named by
    # its client_id alone (or in Basic with an empty secret) it is 401 invalid_client, not
    # quietly taken for the public first-party client.
    app = authz.register("named", "users:me")
    form = {"grant_type": "password", "username": "nina", "password": PASSWORD}
    empty = base64.b64encode(f"{app.client_id}:".encode()).decode()
    with authz.client() as c:
        register(c, "nina")
        alone = c.post("/auth/token", data={**form, "client_id": app.client_id})
        basic = c.post("/auth/token", data=form, headers={"Authorization": f"Basic {empty}"})
        issued = c.post("/auth/token", data=form, headers=app.basic).json()
        refresh = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
        unauthenticated = c.post("/auth/token", data={**refresh, "client_id": app.client_id})
        fresh = c.post("/auth/token", data=refresh, headers=app.basic)
    for answer in (alone, basic, unauthenticated):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
        assert answer.headers["www-authenticate"].startswith("Basic ")
    assert fresh.status_code == 200, fresh.text  # the refused refresh left the token alone


def test_a_certificate_client_signs_a_user_in_with_tls_client_auth(authz) -> None:
    # The metadata offers tls_client_auth at the token endpoint: the password and refresh
    # grants take it as the client credentials grant does.
    app = authz.register("certified", "users:me", cert=authz.cert_a, secret=False)
    form = {"grant_type": "password", "username": "cora", "password": PASSWORD}
    with authz.client(cert=authz.cert_a) as c:
        register(c, "cora")
        issued = c.post("/auth/token", data={**form, "client_id": app.client_id})
        assert issued.status_code == 200, issued.text
        refresh = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}
        fresh = c.post("/auth/token", data={**refresh, "client_id": app.client_id})
    with authz.client(cert=authz.cert_b) as c:
        other = c.post("/auth/token", data={**form, "client_id": app.client_id})
    assert _claims(issued.json()["access_token"])["client_id"] == app.client_id
    assert fresh.status_code == 200, fresh.text
    assert other.status_code == 401 and other.json()["error"] == "invalid_client"
