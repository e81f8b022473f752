"""No secret that crosses ``sealbox serve`` reaches a log line, or an answer that did not
issue it, on any route.

One real ``sealbox serve`` at ``--log-level debug`` is driven through every flow that carries
a secret, with each secret a distinct canary: a password registered, logged in with, changed,
given wrong, too long and not UTF-8; access and refresh tokens valid, expired, forged, in the
wrong header, in a query string, in a form of the wrong route and pasted into a path; client
secrets in Basic and in the form, wrong and malformed; a TOTP secret, its codes and recovery
codes; transit plaintexts, ciphertexts and associated data, valid and malformed, alone and in
batches with bad items; Vault tokens, right, wrong and on unknown paths; KV values; admin
bodies with unknown members; bodies that fail validation or are not JSON; huge headers; and
``Referer`` and ``User-Agent``. Its stderr, access log (stdout) and audit log are then
searched for every canary, and so is every answer body and header, but for the answers whose
purpose is to hand that very secret to its owner (a token answer, a KV read, a decryption).
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from sealbox.service.provision import DataDir
from tests.service._transit import ALL_SCOPES, add_user, b64
from tests.service.conftest import PASSWORD, bearer, make_settings, serve_process
from tests.service.test_totp import oath

ADMIN_SCOPES = ["users:admin", "clients:admin", "kv:admin", "users:me", *ALL_SCOPES]
USER_PASSWORD = "canaryPwValid-1a2b3c"
NEW_PASSWORD = "canaryPwNew-4d5e6f"
WRONG_PASSWORD = "canaryPwWrong-7a8b9c"
LONG_PASSWORD = "canaryPwLong-0d1e2f" * 400
WRONG_SECRET = "canaryClientWrong-3a4b5c"
WRONG_VAULT_TOKEN = "canaryVaultWrong-6d7e8f"
WRONG_CODE = "canaryOtpWrong-9a0b1c"
PLAINTEXT = b"canaryPlaintext-2d3e4f"
ASSOCIATED = b"canaryAssociated-5a6b7c"
BAD_CIPHERTEXT = "sealbox:v1:canaryCiphertext-8d9e0f"
KV_VALUE = "canaryKvValue-1b2c3d"
UNKNOWN_MEMBER = "canaryUnknownMember-4e5f6a"
HEADER_VALUE = "canaryHeader-7b8c9d"


@dataclass
class Surface:
    """What the service was sent and what it produced."""

    secrets: dict[str, str] = field(default_factory=dict)
    # Each answer, and the names of the secrets it exists to hand over.
    answers: list[tuple[httpx2.Response, frozenset[str]]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)


def _forms(value: str) -> set[str]:
    """The ways ``value`` may be written down: as it is, percent-encoded, in base64."""
    raw = value.encode()
    return {
        value,
        quote(value, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _found(secret: str, text: str) -> bool:
    if secret.isdigit():  # a TOTP code: six digits, which a timestamp may hold too
        return re.search(rf"(?<![\d.]){secret}(?!\d)", text) is not None
    return any(form in text for form in _forms(secret))


def _signature(token: str) -> str:
    """The part of a JWT no other token shares: its signature."""
    return token.rsplit(".", 1)[-1]


class _Driver:
    def __init__(self, client: httpx2.Client, surface: Surface) -> None:
        self.c = client
        self.s = surface

    def __call__(
        self, method: str, path: str, *, shows: tuple[str, ...] = (), **kw: object
    ) -> httpx2.Response:
        answer = self.c.request(method, path, **kw)  # type: ignore[arg-type]
        self.s.answers.append((answer, frozenset(shows)))
        return answer

    def secret(self, name: str, value: str) -> str:
        self.s.secrets[name] = value
        return value


def _drive(c: httpx2.Client, surface: Surface, data: Path) -> None:
    send = _Driver(c, surface)
    for name, value in {
        "admin password": PASSWORD,
        "user password": USER_PASSWORD,
        "new password": NEW_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "long password": LONG_PASSWORD[:19],
        "wrong client secret": WRONG_SECRET,
        "wrong vault token": WRONG_VAULT_TOKEN,
        "wrong code": WRONG_CODE,
        "plaintext": PLAINTEXT.decode(),
        "associated data": ASSOCIATED.decode(),
        "bad ciphertext": BAD_CIPHERTEXT.removeprefix("sealbox:v1:"),
        "kv value": KV_VALUE,
        "unknown member": UNKNOWN_MEMBER,
        "header value": HEADER_VALUE,
    }.items():
        send.secret(name, value)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    as_json = {"Content-Type": "application/json"}

    # The administrator, and the tokens everything else is done with.
    tokens = send(
        "POST",
        "/auth/token",
        data={"username": "ops", "password": PASSWORD},
        shows=("admin access token", "admin refresh token"),
    ).json()
    admin_access = send.secret("admin access token", tokens["access_token"])
    send.secret("admin refresh token", tokens["refresh_token"])
    admin = bearer(admin_access)
    vault = {"X-Vault-Token": admin_access}

    # Passwords: registration, login, a change, wrong, too long, not UTF-8.
    registered = send(
        "POST", "/auth/register", json={"username": "carol", "password": USER_PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    for password in (WRONG_PASSWORD, LONG_PASSWORD):
        send("POST", "/auth/token", data={"username": "carol", "password": password})
    send(
        "POST",
        "/auth/token",
        content=f"grant_type=password&username=carol&password="
        f"{quote(WRONG_PASSWORD)}%ff%fe".encode(),
        headers=form,
    )
    send(
        "POST",
        "/auth/register",
        content=b'{"username":"dave","password":"' + WRONG_PASSWORD.encode() + b'\xff"}',
        headers=as_json,
    )
    send("POST", "/auth/register", json={"username": "erin", "password": LONG_PASSWORD})
    send("POST", "/auth/register", json={"username": "carol", "password": WRONG_PASSWORD})
    names = ("carol access token", "carol refresh token")
    carol = send(
        "POST", "/auth/token", data={"username": "carol", "password": USER_PASSWORD}, shows=names
    ).json()
    carol_access = send.secret(names[0], carol["access_token"])
    carol_refresh = send.secret(names[1], carol["refresh_token"])
    user = bearer(carol_access)
    send(
        "POST",
        "/auth/password",
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        headers=user,
    )
    send(
        "POST",
        "/auth/password",
        json={"current_password": USER_PASSWORD, "new_password": LONG_PASSWORD},
        headers=user,
    )
    send(
        "POST",
        "/auth/password",
        json={"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD},
        headers=user,
    )
    send("POST", "/users/carol/password", json={"password": LONG_PASSWORD}, headers=admin)
    send(
        "POST",
        "/users/carol/password",
        json={"password": WRONG_PASSWORD, "passwd": UNKNOWN_MEMBER},
        headers=admin,
    )
    names = ("carol access token 2", "carol refresh token 2")
    carol = send(
        "POST", "/auth/token", data={"username": "carol", "password": NEW_PASSWORD}, shows=names
    ).json()
    send.secret(names[0], carol["access_token"])
    send.secret(names[1], carol["refresh_token"])
    user = bearer(carol["access_token"])

    # Tokens: valid, expired, forged, refreshed, in the wrong places.
    keyset = DataDir(data).load_keyset()
    expired = send.secret(
        "expired token",
        keyset.issue("carol", audience="sealbox", issuer="sealbox", ttl=60, now=time.time() - 3600),
    )
    head, body, sig = admin_access.split(".")
    forged = send.secret("forged token", f"{head}.{body}.{sig[::-1]}")
    for token in (expired, forged, carol_refresh, admin_access):
        send("GET", "/users/me", headers=bearer(token))
        send("GET", "/users/me", headers={"Authorization": token})
        send("GET", "/users/me", headers={"Authorization": f"Basic {token}"})
        send("GET", f"/users/me?access_token={token}")
        send("GET", "/v1/secret/data/x", headers={"X-Vault-Token": token})
        send("GET", f"/users/{token}", headers=admin)
        send("GET", f"/clients/{token}", headers=admin)
        send("DELETE", f"/v1/keys/{token}", headers=admin)
        send("GET", f"/v1/secret/data/{token}", headers=vault)
        send("GET", f"/v1/sys/{token}", headers=vault)
        send("GET", f"/{token}")
        send("POST", "/auth/refresh", json={"refresh_token": token})
        send("POST", "/auth/logout", json={"refresh_token": token}, headers=user)
        send("POST", "/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})
        send("POST", "/auth/register", data={"refresh_token": token, "token": token})
        send("POST", "/auth/introspect", data={"token": token})
    # A refresh token used again ends every session of its account: carol logs in anew.
    send("POST", "/auth/refresh", json={"refresh_token": carol_refresh})
    names = ("carol access token 4", "carol refresh token 4")
    carol = send(
        "POST", "/auth/token", data={"username": "carol", "password": NEW_PASSWORD}, shows=names
    ).json()
    send.secret(names[0], carol["access_token"])
    send.secret(names[1], carol["refresh_token"])
    user = bearer(carol["access_token"])
    refreshed = send(
        "POST",
        "/auth/refresh",
        json={"refresh_token": carol["refresh_token"]},
        shows=("refreshed access token", "refreshed refresh token"),
    ).json()
    send.secret("refreshed access token", refreshed["access_token"])
    send.secret("refreshed refresh token", refreshed["refresh_token"])
    send("POST", "/auth/logout", json={"refresh_token": refreshed["refresh_token"]}, headers=user)
    send("POST", "/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})

    # Client secrets: Basic, form, wrong, malformed Basic.
    made = send(
        "POST",
        "/clients",
        json={"name": "reporting", "scopes": ["users:me"]},
        headers=admin,
        shows=("client secret",),
    )
    assert made.status_code == 201, made.text
    client_id = made.json()["client_id"]
    client_secret = send.secret("client secret", made.json()["client_secret"])
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    issued = send(
        "POST",
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        shows=("client access token",),
    )
    send.secret("client access token", issued.json()["access_token"])
    send(
        "POST",
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
        shows=("client access token 2",),
    )
    send.secret("client access token 2", surface.answers[-1][0].json()["access_token"])
    for secret in (WRONG_SECRET, client_secret):
        wrong = base64.b64encode(f"{client_id}:{secret}x".encode()).decode()
        send(
            "POST",
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {wrong}"},
        )
        send(
            "POST",
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret + "x",
            },
        )
        send(
            "POST",
            "/auth/introspect",
            data={"token": carol_access},
            headers={"Authorization": f"Basic {secret}"},
        )  # not base64 at all
        send(
            "POST",
            "/auth/revoke",
            data={"token": carol_access},
            headers={"Authorization": f"Basic {basic[:-3]}{secret}=="},
        )
        send(
            "POST",
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        send("POST", "/clients", json={"name": "other", "client_secret": secret}, headers=admin)
        send("GET", "/users/me", headers={"X-Vault-Token": secret})
    # A secret pasted into a path: a name to the route, hidden wherever it is quoted back.
    for token in (client_secret, carol_refresh, carol["refresh_token"], carol["access_token"]):
        for method, path in (
            ("GET", f"/clients/{token}"),
            ("DELETE", f"/clients/{token}"),
            ("POST", f"/clients/{token}/disable"),
            ("DELETE", f"/users/{token}"),
            ("POST", f"/users/{token}/disable"),
            ("POST", f"/users/{token}/scopes"),
            ("DELETE", f"/v1/keys/{token}"),
            ("GET", f"/v1/auth/token/{token}"),
            ("GET", f"/v1/transit/keys/{token}"),
            ("DELETE", f"/v1/secret/metadata/{token}"),
        ):
            send(method, path, json={"scopes": ["users:me"]}, headers={**admin, **vault})
    send(
        "POST",
        "/auth/introspect",
        data={"token": carol["access_token"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    rotated = send(
        "POST",
        "/clients/reporting/rotate-secret",
        json={"overlap": 0},
        headers=admin,
        shows=("rotated client secret",),
    )
    send.secret("rotated client secret", rotated.json()["client_secret"])
    send(
        "POST",
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )  # the secret rotated out

    # TOTP: enrolment, its secret, codes right and wrong, recovery codes.
    names = ("carol access token 5", "carol refresh token 5")
    carol = send(
        "POST", "/auth/token", data={"username": "carol", "password": NEW_PASSWORD}, shows=names
    ).json()
    send.secret(names[0], carol["access_token"])
    send.secret(names[1], carol["refresh_token"])
    user = bearer(carol["access_token"])
    send("POST", "/auth/totp", json={"password": WRONG_PASSWORD}, headers=user)
    begun = send(
        "POST", "/auth/totp", json={"password": NEW_PASSWORD}, headers=user, shows=("totp secret",)
    ).json()
    totp_secret = send.secret("totp secret", begun["secret"])
    send("POST", "/auth/totp/confirm", json={"code": WRONG_CODE}, headers=user)
    code = send.secret("totp code", oath(totp_secret))
    confirmed = send(
        "POST",
        "/auth/totp/confirm",
        json={"code": code},
        headers=user,
        shows=("recovery code", "unused recovery code"),
    )
    recovery = confirmed.json()["recovery_codes"]
    send.secret("recovery code", recovery[0])
    send.secret("unused recovery code", recovery[1])
    for otp in (WRONG_CODE, code, recovery[0], recovery[0]):
        send(
            "POST",
            "/auth/token",
            data={"username": "carol", "password": NEW_PASSWORD, "otp": otp},
            shows=("carol access token 3", "carol refresh token 3"),
        )
        if surface.answers[-1][0].status_code == 200:
            done = surface.answers[-1][0].json()
            send.secret("carol access token 3", done["access_token"])
            send.secret("carol refresh token 3", done["refresh_token"])
    send(
        "POST",
        "/auth/token",
        data={"username": "carol", "password": WRONG_PASSWORD, "otp": recovery[1]},
    )
    send("POST", "/auth/totp/disable", json={"code": WRONG_CODE}, headers=user)
    send(
        "POST",
        "/auth/totp/disable",
        json={"code": recovery[1], "extra": UNKNOWN_MEMBER},
        headers=user,
    )

    # Transit: plaintexts, ciphertexts, associated data, alone and in batches.
    assert send("POST", "/v1/keys/k", json={}, headers=admin).status_code == 201
    plain, ad = b64(PLAINTEXT), b64(ASSOCIATED)
    sealed = send(
        "POST",
        "/v1/keys/k/encrypt",
        json={"plaintext": plain, "associated_data": ad},
        headers=admin,
        shows=("ciphertext",),
    )
    ciphertext = sealed.json()["ciphertext"]
    send.secret("ciphertext", ciphertext.rsplit(":", 1)[-1])
    shows_plain = ("plaintext",)
    send(
        "POST",
        "/v1/keys/k/decrypt",
        json={"ciphertext": ciphertext, "associated_data": ad},
        headers=admin,
        shows=shows_plain,
    )
    send("POST", "/v1/keys/k/decrypt", json={"ciphertext": ciphertext}, headers=admin)
    send("POST", "/v1/keys/k/decrypt", json={"ciphertext": BAD_CIPHERTEXT}, headers=admin)
    send("POST", "/v1/keys/k/encrypt", json={"plaintext": PLAINTEXT.decode()}, headers=admin)
    send(
        "POST",
        "/v1/keys/k/encrypt",
        json={"plaintext": plain, "associated_data": ASSOCIATED.decode()},
        headers=admin,
    )
    send("POST", "/v1/keys/nokey/encrypt", json={"plaintext": plain}, headers=admin)
    send(
        "POST",
        "/v1/keys/k/encrypt",
        json={"plaintext": plain, "nonce": UNKNOWN_MEMBER},
        headers=admin,
    )
    send("POST", "/v1/keys/k/encrypt", json={"plaintext": plain}, headers=user)  # no scope
    send(
        "POST",
        "/v1/keys/k/encrypt",
        json={
            "batch_input": [
                {"plaintext": plain, "associated_data": ad},
                {"plaintext": PLAINTEXT.decode()},
                {"plaintext": plain, "associated_data": ASSOCIATED.decode()},
                {"plaintext": plain, "other": UNKNOWN_MEMBER},
                PLAINTEXT.decode(),
            ]
        },
        headers=admin,
        shows=("ciphertext",),
    )
    send(
        "POST",
        "/v1/keys/k/decrypt",
        json={
            "batch_input": [
                {"ciphertext": ciphertext, "associated_data": ad},
                {"ciphertext": ciphertext},
                {"ciphertext": BAD_CIPHERTEXT},
                {"ciphertext": ciphertext, "associated_data": ASSOCIATED.decode()},
            ]
        },
        headers=admin,
        shows=shows_plain,
    )
    send(
        "POST",
        "/v1/keys/k/rewrap",
        json={"batch_input": [{"ciphertext": ciphertext}, {"ciphertext": BAD_CIPHERTEXT}]},
        headers=admin,
    )
    send("POST", "/v1/keys/k/hmac", json={"input": plain}, headers=admin)
    send("POST", "/v1/keys/k/hmac", json={"input": PLAINTEXT.decode()}, headers=admin)
    send("POST", "/v1/transit/encrypt/k", json={"plaintext": plain, "context": ad}, headers=vault)
    send("POST", "/v1/transit/encrypt/k", json={"plaintext": PLAINTEXT.decode()}, headers=vault)
    send("POST", "/v1/transit/decrypt/k", json={"ciphertext": BAD_CIPHERTEXT}, headers=vault)
    send(
        "POST",
        "/v1/transit/decrypt/k",
        json={"batch_input": [{"ciphertext": ciphertext}, {"ciphertext": BAD_CIPHERTEXT}]},
        headers=vault,
    )
    send(
        "POST",
        "/v1/transit/encrypt/k",
        json={"plaintext": plain},
        headers={"X-Vault-Token": WRONG_VAULT_TOKEN},
    )

    # Vault: KV values, wrong tokens, unknown paths.
    send("POST", "/v1/secret/data/app/db", json={"data": {"password": KV_VALUE}}, headers=vault)
    send("GET", "/v1/secret/data/app/db", headers=vault, shows=("kv value",))
    send(
        "POST",
        "/v1/secret/data/app/db",
        json={"data": {"password": KV_VALUE}, "options": {"cas": 0}},
        headers=vault,
    )
    send("POST", "/v1/secret/data/app/db", json={"data": KV_VALUE}, headers=vault)
    send(
        "POST",
        "/v1/secret/data/app/db",
        json={"data": {"password": KV_VALUE}, "options": {"cas": KV_VALUE}},
        headers=vault,
    )
    send(
        "POST",
        "/v1/secret/data/app/db",
        json={"data": {"password": KV_VALUE}},
        headers={"X-Vault-Token": WRONG_VAULT_TOKEN},
    )
    send(
        "PATCH",
        "/v1/secret/data/app/db",
        json={"data": {"password": KV_VALUE}},
        headers=vault,
    )
    send("POST", "/v1/secret/metadata/app/db", json={"custom_metadata": KV_VALUE}, headers=vault)
    send(
        "POST",
        "/v1/secret/data/app/db",
        content=b'{"data":{"password":"' + KV_VALUE.encode() + b'\xff"}}',
        headers={**vault, **as_json},
    )
    for path in (
        "/v1/secret/data/app/db",
        "/v1/nothing/here",
        "/v1/sys/mounts",
        "/v1/auth/token/lookup-self",
        "/v1/auth/token/lookup",
    ):
        send("GET", path, headers={"X-Vault-Token": WRONG_VAULT_TOKEN})
        send("POST", path, json={"token": WRONG_VAULT_TOKEN}, headers=vault)

    # Admin bodies with unknown members; bodies that fail validation or are not JSON.
    for path, body in (
        (
            "/users/import",
            {
                "users": [
                    {"username": "x", "password": WRONG_PASSWORD, "password_hash": UNKNOWN_MEMBER}
                ]
            },
        ),
        (
            "/users/import",
            {"users": [{"username": "y", "hash": UNKNOWN_MEMBER}], "skip_invalid": True},
        ),
        ("/users/import", {"users": [UNKNOWN_MEMBER]}),
        ("/users/carol/scopes", {"scopes": ["users:me"], "secret": UNKNOWN_MEMBER}),
        ("/clients", {"name": UNKNOWN_MEMBER * 10, "scopes": []}),
        ("/clients", {"name": "x", "secret": UNKNOWN_MEMBER}),
        ("/clients/reporting/rotate-secret", {"overlap": UNKNOWN_MEMBER}),
        ("/clients/reporting/scopes", {"scopes": ["users:me"], "pw": UNKNOWN_MEMBER}),
        ("/v1/keys/j", {"type": UNKNOWN_MEMBER}),
        ("/v1/keys/j", {"type": "aes256-gcm96", "material": UNKNOWN_MEMBER}),
    ):
        send("POST", path, json=body, headers=admin)
    send("PATCH", "/v1/keys/k", json={"min_decryption_version": UNKNOWN_MEMBER}, headers=admin)
    send(
        "POST",
        "/auth/register",
        json={"username": "z", "password": USER_PASSWORD, "password2": UNKNOWN_MEMBER},
    )
    send("POST", "/auth/register", json={"username": ["z"], "password": [WRONG_PASSWORD]})
    for path in (
        "/auth/register",
        "/auth/password",
        "/users/import",
        "/clients",
        "/v1/keys/k/encrypt",
        "/v1/secret/data/app/db",
    ):
        for content, kind in (
            (f"password={WRONG_PASSWORD}".encode(), "application/x-www-form-urlencoded"),
            (WRONG_PASSWORD.encode(), "text/plain"),
            (b'{"password": "' + WRONG_PASSWORD.encode(), "application/json"),
        ):
            send("POST", path, content=content, headers={**admin, "Content-Type": kind})

    # Huge headers, Referer and User-Agent, and a canary in a header of no meaning.
    send("GET", "/users/me", headers={**admin, "X-Padding": HEADER_VALUE * 10_000})
    send("GET", "/users/me", headers={"Authorization": f"Bearer {admin_access}" + "A" * 70_000})
    send(
        "GET",
        "/users/me",
        headers={
            **admin,
            "Referer": f"https://x/?pw={HEADER_VALUE}",
            "User-Agent": f"agent {HEADER_VALUE}",
            "X-Request-Id": HEADER_VALUE,
        },
    )
    send("GET", "/nowhere", headers={"Referer": HEADER_VALUE, "User-Agent": HEADER_VALUE})


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> Surface:
    folder = tmp_path_factory.mktemp("canaries")
    data = folder / "data"
    found = Surface()
    env = {
        "SEALBOX_PASSWORD_PROFILE": "test",
        "SEALBOX_OPEN_REGISTRATION": "true",
        "SEALBOX_THROTTLE_USER_ATTEMPTS": "1000",
        "SEALBOX_THROTTLE_ADDRESS_ATTEMPTS": "1000",
        "SEALBOX_THROTTLE_CLIENT_ATTEMPTS": "1000",
    }
    with serve_process(
        folder, "--log-level", "debug", env=env, data_dir=data, capture_stdout=True
    ) as srv:
        add_user(make_settings(data), "ops", ADMIN_SCOPES)
        with srv.client() as c:
            _drive(c, found, data)
    found.logs = {
        "stderr": srv.stderr,
        "access log": srv.stdout,
        "audit log": (data / "audit.log").read_text(),
    }
    return found


def test_each_flow_ran_and_was_logged(surface: Surface) -> None:
    statuses = {a.status_code for a, _ in surface.answers}
    assert {200, 201, 400, 401, 403, 404, 415, 422} <= statuses, statuses
    assert '"POST /auth/token' in surface.logs["access log"]
    assert "login" in surface.logs["audit log"]
    assert surface.logs["stderr"]


@pytest.mark.parametrize("log", ["stderr", "access log", "audit log"])
def test_no_secret_reaches_a_log(surface: Surface, log: str) -> None:
    text = surface.logs[log]
    shown = {
        name: [line[:300] for line in text.splitlines() if _found(value, line)]
        for name, value in surface.secrets.items()
        if _found(value if not value.startswith("eyJ") else _signature(value), text)
    }
    assert not shown, shown


def test_no_secret_is_answered_but_by_the_answer_that_hands_it_over(surface: Surface) -> None:
    shown = []
    for answer, hands_over in surface.answers:
        text = answer.text + "".join(f"{k}: {v}\n" for k, v in answer.headers.items())
        for name, value in surface.secrets.items():
            if name in hands_over:
                continue
            probe = _signature(value) if value.startswith("eyJ") else value
            if _found(probe, text):
                request = answer.request
                shown.append(
                    (name, request.method, str(request.url)[:120], answer.status_code, text[:300])
                )
    assert not shown, shown
