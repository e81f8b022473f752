"""examples/fastapi_app.py, run as a user runs it: plain uvicorn over real TLS, a data folder
that `sealbox users` administers while it runs, tokens that PyJWT verifies from its JWKS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from sealbox.exceptions import SealboxError
from sealbox.service.serve import prepare
from sealbox.tls.client import secure_client
from tests.conftest import run_sealbox
from tests.service.conftest import PASSWORD, bearer, free_port, login, make_settings, register

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class ExampleApp:
    port: int
    data_dir: Path
    env: dict[str, str]
    err_path: Path

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def client(self) -> httpx2.Client:
        return secure_client(
            ca=self.data_dir / "tls" / "ca.crt",
            base_url=f"https://localhost:{self.port}",
            timeout=20,
        )

    def users_create(self, name: str, *scopes: str) -> subprocess.CompletedProcess[bytes]:
        args = ["users", "create", name, "--data-dir", str(self.data_dir)]
        for scope in scopes:
            args += ["--scope", scope]
        return run_sealbox(args, input=PASSWORD.encode(), env=self.env)


@pytest.fixture
def example(tmp_path: Path) -> Iterator[ExampleApp]:
    data = tmp_path / "data"
    # The development CA and server certificate that `sealbox serve` would make.
    prepare(make_settings(data))
    env = {"SEALBOX_DATA_DIR": str(data), "SEALBOX_PASSWORD_PROFILE": "test"}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | env
    port = free_port()
    err_path = tmp_path / "uvicorn.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "fastapi_app:app",
                "--app-dir",
                str(EXAMPLES),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ssl-keyfile",
                str(data / "tls" / "server.key"),
                "--ssl-certfile",
                str(data / "tls" / "server.crt"),
                "--log-level",
                "warning",
            ],
            cwd=tmp_path,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    app = ExampleApp(port, data, env, err_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with app.client() as c:
                    if c.get("/.well-known/jwks.json").status_code == 200:
                        break
            except (httpx2.HTTPError, OSError, SealboxError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the example did not start: {err_path.read_text()}"
                    ) from None
                time.sleep(0.2)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_orders_answers_the_caller_when_the_token_holds_orders_read(example: ExampleApp) -> None:
    created = example.users_create("alice", "orders:read")
    assert created.returncode == 0, created.stderr
    with example.client() as c:
        tokens = login(c, "alice").json()
        assert set(tokens["scope"].split()) == {"orders:read", "users:me"}
        answer = c.get("/orders", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 200
    assert answer.json() == {"user": "alice"}


def test_a_request_with_two_authorization_headers_is_refused_not_read_half(
    example: ExampleApp,
) -> None:
    example.users_create("grace", "orders:read")
    with example.client() as c:
        token = login(c, "grace").json()["access_token"]
        answer = c.get(
            "/orders",
            headers=[("Authorization", f"Bearer {token}"), ("Authorization", "Basic YTpi")],
        )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_request",
        "message": "the request has more than one Authorization header",
    }


def test_pyjwt_verifies_the_example_tokens_from_its_jwks(example: ExampleApp) -> None:
    import jwt  # PyJWT, as another service verifying the app's tokens would

    with example.client() as c:
        assert register(c, "resource").status_code == 201
        token = login(c, "resource").json()["access_token"]
        jwks = c.get("/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key, algorithms=[key.algorithm_name], audience="sealbox", issuer="sealbox"
    )
    assert claims["sub"] == "resource"
    assert claims["scope"] == "users:me"


def test_orders_refuses_a_token_without_the_scope_per_rfc_6750(example: ExampleApp) -> None:
    with example.client() as c:
        register(c, "bob")
        token = login(c, "bob").json()["access_token"]
        refused = c.get("/orders", headers=bearer(token))
        anonymous = c.get("/orders")
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders:read"'
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_authenticated"


def test_an_account_created_by_sealbox_users_while_the_app_runs_logs_in(
    example: ExampleApp,
) -> None:
    with example.client() as c:
        assert login(c, "carol").status_code == 400
        created = example.users_create("carol", "orders:read")
        assert created.returncode == 0, created.stderr
        token = login(c, "carol").json()["access_token"]
        assert c.get("/orders", headers=bearer(token)).json() == {"user": "carol"}
        # The same username rules as the service: a look-alike is refused.
        assert example.users_create("car\u043el").returncode != 0  # a Cyrillic o


def test_a_signing_key_rotated_by_the_command_line_while_the_app_runs_signs_its_tokens(
    example: ExampleApp,
) -> None:
    import json

    from sealbox.jwt import decode_unverified

    example.users_create("erin", "orders:read")
    with example.client() as c:
        old_token = login(c, "erin").json()["access_token"]
        old = decode_unverified(old_token).header["kid"]
        rotated = run_sealbox(
            ["jwt", "keyset", "rotate", "--data-dir", example.data_dir, "--json"], env=example.env
        )
        assert rotated.returncode == 0, rotated.stderr
        new = json.loads(rotated.stdout)["id"]
        deadline = time.monotonic() + 60
        while [k["kid"] for k in c.get("/.well-known/jwks.json").json()["keys"]] != [new, old]:
            assert time.monotonic() < deadline, "the app never published the new key"
            time.sleep(0.1)
        new_token = login(c, "erin").json()["access_token"]
        assert decode_unverified(new_token).header["kid"] == new
        assert c.get("/orders", headers=bearer(old_token)).json() == {"user": "erin"}
        assert c.get("/orders", headers=bearer(new_token)).json() == {"user": "erin"}


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_family(example: ExampleApp) -> None:
    example.users_create("dave", "orders:read")
    with example.client() as c:
        first = login(c, "dave").json()
        second = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        live = second.json()["access_token"]
        assert c.get("/orders", headers=bearer(live)).status_code == 200
        reused = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        after = c.get("/orders", headers=bearer(live))
    assert after.status_code == 401
    assert after.json() == {"error": "invalid_token", "message": "the access token was revoked"}


def test_token_answers_and_their_errors_are_never_stored_per_rfc_6749(
    example: ExampleApp,
) -> None:
    example.users_create("frank", "orders:read")
    with example.client() as c:
        answers = {"login": login(c, "frank")}
        refresh_token = answers["login"].json()["refresh_token"]
        answers["refresh"] = c.post("/auth/refresh", json={"refresh_token": refresh_token})
        answers["wrong password"] = login(c, "frank", "not the password at all")
        answers["malformed form"] = c.post("/auth/token", data={"grant_type": "x" * 100})
        answers["reused refresh"] = c.post("/auth/refresh", json={"refresh_token": refresh_token})
    assert [a.status_code for a in answers.values()] == [200, 200, 400, 400, 400]
    for what, answer in answers.items():
        assert answer.headers["cache-control"] == "no-store", what
        assert answer.headers["pragma"] == "no-cache", what


def test_logout_and_password_change_end_live_tokens(example: ExampleApp) -> None:
    example.users_create("erin", "orders:read")
    with example.client() as c:
        a = login(c, "erin").json()
        b = login(c, "erin").json()
        out = c.post(
            "/auth/logout",
            json={"refresh_token": a["refresh_token"]},
            headers=bearer(a["access_token"]),
        )
        assert out.status_code == 204
        assert c.get("/orders", headers=bearer(a["access_token"])).status_code == 401
        assert c.get("/orders", headers=bearer(b["access_token"])).status_code == 200
        changed = c.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "another-long-password"},
            headers=bearer(b["access_token"]),
        )
        assert changed.status_code == 204
        assert c.get("/orders", headers=bearer(b["access_token"])).status_code == 401


def test_wrong_passwords_are_throttled_and_no_secret_reaches_the_logs(
    example: ExampleApp,
) -> None:
    example.users_create("frank")
    with example.client() as c:
        statuses = [login(c, "frank", "wrong-password-canary-77").status_code for _ in range(6)]
        token = login(c, "frank", PASSWORD)
    assert statuses == [400] * 5 + [429]
    assert token.status_code == 429  # the username's window holds the right password too
    audit = (example.data_dir / "audit.log").read_text()
    assert '"event": "login"' in audit
    assert '"outcome": "throttled"' in audit
    for text in (audit, example.stderr()):
        assert "wrong-password-canary-77" not in text
        assert PASSWORD not in text


def test_the_tutorial_shows_the_example_app_as_it_is() -> None:
    from tests.docs._blocks import blocks

    source = (EXAMPLES / "fastapi_app.py").read_text()
    body = source[source.index("from __future__") :]
    page = EXAMPLES.parent / "docs" / "fastapi.md"
    assert any(b.kind == "python" and b.code == body for b in blocks(page))


def test_a_service_beside_the_example_without_redis_is_refused(example: ExampleApp) -> None:
    r = run_sealbox(
        ["serve", "--data-dir", example.data_dir, "--port", str(free_port())],
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.decode().startswith("sealbox: error: another sealbox service (process ")
    with example.client() as c:
        assert c.get("/.well-known/jwks.json").status_code == 200
