"""Edges of `sealbox encrypt|decrypt|keygen` and of `sealbox.age`, found by using them as an `age`
user would."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import FormatError, KeyFormatError, StorageError

ME = age.X25519Identity.generate()
KEY_FILE = age.identity_file(ME).encode()


@pytest.mark.parametrize("click", [False, True], ids=["direct", "click"])
@pytest.mark.parametrize(
    ("argv", "readers"),
    [
        (["decrypt", "-i", "-"], "-i - and the input"),
        (["decrypt", "-i", "-", "-"], "-i - and the input"),
        (["encrypt", "-i", "-"], "-i - and the input"),
        (["encrypt", "-R", "-"], "-R - and the input"),
        (["encrypt", "-R", "-", "-i", "-", "-o", "out.age", "plain"], "-R - and -i -"),
        (["decrypt", "-i", "-", "-i", "-", "f.age"], "-i - and -i -"),
    ],
)
def test_standard_input_read_for_two_things_is_a_usage_error(cli, argv, readers, click):
    # age: "standard input is used for multiple purposes". Read twice, the second reader
    # found it empty: `encrypt -i -` encrypted nothing and said nothing, and `decrypt -i -`
    # took the file for an identity file and blamed a passphrase never asked for.
    r = cli([*argv, *(["--"] if click else [])], input=KEY_FILE)
    assert r.code == 2, r.stderr
    assert r.stderr.startswith(f"sealbox: error: {readers} both read standard input\n")
    assert r.stdout == b""


def test_a_recipients_file_given_as_dash_is_read_from_standard_input(cli, tmp_path):
    plain, out = tmp_path / "plain", tmp_path / "plain.age"
    plain.write_bytes(b"attack at dawn")
    r = cli(["encrypt", "-R", "-", "-o", out, plain], input=f"# me\n{ME.recipient()}\n".encode())
    assert r.code == 0, r.stderr
    assert age.decrypt(out.read_bytes(), [ME]) == b"attack at dawn"


def test_an_identity_file_encrypted_to_a_key_is_not_blamed_on_a_passphrase(cli, tmp_path):
    # It was "incorrect passphrase for identity file F", "the passphrase came from the
    # prompt": no passphrase was asked for, and none could open it (age: "identity file
    # is encrypted with age but not with a passphrase").
    other = age.X25519Identity.generate()
    keys = tmp_path / "keys.age"
    keys.write_bytes(age.encrypt(KEY_FILE, [other.recipient()]))
    sealed = tmp_path / "f.age"
    sealed.write_bytes(age.encrypt(b"x", [ME.recipient()]))
    asked = []
    with pytest.raises(KeyFormatError, match="encrypted with age but not with a passphrase"):
        age.parse_identities(keys.read_bytes(), passphrase=lambda: asked.append(1) or "pw")
    assert asked == []
    r = cli(["decrypt", "-i", keys, sealed])
    assert r.code == 1
    assert r.stderr.startswith(
        f"sealbox: error: identity file {keys} is encrypted with age but not with a "
        "passphrase\nsealbox: hint: decrypt it first"
    )


def test_keygen_y_opens_a_passphrase_encrypted_identity_file(cli, tmp_path):
    # The error said to give the passphrase ($SEALBOX_PASSPHRASE, --passphrase-file or
    # the prompt), and keygen -y read none of them.
    keys = tmp_path / "keys.age"
    keys.write_bytes(age.encrypt(KEY_FILE, [age.ScryptRecipient("pw", work_factor=10)]))
    (tmp_path / "pw").write_text("pw\n")
    r = cli(["keygen", "-y", keys], env={"SEALBOX_PASSPHRASE": "pw"})
    assert (r.code, r.out) == (0, f"{ME.recipient()}\n"), r.stderr
    r = cli(["keygen", "-y", "--passphrase-file", tmp_path / "pw"], input=keys.read_bytes())
    assert (r.code, r.out) == (0, f"{ME.recipient()}\n"), r.stderr
    r = cli(["keygen", "-y", keys], env={"SEALBOX_PASSPHRASE": "wrong"})
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: incorrect passphrase for identity file {keys}")


def test_keygen_y_writes_the_recipients_to_the_output_file(cli, tmp_path):
    # As age-keygen -y -o FILE; the -o was ignored and the recipients went to stdout.
    keys, out = tmp_path / "key.txt", tmp_path / "recipients.txt"
    keys.write_bytes(KEY_FILE)
    r = cli(["keygen", "-y", "-o", out, keys])
    assert (r.code, r.stdout) == (0, b""), r.stderr
    assert out.read_text() == f"{ME.recipient()}\n"
    r = cli(["keygen", "-y", "-o", keys, keys])  # never over a file, the identity least of all
    assert r.code == 1 and "already exists" in r.stderr
    assert keys.read_bytes() == KEY_FILE


def _sealbox_with_stdin(argv: list[object], stdin: Path) -> subprocess.CompletedProcess[bytes]:
    with stdin.open("rb") as fh:
        return subprocess.run(
            [sys.executable, "-m", "sealbox", *map(str, argv)],
            stdin=fh,
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_the_output_is_never_the_file_on_standard_input_even_with_force(tmp_path, command):
    # `sealbox encrypt -o f --force < f` replaced f with its own ciphertext (and decrypt
    # a sealed file with its plaintext): -o naming the input is refused even with
    # --force, and a file on stdin is the input as much as one named.
    keys, data, other = tmp_path / "key.txt", tmp_path / "data", tmp_path / "other"
    keys.write_bytes(KEY_FILE)
    content = b"plain text" if command == "encrypt" else age.encrypt(b"x", [ME.recipient()])
    data.write_bytes(content)
    link = tmp_path / "link"
    link.symlink_to(data)
    key_args = ["-r", ME.recipient()] if command == "encrypt" else ["-i", keys]
    for output in (data, link):
        r = _sealbox_with_stdin([command, *key_args, "-o", output, "--force"], stdin=data)
        assert r.returncode == 1, r.stderr
        assert r.stderr.decode().startswith(f"sealbox: error: {output} is the input file")
        assert data.read_bytes() == content
    # Where stdin is not read (a named input), a redirection from the output is no input.
    other.write_bytes(content)
    r = _sealbox_with_stdin([command, *key_args, "-o", data, "--force", other], stdin=data)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("function", ["encrypt_file", "decrypt_file"])
def test_library_paths_report_a_folder_or_a_failed_write_as_a_storage_error(tmp_path, function):
    # Both raised a bare OSError (IsADirectoryError, ENOSPC), the folder case only after
    # the whole output was written to a temporary file beside the folder.
    src = tmp_path / "src"
    if function == "encrypt_file":
        src.write_bytes(b"x" * 200_000)
        run = lambda dst: age.encrypt_file(src, dst, [ME.recipient()], overwrite=True)  # noqa: E731
    else:
        src.write_bytes(age.encrypt(b"x" * 200_000, [ME.recipient()]))
        run = lambda dst: age.decrypt_file(src, dst, [ME], overwrite=True)  # noqa: E731
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "link").symlink_to(folder)
    for dst in (folder, tmp_path / "link"):
        with pytest.raises(StorageError, match=f"^{re.escape(str(dst))} is a directory$"):
            run(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "link", "src"]
    if os.path.exists("/dev/full"):
        verb = function.removesuffix("_file")
        message = f"^cannot {verb} {re.escape(str(src))} into /dev/full: no space left on device$"
        with pytest.raises(StorageError, match=message):
            run("/dev/full")


def test_a_recipient_in_upper_case_is_refused_for_what_it_is(cli):
    # age refuses it too ("unknown recipient type"); sealbox said the recipient type
    # 'AGE' needed a plugin.
    upper = str(ME.recipient()).upper()
    r = cli(["encrypt", "-r", upper], input=b"x")
    assert r.code == 1
    assert "plugin" not in r.stderr
    assert "is in upper case: age recipients are written in lower case" in r.stderr


@pytest.mark.parametrize("parallel", [False, True], ids=["one-thread", "two-threads"])
def test_reading_a_closed_decryptor_is_a_value_error(parallel):
    # As any closed file; it was a bare AssertionError (after starting a new reading
    # thread that nothing would stop).
    blob = age.encrypt(os.urandom(3_000_000), [ME.recipient()])
    for read_first in (0, 10):
        dec = age.Decryptor(io.BytesIO(blob), [ME], parallel=parallel)
        dec.read(read_first)
        dec.close()
        threads = threading.active_count()
        with pytest.raises(ValueError, match="closed"):
            dec.read(5)
        with pytest.raises(ValueError, match="closed"):
            next(dec.views())
        assert threading.active_count() == threads


def test_a_file_whose_line_ends_became_crlf_is_reported_as_damaged_not_as_a_newer_version(
    cli, tmp_path
):
    # A text-mode copy (git autocrlf, a PowerShell `>` redirection) turns every LF into
    # CRLF. sealbox said "unsupported age format version 'v1\r'" and pointed at a newer
    # age implementation, which cannot help; age names the corruption.
    sealed = age.encrypt(b"hello\n", [ME.recipient()])
    damaged = sealed.replace(b"\n", b"\r\n")
    with pytest.raises(FormatError) as info:
        age.decrypt(damaged, [ME])
    assert info.value.code == "crlf_line_ends"
    assert "version" not in str(info.value)
    assert "newer" not in (info.value.hint or "")
    src = tmp_path / "in.age"
    src.write_bytes(damaged)
    key = tmp_path / "key.txt"
    key.write_bytes(KEY_FILE)
    r = cli(["decrypt", "-i", key, "-o", tmp_path / "out", src])
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: the file's line ends were changed to CRLF")
    assert "newer" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.age", "key.txt"]
    # A real newer version is still reported as one.
    with pytest.raises(FormatError, match="unsupported age format version 'v2'"):
        age.decrypt(sealed.replace(b"/v1\n", b"/v2\n", 1), [ME])


class _EndlessLine:
    """An armored file whose first base64 line goes on for 64 MiB (as good as endless: a
    pipe can give more); counts what is read of it."""

    END = 64 * 1024 * 1024

    def __init__(self) -> None:
        self.given = 0

    def read(self, size: int = -1) -> bytes:
        head = b"-----BEGIN AGE ENCRYPTED FILE-----\n" if self.given == 0 else b""
        n = min(max(size, 1), self.END - self.given)
        data = (head + b"A" * n)[:n]
        self.given += len(data)
        return data


def test_an_armor_line_that_never_ends_is_refused_without_reading_it_all():
    # The armor reader read on until a line end or the end of the input, holding all of
    # it and scanning it again at each block: a 256 MiB line took 0.5 GiB and 26 s (and
    # an endless one, from a pipe, all memory) before "a line is longer than 64 columns".
    src = _EndlessLine()
    with pytest.raises(FormatError, match=r"^invalid armor: a line is longer than 64 columns$"):
        age.Decryptor(src, [ME])
    assert src.given < 1024 * 1024


def test_keygen_y_refuses_an_identity_file_on_stdin_past_its_limit_instead_of_cutting_it(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rest past the limit was dropped unread: a key on the far side never seen, and
    # nothing said, where a named file past the same limit is refused.
    monkeypatch.setattr("sealbox.age.keys.MAX_KEY_FILE", 64)
    identity = age.X25519Identity.generate()
    text = f"# {'c' * 70}\n{identity}\n".encode()
    r = cli(["keygen", "-y"], input=text)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == "sealbox: error: the identity file on stdin is larger than 64 bytes\n"


def test_an_empty_input_is_named_as_such_with_a_hint(cli, tmp_path):
    identity = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(identity.expose_secret() + "\n")
    empty = tmp_path / "empty.age"
    empty.write_bytes(b"")
    r = cli(["decrypt", "-i", key, empty])
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: the input is empty: an age file starts with 'age-encryption.org/v1'",
        "sealbox: hint: check the file name, or the command that feeds the pipe",
    ]
    with pytest.raises(FormatError) as caught:
        age.decrypt(b"", [identity])
    assert caught.value.code == "empty_input"
