from __future__ import annotations

import json
import logging
import os
import pickle
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealbox.exceptions import (
    DecryptionError,
    FormatError,
    KeyNotFoundError,
    KeyStateError,
    StorageError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.keysets.fields import decode_token, encode_token, token_key_id
from sealbox.keysets.keyring import Keyring, KeyState
from sealbox.keysets.keyring_file import passphrase_sealer

CHEAP = kdf.ARGON2ID_TEST
CANARY_PASS = "canary-passphrase-51b7"
CANARY_PLAIN = b"canary-plaintext-e02c"


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


def test_seal_open_with_associated_data(ring: Keyring) -> None:
    token = ring.seal(b"value", b"users.email:1")
    assert token[0] == 1 and token_key_id(token) == ring.primary_id
    assert len(token) == 1 + 4 + 12 + 5 + 16
    assert ring.open(token, b"users.email:1") == b"value"
    with pytest.raises(DecryptionError):
        ring.open(token, b"users.email:2")
    with pytest.raises(DecryptionError):
        ring.open(token)
    assert ring.open(bytearray(token), b"users.email:1") == b"value"
    assert ring.open(memoryview(token), b"users.email:1") == b"value"


@pytest.mark.parametrize("algorithm", ["aes-256-gcm", "chacha20-poly1305", "aes-256-gcm-siv"])
def test_algorithms(algorithm: str) -> None:
    ring = Keyring.generate(algorithm)
    assert ring.keys()[0].algorithm == algorithm
    assert ring.open(ring.seal(b"x")) == b"x"


def test_unknown_algorithm() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="rot13"):
        Keyring.generate("rot13")


def test_damaged_tokens_are_one_opaque_error(ring: Keyring) -> None:
    token = ring.seal(b"secret value")
    damaged = [
        b"",
        token[:1],
        token[:5],
        token[:8],
        token[:17],
        token[:-1],
        token + b"\x00",
        b"\x03" + token[1:],
        b"\x02" + token[1:],
        token[:1] + bytes([token[1] ^ 1]) + token[2:],
        token[:10] + bytes([token[10] ^ 1]) + token[11:],
        token[:-1] + bytes([token[-1] ^ 1]),
        Keyring.generate().seal(b"secret value"),
    ]
    for bad in damaged:
        with pytest.raises(DecryptionError) as info:
            ring.open(bad)
        assert str(info.value) == "decryption failed"


def test_token_cannot_be_relabelled_to_another_key(ring: Keyring) -> None:
    old = ring.primary_id
    token = ring.seal(b"x")
    ring.rotate()
    relabelled = token[:1] + ring.primary_id.to_bytes(4, "big") + token[5:]
    with pytest.raises(DecryptionError):
        ring.open(relabelled)
    assert token_key_id(token) == old


def test_rotate_keeps_old_tokens_and_seals_with_new(ring: Keyring) -> None:
    first = ring.primary_id
    token = ring.seal(b"v1")
    info = ring.rotate()
    assert info.primary and info.id == ring.primary_id != first
    assert ring.open(token) == b"v1"
    assert token_key_id(ring.seal(b"v2")) == info.id
    assert [k.primary for k in ring] == [False, True]


def test_rotate_can_change_algorithm(ring: Keyring) -> None:
    info = ring.rotate("chacha20-poly1305")
    assert info.algorithm == "chacha20-poly1305"
    assert ring.rotate().algorithm == "chacha20-poly1305"


def test_reseal_moves_to_primary(ring: Keyring) -> None:
    token = ring.seal(b"payload", b"ad")
    det = ring.seal_deterministic(b"payload", b"ad")
    ring.rotate()
    moved = ring.reseal(token, b"ad")
    assert token_key_id(moved) == ring.primary_id
    assert ring.open(moved, b"ad") == b"payload"
    det_moved = ring.reseal(det, b"ad")
    assert det_moved[0] == 2 and token_key_id(det_moved) == ring.primary_id
    assert det_moved == ring.seal_deterministic(b"payload", b"ad")
    with pytest.raises(DecryptionError):
        ring.reseal(token, b"wrong")


