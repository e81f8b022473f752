"""HTTP hygiene: body limit, malformed input, error shapes, security headers, restarts."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    register,
    run_service,
)


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    """One service for the module: these tests read it and change nothing others read."""
    return module_service


def test_oversized_body_gets_413(service) -> None:
    with service.client() as c:
        big = {"username": "x", "password": "p" * 70_000}
        r = c.post("/auth/register", json=big)
        assert r.status_code == 413
        assert r.json()["error"] == "payload_too_large"


def test_oversized_chunked_body_gets_413(service) -> None:
    def chunks():
        for _ in range(100):
            yield b"a" * 1024

    with service.client() as c:
        r = c.post("/auth/register", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_malformed_json_is_422_without_traceback(service) -> None:
    with service.client() as c:
        r = c.post(
            "/auth/register",
            content=b'{"username": "a", "password": ' + PASSWORD.encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422
        body = r.json()
        assert body["error"] == "validation_error"
        assert "Traceback" not in r.text and "File " not in r.text
        assert PASSWORD not in r.text
        r = c.post("/auth/register", json={"username": "a", "password": 12345678})
        assert r.status_code == 422 and "12345678" not in r.text


def test_validation_errors_never_echo_the_password(service) -> None:
    with service.client() as c:
        r = c.post("/auth/register", json={"username": "", "password": PASSWORD})
        assert r.status_code == 422 and PASSWORD not in r.text


def test_security_headers(service) -> None:
    with service.client() as c:
        for path in ("/health", "/docs", "/nope"):
            h = c.get(path).headers
            assert h["strict-transport-security"].startswith("max-age=")
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert "server" not in h


def test_api_answers_carry_the_rest_set_and_the_docs_pages_the_document_headers_too(
    service,
) -> None:
    api_set = {
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "cache-control",
    }
    document_only = {"referrer-policy", "cross-origin-opener-policy"}
    with service.client() as c:
        register(c, "headers")
        token = login(c, "headers").json()["access_token"]
        for path in ("/health", "/nope", "/users/me", "/openapi.json"):
            h = c.get(path, headers=bearer(token)).headers
            assert api_set <= set(h), path
            assert not document_only & set(h), path
            assert h["cache-control"] == "no-store"
        for path in ("/docs", "/docs/oauth2-redirect"):
            h = c.get(path).headers
            assert api_set <= set(h), path
            assert h["referrer-policy"] == "no-referrer"
            assert h["cross-origin-opener-policy"] == "same-origin"


def test_unknown_route_and_method(service) -> None:
    with service.client() as c:
        r = c.get("/nope")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = c.get("/auth/token")
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_plain_http_is_refused(service) -> None:
    with socket.create_connection(("127.0.0.1", service.settings.port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(100)
    assert not data.startswith(b"HTTP/1.1 200")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused(service) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(service.ca)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", service.settings.port), timeout=5) as s:
        try:
            with ctx.wrap_socket(s, server_hostname="localhost"):
                raise AssertionError("TLS 1.1 was accepted")
        except ssl.SSLError:
            pass


def test_restart_keeps_users_sessions_and_keys(tmp_path, backend) -> None:
    settings = make_settings(tmp_path / "data", **backend)
    with run_service(settings) as svc, svc.client() as c:
        register(c, "kim")
        tokens = login(c, "kim").json()
        jwks = c.get("/.well-known/jwks.json").json()
        logged_out = login(c, "kim").json()
        c.post(
            "/auth/logout",
            json={"refresh_token": logged_out["refresh_token"]},
            headers=bearer(logged_out["access_token"]),
        )
    with run_service(settings) as svc, svc.client() as c:
        assert c.get("/.well-known/jwks.json").json() == jwks
        assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
        r = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200
        assert login(c, "kim").status_code == 200
        # A revoked access token stays revoked across the restart.
        assert c.get("/users/me", headers=bearer(logged_out["access_token"])).status_code == 401
