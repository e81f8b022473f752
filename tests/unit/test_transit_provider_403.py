"""A Transit call Vault refuses (403) says which policy rule is missing, as the KV source.

Real hvac calls against the fake Vault over real HTTPS; the fake denies per path.
"""

from __future__ import annotations

import pytest

from sealbox.exceptions import KeyProviderError
from sealbox.keysets.envelope import EnvelopeCipher, VaultTransitProvider
from tests.fakes.vault import fake_vault

trustme = pytest.importorskip("trustme")

TOKEN = "hvs.transit-403-canary-token-5e0a"


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def server(vault_ca):
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        yield srv


def _provider(server, vault_ca_file, token: str = TOKEN) -> VaultTransitProvider:
    return VaultTransitProvider(
        "app", url=server.url, token=token, ca=vault_ca_file, version_cache_seconds=0
    )


def _check(error: KeyProviderError, path: str, capability: str) -> None:
    assert error.code == "vault_permission_denied"
    assert error.facts == {"path": path, "capability": capability}
    hint = error.hint or ""
    assert f'path "{path}"' in hint and f'["{capability}"]' in hint
    assert "expired" in hint
    for text in (str(error), repr(error), hint):
        assert TOKEN not in text


@pytest.mark.parametrize(
    ("path", "capability", "call"),
    [
        ("transit/encrypt/app", "update", lambda p, w: p.wrap(b"\x01" * 48)),
        ("transit/decrypt/app", "update", lambda p, w: p.unwrap(w)),
        ("transit/rewrap/app", "update", lambda p, w: p.rewrap(w)),
        ("transit/rewrap/app", "update", lambda p, w: p.rewrap_batch([w])),
        ("transit/datakey/plaintext/app", "update", lambda p, w: p.generate_data_key()),
        ("transit/keys/app", "read", lambda p, w: p.latest_version(refresh=True)),
    ],
)
def test_a_denied_transit_call_names_its_policy_path_capability_and_token_expiry(
    server, vault_ca_file, path, capability, call
) -> None:
    p = _provider(server, vault_ca_file)
    wrapped = p.wrap(b"\x02" * 48)
    server.vault.deny(TOKEN, path)
    with pytest.raises(KeyProviderError, match=r"permission denied for \w+ \(403\)") as info:
        call(p, wrapped)
    _check(info.value, path, capability)


def test_a_denied_envelope_decrypt_carries_the_code_and_facts(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(_provider(server, vault_ca_file))
    env = cipher.encrypt(b"canary-403-plaintext")
    server.vault.deny(TOKEN, "transit/decrypt/app")
    with pytest.raises(KeyProviderError) as info:
        cipher.decrypt(env)
    _check(info.value, "transit/decrypt/app", "update")


def test_an_unknown_token_gets_the_same_hint_without_the_token(server, vault_ca_file) -> None:
    unknown = "hvs.unknown-403-token-77aa"
    with pytest.raises(KeyProviderError, match="403") as info:
        _provider(server, vault_ca_file, token=unknown).wrap(b"\x03" * 48)
    _check(info.value, "transit/encrypt/app", "update")
    assert unknown not in f"{info.value} {info.value!r} {info.value.hint}"
