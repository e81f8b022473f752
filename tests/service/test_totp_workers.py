"""TOTP replay against ``sealbox serve --workers 2`` on PostgreSQL and Redis.

One code (and one recovery code) sent by clients of both worker processes at the same
instant is accepted once: the acceptance is a conditional ``UPDATE`` in the shared
database. The throttle's limits are raised here so that every attempt reaches the check.
Codes come from the Debian ``oathtool``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import run_sealbox
from tests.service._workers import together, two_workers, workers_env
from tests.service.conftest import PASSWORD, ServeProcess, bearer, login
from tests.service.test_auth_workers import close, on_both_workers
from tests.service.test_totp import oath

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CLIENTS = 8


def _env() -> dict[str, str]:
    return workers_env(
        SEALBOX_THROTTLE_USER_ATTEMPTS="100", SEALBOX_THROTTLE_ADDRESS_ATTEMPTS="100"
    )


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = _env()  # skips (or fails under CI) without PostgreSQL and Redis
    oath("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59)  # skips without oathtool
    with two_workers(tmp_path_factory.mktemp("totp-workers"), env) as srv:
        yield srv


def _enrolled(srv: ServeProcess, name: str) -> tuple[str, list[str]]:
    r = run_sealbox(
        ["users", "create", name, "--data-dir", str(srv.data_dir)], input=PASSWORD.encode(),
        env=_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    with srv.client() as c:
        token = login(c, name).json()["access_token"]
        secret = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token)).json()[
            "secret"
        ]
        r = c.post("/auth/totp/confirm", json={"code": oath(secret)}, headers=bearer(token))
        assert r.status_code == 200, r.text
        return secret, r.json()["recovery_codes"]


def _race(srv: ServeProcess, name: str, otp: str) -> list[int]:
    clients, served = on_both_workers(srv, CLIENTS)
    assert len(set(served)) == 2
    form = {"username": name, "password": PASSWORD, "otp": otp}
    try:
        answers = together(clients, lambda _i, c: c.post("/auth/token", data=form))
    finally:
        close(clients)
    return [r.status_code for r in answers]


def test_one_code_sent_to_both_workers_at_once_is_accepted_once(workers) -> None:
    secret, _ = _enrolled(workers, "racer")
    # The next step's code: later than the confirming one, within a step of the servers'.
    code = oath(secret, time.time() + 30)
    statuses = _race(workers, "racer", code)
    assert sorted(statuses) == [200] + [400] * (CLIENTS - 1), statuses
    with workers.client() as c:
        assert login(c, "racer").json()["error"] == "mfa_required"


def test_one_recovery_code_sent_to_both_workers_at_once_is_accepted_once(workers) -> None:
    _, codes = _enrolled(workers, "spender")
    statuses = _race(workers, "spender", codes[0])
    assert sorted(statuses) == [200] + [400] * (CLIENTS - 1), statuses
