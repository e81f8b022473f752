"""Damaged files: truncation, appended bytes, bit flips, reordered chunks, a wrong identity.

Each gives the documented error in the library, and through `sealbox decrypt` exit 1,
one error line, and no file at the target.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealbox import age
from sealbox.age.format import parse_header
from sealbox.age.stream import ENCRYPTED_CHUNK_SIZE, NONCE_SIZE
from sealbox.exceptions import DecryptionError, FormatError, NoIdentityMatchError

ME = age.X25519Identity.generate()
PLAIN = os.urandom(3 * 65536 + 1000)  # four chunks
SEALED = age.encrypt(PLAIN, [ME.recipient()])
_, HEADER_LEN = parse_header(SEALED)
PAYLOAD = HEADER_LEN + NONCE_SIZE


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def _chunk(i: int) -> slice:
    start = PAYLOAD + i * ENCRYPTED_CHUNK_SIZE
    return slice(start, start + ENCRYPTED_CHUNK_SIZE)


def _swap(data: bytes, a: int, b: int) -> bytes:
    out = bytearray(data)
    ca, cb = data[_chunk(a)], data[_chunk(b)]
    out[_chunk(a)], out[_chunk(b)] = cb, ca
    return bytes(out)


CASES: dict[str, tuple[bytes, type[Exception]]] = {
    "truncated-in-last-chunk": (SEALED[:-1], DecryptionError),
    "truncated-at-chunk-boundary": (SEALED[: _chunk(2).stop], DecryptionError),
    "truncated-in-header": (SEALED[: HEADER_LEN - 5], FormatError),
    "truncated-nonce": (SEALED[: HEADER_LEN + 7], FormatError),
    "appended-byte": (SEALED + b"\x00", DecryptionError),
    "appended-chunk": (SEALED + SEALED[_chunk(0)], DecryptionError),
    "header-bit-flip-stanza": (_flip(SEALED, 40), Exception),
    "header-bit-flip-mac": (_flip(SEALED, HEADER_LEN - 10), Exception),
    "nonce-bit-flip": (_flip(SEALED, HEADER_LEN + 3), DecryptionError),
    **{
        f"chunk-{i}-bit-flip": (_flip(SEALED, _chunk(i).start + 100), DecryptionError)
        for i in range(4)
    },
    "reordered-chunks": (_swap(SEALED, 0, 1), DecryptionError),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("parallel", [False, True])
def test_library_refuses(name: str, parallel: bool):
    data, error = CASES[name]
    import io

    with pytest.raises((DecryptionError, FormatError)) as info:
        dec = age.Decryptor(io.BytesIO(data), [ME], parallel=parallel)
        dec.read()
    assert isinstance(info.value, error)
    if isinstance(info.value, DecryptionError):
        assert "\\x" not in str(info.value)  # opaque: no bytes quoted


def test_released_plaintext_is_an_authenticated_prefix():
    import io

    dec = age.Decryptor(io.BytesIO(_flip(SEALED, _chunk(2).start)), [ME], parallel=True)
    got = bytearray()
    with pytest.raises(DecryptionError):
        while chunk := dec.read(5000):
            got += chunk
    assert bytes(got) == PLAIN[: 2 * 65536]


def test_wrong_identity():
    with pytest.raises(NoIdentityMatchError):
        age.decrypt(SEALED, [age.X25519Identity.generate()])


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_refuses_and_leaves_nothing(name: str, cli, tmp_path: Path):
    data, _ = CASES[name]
    src = tmp_path / "in.age"
    src.write_bytes(data)
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(ME))
    result = cli(["decrypt", "-i", key, "-o", tmp_path / "out.bin", src])
    assert result.code == 1
    assert result.stderr.startswith("sealbox: error: ")
    assert result.stdout == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.age", "key.txt"]


def test_cli_wrong_identity(cli, tmp_path: Path):
    src = tmp_path / "in.age"
    src.write_bytes(SEALED)
    key = tmp_path / "other.txt"
    key.write_text(age.identity_file(age.X25519Identity.generate()))
    result = cli(["decrypt", "-i", key, "-o", tmp_path / "out.bin", src])
    assert result.code == 1
    assert "no identity matched" in result.stderr
    assert not (tmp_path / "out.bin").exists()


def test_interrupted_encryption_never_decrypts():
    import io

    out = io.BytesIO()
    with pytest.raises(RuntimeError), age.Encryptor(out, [ME.recipient()]) as enc:
        enc.write(PLAIN)
        raise RuntimeError("interrupted")
    with pytest.raises(DecryptionError):
        age.decrypt(out.getvalue(), [ME])
