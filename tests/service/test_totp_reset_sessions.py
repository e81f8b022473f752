"""Removing an account's second factor (``sealbox users reset-totp``, ``DELETE
/users/{name}/totp``) ends the account's sessions, as a reset password does: the factor
was lost, or may be known to someone else, and the tokens made with it are refused at once
(the access token at ``/users/me``, the refresh token at ``/auth/refresh``). With Redis
missing the end of the sessions, the command says so, and running it again completes it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2

from sealbox.service.admin import create_user
from tests.conftest import run_sealbox
from tests.service.conftest import (
    PASSWORD,
    bearer,
    login,
    make_settings,
    private_shared_state,
    run_service,
)
from tests.service.test_totp import account, enrol, login_otp


def _session_with_the_factor(c: httpx2.Client, name: str) -> dict[str, str]:
    """A login of ``name`` (made now) with its second factor: its tokens."""
    _secret, codes = enrol(c, account(c, name))
    assert login(c, name).status_code == 401  # mfa_required
    r = login_otp(c, name, codes[0])
    assert r.status_code == 200, r.text
    tokens: dict[str, str] = r.json()
    assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    return tokens


def _refused(c: httpx2.Client, tokens: dict[str, str]) -> None:
    assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    r = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"


def test_removing_a_second_factor_over_http_ends_the_accounts_sessions(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", password_profile="test")
    create_user(settings, "root", lambda _n: PASSWORD, ["users:admin"])
    with run_service(settings) as service, service.client() as c:
        tokens = _session_with_the_factor(c, "mallory")
        admin = bearer(login(c, "root").json()["access_token"])
        done = c.delete("/users/mallory/totp", headers=admin)
        assert done.json() == {"username": "mallory", "removed": True}, done.text
        _refused(c, tokens)
        # The password alone logs in again, into a session of its own.
        fresh = login(c, "mallory").json()
        assert c.get("/users/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_removing_a_second_factor_on_the_command_line_ends_the_accounts_sessions(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", password_profile="test")
    with run_service(settings) as service, service.client() as c:
        tokens = _session_with_the_factor(c, "mallory")
        args = ["users", "reset-totp", "mallory", "--yes", "--data-dir", str(settings.data_dir)]
        done = run_sealbox(args)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode() == (
            "removed the second factor of mallory; its password alone logs in; its sessions "
            "have ended\n"
        )
        _refused(c, tokens)
        assert login(c, "mallory").status_code == 200


def test_a_reset_redis_did_not_hear_of_is_said_and_running_it_again_ends_the_sessions(
    tmp_path: Path,
) -> None:
    # As for reset-password: the factor is removed in the database, but a service keeping
    # its revocation lists in Redis is not told; the command says so, and running it
    # again once Redis answers refuses the tokens.
    with private_shared_state("totpreset") as shared:
        settings = make_settings(tmp_path / "data", password_profile="test", **shared)
        env = {
            "SEALBOX_DATABASE_URL": str(shared["database_url"]),
            "SEALBOX_REDIS_PREFIX": str(shared["redis_prefix"]),
        }
        args = ["users", "reset-totp", "mallory", "--yes", "--data-dir", str(settings.data_dir)]
        with run_service(settings) as service, service.client() as c:
            tokens = _session_with_the_factor(c, "mallory")
            missed = run_sealbox(args, env={**env, "SEALBOX_REDIS_URL": "redis://127.0.0.1:1/0"})
            assert missed.returncode == 1
            said = missed.stderr.decode()
            assert said.startswith(
                "sealbox: error: the change is recorded in the database, but Redis did not "
                "answer (ConnectionError): running services may not refuse the account's live "
                "access tokens yet\n"
            )
            assert "sealbox: hint: once the Redis of SEALBOX_REDIS_URL answers, run the" in said
            # As said: the service's lists are in Redis, which heard nothing yet.
            assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
            again = run_sealbox(args, env={**env, "SEALBOX_REDIS_URL": str(shared["redis_url"])})
            assert again.returncode == 0, again.stderr.decode()
            assert again.stdout.decode() == (
                "mallory has no second factor; its sessions have ended\n"
            )
            _refused(c, tokens)
        audit = (settings.data_dir / "audit.log").read_text().splitlines()
        records = [json.loads(line) for line in audit]
        resets = [r for r in records if r["event"] == "admin.reset_totp"]
        # Recorded as made in its transaction, then what Redis missed; then the run again.
        assert [(r["outcome"], r["user"], r["detail"]) for r in resets] == [
            ("success", "mallory", "command line"),
            ("revocation_incomplete", "mallory", "command line; Redis did not answer"),
            ("success", "mallory", "command line"),
        ]
