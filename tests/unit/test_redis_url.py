"""A Redis URL whose query or database number redis-py cannot take is an invalid setting
(``SEALBOX_REDIS_URL``, code ``invalid_settings``) named with what is wrong, refused
before the data folder is touched; the library's Redis clients refuse it as a
``ConfigError`` (``redis_url_invalid``). Never the client's ``ValueError`` or
``TypeError`` as an internal error, never a silent database 0, never the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.accounts.redis_client import connect
from sealbox.exceptions import ConfigError
from sealbox.service.serve import load_settings

pytest.importorskip("redis", reason="the redis extra is not installed")

CANARY = "canary-redis-url-pw-2b7e"
BASE = f"redis://:{CANARY}@127.0.0.1:6379"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"{BASE}/0?socket_timeout=x", "socket_timeout"),
        (f"{BASE}/0?socket_timeout=-1", "socket_timeout"),
        (f"{BASE}/0?foo=bar", "foo"),
        (f"{BASE}/0?decode_responses=true", "decode_responses"),
        (f"{BASE}/0?db=abc", "db"),
        (f"{BASE}/0?ssl_cert_reqs=bogus", "ssl_cert_reqs"),
        (f"{BASE}/0?health_check_interval=x", "health_check_interval"),
        (f"{BASE}/0?max_connections=0", "max_connections"),
        # A command whose answer was lost may have run: it is never sent again.
        (f"{BASE}/0?retry_on_timeout=true", "never sends a Redis command again"),
        (f"{BASE}/0?retry_on_timeout=YES", "'retry_on_timeout' may only be false"),
        (f"{BASE}/0?retry_on_timeout=x", "retry_on_timeout"),
        (f"{BASE}/0?socket_timeout=1&socket_timeout=2", "given twice"),
        (f"{BASE}/abc", "database number"),
        (f"{BASE}/-1", "database number"),
        ("unix:///run/redis.sock?db=x", "db"),
    ],
)
def test_a_redis_url_the_client_cannot_take_is_an_invalid_setting(
    tmp_path: Path, url: str, why: str
) -> None:
    data = tmp_path / "data"
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=data, redis_url=url)
    exc = caught.value
    assert exc.code == "invalid_settings"
    assert exc.facts["settings"] == "SEALBOX_REDIS_URL"
    assert why in str(exc)
    assert CANARY not in f"{exc} {exc.facts} {exc!r}"
    assert not data.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/0?socket_timeout=2.5&socket_connect_timeout=3&health_check_interval=10",
        f"{BASE}/15?max_connections=20&retry_on_timeout=false&client_name=a",
        "rediss://h:6380/1?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=yes",
        "unix:///run/redis.sock?db=2",
        "redis://h",
        "redis://h/",
    ],
)
def test_a_redis_url_with_parameters_the_client_takes_is_accepted(tmp_path: Path, url: str) -> None:
    settings = load_settings(data_dir=tmp_path, redis_url=url)
    assert settings.redis_url is not None


def test_the_library_client_refuses_such_a_url_with_a_code() -> None:
    with pytest.raises(ConfigError) as caught:
        connect(f"{BASE}/0?socket_timeout=x")
    exc = caught.value
    assert exc.code == "redis_url_invalid"
    assert "socket_timeout" in str(exc)
    assert CANARY not in f"{exc} {exc.hint} {exc.facts} {exc!r}"


def test_a_redis_that_refuses_the_password_is_said_to_refuse_not_to_be_silent() -> None:
    # The shared Redis has no password: AUTH with one is an answer, a refusal, which was
    # worded "Redis did not answer".
    import asyncio

    from sealbox.accounts.redis_client import ping
    from sealbox.exceptions import StoreUnavailableError
    from tests.service.conftest import REDIS_URL, require_server

    require_server("Redis", 6379)
    wrong = REDIS_URL.replace("redis://", "redis://sealbox-test:not-the-password@", 1)
    with pytest.raises(StoreUnavailableError) as caught:
        asyncio.run(ping(wrong, "checking the test's Redis"))
    assert str(caught.value).startswith("Redis refused the request while checking the test's")
    assert "not-the-password" not in str(caught.value)
