"""Scale-out: workers that share PostgreSQL and Redis see each other's revocations and throttles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import (
    bearer,
    login,
    make_settings,
    register,
    reset_shared_state,
    run_service,
    serve_process,
    shared_settings,
)


@pytest.fixture
def shared(tmp_path: Path):
    settings = shared_settings()
    reset_shared_state()
    yield settings
    reset_shared_state()


def test_two_workers_share_revocation_and_throttling(tmp_path: Path, shared) -> None:
    data = tmp_path / "data"
    a_settings = make_settings(data, **shared)
    b_settings = make_settings(data, **shared)
    with (
        run_service(a_settings) as a,
        run_service(b_settings) as b,
        a.client() as ca,
        b.client() as cb,
    ):
        register(ca, "lee")
        tokens = login(cb, "lee").json()
        h = bearer(tokens["access_token"])
        assert ca.get("/users/me", headers=h).status_code == 200
        assert cb.get("/users/me", headers=h).status_code == 200
        # Logged out through A: B refuses the token at once.
        ca.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=h)
        assert cb.get("/users/me", headers=h).status_code == 401
        assert (
            cb.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
            == 400
        )
        # A password change through B ends sessions known to A.
        t2 = login(ca, "lee").json()
        body = {
            "current_password": "canary-service-password-5e2b",
            "new_password": "another pass",
        }
        assert (
            cb.post("/auth/password", json=body, headers=bearer(t2["access_token"])).status_code
            == 204
        )
        assert ca.get("/users/me", headers=bearer(t2["access_token"])).status_code == 401
        # Failures through A count at B.
        for client in (ca, cb, ca, cb, ca):
            assert login(client, "lee", "wrong guess").status_code == 400
        r = login(cb, "lee", "another pass")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_serve_with_two_worker_processes(tmp_path: Path, shared) -> None:
    env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    with serve_process(tmp_path, "--workers", "2", env=env, data_dir=tmp_path / "data") as srv:
        with srv.client() as c:
            register(c, "max")
            tokens = login(c, "max").json()
            h = bearer(tokens["access_token"])
            c.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=h)
        # Fresh connections land on either worker: every one refuses the token.
        for _ in range(12):
            with srv.client() as c:
                assert c.get("/users/me", headers=h).status_code == 401
    assert "Traceback" not in srv.stderr, srv.stderr[-2000:]
    assert "sealbox service on https://localhost" in srv.stderr


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped; its reaper may be slow


def test_the_workers_of_a_killed_supervisor_stop_and_a_restart_serves_again(
    tmp_path: Path, shared
) -> None:
    # uvicorn's workers do not notice their supervisor's death: orphaned, they would serve
    # on, holding the port a restart needs, with nothing holding the folder's claim.
    import signal
    import time

    from tests.service._workers import worker_pids

    env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    data = tmp_path / "data"
    # Its supervisor is killed on purpose: it ends by SIGKILL, not by the harness's SIGTERM.
    with serve_process(
        tmp_path, "--workers", "2", env=env, data_dir=data, expect_exit=-signal.SIGKILL
    ) as srv:
        with srv.client() as c:
            assert register(c, "orphan").status_code == 201
        workers = worker_pids(srv.proc.pid, srv.port)
        assert len(workers) == 2, workers
        srv.proc.kill()
        srv.proc.wait()
        deadline = time.monotonic() + 60
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _running(pid)], "orphaned workers still serve"
    with (
        serve_process(tmp_path, "--workers", "2", env=env, data_dir=data) as again,
        again.client() as c,
    ):
        assert login(c, "orphan").status_code == 200
    assert "Traceback" not in again.stderr, again.stderr[-2000:]


def test_several_workers_need_redis_and_a_shared_database(cli, tmp_path: Path) -> None:
    r = cli(["serve", "--data-dir", tmp_path / "d", "--workers", "2"])
    assert r.code == 1
    assert "several workers need SEALBOX_REDIS_URL" in r.stderr
    assert "sealbox: hint:" in r.stderr
    assert not (tmp_path / "d").exists()
