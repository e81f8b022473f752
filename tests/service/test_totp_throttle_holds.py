"""The login throttle's count of wrong TOTP codes holds: a right password sent to another
route does not forget the guesses at the code of an account whose factor is confirmed.

Codes come from the Debian ``oathtool``; the service's TOTP clock is pinned.
"""

from __future__ import annotations

from tests.service._workers import together
from tests.service.conftest import PASSWORD, Running, bearer
from tests.service.test_totp import account, enrol, login_otp, oath, pin_clock


def test_a_refused_enrolment_with_the_right_password_does_not_forget_wrong_codes(
    service: Running,
) -> None:
    # Whoever holds the password and a stolen access token must not be able to guess at
    # the code without limit by clearing the count with POST /auth/totp in between.
    with service.client() as c:
        token = account(c, "guesser")
        secret, _ = enrol(c, token)
        clock = pin_clock(service)
        limit = service.settings.throttle_user_attempts
        for n in range(limit - 1):
            assert login_otp(c, "guesser", f"{n:06d}").status_code == 400
        r = c.post("/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
        assert (r.status_code, r.json()["error"]) == (409, "totp_already_enabled")
        r = login_otp(c, "guesser", oath(secret, clock.now))
        assert r.status_code == 429 and "retry-after" in r.headers


def test_wrong_codes_sent_at_the_same_instant_get_no_more_checks_than_the_limit(
    service: Running,
) -> None:
    with service.client() as c:
        token = account(c, "swarm")
        secret, _ = enrol(c, token)
    clock = pin_clock(service)
    limit = service.settings.throttle_user_attempts
    clients = [service.client() for _ in range(limit * 3)]
    try:
        answers = together(clients, lambda i, c: login_otp(c, "swarm", f"{i:06d}"))
    finally:
        for c in clients:
            c.close()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [400] * limit + [429] * (limit * 2), statuses
    with service.client() as c:
        assert login_otp(c, "swarm", oath(secret, clock.now)).status_code == 429


def test_one_code_raced_by_many_clients_logs_in_once(service: Running) -> None:
    with service.client() as c:
        token = account(c, "twins")
        secret, _ = enrol(c, token)
    clock = pin_clock(service)
    code = oath(secret, clock.now + 30)  # a step later than the confirming one
    clients = [service.client() for _ in range(service.settings.throttle_user_attempts)]
    try:
        answers = together(clients, lambda _i, c: login_otp(c, "twins", code))
    finally:
        for c in clients:
            c.close()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [400] * (len(clients) - 1), statuses
