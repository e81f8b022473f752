"""sealbox.keysets.envelope with the local providers: keyring and age recipients."""

from __future__ import annotations

import io
import os
import stat

import pytest

from sealbox import age
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    FormatError,
    KeyNotFoundError,
    NoIdentityMatchError,
    StorageError,
)
from sealbox.keysets.envelope import (
    AgeProvider,
    EnvelopeCipher,
    KeyProvider,
    KeyringProvider,
    inspect,
    parse_header,
)
from sealbox.keysets.envelope.format import MAGIC, EnvelopeHeader, WrappedKey
from sealbox.keysets.keyring import Keyring

DATA = b"the quarterly figures, not yet public"


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def cipher(ring) -> EnvelopeCipher:
    return EnvelopeCipher(KeyringProvider(ring))


def data_of(envelope: bytes) -> bytes:
    return envelope[inspect(envelope).header_size :]


# -- sealed envelopes -----------------------------------------------------------------


def test_round_trip_and_header(cipher, ring) -> None:
    env = cipher.encrypt(DATA, b"reports/q3")
    assert env.startswith(MAGIC + b"\x01")
    info = inspect(env)
    assert info.mode == "sealed" and info.provider == "keyring"
    assert info.key_id == f"{ring.primary_id:08x}" and info.key_version is None
    assert info.to_dict()["format"] == "sealbox-envelope/1"
    # header | nonce (12) | ciphertext | tag (16)
    assert len(env) == info.header_size + 12 + len(DATA) + 16
    assert cipher.decrypt(env, b"reports/q3") == DATA
    assert cipher.encrypt(DATA, b"reports/q3") != env  # a fresh data key every time


def test_empty_and_large_values(cipher) -> None:
    assert cipher.decrypt(cipher.encrypt(b"")) == b""
    big = os.urandom(3 * 1024 * 1024)
    assert cipher.decrypt(cipher.encrypt(big, b"x"), b"x") == big


def test_associated_data_is_enforced(cipher) -> None:
    env = cipher.encrypt(DATA, b"users/42")
    for wrong in (b"", b"users/43", b"users/42 "):
        with pytest.raises(DecryptionError) as info:
            cipher.decrypt(env, wrong)
        assert str(info.value) == "decryption failed"


def test_text_form(cipher) -> None:
    text = cipher.encrypt_text("naïve café", b"t")
    assert text.isascii() and "=" not in text
    assert cipher.decrypt(text, b"t") == "naïve café".encode()
    assert cipher.decrypt(f"  {text}\n", b"t") == "naïve café".encode()
    assert inspect(text).mode == "sealed"
    with pytest.raises(FormatError, match="not URL-safe base64"):
        cipher.decrypt(text[:-1] + "!", b"t")


def test_text_with_a_lone_surrogate_is_bad_value_quoting_nothing_of_it(cipher) -> None:
    """As Keyring.seal_text: UnicodeEncodeError would quote the character, a piece of
    the value being encrypted."""
    with pytest.raises(ConfigError, match="lone surrogate") as info:
        cipher.encrypt_text("pin 4071\udcff")
    assert info.value.code == "bad_value"
    assert "udcff" not in str(info.value) and "4071" not in str(info.value)


def test_every_altered_byte_is_refused(cipher) -> None:
    env = cipher.encrypt(b"short", b"ad")
    for i in range(len(env)):
        altered = bytearray(env)
        altered[i] ^= 0x01
        with pytest.raises((DecryptionError, FormatError, KeyNotFoundError)):
            cipher.decrypt(bytes(altered), b"ad")
    for n in range(len(env)):
        with pytest.raises((DecryptionError, FormatError)):
            cipher.decrypt(env[:n], b"ad")


