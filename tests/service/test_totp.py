"""The TOTP second factor over real HTTPS: enrolment, confirmation, login, replay, skew,
recovery codes, disable, throttling, the administrator's reset, and no leak of the secret.

Codes are computed by the Debian ``oathtool`` (OATH Toolkit), independently of sealbox;
the tests skip with the reason without it (and fail under ``CI=true``). Where a test
needs particular time steps, the service's TOTP clock is pinned (an injected clock) and
``oathtool --now @T`` computes the codes of the steps around it, so nothing sleeps.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2
import pytest

from tests.conftest import require_tool, run_sealbox
from tests.service._workers import together
from tests.service.conftest import (
    PASSWORD,
    REDIS_PREFIX,
    REDIS_URL,
    Running,
    bearer,
    free_port,
    login,
    make_settings,
    register,
    require_server,
    run_service,
)

T = 1_900_000_020.0  # a pinned service time, 20 s into its step


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def oath(secret: str, at: float | None = None) -> str:
    """The current code of ``secret`` (or the one at unix time ``at``), from oathtool."""
    args = [require_tool("oathtool"), "--totp", "-b", "-"]  # the secret on stdin, not argv
    if at is not None:
        args += ["--now", f"@{int(at)}"]
    done = subprocess.run(args, input=secret, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def pin_clock(service: Running, now: float = T) -> Clock:
    clock = Clock(now)
    service.server.config.app.state.runtime.totp.clock = clock
    return clock


def account(c: httpx2.Client, name: str) -> str:
    assert register(c, name).status_code == 201
    r = login(c, name)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def enrol(c: httpx2.Client, token: str, at: float | None = None) -> tuple[str, list[str]]:
    r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = c.post("/auth/totp/confirm", json={"code": oath(secret, at)}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


def login_otp(c: httpx2.Client, name: str, otp: str) -> httpx2.Response:
    return c.post("/auth/token", data={"username": name, "password": PASSWORD, "otp": otp})


def test_enrol_confirm_and_log_in_with_a_current_code(service: Running) -> None:
    with service.client() as c:
        token = account(c, "alice")
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        secret = body["secret"]
        assert len(secret) == 32 and secret.isupper()
        assert body["otpauth_uri"].startswith("otpauth://totp/sealbox:alice?secret=" + secret)
        assert c.get("/auth/totp", headers=bearer(token)).json()["state"] == "pending"
        assert login(c, "alice").status_code == 200  # not asked for until confirmed

        r = c.post("/auth/totp/confirm", json={"code": oath(secret)}, headers=bearer(token))
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        codes = r.json()["recovery_codes"]
        assert len(codes) >= 8 and len(set(codes)) == len(codes)
        state = c.get("/auth/totp", headers=bearer(token)).json()
        assert state == {"state": "confirmed", "recovery_codes_left": len(codes)}

        r = login(c, "alice")
        assert r.status_code == 401
        assert r.json()["error"] == "mfa_required"
        assert r.json()["error_description"]
        # RFC 9110 §11.6.1: a 401 carries a challenge, the token endpoint's (as invalid_client).
        assert r.headers["www-authenticate"] == 'OTP realm="sealbox"'
        assert "access_token" not in r.json()

        pin = pin_clock(service)
        r = login_otp(c, "alice", oath(secret, pin.now))
        assert r.status_code == 200, r.text
        me = c.get("/users/me", headers=bearer(r.json()["access_token"]))
        assert me.json()["username"] == "alice"


def test_a_code_is_accepted_once(service: Running) -> None:
    with service.client() as c:
        token = account(c, "bob")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        code = oath(secret, clock.now)
        assert login_otp(c, "bob", code).status_code == 200
        replay = login_otp(c, "bob", code)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        # The step before is refused too once a later one was accepted.
        assert login_otp(c, "bob", oath(secret, clock.now - 30)).status_code == 400
        clock.now += 30
        assert login_otp(c, "bob", oath(secret, clock.now)).status_code == 200


def test_one_step_of_clock_skew_is_accepted_and_two_are_not(service: Running) -> None:
    with service.client() as c:
        token = account(c, "carol")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        for offset in (-60, 60):
            r = login_otp(c, "carol", oath(secret, clock.now + offset))
            assert r.status_code == 400, offset
            assert r.json()["error"] == "invalid_grant"
        assert login_otp(c, "carol", oath(secret, clock.now - 30)).status_code == 200
        clock.now += 300
        assert login_otp(c, "carol", oath(secret, clock.now + 30)).status_code == 200


def test_a_wrong_code_is_answered_like_a_wrong_password(service: Running) -> None:
    with service.client() as c:
        token = account(c, "dave")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        wrong_code = login_otp(c, "dave", "000000" if oath(secret, T) != "000000" else "111111")
        wrong_password = c.post(
            "/auth/token",
            data={"username": "dave", "password": "not the password", "otp": oath(secret, T)},
        )
        assert wrong_code.status_code == wrong_password.status_code == 400
        assert wrong_code.json() == wrong_password.json()
        # The password is checked first: the code sent with a wrong one was not used up.
        assert login_otp(c, "dave", oath(secret, clock.now)).status_code == 200


def test_the_audit_log_tells_a_wrong_code_from_a_wrong_password_without_the_code(
    service: Running,
) -> None:
    with service.client() as c:
        token = account(c, "dora")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        right = oath(secret, clock.now)
        # A canary no step near the pinned time gives: it must appear nowhere in the log.
        canary = next(
            code
            for code in ("731904", "582063", "204817")
            if code not in {oath(secret, clock.now + d) for d in (-30, 0, 30)}
        )
        assert login_otp(c, "dora", canary).status_code == 400
        wrong_password = c.post(
            "/auth/token",
            data={"username": "dora", "password": "not the password", "otp": right},
        )
        assert wrong_password.status_code == 400
    records = [json.loads(line) for line in service.audit().splitlines()]
    failures = [r for r in records if r["event"] == "login" and r["outcome"] == "failure"]
    assert [(r["user"], r.get("detail")) for r in failures] == [
        ("dora", "second factor"),
        ("dora", None),
    ], failures
    assert canary not in service.audit() and right not in service.audit()


def test_a_recovery_code_logs_in_once(service: Running) -> None:
    with service.client() as c:
        token = account(c, "erin")
        _, codes = enrol(c, token)
        r = login_otp(c, "erin", codes[3].upper())
        assert r.status_code == 200, r.text
        assert login_otp(c, "erin", codes[3]).status_code == 400
        assert login_otp(c, "erin", "abcd-efgh-ijkl-mnop").status_code == 400
        left = c.get("/auth/totp", headers=bearer(r.json()["access_token"])).json()
        assert left["recovery_codes_left"] == len(codes) - 1


def test_a_login_refused_for_its_scope_leaves_its_right_code_unspent(service: Running) -> None:
    # A client asking for a scope the account lacks would otherwise use up a code at each
    # try: every recovery code of a user who lost the phone, one refusal at a time.
    with service.client() as c:
        token = account(c, "sybil")
        secret, codes = enrol(c, token)
        clock = pin_clock(service)
        code = oath(secret, clock.now)

        def login_scoped(otp: str) -> httpx2.Response:
            form = {"username": "sybil", "password": PASSWORD, "otp": otp, "scope": "nope:x"}
            return c.post("/auth/token", data=form)

        for otp in (codes[0], code):
            refused = login_scoped(otp)
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "invalid_scope"
        wrong = login_scoped("000000" if code != "000000" else "111111")
        assert wrong.json()["error"] == "invalid_grant"  # a wrong code is still wrong
        assert login_otp(c, "sybil", codes[0]).status_code == 200
        r = login_otp(c, "sybil", code)
        assert r.status_code == 200, r.text
        left = c.get("/auth/totp", headers=bearer(r.json()["access_token"])).json()
    assert left["recovery_codes_left"] == len(codes) - 1


def test_disable_needs_a_current_code(service: Running) -> None:
    with service.client() as c:
        token = account(c, "frank")
        secret, codes = enrol(c, token)
        clock = pin_clock(service)
        for wrong in ("", oath(secret, clock.now + 90), codes[0]):
            r = c.post("/auth/totp/disable", json={"code": wrong}, headers=bearer(token))
            assert r.status_code in {400, 422}, wrong
        r = c.post("/auth/totp/disable", json={"code": "000001"}, headers=bearer(token))
        assert r.json()["error"] == "totp_code_invalid"
        assert login(c, "frank").status_code == 401
        r = c.post(
            "/auth/totp/disable", json={"code": oath(secret, clock.now)}, headers=bearer(token)
        )
        assert r.status_code == 204
        assert login(c, "frank").status_code == 200
        assert c.get("/auth/totp", headers=bearer(token)).json()["state"] == "none"
        r = c.post(
            "/auth/totp/disable", json={"code": oath(secret, clock.now)}, headers=bearer(token)
        )
        assert (r.status_code, r.json()["error"]) == (409, "totp_not_enabled")


def test_enrolment_needs_the_password_so_a_stolen_token_cannot_lock_the_owner_out(
    service: Running,
) -> None:
    with service.client() as c:
        token = account(c, "olga")
        answers = [
            c.post("/auth/totp", json=body, headers=bearer(token))
            for body in ({"password": "not the password"}, {}, None)
        ]
        state = c.get("/auth/totp", headers=bearer(token)).json()["state"]
        # The wrong passwords count as login attempts: the fifth is throttled.
        for _ in range(4):
            c.post("/auth/totp", json={"password": "still wrong"}, headers=bearer(token))
        throttled = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
    wrong, empty, missing = answers
    assert (wrong.status_code, wrong.json()["error"]) == (403, "invalid_credentials")
    assert "secret" not in wrong.text and "not the password" not in wrong.text
    assert empty.status_code == missing.status_code == 422
    assert state == "none"
    assert throttled.status_code == 429 and "secret" not in throttled.text
    records = [json.loads(line) for line in service.audit().splitlines()]
    outcomes = [r["outcome"] for r in records if r["event"] == "totp.enrol"]
    assert outcomes[0] == "failure" and outcomes[-1] == "throttled"


def test_enrolment_is_refused_while_a_factor_is_confirmed(service: Running) -> None:
    with service.client() as c:
        token = account(c, "gina")
        enrol(c, token)
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert (r.status_code, r.json()["error"]) == (409, "totp_already_enabled")
        r = c.post("/auth/totp/confirm", json={"code": "123456"}, headers=bearer(token))
        assert r.status_code == 409
        assert c.post("/auth/totp").status_code == 401  # bearer needed


def test_confirming_without_an_enrolment_is_refused(service: Running) -> None:
    with service.client() as c:
        token = account(c, "hugo")
        r = c.post("/auth/totp/confirm", json={"code": "123456"}, headers=bearer(token))
        assert (r.status_code, r.json()["error"]) == (409, "totp_not_pending")


def test_codes_are_throttled_like_passwords(service: Running) -> None:
    with service.client() as c:
        token = account(c, "ivan")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        limit = service.settings.throttle_user_attempts
        statuses = [login_otp(c, "ivan", f"{n:06d}").status_code for n in range(limit)]
        assert statuses == [400] * limit
        # Past the limit even the right code is not checked.
        r = login_otp(c, "ivan", oath(secret, clock.now))
        assert r.status_code == 429 and "retry-after" in r.headers


def test_confirmation_codes_are_throttled(service: Running) -> None:
    with service.client() as c:
        token = account(c, "judy")
        c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        limit = service.settings.throttle_user_attempts
        for n in range(limit):
            r = c.post("/auth/totp/confirm", json={"code": f"{n:06d}"}, headers=bearer(token))
            assert r.status_code == 400
        r = c.post("/auth/totp/confirm", json={"code": "999999"}, headers=bearer(token))
        assert r.status_code == 429


def test_the_secret_never_reaches_logs_audit_or_errors(
    service: Running, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[str] = []
    with caplog.at_level(logging.DEBUG), service.client() as c:
        token = account(c, "kate")
        secret, codes = enrol(c, token)
        clock = pin_clock(service)
        for otp in ("", "000000", codes[0], codes[0], oath(secret, clock.now)):
            answers.append(login_otp(c, "kate", otp).text)
        answers.append(
            c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token)).text
        )
        bad = c.post("/auth/totp/confirm", json={"code": secret}, headers=bearer(token))
        answers.append(bad.text)
        answers.append(
            c.post("/auth/totp/disable", json={"code": secret * 3}, headers=bearer(token)).text
        )
    audit = service.audit()
    assert '"event": "totp.confirm"' in audit or '"event":"totp.confirm"' in audit
    for text in (audit, caplog.text, *answers):
        assert secret not in text and secret.lower() not in text
        assert not any(code in text for code in codes)
    records = [json.loads(line) for line in audit.splitlines()]
    assert {"mfa_required", "failure", "success"} <= {
        r["outcome"] for r in records if r["event"] == "login"
    }


def test_curl_enrols_confirms_and_logs_in(service: Running) -> None:
    curl = require_tool("curl")
    clock = pin_clock(service)

    def run(*args: str) -> Any:
        out = subprocess.run(
            [curl, "-sS", "--cacert", str(service.ca), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out) if out else None

    url = service.url
    run(f"{url}/auth/register", "-H", "content-type: application/json",
        "-d", json.dumps({"username": "lena", "password": PASSWORD}))  # fmt: skip
    token = run(f"{url}/auth/token", "-d", "username=lena", "--data-urlencode",
                f"password={PASSWORD}")["access_token"]  # fmt: skip
    auth = ["-H", f"Authorization: Bearer {token}"]
    secret = run(f"{url}/auth/totp", *auth, "-H", "content-type: application/json",
                 "-d", json.dumps({"password": PASSWORD}))["secret"]  # fmt: skip
    codes = run(f"{url}/auth/totp/confirm", *auth, "-H", "content-type: application/json",
                "-d", json.dumps({"code": oath(secret, clock.now - 30)}))["recovery_codes"]  # fmt: skip
    assert len(codes) >= 8
    needed = run(f"{url}/auth/token", "-d", "username=lena", "--data-urlencode",
                 f"password={PASSWORD}")  # fmt: skip
    assert needed["error"] == "mfa_required"
    tokens = run(f"{url}/auth/token", "-d", "username=lena", "--data-urlencode",
                 f"password={PASSWORD}", "-d", f"otp={oath(secret, clock.now)}")  # fmt: skip
    assert tokens["token_type"] == "bearer"


def test_an_administrator_resets_a_lost_second_factor(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", password_profile="test")
    with run_service(settings) as service, service.client() as c:
        token = account(c, "Mallory")
        enrol(c, token)
        assert login(c, "mallory").status_code == 401
        args = ["users", "reset-totp", "MALLORY", "--data-dir", str(settings.data_dir)]
        refused = run_sealbox(args)
        assert refused.returncode == 1
        assert refused.stderr.decode().startswith("sealbox: error: removing the second factor")
        assert "--yes" in refused.stderr.decode()
        done = run_sealbox([*args, "--yes"])
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().startswith("removed the second factor of mallory")
        assert login(c, "mallory").status_code == 200
        again = run_sealbox([*args, "--yes"])
        assert "has no second factor" in again.stdout.decode()
        unknown = run_sealbox(["users", "reset-totp", "nobody", "--yes", "--data-dir",
                               str(settings.data_dir)])  # fmt: skip
        assert unknown.returncode == 1
        assert unknown.stderr.decode().startswith("sealbox: error: no account named 'nobody'")
        assert c.post(
            "/auth/totp",
            json={"password": PASSWORD},
            headers=bearer(login(c, "mallory").json()["access_token"]),
        )


def test_a_confirmation_sent_twice_at_once_is_answered_already_enabled(service: Running) -> None:
    # A double-click on "confirm": the right code must not come back as a wrong one.
    with service.client() as c:
        token = account(c, "nina")
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        code = oath(r.json()["secret"])
    clients = [service.client() for _ in range(4)]  # within the throttle's 5
    try:
        answers = together(
            clients,
            lambda _i, c: c.post("/auth/totp/confirm", json={"code": code}, headers=bearer(token)),
        )
    finally:
        for c in clients:
            c.close()
    outcomes = sorted((a.status_code, a.json().get("error")) for a in answers)
    assert outcomes == [(200, None)] + [(409, "totp_already_enabled")] * 3, outcomes


def test_a_url_issuer_is_named_by_its_host_in_the_otpauth_uri(tmp_path: Path) -> None:
    # RFC 8414 wants an https URL as the issuer (docs/oauth-metadata.md); the Key Uri Format
    # allows no colon in the issuer, the separator of the label authenticators split.
    issuer = "https://auth.example.com:8443/sealbox"
    settings = make_settings(tmp_path / "data", password_profile="test", issuer=issuer)
    with run_service(settings) as service, service.client() as c:
        token = account(c, "oscar")
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert r.status_code == 200, r.text
        uri = urlsplit(r.json()["otpauth_uri"])
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        assert unquote(uri.path) == "/auth.example.com:oscar"
        query = parse_qs(uri.query)
        assert query["issuer"] == ["auth.example.com"]
        secret = query["secret"][0]
        r = c.post("/auth/totp/confirm", json={"code": oath(secret)}, headers=bearer(token))
        assert r.status_code == 200, r.text


def refused_as_revoked(answer: httpx2.Response) -> None:
    """The 401 ``invalid_token`` a revoked token gets, with its challenge."""
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"error": "invalid_token", "message": "the access token is not valid"}
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_deleted_accounts_token_that_outlived_a_lost_revocation_touches_no_new_accounts_factor(
    tmp_path: Path,
) -> None:
    # The delete was committed, but Redis did not answer the revocation of its sessions
    # (revocation_incomplete: the access tokens may pass until they expire). SQLite then
    # gives the freed id to the next account: the old token names that id with the old name.
    require_server("Redis", 6379)
    prefix = f"{REDIS_PREFIX}{tmp_path.name}:"
    settings = make_settings(tmp_path / "data", redis_url=REDIS_URL, redis_prefix=prefix)
    with run_service(settings) as service, service.client() as c:
        account(c, "early")
        old = account(c, "gone")
        unreachable = {
            "SEALBOX_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "SEALBOX_REDIS_PREFIX": prefix,
            "SEALBOX_PASSWORD_PROFILE": "test",
        }
        args = ["users", "delete", "gone", "--yes", "--data-dir", str(settings.data_dir)]
        deleted = run_sealbox(args, env=unreachable)
        assert deleted.returncode == 1
        assert "Redis did not answer" in deleted.stderr.decode()
        mine = account(c, "newcomer")  # the same password: the old token's holder knows it
        with sqlite3.connect(settings.data_dir / "sealbox.db") as db:
            ids = dict(db.execute("SELECT username, id FROM users").fetchall())
        assert ids["newcomer"] == 2  # the id "gone" had
        assert c.get("/users/me", headers=bearer(old)).status_code == 200  # it still passes

        pin = pin_clock(service)
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(mine))
        secret = r.json()["secret"]
        refused_as_revoked(c.get("/auth/totp", headers=bearer(old)))
        refused_as_revoked(c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(old)))
        code = {"code": oath(secret, pin.now)}
        refused_as_revoked(c.post("/auth/totp/confirm", json=code, headers=bearer(old)))
        r = c.post("/auth/totp/confirm", json=code, headers=bearer(mine))
        assert r.status_code == 200, r.text  # its own secret, its code unspent
        pin.now += 30
        code = {"code": oath(secret, pin.now)}
        refused_as_revoked(c.post("/auth/totp/disable", json=code, headers=bearer(old)))
        state = c.get("/auth/totp", headers=bearer(mine)).json()
        assert state["state"] == "confirmed"
        # The newcomer's own code of that step is still unspent: the old token spent nothing.
        r = c.post("/auth/totp/disable", json=code, headers=bearer(mine))
        assert r.status_code == 204, r.text
        totp_lines = [line for line in service.audit().splitlines() if '"totp.' in line]
        assert all('"user": "gone"' not in line for line in totp_lines)
