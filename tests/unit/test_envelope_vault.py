"""VaultTransitProvider through real hvac calls against a fake Vault over real HTTPS.

Vault cannot run here: tests/fakes/vault_transit.py follows Vault's published
Transit API (encrypt, decrypt, rewrap, datakey, key versions, configuration,
batch input, its error strings and status codes).
"""

from __future__ import annotations

import base64
import io
import logging

import pytest

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyNotFoundError,
    KeyProviderError,
    KeyStateError,
    SealboxError,
)
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider, VaultTransitProvider, inspect
from sealbox.keysets.envelope.format import WrappedKey
from sealbox.keysets.keyring import Keyring
from sealbox.secret import Secret
from tests.fakes.vault import fake_vault

trustme = pytest.importorskip("trustme")

TOKEN = "hvs.transit-canary-token-31c9"
PLAINTEXT = b"canary-envelope-plaintext-8f14"


pytestmark = pytest.mark.usefixtures("no_vault_environment")


@pytest.fixture
def server(vault_ca):
    with fake_vault(vault_ca, TOKEN) as srv:
        srv.vault.transit_key("app")
        yield srv


def provider(server, vault_ca_file, key: str = "app", **kw) -> VaultTransitProvider:
    kw.setdefault("token", TOKEN)
    kw.setdefault("version_cache_seconds", 0)
    return VaultTransitProvider(key, url=server.url, ca=vault_ca_file, **kw)


def test_wrap_unwrap_through_transit(server, vault_ca_file) -> None:
    p = provider(server, vault_ca_file)
    blob = b"\x01" * 64
    wrapped = p.wrap(blob)
    assert (wrapped.provider, wrapped.key_id, wrapped.version) == ("vault-transit", "app", 1)
    assert p.unwrap(wrapped) == blob
    posted = [(m, u) for m, u, _ in server.vault.requests if m == "POST"]
    assert posted == [("POST", "/v1/transit/encrypt/app"), ("POST", "/v1/transit/decrypt/app")]
    # What went to Vault: the blob in base64, never Vault's own associated_data.
    assert server.vault.bodies[0] == {"plaintext": base64.b64encode(blob).decode()}
    assert all("associated_data" not in b and "context" not in b for b in server.vault.bodies)


