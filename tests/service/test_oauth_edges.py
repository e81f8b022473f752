"""The authorization server's edges, attacked from outside over real HTTPS: malformed client
authentication, bodies that are not forms, oversized and mistyped tokens, and what the
audit log keeps of a failed client authentication."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx2
import pytest

from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import login, register

FORM = "application/x-www-form-urlencoded"
ENDPOINTS = ("/auth/token", "/auth/revoke", "/auth/introspect")


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("oauth-edges")) as server:
        yield server


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _assert_oauth_error(answer: httpx2.Response, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/token", b"grant_type=client_credentials"),
        ("/auth/revoke", b"token=abc"),
        ("/auth/introspect", b"token=abc"),
    ],
)
def test_a_basic_header_with_non_ascii_bytes_is_invalid_client_not_a_500(
    authz, path: str, body: bytes
) -> None:
    # RFC 6749 §2.3.1 / §5.2, RFC 7617: a Basic header that does not decode is a failed
    # client authentication, 401 invalid_client with the challenge, never an internal error.
    headers = {"content-type": FORM, "Authorization": b"Basic \xe9t\xe9"}
    with authz.client() as c:
        answer = c.post(path, content=body, headers=headers)
    _assert_oauth_error(answer, 401, "invalid_client")
    assert answer.headers["www-authenticate"].startswith("Basic ")


def test_a_password_grant_with_a_non_ascii_basic_header_is_answered_not_a_500(authz) -> None:
    # A Basic header naming no client is ignored by the password grant (Swagger UI's
    # ``Basic Og==``, or one that does not decode): the login is answered on its own.
    headers = {"content-type": FORM, "Authorization": b"Basic \xe9"}
    body = b"grant_type=password&username=nobody&password=whatever-it-is"
    with authz.client() as c:
        answer = c.post("/auth/token", content=body, headers=headers)
    _assert_oauth_error(answer, 400, "invalid_grant")


def test_a_multipart_body_is_invalid_request_with_an_rfc_6749_error_body(authz) -> None:
    # RFC 6749 §3.2 and RFC 7009 §2.1 / RFC 7662 §2.1: these endpoints take a form;
    # a multipart body (well formed or not) is refused as an RFC 6749 §5.2 error,
    # error_description and no-store included, before it is parsed at all.
    app = authz.register("multipart", "users:me")
    bodies = [
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=x", b"not the boundary"),
        (
            "multipart/form-data; boundary=x",
            (
                b'--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\n'
                b"client_credentials\r\n--x--\r\n"
            ),
        ),
    ]
    with authz.client() as c:
        for path in ENDPOINTS:
            for content_type, body in bodies:
                answer = c.post(
                    path, content=body, headers={"content-type": content_type, **app.basic}
                )
                _assert_oauth_error(answer, 400, "invalid_request")
                assert FORM in answer.json()["error_description"]


def test_an_oversized_token_is_revoked_with_200_and_introspected_as_inactive(authz) -> None:
    # RFC 7009 §2.2: an invalid token is no error (200); RFC 7662 §2.2: a token that is
    # not active is {"active": false}. A token longer than any this server issues is one.
    app = authz.register("oversized", "users:me")
    huge = "x" * 20_000
    with authz.client() as c:
        revoked = c.post("/auth/revoke", data={"token": huge}, headers=app.basic)
        seen = c.post("/auth/introspect", data={"token": huge}, headers=app.basic)
        # Without client authentication it is invalid_client first, whatever the token.
        anonymous = [c.post(path, data={"token": huge}) for path in ENDPOINTS[1:]]
    assert revoked.status_code == 200, revoked.text
    assert seen.status_code == 200, seen.text
    assert seen.json() == {"active": False}
    for answer in anonymous:
        _assert_oauth_error(answer, 401, "invalid_client")


def test_an_access_token_presented_as_a_refresh_token_is_invalid_grant(authz) -> None:
    # RFC 6749 §5.2: a refresh token that is not valid is invalid_grant; an access token
    # (longer than any refresh token) is not one, and the request itself is well formed.
    app = authz.register("confused", "users:me")
    access = authz.client_token(app).json()["access_token"]
    with authz.client() as c:
        register(c, "carol")
        user = login(c, "carol").json()
        answers = [
            c.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})
            for token in (access, user["access_token"])
        ]
    for answer in answers:
        _assert_oauth_error(answer, 400, "invalid_grant")
        assert "access_token" not in answer.text


def test_an_unknown_long_extension_grant_type_is_unsupported_grant_type(authz) -> None:
    # RFC 6749 §4.5: an extension grant type is an absolute URI, of no set length; one the
    # server does not serve is unsupported_grant_type (§5.2), not a malformed request.
    grant = "https://grants.example.com/oauth/grant-type/" + "saml2-bearer-assertion/" * 4
    assert len(grant) > 64
    with authz.client() as c:
        answer = c.post("/auth/token", data={"grant_type": grant})
    _assert_oauth_error(answer, 400, "unsupported_grant_type")


def test_a_secret_sent_as_the_client_id_never_reaches_the_audit_log(authz) -> None:
    # A client that swaps its id and its secret (Basic or the form): the failure is audited,
    # the value in the client_id place is not, when it is no client id.
    app = authz.register("swapped", "users:me")
    assert app.secret is not None
    with authz.client() as c:
        by_basic = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(f"{app.secret}:{app.client_id}".encode()),
        )
        by_form = c.post(
            "/auth/introspect",
            data={"token": "abc", "client_id": app.secret, "client_secret": app.client_id},
        )
        wrong_secret = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(f"{app.client_id}:sbs_wrong".encode()),
        )
    for answer in (by_basic, by_form, wrong_secret):
        _assert_oauth_error(answer, 401, "invalid_client")
    records = [json.loads(line) for line in authz.svc.audit().splitlines()]
    failures = [r for r in records if r["event"] == "client_auth"]
    assert len(failures) >= 3
    assert app.secret not in authz.svc.audit()
    # A real client id is still named: who failed to authenticate is worth knowing.
    assert any(r.get("user") == app.client_id for r in failures)


def test_two_authorization_headers_are_invalid_request_not_the_first_one_wins(authz) -> None:
    # RFC 6749 §2.3: one authentication method, one set of credentials per request; with
    # two headers a proxy and the service could each authenticate a different client.
    first = authz.register("first-of-two", "users:me")
    second = authz.register("second-of-two", "users:me", "tokens:revoke")
    headers = [("Authorization", first.basic["Authorization"])]
    headers.append(("Authorization", second.basic["Authorization"]))
    with authz.client() as c:
        answers = [
            c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=headers),
            c.post("/auth/revoke", data={"token": "abc"}, headers=headers),
            c.post("/auth/introspect", data={"token": "abc"}, headers=headers),
        ]
    for answer in answers:
        _assert_oauth_error(answer, 400, "invalid_request")
        assert "access_token" not in answer.text
