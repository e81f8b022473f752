"""The routes of ``auth_router`` answer an audit log that cannot be written 503
``audit_unavailable`` (``Retry-After``), in an app that never called
``install_error_handlers`` too (it was an unhandled 500), and with sealbox's handlers the
same answer; the token endpoint's carries ``error`` and is never stored, as its store
outage's is. The log is ``/dev/full``, which refuses every write with ENOSPC (root or
not); plain uvicorn over real TLS on 127.0.0.1, real SQLite."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

from pathlib import Path

import pytest

from sealbox.accounts.audit import AuditLog
from sealbox.accounts.core import NullAudit
from tests.service._own_app import accounts_lifespan, auth_app, served_over_tls
from tests.service.conftest import PASSWORD

FULL = Path("/dev/full")
MESSAGE = "the audit log cannot be written; the request was refused"


@pytest.mark.skipif(not FULL.is_char_device(), reason="needs /dev/full")
@pytest.mark.parametrize("handlers", [False, True], ids=["plain-fastapi", "sealbox-handlers"])
def test_every_auth_route_answers_an_unwritable_audit_log_503_in_any_app(
    tmp_path: Path, handlers: bool
) -> None:
    lifespan = accounts_lifespan(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", users=["alice"])
    app = auth_app(lifespan, handlers=handlers)
    login = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    new = {"username": "bob", "password": PASSWORD}
    with served_over_tls(app, tmp_path) as c:
        # Two sessions: the password change asks with the second, on its own.
        tokens, other = (c.post("/auth/token", data=login).json() for _ in range(2))
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        refresh = {"refresh_token": tokens["refresh_token"]}
        app.state.accounts.audit = AuditLog(FULL)
        answers = {
            "register": c.post("/auth/register", json=new),
            "token": c.post("/auth/token", data=login),
            "refresh": c.post("/auth/refresh", json=refresh),
            "logout": c.post("/auth/logout", json=refresh, headers=auth),
            "password": c.post(
                "/auth/password",
                json={"current_password": PASSWORD, "new_password": "another pass 9"},
                headers={"Authorization": f"Bearer {other['access_token']}"},
            ),
        }
        app.state.accounts.audit = NullAudit()
        # The refused registration kept no account: the same one succeeds now.
        again = c.post("/auth/register", json=new)
    assert again.status_code == 201, again.text
    for route, answer in answers.items():
        assert answer.status_code == 503, (route, answer.text)
        said = answer.json()
        # Without sealbox's handlers FastAPI's own body, {"detail": …}, but the token
        # endpoint's, which answers its errors itself.
        if handlers or route == "token":
            assert said == {"error": "audit_unavailable", "message": MESSAGE}, route
        else:
            assert said == {"detail": MESSAGE}, route
        assert answer.headers["retry-after"] == "30"
        if route in ("register", "token", "refresh"):
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["pragma"] == "no-cache"
        assert PASSWORD not in answer.text
        assert tokens["refresh_token"] not in answer.text