def test_disable_enable_destroy(ring: Keyring) -> None:
    old = ring.primary_id
    token = ring.seal(b"x")
    with pytest.raises(KeyStateError, match="primary") as info:
        ring.disable(old)
    assert info.value.hint and "rotate" in info.value.hint
    ring.rotate()
    ring.disable(old)
    ring.disable(old)  # idempotent
    with pytest.raises(DecryptionError):
        ring.open(token)
    ring.enable(old)
    assert ring.open(token) == b"x"
    with pytest.raises(KeyStateError, match="disabled before"):
        ring.destroy(old)
    ring.disable(old)
    ring.destroy(old)
    ring.destroy(old)  # idempotent
    assert {k.id: k.state for k in ring}[old] is KeyState.DESTROYED
    with pytest.raises(DecryptionError):
        ring.open(token)
    with pytest.raises(KeyStateError, match="destroyed"):
        ring.enable(old)
    with pytest.raises(KeyStateError, match="destroyed"):
        ring.disable(old)
    with pytest.raises(KeyStateError):
        ring.set_primary(old)
    with pytest.raises(KeyNotFoundError, match="00000001"):
        ring.disable(1)


def test_set_primary_rolls_back_a_rotation(ring: Keyring) -> None:
    first = ring.primary_id
    ring.rotate()
    ring.set_primary(first)
    assert token_key_id(ring.seal(b"x")) == first


def test_deterministic_tokens(ring: Keyring) -> None:
    a = ring.seal_deterministic(b"alice@example.com", b"users.email")
    assert a == ring.seal_deterministic(b"alice@example.com", b"users.email")
    assert a != ring.seal_deterministic(b"alice@example.com", b"users.name")
    assert a[0] == 2
    assert ring.open(a, b"users.email") == b"alice@example.com"
    with pytest.raises(DecryptionError):
        ring.open(a, b"users.name")
    with pytest.raises(DecryptionError):
        ring.open(a[:-1] + bytes([a[-1] ^ 1]), b"users.email")
    with pytest.raises(DecryptionError):
        ring.open(a[:6], b"users.email")
    old = ring.primary_id
    ring.rotate()
    both = ring.deterministic_tokens(b"alice@example.com", b"users.email")
    assert both[old] == a and set(both) == {old, ring.primary_id}


def test_blind_index_across_rotation(ring: Keyring) -> None:
    stored = ring.blind_index(b"alice@example.com", b"users.email")
    assert len(stored) == 32
    assert stored == ring.blind_index(b"alice@example.com", b"users.email")
    assert stored != ring.blind_index(b"alice@example.com", b"users.login")
    # The context is length-prefixed: moving bytes between context and value changes it.
    assert ring.blind_index(b"ab", b"c") != ring.blind_index(b"b", b"ca")
    ring.rotate()
    candidates = ring.blind_indexes(b"alice@example.com", b"users.email")
    assert stored in candidates.values() and len(candidates) == 2
    assert ring.blind_index(b"alice@example.com", b"users.email") != stored


def test_text_form(ring: Keyring) -> None:
    text = ring.seal_text("héllo", b"ad")
    assert text.isascii() and "=" not in text and "+" not in text and "/" not in text
    assert ring.open_text(text, b"ad") == "héllo".encode()
    assert ring.open_text(f"  {text}\n", b"ad") == "héllo".encode()
    for bad in (text + "!", text.replace(text[3], "+"), text[:-1] + "=", "a", "é"):
        with pytest.raises(DecryptionError):
            ring.open_text(bad, b"ad")
    assert decode_token(encode_token(b"\x00\xff" * 7)) == b"\x00\xff" * 7


def test_listing_never_shows_material(ring: Keyring) -> None:
    ring.rotate()
    infos = ring.keys()
    assert [set(i.to_dict()) for i in infos] == [
        {"id", "algorithm", "state", "primary", "created"}
    ] * 2
    assert len(ring) == 2 and infos[0].id in ring and list(ring) == infos
    material = json.loads(ring.serialize_unencrypted())["keys"][0]["material"]
    for text in (repr(ring), repr(infos), str(infos[0].to_dict())):
        assert material not in text
    with pytest.raises(TypeError):
        pickle.dumps(ring)


def test_injected_clock() -> None:
    t0 = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    ring = Keyring.generate(now=t0)
    assert ring.keys()[0].created == t0.replace(microsecond=0)
    assert ring.keys()[0].to_dict()["created"] == "2030-01-02T03:04:05Z"


