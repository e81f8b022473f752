"""Failed client authentication counted in Redis: ``sealbox serve --workers 2`` on
PostgreSQL and Redis shares one count per client address between its worker processes.

Real worker processes; each test opens connections until both workers serve some of them
(checked in the kernel's tables, see ``_workers.py``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx2
import pytest

from tests.conftest import run_sealbox
from tests.service._workers import clear_throttle_counters, together, two_workers, workers_env
from tests.service.conftest import ServeProcess
from tests.service.test_auth_workers import close, on_both_workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LIMIT = 5


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    # skips (or fails under CI) without PostgreSQL and Redis
    env = workers_env(
        SEALBOX_THROTTLE_CLIENT_ATTEMPTS=str(LIMIT), SEALBOX_THROTTLE_USER_ATTEMPTS="1000"
    )
    with two_workers(tmp_path_factory.mktemp("client-throttle-workers"), env) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    clear_throttle_counters()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _client(srv: ServeProcess, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A registered client's right Basic header, and one with a wrong secret."""
    args = ["clients", "create", name, "--json", "--scope", "transit:admin"]
    r = run_sealbox([*args, "--data-dir", str(srv.data_dir)], env=workers_env())
    assert r.returncode == 0, r.stderr.decode()
    made = json.loads(r.stdout)
    right = _basic(made["client_id"], made["client_secret"])
    return right, _basic(made["client_id"], "sbs_not-the-secret")


def _token(c: httpx2.Client, headers: dict[str, str]) -> httpx2.Response:
    return c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=headers)


def test_wrong_secrets_on_one_worker_throttle_the_address_on_the_other(workers) -> None:
    right, wrong = _client(workers, "reporting")
    clients, served = on_both_workers(workers, 2)
    try:
        first, second = clients
        assert served[0] != served[1]
        for _ in range(LIMIT):
            assert _token(first, wrong).status_code == 401
        throttled = _token(second, right)
        assert throttled.status_code == 429, throttled.text
        assert throttled.json()["error"] == "too_many_requests"
        assert int(throttled.headers["Retry-After"]) >= 1
        seen = second.post("/auth/introspect", data={"token": "x"}, headers=right)
        assert seen.status_code == 429
    finally:
        close(clients)


def test_concurrent_wrong_secrets_on_both_workers_are_checked_at_most_the_limit(
    workers,
) -> None:
    right, wrong = _client(workers, "billing")
    clients, served = on_both_workers(workers, 15)
    try:
        answers = together(clients, lambda _i, c: _token(c, wrong))
        codes = [r.status_code for r in answers]
        assert codes.count(401) <= LIMIT, codes
        assert codes.count(401) + codes.count(429) == 15, codes
        assert len(set(served)) == 2
        assert _token(clients[0], right).status_code == 429
    finally:
        close(clients)
