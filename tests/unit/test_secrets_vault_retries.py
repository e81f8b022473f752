"""Reads from Vault are retried after 429 and passing 5xx answers, writes never are.

A real HTTP server (tests/fakes/vault.py, plain HTTP on 127.0.0.1, as ``vault server
-dev``) answers 503 or 429 first, then as Vault does; hvac talks to it for real.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secrets import VaultKV2Source
from sealbox.secrets.vault_http import MAX_RETRY_WAIT, retry_wait, session
from tests.fakes.vault import fake_vault_http

pytest.importorskip("hvac")

TOKEN = "hvs.retry-canary-token-5c1a"
VALUE = "retry-canary-value-93fe"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def _gets(srv) -> int:
    return sum(1 for method, path, _ in srv.vault.requests if method == "GET")


@pytest.mark.parametrize("status", [503, 429, 502])
def test_a_read_answered_not_now_then_ok_is_retried_and_reads_the_secret(status) -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        srv.vault.unavailable.append((status, "0"))
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        assert source.lookup("API_KEY").expose_secret() == VALUE
        assert _gets(srv) == 2


def test_metadata_reads_are_retried_too() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        srv.vault.unavailable += [(503, "0"), (429, "0")]
        assert VaultKV2Source(srv.url, "app", token=TOKEN).metadata()["current_version"] == 1
        assert _gets(srv) == 3


def test_a_write_answered_503_is_not_sent_again() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        source = VaultKV2Source(srv.url, "app", token=TOKEN)
        source.names()  # KV v2's answer: the write asks nothing about the mount first
        srv.vault.unavailable.append((503, "0"))
        with pytest.raises(SecretSourceError, match=r"sealed or not ready \(503\)"):
            source.write({"API_KEY": VALUE + "-new"})
        assert [m for m, _, _ in srv.vault.requests] == ["GET", "POST"]
        assert srv.vault.kv[("", "secret", "app")].current == 1


def test_a_vault_that_stays_sealed_is_refused_after_the_retries() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.unavailable += [(503, "0")] * 3
        source = VaultKV2Source(srv.url, "app", token=TOKEN, retries=2)
        with pytest.raises(SecretSourceError, match=r"sealed or not ready \(503\)"):
            source.names()
        assert _gets(srv) == 3


def test_no_retries_reads_once() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        srv.vault.unavailable.append((503, "0"))
        source = VaultKV2Source(srv.url, "app", token=TOKEN, retries=0)
        with pytest.raises(SecretSourceError, match="sealed"):
            source.names()
        assert _gets(srv) == 1


def test_the_wait_is_what_retry_after_says() -> None:
    waits: list[float] = []
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        srv.vault.unavailable += [(429, "2"), (503, None)]
        http = session(False, read_retries=3, sleep=waits.append)
        answer = http.get(f"{srv.url}/v1/secret/data/app", headers={"X-Vault-Token": TOKEN})
        assert answer.status_code == 200
        assert answer.json()["data"]["data"] == {"API_KEY": VALUE}
    # 2 s as Retry-After asked, then the second backoff step as none was given.
    assert waits == [2.0, 1.0]


def test_a_retry_after_longer_than_the_longest_wait_is_not_waited_for() -> None:
    waits: list[float] = []
    with fake_vault_http(TOKEN) as srv:
        srv.vault.unavailable.append((429, "3600"))
        http = session(False, read_retries=3, sleep=waits.append)
        answer = http.get(f"{srv.url}/v1/secret/data/app", headers={"X-Vault-Token": TOKEN})
        assert answer.status_code == 429
        assert waits == []
        assert _gets(srv) == 1


def test_a_write_through_the_session_is_never_retried() -> None:
    waits: list[float] = []
    with fake_vault_http(TOKEN) as srv:
        srv.vault.unavailable.append((503, "0"))
        http = session(False, read_retries=3, sleep=waits.append)
        answer = http.post(
            f"{srv.url}/v1/secret/data/app",
            json={"data": {"API_KEY": VALUE}},
            headers={"X-Vault-Token": TOKEN},
        )
        assert answer.status_code == 503
        assert waits == []
        assert len(srv.vault.requests) == 1


def test_retry_after_as_seconds_as_an_http_date_or_absent() -> None:
    now = datetime(2015, 10, 21, 7, 27, 55, tzinfo=UTC)
    assert retry_wait("3", 0, now=now) == 3.0
    assert retry_wait("Wed, 21 Oct 2015 07:28:00 GMT", 0, now=now) == 5.0
    assert retry_wait("Wed, 21 Oct 2015 07:20:00 GMT", 0, now=now) == 0.0  # already past
    assert [retry_wait(None, n) for n in range(3)] == [0.5, 1.0, 2.0]
    assert retry_wait("soon", 1) == 1.0  # not a Retry-After: the backoff step
    assert retry_wait(None, 40) == MAX_RETRY_WAIT
    assert retry_wait(str(int(MAX_RETRY_WAIT) + 1), 0) is None


@pytest.mark.parametrize("retries", [-1, 11])
def test_retries_out_of_range_are_a_config_error(retries) -> None:
    with pytest.raises(ConfigError) as info:
        VaultKV2Source("http://127.0.0.1:1", "app", token=TOKEN, retries=retries)
    assert info.value.code == "vault_bad_retries"


def test_retries_given_as_a_bool_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="retries is an int"):
        VaultKV2Source("http://127.0.0.1:1", "app", token=TOKEN, retries=True)


def test_a_rate_limit_that_outlasts_the_retries_is_reported_as_such() -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.unavailable += [(429, "0")] * 2
        source = VaultKV2Source(srv.url, "app", token=TOKEN, retries=1)
        with pytest.raises(SecretSourceError, match=r"limiting the rate of requests \(429\)"):
            source.names()
        assert _gets(srv) == 2