def test_unencrypted_round_trip(ring: Keyring) -> None:
    token = ring.seal(b"x")
    ring.rotate()
    old = token_key_id(token)
    ring.disable(old)
    again = Keyring.from_unencrypted(ring.serialize_unencrypted())
    assert again.keys() == ring.keys()
    again.enable(old)
    assert again.open(token) == b"x"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(keys=[]), "no keys"),
        (lambda d: d.update(primary="zzzzzzzz"), "8 hex digits"),
        (lambda d: d.update(primary="00000001"), "not in the keyring"),
        (lambda d: d["keys"][0].update(state="lost"), "state"),
        (lambda d: d["keys"][0].update(material="AAAA"), "32 bytes"),
        (lambda d: d["keys"][0].update(material=None), "base64"),
        (lambda d: d["keys"][0].update(created="yesterday"), "RFC 3339"),
        (lambda d: d["keys"][0].update(created="2026-01-01T00:00:00"), "time zone"),
        (lambda d: d["keys"][0].update(algorithm="des"), "unknown algorithm"),
        (lambda d: d["keys"].append(dict(d["keys"][0])), "same id"),
        (lambda d: d["keys"][0].update(state="disabled"), "disabled; it must be active"),
        (lambda d: d["keys"][0].update(state="destroyed"), "still holds material"),
    ],
)
def test_unencrypted_parse_errors(ring: Keyring, mutate, message: str) -> None:
    doc = json.loads(ring.serialize_unencrypted())
    material = doc["keys"][0]["material"]
    mutate(doc)
    with pytest.raises((FormatError, UnsupportedAlgorithmError), match=message) as info:
        Keyring.from_unencrypted(json.dumps(doc).encode())
    assert material not in str(info.value)


def test_not_json() -> None:
    with pytest.raises(FormatError, match="JSON"):
        Keyring.from_unencrypted(b"\xff")
    with pytest.raises(FormatError, match="not a sealbox keyring file"):
        Keyring.decrypt(b"{}", "pw")
    with pytest.raises(FormatError, match="not JSON"):
        Keyring.decrypt(b"age-encryption.org/v1\n", "pw")


def test_save_load_mode_and_no_plaintext_on_disk(tmp_path: Path, ring: Keyring) -> None:
    path = tmp_path / "app.keyring"
    token = ring.seal(CANARY_PLAIN)
    ring.save(path, CANARY_PASS, kdf_params=CHEAP)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    material = json.loads(ring.serialize_unencrypted())["keys"][0]["material"]
    for canary in (CANARY_PASS.encode(), material.encode(), CANARY_PLAIN):
        assert canary not in data
    loaded = Keyring.load(path, CANARY_PASS)
    assert loaded.open(token) == CANARY_PLAIN
    assert json.loads(data)["kdf"]["time_cost"] == CHEAP.time_cost


def test_wrong_passphrase_and_tampering(tmp_path: Path, ring: Keyring) -> None:
    path = tmp_path / "k"
    ring.save(path, CANARY_PASS, kdf_params=CHEAP)
    before = path.read_bytes()
    with pytest.raises(DecryptionError, match="wrong passphrase") as info:
        Keyring.load(path, "wrong")
    assert CANARY_PASS not in str(info.value)
    doc = json.loads(before)
    flipped = doc["data"][:-2] + ("AA" if doc["data"][-2:] != "AA" else "BB")
    with pytest.raises(DecryptionError):
        Keyring.decrypt(json.dumps(dict(doc, data=flipped)).encode(), CANARY_PASS)
    doc3 = json.loads(before)
    doc3["kdf"]["time_cost"] = 2  # parameters are authenticated (and change the key)
    with pytest.raises(DecryptionError):
        Keyring.decrypt(json.dumps(doc3).encode(), CANARY_PASS)
    doc4 = json.loads(before)
    doc4["kdf"]["memory_cost"] = 64 * 1024 * 1024
    with pytest.raises(FormatError, match="maximum"):
        Keyring.decrypt(json.dumps(doc4).encode(), CANARY_PASS)
    doc5 = json.loads(before)
    doc5["kdf"]["salt"] = "AAAA"
    with pytest.raises(FormatError, match="salt"):
        Keyring.decrypt(json.dumps(doc5).encode(), CANARY_PASS)
    doc6 = dict(json.loads(before), cipher="rot13")
    with pytest.raises(UnsupportedAlgorithmError):
        Keyring.decrypt(json.dumps(doc6).encode(), CANARY_PASS)
    assert path.read_bytes() == before


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        Keyring.load(tmp_path / "missing", "pw")
    with pytest.raises(StorageError, match="directory"):
        Keyring.load(tmp_path, "pw")
    big = tmp_path / "big"
    big.write_bytes(b" " * (16 * 1024 * 1024 + 1))
    with pytest.raises(StorageError, match="larger"):
        Keyring.load(big, "pw")


