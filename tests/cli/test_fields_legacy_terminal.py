"""What ``sealbox open`` and ``sealbox legacy decrypt`` write when stdout is a terminal:
a value that is not text (a NUL, bytes that are not UTF-8) is refused, as every command
refuses it, and goes through untouched to a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from sealbox import Keyring, Secret
from tests._legacy_records import fernet_file
from tests.conftest import run_sealbox

PASSPHRASE = "keyring passphrase"
REFUSED = [
    b"sealbox: error: refusing to write binary output to the terminal",
]


def _stdout_on_a_terminal(args: list[object], stdin: bytes, cwd, env: dict[str, str]):
    """Run sealbox with ``stdin`` piped in and stdout and stderr on a pseudo-terminal;
    its exit status and all it printed."""
    main, tty = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    full_env.update(env)
    with subprocess.Popen(
        [sys.executable, "-m", "sealbox", *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=tty,
        stderr=tty,
        cwd=cwd,
        env=full_env,
        start_new_session=True,
    ) as process:
        os.close(tty)
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
        output = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            output += chunk
        code = process.wait(timeout=120)
    os.close(main)
    return code, output


# An invalid byte among the last four (where a character cut by the probe would be)
# once let a NUL and an escape sequence through; a PNG header has no NUL at all.
BINARY_VALUES = [
    pytest.param(b"\x1b]0;title\x07\x00\xff", id="nul-then-invalid-last-byte"),
    pytest.param(b"\x1b[2Jclear\xff", id="invalid-last-byte"),
    pytest.param(b"\x89PNG\r\n\x1a\n\xff\xfe" + b"\x01" * 40, id="png-header-no-nul"),
]


@pytest.fixture
def keyring_file(tmp_path):
    path = tmp_path / "app.keyring"
    Keyring.generate().save(path, Secret(PASSPHRASE))
    return path


@pytest.mark.parametrize("value", BINARY_VALUES)
def test_open_refuses_a_binary_value_on_a_terminal_and_pipes_it(tmp_path, keyring_file, value):
    token = Keyring.load(keyring_file, Secret(PASSPHRASE)).seal_text(value).encode()
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    code, output = _stdout_on_a_terminal(["open", "-K", keyring_file], token, tmp_path, env)
    assert code == 1
    assert output.splitlines()[:1] == REFUSED
    assert value not in output
    piped = run_sealbox(["open", "-K", keyring_file], input=token, env=env)
    assert (piped.returncode, piped.stdout) == (0, value)


def test_open_writes_text_with_a_multibyte_last_character_to_a_terminal(tmp_path, keyring_file):
    value = "prix: 12 €".encode()
    token = Keyring.load(keyring_file, Secret(PASSPHRASE)).seal_text(value).encode()
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    code, output = _stdout_on_a_terminal(["open", "-K", keyring_file], token, tmp_path, env)
    assert (code, output) == (0, value)


@pytest.mark.parametrize("value", BINARY_VALUES)
def test_legacy_decrypt_refuses_a_binary_value_on_a_terminal_and_pipes_it(tmp_path, value):
    (tmp_path / "old.enc").write_bytes(fernet_file(b"old password", value))
    env = {"SEALBOX_PASSPHRASE": "old password"}
    code, output = _stdout_on_a_terminal(["legacy", "decrypt", "old.enc"], b"", tmp_path, env)
    assert code == 1
    assert output.splitlines() == [*REFUSED, b"sealbox: hint: use -o FILE"]
    piped = run_sealbox(["legacy", "decrypt", tmp_path / "old.enc"], env=env)
    assert (piped.returncode, piped.stdout) == (0, value)
