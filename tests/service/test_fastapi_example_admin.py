"""examples/fastapi_app.py administered by `sealbox users` without Redis: a disable reaches
the running app through the data folder's revocations.changed, as it reaches a one-worker
sealbox serve."""

from __future__ import annotations

from tests.conftest import run_sealbox
from tests.service.conftest import PASSWORD, bearer, login
from tests.service.test_fastapi_example import ExampleApp, example

__all__ = ["example"]  # the fixture, shared with the example's own tests


def test_sealbox_users_disable_refuses_the_live_token_and_the_next_login(
    example: ExampleApp,
) -> None:
    created = example.users_create("frank", "orders:read")
    assert created.returncode == 0, created.stderr
    with example.client() as c:
        token = login(c, "frank").json()["access_token"]
        assert c.get("/orders", headers=bearer(token)).status_code == 200
        disabled = run_sealbox(
            ["users", "disable", "frank", "--data-dir", str(example.data_dir)], env=example.env
        )
        assert disabled.returncode == 0, disabled.stderr
        after = c.get("/orders", headers=bearer(token))
        again = login(c, "frank")
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_token"
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["message"] == "invalid username or password"
    assert PASSWORD not in example.stderr()


def test_a_scope_granted_by_sealbox_users_reaches_the_next_login_to_the_app(
    example: ExampleApp,
) -> None:
    assert example.users_create("grace").returncode == 0
    with example.client() as c:
        before = login(c, "grace").json()["access_token"]
        assert c.get("/orders", headers=bearer(before)).status_code == 403
        granted = run_sealbox(
            ["users", "grant", "grace", "orders:read", "--data-dir", str(example.data_dir)],
            env=example.env,
        )
        assert granted.returncode == 0, granted.stderr
        after = login(c, "grace").json()
        answer = c.get("/orders", headers=bearer(after["access_token"]))
    assert "orders:read" in after["scope"].split()
    assert answer.json() == {"user": "grace"}
