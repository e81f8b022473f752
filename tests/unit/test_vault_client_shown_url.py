"""How sealbox's Vault clients show Vault's address in labels, reprs, errors and logs:
``scheme://host:port/path`` only. A query or fragment in the address (a token or a
signature that a proxy in front of Vault reads there) is never shown, and a user name
and password are masked as ``***@``.
"""

from __future__ import annotations

import logging
import socket

import pytest

from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secrets import VaultKV2Source
from sealbox.secrets.vault_client import shown_url

pytest.importorskip("hvac")

CANARY = "canary-vault-query-5e3a"
TOKEN = "hvs.shown-url-canary-token-91c0"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://vault.example:8200", "https://vault.example:8200"),
        ("https://vault.example:8200/", "https://vault.example:8200/"),
        (f"https://vault.example:8200/?token={CANARY}", "https://vault.example:8200/"),
        (f"https://vault.example/proxy?sig={CANARY}#x", "https://vault.example/proxy"),
        (f"https://vault.example:8200#{CANARY}", "https://vault.example:8200"),
        (f"https://ops:{CANARY}@vault.example:8200/v?{CANARY}", "https://***@vault.example:8200/v"),
        (f"https://[::1]:8200/?{CANARY}", "https://[::1]:8200/"),
    ],
)
def test_a_shown_vault_address_keeps_scheme_host_port_and_path_only(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_a_query_in_the_vault_address_is_in_no_label_repr_error_or_warning(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sealbox.vault")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = VaultKV2Source(
        f"http://127.0.0.1:{port}/?token={CANARY}", "app/dev", token=TOKEN, timeout=2
    )
    shown = [repr(source), source.label]
    with pytest.raises(SecretSourceError) as unreachable:
        source.names()
    shown.append(str(unreachable.value))
    with pytest.raises(ConfigError) as refused:
        VaultKV2Source(f"http://vault.example:8200/?token={CANARY}", "app", token=TOKEN)
    shown += [str(refused.value), repr(refused.value.facts)]
    assert all(CANARY not in text for text in shown), shown
    assert CANARY not in caplog.text
    assert refused.value.facts == {"url": "http://vault.example:8200/"}
    assert f"127.0.0.1:{port}/" in source.label
