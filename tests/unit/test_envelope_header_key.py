"""An envelope's header names its key in the clear: renaming it never opens the envelope.

The key id and version in the header sit outside the wrapped data key. Changed to
another key the same provider holds (another keyring key, another Transit key or
version), the envelope must not decrypt, nor be rewrapped, under any key: a
``DecryptionError``, as for any altered envelope.
"""

from __future__ import annotations

import dataclasses

import pytest

from sealbox.exceptions import DecryptionError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider, VaultTransitProvider
from sealbox.keysets.envelope.format import EnvelopeHeader, WrappedKey, parse_header
from sealbox.keysets.keyring import Keyring
from tests.fakes.vault import fake_vault

PLAINTEXT = b"header-key-canary-plaintext"
TOKEN = "hvs.header-key-canary-token-41d2"


def _renamed(env: bytes, **change: object) -> bytes:
    header, size = parse_header(env)
    wrapped = dataclasses.replace(header.wrapped, **change)  # type: ignore[arg-type]
    return EnvelopeHeader(header.mode, wrapped).to_bytes() + env[size:]


def _refused(cipher: EnvelopeCipher, env: bytes) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt(env, b"ad")
    with pytest.raises(DecryptionError):
        cipher.rewrap(env)


# -- keyring -----------------------------------------------------------------------


@pytest.fixture
def ring() -> Keyring:
    ring = Keyring.generate()
    ring.rotate()
    return ring


def test_a_keyring_envelope_renamed_to_another_key_of_the_keyring_is_refused(ring) -> None:
    old, new = (f"{k.id:08x}" for k in ring)
    cipher = EnvelopeCipher(KeyringProvider(ring))
    env = cipher.encrypt(PLAINTEXT, b"ad")
    named = parse_header(env)[0].wrapped.key_id
    assert named == f"{ring.primary_id:08x}"
    other = old if named == new else new
    assert cipher.decrypt(env, b"ad") == PLAINTEXT
    _refused(cipher, _renamed(env, key_id=other))
    _refused(cipher, _renamed(env, version=1))
    # The token inside names its key too: renaming both still opens nothing.
    token = parse_header(env)[0].wrapped.ciphertext
    both = token[:1] + bytes.fromhex(other) + token[5:]
    assert both != token
    _refused(cipher, _renamed(env, key_id=other, ciphertext=both))


# -- Vault Transit -----------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def transit(vault_ca, vault_ca_file):
    pytest.importorskip("trustme")
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        srv.vault.transit_key("other")

        def provider(key: str) -> VaultTransitProvider:
            return VaultTransitProvider(
                key, url=srv.url, token=TOKEN, ca=vault_ca_file, version_cache_seconds=0
            )

        yield srv, provider


def test_a_transit_envelope_renamed_to_another_transit_key_is_refused(transit) -> None:
    _, provider = transit
    cipher = EnvelopeCipher(provider("app"), decrypt_with=[provider("other")])
    env = cipher.encrypt(PLAINTEXT, b"ad")
    assert parse_header(env)[0].wrapped == WrappedKey(
        "vault-transit", "app", 1, parse_header(env)[0].wrapped.ciphertext
    )
    assert cipher.decrypt(env, b"ad") == PLAINTEXT
    _refused(cipher, _renamed(env, key_id="other"))


def test_a_transit_envelope_renamed_to_another_version_is_refused(transit) -> None:
    srv, provider = transit
    cipher = EnvelopeCipher(provider("app"))
    env = cipher.encrypt(PLAINTEXT, b"ad")
    srv.vault.transit_key("app").rotate()
    assert cipher.decrypt(env, b"ad") == PLAINTEXT
    _refused(cipher, _renamed(env, version=2))
    # Vault reads "vault:v0:" as version 1: a header altered to 0 is refused all the same.
    _refused(cipher, _renamed(env, version=0))
    zero = parse_header(_renamed(env, version=0))[0].wrapped
    (result,) = provider("app").rewrap_batch([zero])
    assert isinstance(result, DecryptionError)
