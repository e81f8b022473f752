"""A request refused 503 ``audit_unavailable`` has changed nothing: a change and its audit
record commit together. The audit log turns unwritable mid-test (``/dev/full``, which
refuses every write with ENOSPC) and writable again (a real file); each route's request is
then sent again and served as the first would have been. Plain uvicorn over real TLS on
127.0.0.1, real SQLite."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI, Form, Request

from sealbox.accounts.audit import AuditLog
from sealbox.integrations.fastapi import authenticate_client_request
from tests.service._own_app import accounts_lifespan, auth_app, served_over_tls
from tests.service.conftest import PASSWORD

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.is_char_device(), reason="needs /dev/full")


def _records(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(r["event"], r["outcome"]) for r in map(json.loads, lines)]


def _refresh_rows(database: Path) -> list[tuple[object, object]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT used_at, revoked_at FROM refresh_tokens ORDER BY id").fetchall()


def test_a_refresh_refused_for_its_record_rotates_nothing_and_its_retry_is_served(
    tmp_path: Path,
) -> None:
    database, audit = tmp_path / "a.db", tmp_path / "audit.log"
    app = auth_app(
        accounts_lifespan(f"sqlite+aiosqlite:///{database}", users=["alice"]), handlers=True
    )
    login = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    with served_over_tls(app, tmp_path) as c:
        tokens = c.post("/auth/token", data=login).json()
        before = _refresh_rows(database)
        app.state.accounts.audit = AuditLog(FULL)
        refused = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "audit_unavailable"
        # The token is not used up, and no new one was stored.
        assert _refresh_rows(database) == before
        app.state.accounts.audit = AuditLog(audit)
        # Sent again, the same token is redeemed: no reuse detected, no family revoked.
        again = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert again.status_code == 200, again.text
        after = c.post("/auth/refresh", json={"refresh_token": again.json()["refresh_token"]})
        assert after.status_code == 200, after.text
    assert _records(audit) == [("refresh", "success"), ("refresh", "success")]


def test_a_logout_refused_for_its_record_ends_no_session(tmp_path: Path) -> None:
    database, audit = tmp_path / "a.db", tmp_path / "audit.log"
    app = auth_app(
        accounts_lifespan(f"sqlite+aiosqlite:///{database}", users=["alice"]), handlers=False
    )
    login = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    with served_over_tls(app, tmp_path) as c:
        tokens = c.post("/auth/token", data=login).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        refresh = {"refresh_token": tokens["refresh_token"]}
        app.state.accounts.audit = AuditLog(FULL)
        refused = c.post("/auth/logout", json=refresh, headers=auth)
        assert refused.status_code == 503, refused.text
        assert all(revoked is None for _used, revoked in _refresh_rows(database))
        app.state.accounts.audit = AuditLog(audit)
        # The access token still works (the logout answered now), and so did the family.
        done = c.post("/auth/logout", json=refresh, headers=auth)
        assert done.status_code == 204, done.text
    assert _records(audit) == [("logout", "success")]


def test_a_login_or_password_change_refused_for_its_record_issues_and_changes_nothing(
    tmp_path: Path,
) -> None:
    database, audit = tmp_path / "a.db", tmp_path / "audit.log"
    app = auth_app(
        accounts_lifespan(f"sqlite+aiosqlite:///{database}", users=["alice"]), handlers=True
    )
    login = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    change = {"current_password": PASSWORD, "new_password": "another pass 9"}
    with served_over_tls(app, tmp_path) as c:
        tokens = c.post("/auth/token", data=login).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        rows = _refresh_rows(database)
        app.state.accounts.audit = AuditLog(FULL)
        assert c.post("/auth/token", data=login).status_code == 503
        assert c.post("/auth/password", json=change, headers=auth).status_code == 503
        assert _refresh_rows(database) == rows  # no family stored, none revoked
        app.state.accounts.audit = AuditLog(audit)
        # The password is the old one still, and the session lives on.
        assert c.post("/auth/token", data=login).status_code == 200
        refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
    assert _records(audit) == [("login", "success"), ("refresh", "success")]


def _totp_lifespan(
    database: Path, key_box: list[bytes]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """accounts_lifespan's accounts with the TOTP second factor, alice enrolled (her secret
    put in ``key_box``), confirmed with the code of the step before the current one."""
    import os

    from sealbox.accounts import Accounts, make_engine, migrate
    from sealbox.accounts.core import AccountPolicy
    from sealbox.accounts.registration import register
    from sealbox.accounts.totp import PERIOD, TotpSecretSealer, decode_secret, totp
    from sealbox.jwt import SigningKeySet

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        accounts = await Accounts.open(
            engine,
            SigningKeySet.generate("EdDSA"),
            AccountPolicy(),
            password_profile="test",
            totp_sealer=TotpSecretSealer(os.urandom(32)),
        )
        user = await register(accounts, "alice", PASSWORD, "127.0.0.1")
        assert accounts.totp is not None
        enrolment = await accounts.totp.begin(user.id, "alice")
        key = decode_secret(enrolment.secret)
        await accounts.totp.confirm(user.id, totp(key, time.time() - PERIOD))
        key_box.append(key)
        app.state.accounts = accounts
        yield
        await accounts.close()
        await engine.dispose()

    return lifespan


def test_a_second_factor_login_refused_for_its_record_leaves_its_code_good(
    tmp_path: Path,
) -> None:
    from sealbox.accounts.totp import totp

    database, audit, box = tmp_path / "a.db", tmp_path / "audit.log", []
    app = auth_app(_totp_lifespan(database, box), handlers=True)
    with served_over_tls(app, tmp_path) as c:
        code = totp(box[0], time.time())
        login = {"grant_type": "password", "username": "alice", "password": PASSWORD, "otp": code}
        app.state.accounts.audit = AuditLog(FULL)
        refused = c.post("/auth/token", data=login)
        assert refused.status_code == 503, refused.text
        app.state.accounts.audit = AuditLog(audit)
        # The code was not spent by the login that was refused: the same one logs in now.
        again = c.post("/auth/token", data=login)
        assert again.status_code == 200, again.text
        assert _refresh_rows(database) == [(None, None)]
    assert _records(audit) == [("login", "success")]


def test_authenticate_client_request_in_an_app_of_ones_own_answers_an_unwritable_log_503(
    tmp_path: Path,
) -> None:
    app = FastAPI(lifespan=accounts_lifespan(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))

    @app.post("/mine")
    async def mine(request: Request, client_id: str = Form(""), client_secret: str = Form("")):
        accounts = request.app.state.accounts
        client = await authenticate_client_request(accounts, request, client_id, client_secret)
        return {"client": client.client_id if client else None}

    with served_over_tls(app, tmp_path) as c:
        app.state.accounts.audit = AuditLog(FULL)
        # A wrong secret's refusal is audited: the log refuses its record.
        answer = c.post("/mine", data={"client_id": "sbc_nobody", "client_secret": "wrong"})
    assert answer.status_code == 503, answer.text
    assert answer.json() == {"detail": "the audit log cannot be written; the request was refused"}
    assert answer.headers["retry-after"] == "30"