def test_save_refuses_overwrite_when_asked(tmp_path: Path, ring: Keyring) -> None:
    path = tmp_path / "k"
    path.write_text("precious")
    with pytest.raises(StorageError, match="already exists"):
        ring.save(path, "pw", kdf_params=CHEAP, overwrite=False)
    assert path.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == [".k.lock", "k"]  # the lock stays; no temporary


def test_failed_write_leaves_old_file(tmp_path: Path, ring: Keyring, monkeypatch) -> None:
    path = tmp_path / "k"
    ring.save(path, "pw", kdf_params=CHEAP)
    before = path.read_bytes()
    ring.rotate()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError, match="no space left"):
        ring.save(path, "pw", kdf_params=CHEAP)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [".k.lock", "k"]  # no temporary file left behind


def test_concurrent_seal_during_rotation(ring: Keyring) -> None:
    tokens: list[bytes] = []
    stop = threading.Event()

    def sealer() -> None:
        while not stop.is_set():
            tokens.append(ring.seal(b"concurrent"))

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(50):
        ring.rotate()
    stop.set()
    for t in threads:
        t.join()
    assert tokens
    assert all(ring.open(t) == b"concurrent" for t in tokens)


def test_no_canary_in_logs_of_any_operation(tmp_path: Path, caplog, ring: Keyring) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "k"
    token = ring.seal(CANARY_PLAIN, b"ad")
    ring.save(path, CANARY_PASS, kdf_params=CHEAP)
    loaded = Keyring.load(path, CANARY_PASS)
    loaded.open(token, b"ad")
    for call in (
        lambda: Keyring.load(path, CANARY_PASS + "x"),
        lambda: loaded.open(token, b"other"),
        lambda: loaded.open(token[:-1], b"ad"),
    ):
        with pytest.raises(DecryptionError) as info:
            call()
        assert CANARY_PASS not in str(info.value)
        assert CANARY_PLAIN.decode() not in repr(info.value)
    material = json.loads(ring.serialize_unencrypted())["keys"][0]["material"]
    for canary in (CANARY_PASS, CANARY_PLAIN.decode(), material):
        assert canary not in caplog.text


def _old_spelling_document(ring: Keyring, disabled: int | None = None) -> bytes:
    # A keyring document as sealbox wrote it before the shared vocabulary: every key
    # that opens tokens says "enabled".
    doc = json.loads(ring.serialize_unencrypted())
    for key in doc["keys"]:
        key["state"] = "disabled" if int(key["id"], 16) == disabled else "enabled"
    return json.dumps(doc).encode()


def test_a_keyring_file_in_the_old_words_loads_as_active_and_decrypt_only(
    tmp_path: Path,
) -> None:
    ring = Keyring.generate()
    oldest = ring.primary_id
    old_token = ring.seal(b"before rotation")
    middle = ring.rotate().id
    newest = ring.rotate().id
    ring.disable(middle)
    path = tmp_path / "old.keyring"
    sealer = passphrase_sealer("old words", kdf_params=kdf.ARGON2ID_TEST)
    path.write_bytes(sealer.seal(_old_spelling_document(ring, disabled=middle)))
    assert b'"enabled"' in sealer.open(path.read_bytes())

    loaded = Keyring.load(path, "old words")
    states = {k.id: k.state for k in loaded}
    assert states == {
        oldest: KeyState.DECRYPT_ONLY,
        middle: KeyState.DISABLED,
        newest: KeyState.ACTIVE,
    }
    assert loaded.primary_id == newest
    assert loaded.open(old_token) == b"before rotation"