def test_header_parse_errors_are_precise(cipher) -> None:
    env = cipher.encrypt(DATA)
    cases = {
        b"PK\x03\x04rest": "does not start with 'sbe'",
        b"sbe\x02" + env[4:]: "unsupported envelope format version 2",
        MAGIC + b"\x07" + env[5:]: "unknown envelope mode 0x07",
        env[:9]: "truncated: the provider name is missing",
        MAGIC + b"\x01\x02K!": "truncated",
        MAGIC + b"\x01\x02KR" + env[13:]: "provider name 'KR'",
    }
    for data, message in cases.items():
        with pytest.raises(FormatError, match=message):
            parse_header(data)
    with pytest.raises(FormatError, match="not ASCII"):
        parse_header(MAGIC + b"\x01\x01\xff")


def test_header_serialisation_round_trip() -> None:
    w = WrappedKey("vault-transit", "payments", 7, b"\x01\x02\x03")
    header = EnvelopeHeader(2, w)
    raw = header.to_bytes()
    assert raw == MAGIC + b"\x02\x0dvault-transit\x08payments\x00\x00\x00\x07\x00\x03\x01\x02\x03"
    assert parse_header(raw + b"data") == (header, len(raw))
    assert "\\x01" not in repr(w) and "3 bytes" in repr(w)
    for bad in (
        lambda: WrappedKey("Bad", "k", 0, b"x"),
        lambda: WrappedKey("p", "", 0, b"x"),
        lambda: WrappedKey("p", "k", -1, b"x"),
        lambda: WrappedKey("p", "k", 0, b""),
        lambda: WrappedKey("p", "k k", 0, b"x"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_a_field_token_is_not_a_wrapped_key(cipher, ring) -> None:
    # Wrapped keys are sealed with their own associated data: a keyring token made
    # for a database field cannot stand in for one, and the reverse.
    env = cipher.encrypt(DATA)
    header, _ = parse_header(env)
    with pytest.raises(DecryptionError):
        ring.open(header.wrapped.ciphertext)
    forged = EnvelopeHeader(
        1, WrappedKey("keyring", header.wrapped.key_id, 0, ring.seal(b"k" * 64))
    )
    with pytest.raises(DecryptionError):
        cipher.decrypt(forged.to_bytes() + data_of(env))


def test_key_id_must_match_the_token(cipher, ring) -> None:
    env = cipher.encrypt(DATA)
    old_id = inspect(env).key_id
    ring.rotate()
    header, size = parse_header(env)
    relabelled = WrappedKey("keyring", f"{ring.primary_id:08x}", 0, header.wrapped.ciphertext)
    with pytest.raises(DecryptionError):
        cipher.decrypt(EnvelopeHeader(1, relabelled).to_bytes() + env[size:])
    assert inspect(env).key_id == old_id


# -- rotation and rewrap --------------------------------------------------------------


def test_rewrap_after_rotation_keeps_data_and_plaintext(cipher, ring) -> None:
    env = cipher.encrypt(DATA, b"ad")
    old_key = ring.primary_id
    assert not cipher.needs_rewrap(env)
    ring.rotate()
    assert cipher.needs_rewrap(env)
    new = cipher.rewrap(env)
    assert inspect(new).key_id == f"{ring.primary_id:08x}"
    assert data_of(new) == data_of(env)
    assert not cipher.needs_rewrap(new)
    ring.disable(old_key)
    with pytest.raises(DecryptionError):
        cipher.decrypt(env, b"ad")
    assert cipher.decrypt(new, b"ad") == DATA


def test_rewrap_text_and_header_only(cipher, ring) -> None:
    text = cipher.encrypt_text(DATA, b"ad")
    ring.rotate()
    new_text = cipher.rewrap(text)
    assert isinstance(new_text, str)
    assert cipher.decrypt(new_text, b"ad") == DATA
    env = cipher.encrypt(DATA, b"ad")
    size = inspect(env).header_size
    ring.rotate()
    new_header = cipher.rewrap(env[:size])
    assert cipher.decrypt(new_header + env[size:], b"ad") == DATA


def test_unknown_provider_or_key(cipher, ring) -> None:
    env = cipher.encrypt(DATA)
    other = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    with pytest.raises(KeyNotFoundError, match="no key-encryption provider given can unwrap"):
        other.decrypt(env)
    with pytest.raises(KeyNotFoundError):
        other.rewrap(env)
    assert other.needs_rewrap(env)
    both = EnvelopeCipher(KeyringProvider(Keyring.generate()), decrypt_with=[KeyringProvider(ring)])
    assert both.decrypt(env) == DATA
    moved = both.rewrap(env)
    assert inspect(moved).key_id == f"{both.provider.keyring.primary_id:08x}"  # type: ignore[attr-defined]
    assert both.decrypt(moved) == DATA
    assert "KeyringProvider" in repr(both)
    assert isinstance(KeyringProvider(ring), KeyProvider)


# -- age recipients -------------------------------------------------------------------


def test_age_provider_round_trip_and_recipient_change() -> None:
    alice, bob = age.X25519Identity.generate(), age.X25519Identity.generate()
    first = AgeProvider([alice.recipient()], [alice])
    cipher = EnvelopeCipher(first)
    env = cipher.encrypt(DATA, b"ad")
    info = inspect(env)
    assert info.provider == "age" and info.key_id.startswith("age-") and len(info.key_id) == 20
    assert cipher.decrypt(env, b"ad") == DATA
    # The wrapped key is an ordinary binary age file.
    assert parse_header(env)[0].wrapped.ciphertext.startswith(b"age-encryption.org/v1\n")
    second = AgeProvider([alice.recipient(), bob.recipient()], [alice])
    assert second.key_id != first.key_id
    moved = EnvelopeCipher(second)
    assert moved.needs_rewrap(env)
    new = moved.rewrap(env)
    assert not moved.needs_rewrap(new) and data_of(new) == data_of(env)
    assert EnvelopeCipher(AgeProvider(identities=[bob])).decrypt(new, b"ad") == DATA
    with pytest.raises(NoIdentityMatchError):
        EnvelopeCipher(AgeProvider(identities=[bob])).decrypt(env, b"ad")


def test_rotating_age_identities_decrypts_and_rewraps_through_decrypt_with() -> None:
    """Every age provider handles every age envelope: one whose identities do not open it
    must let the next provider try, or the migration decrypt_with is for cannot happen."""
    old, new = age.X25519Identity.generate(), age.X25519Identity.generate()
    env = EnvelopeCipher(AgeProvider([old.recipient()], [old])).encrypt(DATA, b"ad")
    cipher = EnvelopeCipher(
        AgeProvider([new.recipient()], [new]), decrypt_with=[AgeProvider(identities=[old])]
    )
    assert cipher.decrypt(env, b"ad") == DATA
    assert cipher.decryptor(io.BytesIO(env), b"ad").read() == DATA
    assert cipher.needs_rewrap(env)
    moved = cipher.rewrap(env)
    assert not cipher.needs_rewrap(moved) and data_of(moved) == data_of(env)
    assert EnvelopeCipher(AgeProvider(identities=[new])).decrypt(moved, b"ad") == DATA
    # Still one answer when nobody opens it, and other associated data still fails.
    stranger = EnvelopeCipher(
        AgeProvider(identities=[new]), decrypt_with=[AgeProvider(identities=[new])]
    )
    with pytest.raises(NoIdentityMatchError):
        stranger.decrypt(env, b"ad")
    with pytest.raises(DecryptionError):
        cipher.decrypt(env, b"other")


def test_two_keyrings_naming_the_same_key_id_each_get_their_turn(ring) -> None:
    """A restored copy of a keyring beside the live one: the first that opens it wins."""
    env = EnvelopeCipher(KeyringProvider(ring)).encrypt(DATA)
    twin = Keyring.from_unencrypted(ring.serialize_unencrypted())
    twin.rotate()
    twin.disable(ring.primary_id)
    cipher = EnvelopeCipher(KeyringProvider(twin), decrypt_with=[KeyringProvider(ring)])
    assert cipher.decrypt(env) == DATA
    assert cipher.decrypt(cipher.rewrap(env)) == DATA


def test_age_provider_configuration() -> None:
    me = age.X25519Identity.generate()
    with pytest.raises(ConfigError, match="needs recipients, identities or both"):
        AgeProvider()
    with pytest.raises(ConfigError, match="no public text form") as info:
        AgeProvider([age.ScryptRecipient("correct horse", work_factor=10)])
    assert "key_id=" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="key id"):
        AgeProvider([me.recipient()], key_id="two words")
    labelled = AgeProvider([age.ScryptRecipient("pw", work_factor=10)], key_id="ops-2026")
    assert labelled.key_id == "ops-2026"
    env = EnvelopeCipher(AgeProvider([me.recipient()])).encrypt(DATA)
    with pytest.raises(KeyNotFoundError):
        EnvelopeCipher(AgeProvider([me.recipient()])).decrypt(env)  # no identity to try
    with pytest.raises(ConfigError, match="no identities"):
        AgeProvider([me.recipient()]).unwrap(parse_header(env)[0].wrapped)
    with pytest.raises(ConfigError, match="no recipients"):
        EnvelopeCipher(AgeProvider(identities=[me])).encrypt(DATA)
    assert "recipients=1" in repr(AgeProvider([me.recipient()]))


def test_age_wrapped_key_that_is_not_age_is_opaque() -> None:
    me = age.X25519Identity.generate()
    cipher = EnvelopeCipher(AgeProvider([me.recipient()], [me]))
    env = cipher.encrypt(DATA)
    header, size = parse_header(env)
    junk = WrappedKey("age", header.wrapped.key_id, 0, b"not an age file")
    with pytest.raises(DecryptionError):
        cipher.decrypt(EnvelopeHeader(1, junk).to_bytes() + env[size:])


# -- streams and files ----------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536 + 17])
@pytest.mark.parametrize("parallel", [False, True])
def test_stream_round_trip(cipher, size, parallel) -> None:
    data = os.urandom(size)
    out = io.BytesIO()
    with cipher.encryptor(out, b"obj/1", parallel=parallel) as w:
        assert w.writable()
        w.write(data[: size // 2])
        w.write(data[size // 2 :])
    assert w.closed and not w.writable()
    env = out.getvalue()
    info = inspect(env)
    assert info.mode == "stream"
    # header | age payload: nonce (16) | chunks of 64 KiB + 16
    chunks = max(1, -(-size // 65536))
    assert len(env) == info.header_size + 16 + size + 16 * chunks
    reader = cipher.decryptor(io.BytesIO(env), b"obj/1", parallel=parallel)
    assert reader.readable()
    assert reader.read() == data
    reader.close()
    assert cipher.decrypt(env, b"obj/1") == data


def test_stream_reader_refuses_before_reading(cipher) -> None:
    out = io.BytesIO()
    with cipher.encryptor(out, b"a") as w:
        w.write(DATA)

    class Counting(io.BytesIO):
        reads = 0

        def read(self, n=-1):
            Counting.reads += 1
            return super().read(n)

    src = Counting(out.getvalue())
    with pytest.raises(DecryptionError):
        cipher.decryptor(src, b"b")
    # Only the header was looked at: a wrong associated data fails at the unwrap.
    assert src.tell() <= inspect(out.getvalue()).header_size + 70000


_REFUSED_READERS = """
import gc, io
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.keyring import Keyring
cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
for refused in (b"not an envelope", cipher.encrypt(b"x", b"a")):
    try:
        cipher.decryptor(io.BytesIO(refused), b"b")
    except Exception as exc:
        print(type(exc).__name__)
    gc.collect()
"""


def test_a_reader_refused_at_its_start_is_collected_without_an_error() -> None:
    """The half-made reader is closed when collected: its close must not fail on what was
    never set (Python prints that on stderr in development mode, -X dev)."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-X", "dev", "-c", _REFUSED_READERS],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.split() == ["FormatError", "DecryptionError"]
    assert run.stderr == ""


def test_stream_truncated_or_altered(cipher) -> None:
    out = io.BytesIO()
    with cipher.encryptor(out) as w:
        w.write(os.urandom(200_000))
    env = out.getvalue()
    size = inspect(env).header_size
    for bad in (env[:-1], env[: size + 16 + 65536 + 16], env + b"x", env[: size + 3]):
        with pytest.raises(DecryptionError):
            cipher.decryptor(io.BytesIO(bad)).read()
    altered = bytearray(env)
    altered[size + 16 + 70000] ^= 1
    reader = cipher.decryptor(io.BytesIO(bytes(altered)))
    with pytest.raises(DecryptionError):
        reader.read()


def test_interrupted_stream_never_decrypts(cipher) -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), cipher.encryptor(out) as w:
        w.write(b"partial")
        raise RuntimeError("boom")
    with pytest.raises(DecryptionError):
        cipher.decrypt(out.getvalue())


def test_decryptor_reads_sealed_envelopes(cipher) -> None:
    env = cipher.encrypt(DATA, b"x")
    reader = cipher.decryptor(io.BytesIO(env), b"x")
    assert b"".join(bytes(v) for v in reader.views()) == DATA
    assert reader.read() == b""
    env2 = cipher.encrypt(DATA, b"x")
    reader = cipher.decryptor(io.BytesIO(env2), b"x")
    buf = bytearray(5)
    assert reader.readinto(buf) == 5 and bytes(buf) == DATA[:5]
    for bad in (env[:-1], env[: inspect(env).header_size + 10]):
        with pytest.raises(DecryptionError):
            cipher.decryptor(io.BytesIO(bad), b"x")


def test_files(cipher, ring, tmp_path) -> None:
    src = tmp_path / "report.pdf"
    src.write_bytes(os.urandom(300_000))
    env_path = tmp_path / "report.pdf.sbe"
    out = tmp_path / "report.out"
    cipher.encrypt_file(src, env_path, b"reports/7")
    assert inspect(env_path.read_bytes()).mode == "stream"
    cipher.decrypt_file(env_path, out, b"reports/7")
    assert out.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(StorageError, match="already exists"):
        cipher.decrypt_file(env_path, out, b"reports/7")
    with pytest.raises(StorageError, match="already exists"):
        cipher.encrypt_file(src, env_path)
    with pytest.raises(StorageError, match="is the input file"):
        cipher.encrypt_file(src, src, overwrite=True)
    with pytest.raises(StorageError, match="does not exist"):
        cipher.encrypt_file(tmp_path / "nope", tmp_path / "nope.sbe")
    with pytest.raises(StorageError, match="is a directory"):
        cipher.encrypt_file(tmp_path, tmp_path / "dir.sbe")
    # A wrong associated data leaves nothing behind.
    with pytest.raises(DecryptionError):
        cipher.decrypt_file(env_path, tmp_path / "wrong.out", b"reports/8")
    assert not (tmp_path / "wrong.out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.out",
        "report.pdf",
        "report.pdf.sbe",
    ]


def test_rewrap_file(cipher, ring, tmp_path) -> None:
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(150_000))
    env_path = tmp_path / "blob.sbe"
    cipher.encrypt_file(src, env_path, b"b")
    env_path.chmod(0o640)
    before = env_path.read_bytes()
    assert cipher.rewrap_file(env_path) is False  # already current
    assert env_path.read_bytes() == before
    assert cipher.rewrap_file(env_path, force=True) is True
    ring.rotate()
    assert cipher.rewrap_file(env_path) is True
    after = env_path.read_bytes()
    assert data_of(after) == data_of(before)
    assert inspect(after).key_id == f"{ring.primary_id:08x}"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o640
    out = tmp_path / "blob.out"
    cipher.decrypt_file(env_path, out, b"b")
    assert out.read_bytes() == src.read_bytes()
    # A provider that cannot unwrap it leaves the file as it was.
    other = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    with pytest.raises(KeyNotFoundError):
        other.rewrap_file(env_path)
    assert env_path.read_bytes() == after
    with pytest.raises(StorageError):
        cipher.rewrap_file(tmp_path / "missing")
    (tmp_path / "plain").write_bytes(b"hello")
    with pytest.raises(FormatError):
        cipher.rewrap_file(tmp_path / "plain")


def test_rewrap_file_keeps_what_another_writer_saved_meanwhile(ring, tmp_path) -> None:
    # A rotation job rewraps the file while the application saves a new version of it:
    # the new version must survive, not be replaced by the old data under a new header.
    env_path = tmp_path / "ledger.sbe"
    calls = []

    class AnotherWriterSavesDuringRewrap(KeyringProvider):
        def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
            if not calls:
                fresh = tmp_path / "fresh"
                fresh.write_bytes(cipher.encrypt(b"new ledger", b"l"))
                os.replace(fresh, env_path)  # what atomic_writer does for encrypt_file
            calls.append(wrapped)
            return super().rewrap(wrapped)

    cipher = EnvelopeCipher(AnotherWriterSavesDuringRewrap(ring))
    env_path.write_bytes(cipher.encrypt(b"old ledger", b"l"))
    ring.rotate()
    cipher.rewrap_file(env_path)
    assert cipher.decrypt(env_path.read_bytes(), b"l") == b"new ledger"
    assert not cipher.needs_rewrap(env_path.read_bytes())


def test_rewrap_file_gives_up_with_its_code_on_a_file_that_keeps_changing(ring, tmp_path) -> None:
    env_path = tmp_path / "ledger.sbe"
    saved = []

    class AnotherWriterSavesEveryTime(KeyringProvider):
        def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
            saved.append(cipher.encrypt(f"version {len(saved)}".encode(), b"l"))
            (tmp_path / "fresh").write_bytes(saved[-1])
            os.replace(tmp_path / "fresh", env_path)
            ring.rotate()  # the next attempt finds it out of date again
            return super().rewrap(wrapped)

    cipher = EnvelopeCipher(AnotherWriterSavesEveryTime(ring))
    env_path.write_bytes(cipher.encrypt(b"old", b"l"))
    ring.rotate()
    with pytest.raises(StorageError) as info:
        cipher.rewrap_file(env_path)
    assert info.value.code == "changed_meanwhile" and len(saved) == 5
    assert env_path.read_bytes() == saved[-1]


def test_rewrap_file_waits_for_a_sealbox_writer_holding_the_files_lock(ring, tmp_path) -> None:
    import threading

    from sealbox.storage import locked

    cipher = EnvelopeCipher(KeyringProvider(ring))
    env_path = tmp_path / "ledger.sbe"
    env_path.write_bytes(cipher.encrypt(b"old ledger", b"l"))
    ring.rotate()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # another sealbox writer: read, then save a new version, locked
        with locked(env_path):
            holding.set()
            release.wait(10)
            (tmp_path / "fresh").write_bytes(cipher.encrypt(b"new ledger", b"l"))
            os.replace(tmp_path / "fresh", env_path)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    done: list[bool] = []
    rewrap = threading.Thread(target=lambda: done.append(cipher.rewrap_file(env_path)))
    rewrap.start()
    rewrap.join(0.5)
    assert rewrap.is_alive()  # it waits for the lock rather than reading the old version
    release.set()
    thread.join(10)
    rewrap.join(10)
    # The version the writer saved is under the newest key already: nothing to rewrap.
    assert done == [False]
    assert cipher.decrypt(env_path.read_bytes(), b"l") == b"new ledger"


def test_sealed_values_over_the_limit_must_stream(cipher, monkeypatch) -> None:
    from sealbox.keysets.envelope import cipher as module

    monkeypatch.setattr(module, "MAX_SEALED_SIZE", 10)
    with pytest.raises(ValueError, match="must be streamed"):
        cipher.encrypt(b"x" * 11)


def test_envelope_imports_no_vault_or_database_library() -> None:
    import json
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from sealbox import Keyring\n"
        "from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider\n"
        "c = EnvelopeCipher(KeyringProvider(Keyring.generate()))\n"
        "c.decrypt(c.encrypt(b'x'))\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert not {"hvac", "requests", "sqlalchemy", "fastapi", "click"} & loaded
