"""A sign-in or password change that has done what it was asked is answered as done when
Redis drops the give-back of its throttle count: a login whose code is spent gets its
tokens, a changed password is reported changed, an authenticated client gets its token.
The attempt stays counted instead, until its window ends, and a warning says so without
naming the account or the address. The count taken before an attempt still fails closed:
503 ``store_unavailable``, nothing checked.

Real PostgreSQL and Redis, reached through a forwarder that closes the connection carrying
one of the throttle's scripts (its other calls go through); codes from ``oathtool``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import pytest

from sealbox.accounts.throttle import _ACQUIRE, _SETTLE
from sealbox.service.client_admin import create_client
from tests._tcp_proxy import Proxy, proxy_to
from tests.service._oauth import Registered
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    private_shared_state,
    register,
    run_service,
)
from tests.service.test_totp import account, enrol, login_otp, oath, pin_clock

pytestmark = pytest.mark.redis


def _sha(script: str) -> bytes:
    return hashlib.sha1(script.encode()).hexdigest().encode()  # what EVALSHA names


SETTLE_SHA, ACQUIRE_SHA = _sha(_SETTLE), _sha(_ACQUIRE)
NEW_PASSWORD = "a brand new password 7c1d"


@pytest.fixture(scope="module")
def forwarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Proxy]]:
    with (
        private_shared_state("sign_in_give_back") as shared,
        proxy_to("127.0.0.1", 6379) as proxy,
    ):
        shared["redis_url"] = f"redis://127.0.0.1:{proxy.port}/15"
        data = tmp_path_factory.mktemp("sign-in-give-back") / "data"
        # Every test here signs in from 127.0.0.1; the address's limit is not what they pin.
        settings = make_settings(data, throttle_address_attempts=1000, **shared)
        with run_service(settings) as svc:
            yield svc, proxy


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "stays counted" in r.getMessage()]


def _names_nobody(records: list[logging.LogRecord], *names: str) -> None:
    for record in records:
        text = record.getMessage()
        assert record.levelno == logging.WARNING
        assert record.name == "sealbox.accounts"
        assert "127.0.0.1" not in text
        for name in names:
            assert name not in text


def test_a_login_whose_give_back_redis_drops_gets_its_tokens_and_its_code_is_spent(
    forwarded: tuple[Running, Proxy], caplog: pytest.LogCaptureFixture
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "spent-once")  # its login loaded the settle script
        clock = pin_clock(svc)
        secret, _codes = enrol(c, token, clock.now)
        code = oath(secret, clock.now + 30)
        proxy.drop_on = SETTLE_SHA
        try:
            with caplog.at_level(logging.WARNING, logger="sealbox"):
                r = login_otp(c, "spent-once", code)
        finally:
            proxy.drop_on = None
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
        warned = _warnings(caplog)
        assert [r.getMessage().split(":")[0] for r in warned] == ["login"], caplog.messages
        _names_nobody(warned, "spent-once")
        # The code was spent by the login answered: it does not log in again.
        again = login_otp(c, "spent-once", code)
        assert again.status_code == 400, again.text
        assert again.json()["error"] == "invalid_grant"


def test_a_recovery_code_login_whose_give_back_redis_drops_spends_the_code(
    forwarded: tuple[Running, Proxy],
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "recovered")
        clock = pin_clock(svc)
        _secret, codes = enrol(c, token, clock.now)
        proxy.drop_on = SETTLE_SHA
        try:
            r = login_otp(c, "recovered", codes[0])
        finally:
            proxy.drop_on = None
        assert r.status_code == 200, r.text
        assert "access_token" in r.json()
        assert login_otp(c, "recovered", codes[0]).status_code == 400
        state = c.get("/auth/totp", headers=bearer(r.json()["access_token"])).json()
        assert state["recovery_codes_left"] == len(codes) - 1


def test_a_password_change_whose_give_back_redis_drops_answers_204_and_the_new_password_works(
    forwarded: tuple[Running, Proxy], caplog: pytest.LogCaptureFixture
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "changed-once")
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        proxy.drop_on = SETTLE_SHA
        try:
            with caplog.at_level(logging.WARNING, logger="sealbox"):
                r = c.post("/auth/password", json=body, headers=bearer(token))
        finally:
            proxy.drop_on = None
        assert r.status_code == 204, r.text
        warned = _warnings(caplog)
        assert [r.getMessage().split(":")[0] for r in warned] == ["password_change"], (
            caplog.messages
        )
        _names_nobody(warned, "changed-once")
        assert login(c, "changed-once", NEW_PASSWORD).status_code == 200
        assert login(c, "changed-once").status_code == 400
        # The change ended the sessions, as any password change does.
        assert c.get("/users/me", headers=bearer(token)).status_code == 401


def test_a_login_whose_give_back_redis_drops_stays_counted_until_its_window_ends(
    forwarded: tuple[Running, Proxy],
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        assert register(c, "still-counted").status_code == 201
        assert login(c, "still-counted").status_code == 200  # loads the settle script
        proxy.drop_on = SETTLE_SHA
        try:
            assert login(c, "still-counted").status_code == 200
        finally:
            proxy.drop_on = None
        # 5 a window by default: the dropped success is one of them, 4 wrong passwords
        # the rest, and the right password is then refused, not checked.
        for _ in range(4):
            assert login(c, "still-counted", "a wrong password").status_code == 400
        refused = login(c, "still-counted")
        assert refused.status_code == 429, refused.text


def test_a_client_authentication_whose_give_back_redis_drops_gets_its_token(
    forwarded: tuple[Running, Proxy],
) -> None:
    svc, proxy = forwarded
    made = create_client(svc.settings, "dropped-give-back", ["orders:read"])
    assert made.secret is not None
    client = Registered("dropped-give-back", made.client.client_id, made.secret.expose_secret())
    grant = {"grant_type": "client_credentials"}
    with svc.client() as c:
        assert c.post("/auth/token", data=grant, headers=client.basic).status_code == 200
        proxy.drop_on = SETTLE_SHA
        try:
            r = c.post("/auth/token", data=grant, headers=client.basic)
        finally:
            proxy.drop_on = None
        assert r.status_code == 200, r.text
        assert "access_token" in r.json()


def test_the_count_before_an_attempt_still_refuses_with_503_when_redis_drops_it(
    forwarded: tuple[Running, Proxy],
) -> None:
    svc, proxy = forwarded
    with svc.client() as c:
        token = account(c, "counted-first")  # its login loaded the acquire script
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        proxy.drop_on = ACQUIRE_SHA
        try:
            refused = [
                login(c, "counted-first"),
                c.post("/auth/password", json=body, headers=bearer(token)),
            ]
        finally:
            proxy.drop_on = None
        for r in refused:
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "store_unavailable"
            assert "access_token" not in r.text
        # Nothing was checked: the password is the one it was.
        assert login(c, "counted-first").status_code == 200
        assert login(c, "counted-first", NEW_PASSWORD).status_code == 400
