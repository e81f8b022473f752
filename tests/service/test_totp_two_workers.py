"""The TOTP second factor against ``sealbox serve --workers 2`` behind a trusted proxy, on
PostgreSQL and Redis, with the limits of a real deployment (5 attempts per username and
per address).

- Replay across workers: a newer step accepted by one worker makes the other refuse the
  older step's code and the same code again (RFC 6238 §5.2).
- Guessing: wrong codes for one account sent at the same instant to both workers, each
  from another forwarded address, get no more checks than the username's limit between
  them; the rest, and then the right code, are answered 429 with ``Retry-After``.
- The answers: with a code given, a wrong password and the right password with a wrong
  code get the same status, body and challenge from either worker.

Codes come from the Debian ``oathtool``; the servers' clocks are the host's, so every
code used is of the current step or the next one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.conftest import run_sealbox
from tests.service._workers import clear_throttle_counters, together, two_workers, workers_env
from tests.service.conftest import PASSWORD, ServeProcess, bearer, login
from tests.service.test_auth_workers import close, on_both_workers
from tests.service.test_totp import oath

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LIMIT = 5


def _env() -> dict[str, str]:
    return workers_env(
        SEALBOX_THROTTLE_USER_ATTEMPTS=str(LIMIT),
        SEALBOX_THROTTLE_ADDRESS_ATTEMPTS=str(LIMIT),
        SEALBOX_TRUSTED_PROXIES="127.0.0.1",
    )


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = _env()  # skips (or fails under CI) without PostgreSQL and Redis
    oath("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59)  # skips without oathtool
    with two_workers(tmp_path_factory.mktemp("totp-two-workers"), env) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_attempts_counted(workers: ServeProcess) -> None:
    clear_throttle_counters()


def _enrolled(srv: ServeProcess, name: str) -> str:
    r = run_sealbox(
        ["users", "create", name, "--data-dir", str(srv.data_dir)], input=PASSWORD.encode(),
        env=_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    with srv.client() as c:
        token = login(c, name).json()["access_token"]
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        r = c.post("/auth/totp/confirm", json={"code": oath(secret)}, headers=bearer(token))
        assert r.status_code == 200, r.text
    return str(secret)


def _login(c: httpx2.Client, name: str, otp: str, password: str = PASSWORD) -> httpx2.Response:
    return c.post("/auth/token", data={"username": name, "password": password, "otp": otp})


def _one_client_per_worker(srv: ServeProcess) -> tuple[httpx2.Client, httpx2.Client]:
    clients, served = on_both_workers(srv, 2)
    if served[0] == served[1]:  # pragma: no cover - on_both_workers spreads them
        close(clients)
        pytest.fail("both clients were served by one worker")
    return clients[0], clients[1]


def test_an_older_steps_code_is_refused_by_the_other_worker_after_a_newer_one(
    workers: ServeProcess,
) -> None:
    secret = _enrolled(workers, "stepper")
    now = time.time()
    newer, older = oath(secret, now + 30), oath(secret, now)
    first, second = _one_client_per_worker(workers)
    try:
        r = _login(first, "stepper", newer)
        assert r.status_code == 200, r.text
        for code in (older, newer):
            r = _login(second, "stepper", code)
            assert (r.status_code, r.json()["error"]) == (400, "invalid_grant"), r.text
    finally:
        close([first, second])


def test_wrong_codes_from_rotating_addresses_on_both_workers_get_the_username_limit(
    workers: ServeProcess,
) -> None:
    secret = _enrolled(workers, "guessed")
    right = oath(secret, time.time() + 30)
    clients, served = on_both_workers(workers, LIMIT * 3)
    assert len(set(served)) == 2
    wrong = [f"{n:06d}" for n in range(len(clients) + 1) if f"{n:06d}" != right]

    def guess(i: int, c: httpx2.Client) -> httpx2.Response:
        # Each guess claims another client address: the proxy is trusted, so each is
        # counted against its own address, and only the username's counter can hold.
        headers = {"X-Forwarded-For": f"203.0.113.{i + 1}"}
        data = {"username": "guessed", "password": PASSWORD, "otp": wrong[i]}
        return c.post("/auth/token", data=data, headers=headers)

    try:
        answers = together(clients, guess)
    finally:
        close(clients)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [400] * LIMIT + [429] * (LIMIT * 2), statuses
    for a in answers:
        if a.status_code == 429:
            assert int(a.headers["retry-after"]) >= 1
            assert a.json()["error"] == "too_many_requests"
    records = [
        json.loads(line) for line in (workers.data_dir / "audit.log").read_text().splitlines()
    ]
    guesses = [
        r
        for r in records
        if r["event"] == "login" and r["user"] == "guessed" and r["outcome"] != "success"
    ]
    assert sum(r["outcome"] == "failure" for r in guesses) == LIMIT
    assert sum(r["outcome"] == "throttled" for r in guesses) == LIMIT * 2
    assert {r["address"] for r in guesses} == {f"203.0.113.{i + 1}" for i in range(LIMIT * 3)}
    first, second = _one_client_per_worker(workers)
    try:
        # The right code, from yet another address, on either worker: still throttled.
        for c in (first, second):
            r = c.post(
                "/auth/token",
                data={"username": "guessed", "password": PASSWORD, "otp": right},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    finally:
        close([first, second])


def test_a_wrong_password_and_a_wrong_code_get_one_answer_from_both_workers(
    workers: ServeProcess,
) -> None:
    secret = _enrolled(workers, "oracle")
    code = oath(secret, time.time() + 30)
    wrong = "000000" if code != "000000" else "111111"
    first, second = _one_client_per_worker(workers)
    try:
        answers = [
            _login(c, "oracle", otp, password)
            for c in (first, second)
            for otp, password in ((code, "not the password"), (wrong, PASSWORD))
        ]
    finally:
        close([first, second])
    seen = {
        (a.status_code, a.text, a.headers.get("www-authenticate"), a.headers.get("retry-after"))
        for a in answers
    }
    assert len(seen) == 1, seen
    assert answers[0].status_code == 400 and answers[0].json()["error"] == "invalid_grant"