def test_envelope_round_trip_rotation_and_rewrap(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    env = cipher.encrypt(PLAINTEXT, b"invoices/7")
    assert inspect(env).key_version == 1
    assert not cipher.needs_rewrap(env)
    server.vault.transit_key("app").rotate()
    assert cipher.needs_rewrap(env)
    assert cipher.decrypt(env, b"invoices/7") == PLAINTEXT  # old versions keep decrypting
    new = cipher.rewrap(env)
    assert inspect(new).key_version == 2
    assert not cipher.needs_rewrap(new)
    # Only the header changed, and the plaintext is the same.
    assert new.endswith(env[inspect(env).header_size :])
    assert cipher.decrypt(new, b"invoices/7") == PLAINTEXT
    rewraps = [u for m, u, _ in server.vault.requests if u == "/v1/transit/rewrap/app"]
    assert len(rewraps) == 1
    # The associated data survived the rewrap inside Vault: it is still enforced.
    with pytest.raises(DecryptionError):
        cipher.decrypt(new, b"invoices/8")


def test_vault_native_associated_data_would_not_survive_rewrap(server, vault_ca_file) -> None:
    """Why envelopes bind associated data themselves: Vault's rewrap cannot take it."""
    import hvac

    client = hvac.Client(url=server.url, token=TOKEN, verify=str(vault_ca_file))
    transit = client.secrets.transit
    ad = base64.b64encode(b"row 42").decode()
    ct = transit.encrypt_data("app", plaintext="aGk=", associated_data=ad)["data"]["ciphertext"]
    assert transit.decrypt_data("app", ciphertext=ct, associated_data=ad)["data"]["plaintext"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="message authentication failed"):
        transit.rewrap_data("app", ciphertext=ct)


def test_min_decryption_version_refuses_old_envelopes_clearly(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    old = cipher.encrypt(PLAINTEXT)
    key = server.vault.transit_key("app")
    key.rotate()
    current = cipher.rewrap(cipher.encrypt(PLAINTEXT))
    key.min_decryption_version = 2
    with pytest.raises(KeyStateError) as info:
        cipher.decrypt(old)
    message = str(info.value)
    assert "version 1" in message and "min_decryption_version" in message
    assert "rewrap" in (info.value.hint or "")
    with pytest.raises(KeyStateError):
        cipher.rewrap(old)
    assert cipher.decrypt(current) == PLAINTEXT


def test_streaming_envelope_with_vault(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    data = bytes(range(256)) * 1000
    out = io.BytesIO()
    with cipher.encryptor(out, b"blob") as w:
        w.write(data)
    env = out.getvalue()
    assert inspect(env).mode == "stream"
    server.vault.transit_key("app").rotate()
    new = cipher.rewrap(env)
    assert new[inspect(new).header_size :] == env[inspect(env).header_size :]
    assert cipher.decryptor(io.BytesIO(new), b"blob").read() == data


def test_permission_denied_is_403_without_secrets(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    env = cipher.encrypt(PLAINTEXT)
    server.vault.deny(TOKEN, "transit/decrypt/app")
    with pytest.raises(KeyProviderError, match=r"permission denied for decrypt \(403\)") as info:
        cipher.decrypt(env)
    assert "transit/decrypt/app" in (info.value.hint or "")
    bad = EnvelopeCipher(provider(server, vault_ca_file, token="hvs.unknown-token-0000"))
    with pytest.raises(KeyProviderError, match="403"):
        bad.encrypt(PLAINTEXT)


def test_unknown_key_and_mount(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    env = cipher.encrypt(PLAINTEXT)
    # The same envelope read with a provider for a key Vault does not have.
    ghost = provider(server, vault_ca_file, key="ghost")
    forged = env.replace(b"\x03app", b"\x05ghost", 1)
    with pytest.raises(KeyNotFoundError, match="no such key"):
        EnvelopeCipher(ghost).decrypt(forged)
    elsewhere = provider(server, vault_ca_file, mount="not-mounted")
    with pytest.raises(KeyNotFoundError, match=r"not found \(404\)"):
        elsewhere.wrap(b"x" * 64)
    with pytest.raises(KeyNotFoundError, match="404"):
        provider(server, vault_ca_file, key="ghost").latest_version()
    # A provider for another key does not claim the envelope at all.
    with pytest.raises(KeyNotFoundError, match="no key-encryption provider"):
        EnvelopeCipher(ghost).decrypt(env)


def test_sealed_vault_is_503(server, vault_ca_file) -> None:
    # No retries: a sealed Vault would be asked again after 0.5, 1 and 2 seconds.
    cipher = EnvelopeCipher(provider(server, vault_ca_file, retries=0))
    env = cipher.encrypt(PLAINTEXT)
    server.vault.sealed = True
    calls = (lambda: cipher.decrypt(env), lambda: cipher.encrypt(b"x"), lambda: cipher.rewrap(env))
    for call in calls:
        with pytest.raises(KeyProviderError, match=r"sealed or not ready \(503\)"):
            call()


def test_altered_wrapped_key_is_opaque(server, vault_ca_file) -> None:
    cipher = EnvelopeCipher(provider(server, vault_ca_file))
    env = bytearray(cipher.encrypt(PLAINTEXT))
    size = inspect(bytes(env)).header_size
    env[size - 5] ^= 1  # inside Vault's ciphertext
    with pytest.raises(DecryptionError) as info:
        cipher.decrypt(bytes(env))
    assert str(info.value) == "decryption failed"


def test_datakey_and_batch_rewrap(server, vault_ca_file) -> None:
    p = provider(server, vault_ca_file)
    key, wrapped = p.generate_data_key(256)
    assert isinstance(key, Secret) and len(key.expose_secret()) == 32
    assert p.unwrap(wrapped) == key.expose_secret()
    assert "datakey/plaintext/app" in server.vault.requests[-2][1]
    with pytest.raises(ConfigError):
        p.generate_data_key(100)
    server.vault.transit_key("app").rotate()
    good = [p.wrap(bytes([i]) * 64) for i in range(3)]
    junk = WrappedKey("vault-transit", "app", 1, b"\x00" * 40)
    results = p.rewrap_batch([*good, junk])
    assert [type(r) for r in results] == [WrappedKey] * 3 + [DecryptionError]
    assert all(r.version == 2 for r in results[:3])
    assert [p.unwrap(r) for r in results[:3]] == [bytes([i]) * 64 for i in range(3)]
    assert p.rewrap_batch([]) == []


def test_migration_from_a_keyring_to_vault(server, vault_ca_file) -> None:
    ring = Keyring.generate()
    old = EnvelopeCipher(KeyringProvider(ring)).encrypt(PLAINTEXT, b"ad")
    cipher = EnvelopeCipher(provider(server, vault_ca_file), decrypt_with=[KeyringProvider(ring)])
    assert cipher.needs_rewrap(old)
    moved = cipher.rewrap(old)
    assert inspect(moved).provider == "vault-transit"
    assert EnvelopeCipher(provider(server, vault_ca_file)).decrypt(moved, b"ad") == PLAINTEXT


def test_migration_between_two_mounts_holding_the_same_key_name(server, vault_ca_file) -> None:
    """The header names the key, not its mount: the old mount's provider must get its turn
    when the new one cannot decrypt."""
    server.vault.transit_mounts.add(("", "transit-eu"))
    server.vault.transit_key("app", mount="transit-eu")
    old_mount = provider(server, vault_ca_file)
    old = EnvelopeCipher(old_mount).encrypt(PLAINTEXT, b"ad")
    cipher = EnvelopeCipher(
        provider(server, vault_ca_file, mount="transit-eu"), decrypt_with=[old_mount]
    )
    assert cipher.decrypt(old, b"ad") == PLAINTEXT
    moved = cipher.rewrap(old)
    assert (
        EnvelopeCipher(provider(server, vault_ca_file, mount="transit-eu")).decrypt(moved, b"ad")
        == PLAINTEXT
    )
    with pytest.raises(DecryptionError):
        EnvelopeCipher(old_mount).decrypt(moved, b"ad")


def test_version_cache(server, vault_ca_file) -> None:
    p = provider(server, vault_ca_file, version_cache_seconds=3600)
    assert p.latest_version() == 1
    server.vault.transit_key("app").rotate()
    assert p.latest_version() == 1
    assert p.latest_version(refresh=True) == 2


def test_configuration_errors(server, vault_ca_file, tmp_path) -> None:
    with pytest.raises(ConfigError, match="not https"):
        VaultTransitProvider("app", url="http://10.1.2.3:8200", token=TOKEN)
    with pytest.raises(ConfigError, match="exactly one"):
        VaultTransitProvider("app", url=server.url)
    with pytest.raises(ConfigError, match="exactly one"):
        VaultTransitProvider("app", url=server.url, token=TOKEN, approle=("a", "b"))
    with pytest.raises(ConfigError, match="not a Vault Transit key name"):
        VaultTransitProvider("a/b", url=server.url, token=TOKEN)
    with pytest.raises(ConfigError, match="cannot name a key"):
        VaultTransitProvider("with space", url=server.url, token=TOKEN)


def test_tls_is_verified(server) -> None:
    p = VaultTransitProvider("app", url=server.url, token=TOKEN)  # system CAs only
    with pytest.raises(KeyProviderError, match="TLS verification") as info:
        p.wrap(b"x" * 64)
    assert "ca=" in (info.value.hint or "")


def test_unreachable_vault() -> None:
    p = VaultTransitProvider("app", url="https://127.0.0.1:9", token=TOKEN, timeout=2)
    with pytest.raises(KeyProviderError, match="cannot reach Vault"):
        p.wrap(b"x" * 64)


def test_approle_and_a_ready_client(server, vault_ca_file) -> None:
    import hvac

    server.vault.approles["role-7"] = "secret-id-canary-9d1e"
    p = VaultTransitProvider(
        "app", url=server.url, ca=vault_ca_file, approle=("role-7", Secret("secret-id-canary-9d1e"))
    )
    cipher = EnvelopeCipher(p)
    assert cipher.decrypt(cipher.encrypt(PLAINTEXT)) == PLAINTEXT
    assert len([r for r in server.vault.requests if r[1] == "/v1/auth/approle/login"]) == 1
    client = hvac.Client(url=server.url, token=TOKEN, verify=str(vault_ca_file))
    ready = EnvelopeCipher(VaultTransitProvider("app", client=client))
    assert ready.decrypt(cipher.encrypt(PLAINTEXT)) == PLAINTEXT


def test_no_secret_in_logs_reprs_or_errors(server, vault_ca_file, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    p = provider(server, vault_ca_file)
    cipher = EnvelopeCipher(p)
    env = cipher.encrypt(PLAINTEXT, b"ctx")
    header = inspect(env)
    errors: list[SealboxError] = []
    for call in (
        lambda: cipher.decrypt(env, b"other"),
        lambda: EnvelopeCipher(provider(server, vault_ca_file, token="hvs.bad-token-0001")).decrypt(
            env
        ),
    ):
        try:
            call()
        except SealboxError as exc:
            errors.append(exc)
    server.vault.deny(TOKEN, "transit/decrypt/app")
    try:
        cipher.decrypt(env, b"ctx")
    except SealboxError as exc:
        errors.append(exc)
    assert len(errors) == 3
    texts = [caplog.text, repr(p), repr(cipher), str(header), repr(inspect(env))]
    texts += [f"{e!s} {e!r} {e.hint}" for e in errors]
    b64 = base64.b64encode(PLAINTEXT).decode()
    for text in texts:
        assert TOKEN not in text
        assert PLAINTEXT.decode() not in text and b64 not in text
        assert "vault:v" not in text


def test_an_envelope_of_another_mount_with_the_same_key_name_needs_rewrap(
    server, vault_ca_file, tmp_path
) -> None:
    """Same key name and version on two mounts: the newer mount's provider must not take
    the old mount's envelope as its own, current one."""
    server.vault.transit_mounts.add(("", "transit-eu"))
    server.vault.transit_key("app", mount="transit-eu")
    old_mount = provider(server, vault_ca_file)
    new_mount = provider(server, vault_ca_file, mount="transit-eu")
    old = EnvelopeCipher(old_mount).encrypt(PLAINTEXT, b"ad")
    cipher = EnvelopeCipher(new_mount, decrypt_with=[old_mount])
    assert cipher.needs_rewrap(old)
    path = tmp_path / "old.sbe"
    path.write_bytes(old)
    assert cipher.rewrap_file(path) is True
    moved = path.read_bytes()
    assert not cipher.needs_rewrap(moved)
    assert cipher.rewrap_file(path) is False
    assert EnvelopeCipher(new_mount).decrypt(moved, b"ad") == PLAINTEXT


def test_a_batch_rewrap_answers_a_key_it_does_not_hold_on_its_own(server, vault_ca_file) -> None:
    """Another Transit key's or provider's item is not sent to this key, and says so;
    the items around it are still rewrapped."""
    p = provider(server, vault_ca_file)
    good = [p.wrap(bytes([i]) * 64) for i in range(2)]
    server.vault.transit_key("app").rotate()
    other_key = WrappedKey("vault-transit", "billing", 1, b"\x00" * 40)
    keyring_key = WrappedKey("keyring", "0000abcd", 0, b"\x00" * 40)
    sent = len(server.vault.requests)
    results = p.rewrap_batch([good[0], other_key, keyring_key, good[1]])
    assert len(server.vault.requests) == sent + 1
    assert [type(r) for r in results] == [
        WrappedKey,
        KeyNotFoundError,
        KeyNotFoundError,
        WrappedKey,
    ]
    assert "'billing'" in str(results[1]) and "mount 'transit'" in str(results[1])
    assert [p.unwrap(r) for r in (results[0], results[3])] == [b"\x00" * 64, b"\x01" * 64]
    before = len(server.vault.requests)
    only_foreign = p.rewrap_batch([other_key])
    assert [type(r) for r in only_foreign] == [KeyNotFoundError]
    assert len(server.vault.requests) == before