def test_saving_writes_the_new_words_only(tmp_path: Path) -> None:
    ring = Keyring.from_unencrypted(_old_spelling_document(_rotated(Keyring.generate())))
    path = tmp_path / "new.keyring"
    ring.save(path, "new words", kdf_params=kdf.ARGON2ID_TEST)
    plain = passphrase_sealer("new words").open(path.read_bytes())
    written = [k["state"] for k in json.loads(plain)["keys"]]
    assert sorted(written) == ["active", "decrypt-only"]
    assert b"enabled" not in plain


def _rotated(ring: Keyring) -> Keyring:
    ring.rotate()
    return ring


def test_rotation_and_set_primary_move_the_one_active_key() -> None:
    ring = Keyring.generate()
    first = ring.primary_id
    second = ring.rotate().id
    assert {k.id: k.state for k in ring} == {
        first: KeyState.DECRYPT_ONLY,
        second: KeyState.ACTIVE,
    }
    ring.set_primary(first)
    assert {k.id: k.state for k in ring} == {
        first: KeyState.ACTIVE,
        second: KeyState.DECRYPT_ONLY,
    }


def test_enabling_a_disabled_key_makes_it_decrypt_only_and_it_opens_again() -> None:
    ring = Keyring.generate()
    old = ring.primary_id
    token = ring.seal(b"x")
    ring.rotate()
    ring.disable(old)
    with pytest.raises(DecryptionError):
        ring.open(token)
    with pytest.raises(KeyStateError) as info:
        ring.set_primary(old)
    assert info.value.code == "key_not_usable"
    assert info.value.facts == {"key_id": f"{old:08x}", "state": "disabled"}
    ring.enable(old)
    assert {k.id: k.state for k in ring}[old] is KeyState.DECRYPT_ONLY
    assert ring.open(token) == b"x"


def test_a_keyring_takes_key_ids_as_the_hex_digits_listings_print() -> None:
    ring = Keyring.generate()
    old = ring.keys()[0]
    ring.rotate()
    assert old.hex_id in ring and f"0x{old.hex_id.upper()}" in ring
    ring.disable(old.hex_id)
    assert ring.keys()[0].state is KeyState.DISABLED
    ring.enable(f"0x{old.hex_id}")
    assert ring.keys()[0].state is KeyState.DECRYPT_ONLY
    ring.set_primary(old.hex_id.upper())
    assert ring.primary_id == old.id


@pytest.mark.parametrize("bad", ["zz", "", "10f571e", "10f571e3aa", "G0f571e3", "10f5 71e3"])
def test_a_string_that_is_no_key_id_is_a_format_error_with_its_code(bad: str) -> None:
    ring = Keyring.generate()
    for operation in (ring.disable, ring.enable, ring.destroy, ring.set_primary):
        with pytest.raises(FormatError) as info:
            operation(bad)
        assert info.value.code == "bad_key_id"
        assert info.value.facts == {"key_id": bad}
    assert bad not in ring


def test_an_unknown_key_id_is_key_not_found_with_the_id_in_its_facts() -> None:
    ring = Keyring.generate()
    ring.rotate()
    unknown = next(f"{i:08x}" for i in range(1, 99) if i not in ring)
    with pytest.raises(KeyNotFoundError) as info:
        ring.disable(unknown)
    assert info.value.code == "key_not_found"
    assert info.value.facts == {"key_id": unknown}
    assert not isinstance(info.value, TypeError)


def test_a_keyring_too_large_to_load_again_is_not_written(tmp_path: Path, monkeypatch) -> None:
    from sealbox.exceptions import StorageError
    from sealbox.keysets import keyring_store

    path = tmp_path / "k.keyring"
    ring = Keyring.generate()
    ring.save(path, CANARY_PASS, kdf_params=CHEAP)
    before = path.read_bytes()
    monkeypatch.setattr(keyring_store, "MAX_FILE_SIZE", len(before) + 10)
    for _ in range(3):
        ring.rotate()
    with pytest.raises(StorageError, match=r"more than the \d+ sealbox reads back") as info:
        ring.save(path, CANARY_PASS, kdf_params=CHEAP)
    assert info.value.hint is not None and "destroy the keys no longer needed" in info.value.hint
    assert path.read_bytes() == before
