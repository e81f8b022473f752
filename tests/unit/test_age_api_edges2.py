"""Edges of the ``sealbox.age`` library API met as an outside user of pyrage and the spec."""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

import pytest

from sealbox import age
from sealbox.age import bech32
from sealbox.exceptions import KeyFormatError

# Encodings of points of small order on Curve25519 (and its twist): X25519 with them gives
# the all-zero shared secret whatever the scalar, which age.md says must be refused.
_P = 2**255 - 19
LOW_ORDER_U = [
    b"\0" * 32,
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (_P - 1).to_bytes(32, "little"),
    _P.to_bytes(32, "little"),
    (_P + 1).to_bytes(32, "little"),
]


@pytest.mark.parametrize("point", LOW_ORDER_U, ids=range(len(LOW_ORDER_U)))
def test_a_low_order_x25519_recipient_is_refused_as_a_key_error(point: bytes) -> None:
    text = bech32.encode("age", point)
    with pytest.raises(KeyFormatError, match="low-order"):
        age.parse_recipient(text)
    with pytest.raises(KeyFormatError, match="low-order"):
        age.X25519Recipient(point)


def test_a_low_order_hybrid_recipient_is_refused_as_a_key_error() -> None:
    good = age.HybridIdentity.generate().recipient().public_bytes()
    text = bech32.encode("age1pq", good[:-32] + b"\0" * 32)
    with pytest.raises(KeyFormatError, match="low-order"):
        age.parse_recipient(text)


def _ssh_ed25519_line(raw: bytes) -> str:
    def field(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    return "ssh-ed25519 " + base64.b64encode(field(b"ssh-ed25519") + field(raw)).decode()


@pytest.mark.parametrize(
    "edwards_y",
    [0, _P - 1],  # y = 0 and y = -1: points of order 4 and 2
    ids=["y=0", "y=-1"],
)
def test_a_low_order_ssh_ed25519_recipient_is_refused_as_a_key_error(edwards_y: int) -> None:
    line = _ssh_ed25519_line(edwards_y.to_bytes(32, "little"))
    with pytest.raises(KeyFormatError, match="low-order"):
        age.parse_recipient(line)


def test_real_recipients_still_encrypt_after_the_low_order_check() -> None:
    me = age.X25519Identity.generate()
    pq = age.HybridIdentity.generate()
    assert age.decrypt(age.encrypt(b"x", [me.recipient()]), [me]) == b"x"
    assert age.decrypt(age.encrypt(b"y", [pq.recipient()]), [pq]) == b"y"


@pytest.mark.parametrize("parallel", [False, True], ids=["one-thread", "two-threads"])
def test_a_non_blocking_output_that_takes_nothing_fails_the_encryptor(parallel: bool) -> None:
    # A raw non-blocking file returns None from write when the pipe is full: nothing
    # was written. Counting that as written dropped chunks from the middle of the file
    # and reported success for a file that does not decrypt.
    me = age.X25519Identity.generate()
    r, w = os.pipe()
    os.set_blocking(w, False)
    with open(r, "rb") as reader, open(w, "wb", buffering=0) as out:
        with (
            pytest.raises(BlockingIOError, match="non-blocking"),
            age.Encryptor(out, [me.recipient()], parallel=parallel) as enc,
        ):
            enc.write(os.urandom(3 * 1024 * 1024))  # more than any pipe holds
        assert reader.read(1)  # what did reach the pipe is there, and the test ends


def test_an_output_whose_write_returns_none_still_counts_as_complete() -> None:
    # Duck-typed sinks (no io.RawIOBase) that return None have taken everything.
    class Sink:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, b: bytes) -> None:
            self.data += b

    me = age.X25519Identity.generate()
    sink = Sink()
    with age.Encryptor(sink, [me.recipient()]) as enc:  # type: ignore[arg-type]
        enc.write(b"z" * 200_000)
    assert age.decrypt(bytes(sink.data), [me]) == b"z" * 200_000


@pytest.mark.parametrize("value", ["f.age", b"age-encryption.org/v1\n"], ids=["str", "bytes"])
def test_a_path_or_bytes_given_for_a_file_object_is_a_type_error_that_says_what_to_use(
    value: object,
) -> None:
    me = age.X25519Identity.generate()
    for given in (value, Path("f.age")):
        with pytest.raises(TypeError, match="binary file object"):
            age.Decryptor(given, [me])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="binary file object"):
            age.inspect(given)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="binary file object"):
            age.Encryptor(given, [me.recipient()])  # type: ignore[arg-type]
