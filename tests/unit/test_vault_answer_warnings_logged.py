"""The ``warnings`` Vault puts in a successful answer (a parameter it ignored, a path it
will stop taking, a TTL it capped) are logged on ``sealbox.vault``, once per text, naming
the method and path: hvac drops them, and the call's result stands. The fake Vault
(tests/fakes/vault.py) adds them to a KV v2 read's answer."""

from __future__ import annotations

import logging

import pytest

from sealbox.secrets import VaultKV2Source, vault_client
from tests.fakes.vault import fake_vault_http

pytest.importorskip("hvac")

TOKEN = "hvs.warnings-canary-token-5d21"
VALUE = "warnings-canary-value-88f0"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(vault_client, "_warned", set())


def test_a_warning_in_a_successful_answer_is_logged_once_with_method_and_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    said = "Endpoint ignored these unrecognized parameters: [colour]"
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        srv.vault.warnings.append(said)
        with caplog.at_level(logging.WARNING, logger="sealbox.vault"):
            for _ in range(2):
                source = VaultKV2Source(srv.url, "app", token=TOKEN)
                assert source.lookup("API_KEY").expose_secret() == VALUE
    shown = [m for m in caplog.messages if m.startswith("Vault warned")]
    assert shown == [f"Vault warned, answering GET /v1/secret/data/app: {said}"]
    assert VALUE not in caplog.text and TOKEN not in caplog.text


def test_an_answer_without_warnings_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with fake_vault_http(TOKEN) as srv:
        srv.vault.put("app", {"API_KEY": VALUE})
        with caplog.at_level(logging.WARNING, logger="sealbox.vault"):
            source = VaultKV2Source(srv.url, "app", token=TOKEN)
            assert source.lookup("API_KEY").expose_secret() == VALUE
    assert [m for m in caplog.messages if m.startswith("Vault warned")] == []
