"""The Vault Transit provider retries as the KV source does: one policy, in vault_http.

A real HTTPS server (tests/fakes/vault.py and vault_transit.py, Vault's published API)
answers 429 or 503 first, then as Vault does; hvac talks to it for real. Transit's
encrypt, decrypt, rewrap and datakey are POSTs that only read the key, so they are sent
again; an AppRole login (a POST that makes a token) never is.
"""

from __future__ import annotations

import base64
import logging

import pytest

from sealbox.exceptions import ConfigError, KeyProviderError
from sealbox.keysets.envelope import VaultTransitProvider
from sealbox.secrets.vault_http import session
from tests.fakes.vault import fake_vault, fake_vault_http

pytest.importorskip("hvac")
pytest.importorskip("trustme")

TOKEN = "hvs.transit-retry-canary-token-77ad"
BLOB = b"transit-retry-canary-key-blob-0c5e"


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def server(vault_ca):
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        yield srv


def provider(server, vault_ca_file, **kw) -> VaultTransitProvider:
    kw.setdefault("token", TOKEN)
    return VaultTransitProvider("app", url=server.url, ca=vault_ca_file, **kw)


def _posts(server, route: str) -> int:
    return sum(1 for m, p, _ in server.vault.requests if m == "POST" and route in p)


@pytest.mark.parametrize("status", [429, 503])
def test_transit_encrypt_and_decrypt_answered_not_now_are_sent_again(
    server, vault_ca_file, status
) -> None:
    p = provider(server, vault_ca_file)
    server.vault.unavailable.append((status, "0"))
    wrapped = p.wrap(BLOB)
    assert _posts(server, "/transit/encrypt/app") == 2
    server.vault.unavailable.append((status, "0"))
    assert p.unwrap(wrapped) == BLOB
    assert _posts(server, "/transit/decrypt/app") == 2


def test_transit_datakey_rewrap_and_key_read_are_sent_again_after_503(
    server, vault_ca_file
) -> None:
    p = provider(server, vault_ca_file, version_cache_seconds=0)
    wrapped = p.wrap(BLOB)
    server.vault.unavailable.append((503, "0"))
    key, _ = p.generate_data_key(256)
    assert len(key.expose_secret()) == 32
    server.vault.unavailable.append((503, "0"))
    assert p.rewrap(wrapped).version == 1
    server.vault.unavailable.append((429, "0"))
    assert p.latest_version() == 1
    assert _posts(server, "/datakey/plaintext/app") == 2
    assert _posts(server, "/transit/rewrap/app") == 2


def test_transit_that_stays_sealed_is_refused_after_the_retries(server, vault_ca_file) -> None:
    p = provider(server, vault_ca_file, retries=2)
    server.vault.unavailable += [(503, "0")] * 3
    with pytest.raises(KeyProviderError, match=r"sealed or not ready \(503\)"):
        p.wrap(BLOB)
    assert _posts(server, "/transit/encrypt/app") == 3


def test_transit_with_no_retries_sends_once(server, vault_ca_file) -> None:
    p = provider(server, vault_ca_file, retries=0)
    server.vault.unavailable.append((429, "0"))
    with pytest.raises(KeyProviderError, match=r"limiting the rate of requests \(429\)"):
        p.wrap(BLOB)
    assert _posts(server, "/transit/encrypt/app") == 1


def test_transit_retry_after_over_the_longest_wait_is_reported_at_once(
    server, vault_ca_file
) -> None:
    p = provider(server, vault_ca_file)
    server.vault.unavailable.append((429, "3600"))
    with pytest.raises(KeyProviderError, match=r"\(429\)"):
        p.wrap(BLOB)
    assert _posts(server, "/transit/encrypt/app") == 1


def test_transit_approle_login_answered_503_is_not_sent_again(server, vault_ca_file) -> None:
    server.vault.approles["role-1"] = "secret-id-canary-41b0"
    p = provider(server, vault_ca_file, token=None, approle=("role-1", "secret-id-canary-41b0"))
    server.vault.unavailable.append((503, "0"))
    with pytest.raises(KeyProviderError, match=r"\(503\)"):
        p.wrap(BLOB)
    assert _posts(server, "/auth/approle/login") == 1
    assert _posts(server, "/transit/encrypt/app") == 0
    p.wrap(BLOB)  # the next call logs in and encrypts


@pytest.mark.parametrize("retries", [-1, 11])
def test_transit_retries_out_of_range_are_a_config_error(server, vault_ca_file, retries) -> None:
    with pytest.raises(ConfigError) as info:
        provider(server, vault_ca_file, retries=retries)
    assert info.value.code == "vault_bad_retries"


def test_transit_retries_leave_no_secret_in_logs_or_errors(server, vault_ca_file, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    p = provider(server, vault_ca_file, retries=1)
    server.vault.unavailable.append((503, "0"))
    wrapped = p.wrap(BLOB)
    server.vault.unavailable += [(503, "0"), (429, "0")]
    with pytest.raises(KeyProviderError) as info:
        p.unwrap(wrapped)
    b64 = base64.b64encode(BLOB).decode()
    texts = [caplog.text, str(info.value), repr(info.value), str(info.value.hint)]
    for text in texts:
        assert TOKEN not in text and BLOB.decode() not in text and b64 not in text
        assert "vault:v" not in text


def test_a_post_marked_repeatable_is_sent_again_and_one_not_marked_is_not() -> None:
    from sealbox.secrets.vault_http import repeatable

    waits: list[float] = []
    with fake_vault_http(TOKEN) as srv:
        srv.vault.transit_key("app")
        http = session(False, read_retries=3, sleep=waits.append)
        url = f"{srv.url}/v1/transit/encrypt/app"
        body = {"plaintext": base64.b64encode(BLOB).decode()}
        srv.vault.unavailable.append((503, None))
        with repeatable():
            answer = http.post(url, json=body, headers={"X-Vault-Token": TOKEN})
        assert answer.status_code == 200
        assert waits == [0.5]  # the KV client's first backoff step
        srv.vault.unavailable.append((503, None))
        assert http.post(url, json=body, headers={"X-Vault-Token": TOKEN}).status_code == 503
        assert waits == [0.5]
