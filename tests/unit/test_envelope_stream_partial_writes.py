"""An envelope streamed into an unbuffered output that takes part of each write (a socket
with a timeout, as ``socket.makefile("wb", buffering=0)`` gives) is written whole, as
age's Encryptor writes it; a text-mode output is refused before anything is written."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.keyring import Keyring

# Far larger than a socket's buffer: every send takes a part.
PLAIN = os.urandom(3 * 1024 * 1024 + 5)


def test_an_envelope_streamed_into_a_socket_that_takes_part_of_each_write_opens() -> None:
    cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    sender, receiver = socket.socketpair()
    sender.settimeout(60)  # sends become partial (non-blocking underneath)
    received = bytearray()

    def receive() -> None:
        while chunk := receiver.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=receive)
    reader.start()
    try:
        with (
            sender.makefile("wb", buffering=0) as raw,
            cipher.encryptor(raw, b"obj/9") as writer,
        ):
            writer.write(PLAIN)
        sender.shutdown(socket.SHUT_WR)
        reader.join(60)
    finally:
        sender.close()
        receiver.close()
    assert cipher.decrypt(bytes(received), b"obj/9") == PLAIN


@pytest.mark.parametrize(
    "make", [lambda p: p.open("w"), lambda p: io.StringIO()], ids=["open-w", "stringio"]
)
def test_an_envelope_into_a_text_mode_file_is_refused_before_writing(tmp_path: Path, make) -> None:
    cipher = EnvelopeCipher(KeyringProvider(Keyring.generate()))
    with make(tmp_path / "out.env") as dst:
        with pytest.raises(TypeError) as info:
            cipher.encryptor(dst, b"obj/9")
        assert dst.tell() == 0
    error = info.value
    assert isinstance(error, ConfigError) and error.code == "text_mode_file"
    assert error.facts == {"mode": "wb"}
