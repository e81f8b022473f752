"""A second-factor change the database has made is answered as made when Redis drops the
give-back of its throttle count: the recovery codes of a confirmation are shown (they are
shown once), a disable answers 204, and the attempt stays counted instead.

Real PostgreSQL and Redis, reached through a forwarder that closes the connection carrying
the throttle's settle script (its other calls go through); codes from ``oathtool``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import pytest

from sealbox.accounts.throttle import _SETTLE
from tests._tcp_proxy import Proxy, proxy_to
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    make_settings,
    private_shared_state,
    run_service,
)
from tests.service.test_totp import account, login_otp, oath, pin_clock

pytestmark = pytest.mark.redis

SETTLE_SHA = hashlib.sha1(_SETTLE.encode()).hexdigest().encode()  # what EVALSHA names


@pytest.fixture(scope="module")
def forwarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Proxy]]:
    with (
        private_shared_state("totp_give_back") as shared,
        proxy_to("127.0.0.1", 6379) as proxy,
    ):
        shared["redis_url"] = f"redis://127.0.0.1:{proxy.port}/15"
        data = tmp_path_factory.mktemp("totp-give-back") / "data"
        with run_service(make_settings(data, **shared)) as svc:
            yield svc, proxy


def test_a_confirmation_whose_give_back_redis_drops_still_shows_its_recovery_codes(
    forwarded: tuple[Running, Proxy], caplog: pytest.LogCaptureFixture
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "codes-once")  # its login loaded the settle script
        clock = pin_clock(svc)
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        proxy.drop_on = SETTLE_SHA
        try:
            with caplog.at_level(logging.WARNING, logger="sealbox"):
                r = c.post(
                    "/auth/totp/confirm",
                    json={"code": oath(secret, clock.now)},
                    headers=bearer(token),
                )
        finally:
            proxy.drop_on = None
        assert r.status_code == 200, r.text
        codes = r.json()["recovery_codes"]
        assert len(codes) == 10
        assert any("stays counted" in m for m in caplog.messages), caplog.messages
        assert "codes-once" not in caplog.text  # the log line names no account
        # The codes shown are the account's: one logs in.
        assert login_otp(c, "codes-once", codes[0]).status_code == 200


def test_a_disable_whose_give_back_redis_drops_answers_that_it_was_made(
    forwarded: tuple[Running, Proxy],
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "gone-once")
        clock = pin_clock(svc)
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        secret = r.json()["secret"]
        code = oath(secret, clock.now)
        r = c.post("/auth/totp/confirm", json={"code": code}, headers=bearer(token))
        assert r.status_code == 200, r.text
        proxy.drop_on = SETTLE_SHA
        try:
            r = c.post(
                "/auth/totp/disable",
                json={"code": oath(secret, clock.now + 30)},
                headers=bearer(token),
            )
        finally:
            proxy.drop_on = None
        assert r.status_code == 204, r.text
        assert c.get("/auth/totp", headers=bearer(token)).json()["state"] == "none"
