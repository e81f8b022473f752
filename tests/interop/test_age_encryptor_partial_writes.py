"""An :class:`age.Encryptor` over an unbuffered output that takes part of each write (a
socket with a timeout, as ``socket.makefile("wb", buffering=0)`` gives) still writes
the whole file, which the `age` CLI opens. Such an output returns how much it took;
the rest must be written again, or the file loses bytes from its middle."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

import pytest

from sealbox import age
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

# Several batches, each far larger than a socket's buffer: every send takes a part.
PLAIN = os.urandom(3 * 1024 * 1024 + 5)


def _through_a_socket(armor: bool, recipient: age.Recipient) -> bytes:
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
            age.Encryptor(raw, [recipient], armor=armor) as enc,
        ):
            enc.write(PLAIN)
        sender.shutdown(socket.SHUT_WR)
        reader.join(60)
    finally:
        sender.close()
        receiver.close()
    return bytes(received)


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_an_encryptor_on_a_socket_that_takes_part_of_each_write_writes_the_whole_file(
    tmp_path, armor
):
    key = tmp_path / "key.txt"
    identity = age.X25519Identity.generate()
    age.save_identity(key, identity)
    sealed = _through_a_socket(armor, identity.recipient())
    r = subprocess.run(
        [require_tool("age"), "-d", "-i", str(key)], input=sealed, capture_output=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == PLAIN
