"""Administrators remove a lost second factor over HTTP (``DELETE /users/{name}/totp``,
scope ``users:admin``), as ``sealbox users reset-totp`` does on the command line."""

from __future__ import annotations

from pathlib import Path

from sealbox.service.admin import create_user
from tests.service.conftest import PASSWORD, bearer, login, make_settings, run_service
from tests.service.test_totp import account, enrol


def test_an_administrator_removes_a_lost_second_factor_over_http(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", password_profile="test")
    create_user(settings, "root", lambda _n: PASSWORD, ["users:admin"])
    with run_service(settings) as service, service.client() as c:
        enrol(c, account(c, "Mallory"))
        assert login(c, "mallory").status_code == 401  # mfa_required
        admin = bearer(login(c, "root").json()["access_token"])
        done = c.delete("/users/MALLORY/totp", headers=admin)
        assert done.status_code == 200, done.text
        assert done.json() == {"username": "mallory", "removed": True}
        assert login(c, "mallory").status_code == 200
        again = c.delete("/users/mallory/totp", headers=admin)
        assert again.json() == {"username": "mallory", "removed": False}
        unknown = c.delete("/users/nobody/totp", headers=admin)
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "account_not_found"
        user = bearer(login(c, "mallory").json()["access_token"])
        refused = c.delete("/users/mallory/totp", headers=user)
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"
        audit = service.audit()
    # Both removals are audited under the stored name, however the path spelled it.
    assert audit.count('"event": "admin.reset_totp", "outcome": "success", "user": "mallory"') == 2
    assert '"user": "MALLORY"' not in audit
    assert '"event": "admin.reset_totp", "outcome": "not_found", "user": "nobody"' in audit
