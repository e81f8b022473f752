"""The command line used carelessly: files a command reads given as its output, arguments
and environment values that are not UTF-8, an editor that misbehaves, a mistyped data
folder. Each is one ``sealbox: error:`` line, and nothing a user had is lost."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sealbox import age
from tests.conftest import run_sealbox

NOT_UTF8 = "pw\udcff"  # the byte 0xff as Python shows it in argv and os.environ


def _no_traceback(stderr: bytes | str) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text and "internal error" not in text, text
    return text


@pytest.fixture
def me(tmp_path: Path) -> tuple[Path, str]:
    ident = age.X25519Identity.generate()
    path = tmp_path / "me.key"
    path.write_text(age.identity_file(ident))
    return path, str(ident.recipient())


def test_key_generate_force_keeps_the_old_private_key_when_the_public_file_cannot_be_written(
    tmp_path: Path,
) -> None:
    key = tmp_path / "id"
    made = run_sealbox(["key", "generate", "-o", key, "--no-passphrase"])
    assert made.returncode == 0, made.stderr
    old_private = key.read_bytes()
    (tmp_path / "id.pub").unlink()
    (tmp_path / "id.pub").symlink_to(tmp_path / "missing" / "id.pub")  # cannot be written
    r = run_sealbox(["key", "generate", "-o", key, "--no-passphrase", "--force", "--yes"])
    assert r.returncode == 1
    assert _no_traceback(r.stderr).startswith("sealbox: error: ")
    assert key.read_bytes() == old_private  # not a new key beside the old public key


@pytest.mark.parametrize("comment", ["two\nlines", "bytes " + NOT_UTF8])
def test_key_generate_refuses_a_comment_that_would_break_the_public_key_line(
    tmp_path: Path, comment: str
) -> None:
    key = tmp_path / "id"
    r = run_sealbox(["key", "generate", "-o", key, "--no-passphrase", "-C", comment])
    assert r.returncode == 2
    assert "-C must be printable UTF-8 text on one line" in _no_traceback(r.stderr)
    assert not key.exists() and not (tmp_path / "id.pub").exists()


def test_age_output_never_replaces_the_identity_recipients_or_passphrase_file_even_with_force(
    tmp_path: Path, me: tuple[Path, str]
) -> None:
    identity, recipient = me
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"data")
    sealed = tmp_path / "plain.age"
    assert run_sealbox(["encrypt", "-r", recipient, "-o", sealed, plain]).returncode == 0
    recipients = tmp_path / "team.txt"
    recipients.write_text(recipient + "\n")
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text("correct horse\n")
    cases = [
        (["decrypt", "-i", identity, "-o", identity, "--force", sealed], identity, "identity"),
        (
            ["encrypt", "-R", recipients, "-o", recipients, "--force", plain],
            recipients,
            "recipients",
        ),
        (
            ["encrypt", "-p", "--passphrase-file", passphrase, "-o", passphrase, "--force", plain],
            passphrase,
            "passphrase",
        ),
    ]
    for args, kept, what in cases:
        before = kept.read_bytes()
        r = run_sealbox(args)
        assert r.returncode == 1, args
        assert f"is the {what} file" in _no_traceback(r.stderr)
        assert kept.read_bytes() == before


@pytest.mark.parametrize("command", ["decrypt", "sign"])
def test_key_commands_never_write_their_output_over_the_key_file(
    tmp_path: Path, command: str
) -> None:
    key = tmp_path / "rsa"
    assert (
        run_sealbox(["key", "generate", "--type", "rsa", "-o", key, "--no-passphrase"]).returncode
        == 0
    )
    data = tmp_path / "data"
    data.write_bytes(b"hello")
    if command == "decrypt":
        r = run_sealbox(["key", "encrypt", "-k", key, "-o", tmp_path / "ct", data])
        assert r.returncode == 0, r.stderr
        data = tmp_path / "ct"
    before = key.read_bytes()
    r = run_sealbox(["key", command, "-k", key, "-o", key, "--force", data])
    assert r.returncode == 1
    assert "is the key file" in _no_traceback(r.stderr)
    assert key.read_bytes() == before


def test_a_passphrase_from_the_environment_that_is_not_utf8_is_a_plain_error(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"data")
    r = run_sealbox(
        ["encrypt", "-p", "-o", tmp_path / "out.age", plain], env={"SEALBOX_PASSPHRASE": NOT_UTF8}
    )
    assert r.returncode == 1
    assert _no_traceback(r.stderr) == (
        "sealbox: error: the passphrase from $SEALBOX_PASSPHRASE is not UTF-8 text\n"
    )
    assert not (tmp_path / "out.age").exists()


@pytest.mark.parametrize(
    ("typed", "error"),
    [(b"pw\xff\n", "the passphrase typed is not UTF-8 text"), (b"\x04", "no passphrase typed")],
)
def test_a_prompt_answered_with_bytes_that_are_not_utf8_or_ctrl_d_is_a_plain_error(
    tmp_path: Path, typed: bytes, error: str
) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sealbox", "keyring", "create", str(tmp_path / "k.ring")],
        env=env,
        timeout=60,
    )
    child.expect("passphrase")
    child.send(typed)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 1
    assert f"sealbox: error: {error}" in _no_traceback(child.before)
    assert not (tmp_path / "k.ring").exists()


def _secrets_file(tmp_path: Path, me: tuple[Path, str]) -> Path:
    path = tmp_path / "secrets.env"
    assert run_sealbox(["secrets", "init", path, "-r", me[1]]).returncode == 0
    assert run_sealbox(["secrets", "set", path, "DB"], input=b"value").returncode == 0
    return path


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            "p.write_bytes(p.read_bytes() + b'NEW=\\xff\\n')",
            "edited file, line 3: not UTF-8 text; nothing changed",
        ),
        ("p.unlink()", "the editor removed the file; nothing changed"),
    ],
    ids=["not-utf8", "removed"],
)
def test_secrets_edit_refuses_what_a_misbehaving_editor_left_and_keeps_the_file(
    tmp_path: Path, me: tuple[Path, str], edit: str, error: str
) -> None:
    sfile = _secrets_file(tmp_path, me)
    before = sfile.read_bytes()
    editor = tmp_path / "editor.py"
    editor.write_text(f"import pathlib, sys\np = pathlib.Path(sys.argv[1])\n{edit}\n")
    r = run_sealbox(
        ["secrets", "edit", sfile, "-i", me[0]],
        env={"EDITOR": f"{sys.executable} {editor}", "PATH": os.environ["PATH"]},
    )
    assert r.returncode == 1
    stderr = _no_traceback(r.stderr)
    assert stderr == f"sealbox: error: {error}\n"
    assert sfile.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["clients", "list"],
        ["clients", "rotate-secret", "bot"],
        ["clients", "delete", "bot", "--yes"],
    ],
)
def test_clients_commands_other_than_create_refuse_a_missing_data_folder_and_make_none(
    cli, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "mistyped"
    r = cli([*args, "--data-dir", missing])
    assert r.code == 1 and r.stdout == b""
    assert _no_traceback(r.stderr).splitlines() == [
        f"sealbox: error: {missing} is not a service's data folder: it does not exist",
        "sealbox: hint: run 'sealbox serve' once to provision the data folder",
    ]
    assert not missing.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--sub", NOT_UTF8],
        ["--sub", "a", "--claim", f"x={NOT_UTF8}"],
        ["--sub", "a", "--aud", NOT_UTF8],
    ],
)
def test_jwt_issue_refuses_arguments_that_are_not_utf8_instead_of_signing_them(
    cli, tmp_path: Path, extra: list[str]
) -> None:
    env = {"SEALBOX_PASSPHRASE": "keyset passphrase"}
    keyset = tmp_path / "team.keyset"
    assert cli(["jwt", "keyset", "create", keyset], env=env).code == 0
    r = cli(["jwt", "issue", keyset, *extra], env=env)
    assert r.code == 2 and r.stdout == b""
    assert "is not UTF-8 text" in _no_traceback(r.stderr)


def test_transit_refuses_a_token_that_is_not_utf8_without_an_internal_error(cli) -> None:
    r = cli(
        ["transit", "encrypt", "orders"],
        input=b"x",
        env={"SEALBOX_URL": "https://127.0.0.1:1", "SEALBOX_TOKEN": "tok" + NOT_UTF8},
    )
    assert r.code == 1
    assert "the access token in $SEALBOX_TOKEN is not a bearer token" in _no_traceback(r.stderr)


def test_keyring_destroy_of_a_key_that_is_not_disabled_says_so_before_asking(
    cli, tmp_path: Path
) -> None:
    env = {"SEALBOX_PASSPHRASE": "keyring passphrase"}
    ring = tmp_path / "k.ring"
    assert cli(["keyring", "create", ring], env=env).code == 0
    kid = json.loads(cli(["keyring", "list", ring, "--json"], env=env).out)[0]["id"]
    r = cli(["keyring", "destroy", ring, kid], env=env)  # no terminal, no --yes
    assert r.code == 1
    assert _no_traceback(r.stderr).splitlines()[0] == (
        f"sealbox: error: key {kid} of keyring {ring} must be disabled before it is destroyed"
    )


def test_legacy_decrypt_never_writes_the_plaintext_over_its_key_file(tmp_path: Path) -> None:
    from tests._legacy_records import aes_gcm_json

    key = tmp_path / "record.key"
    key.write_bytes(os.urandom(32))
    record = tmp_path / "record.json"
    record.write_bytes(aes_gcm_json(key.read_bytes(), b"old data"))
    before = key.read_bytes()
    r = run_sealbox(["legacy", "decrypt", record, "-k", key, "-o", key, "--force"])
    assert r.returncode == 1
    assert "is the key file" in _no_traceback(r.stderr)
    assert key.read_bytes() == before
    ok = run_sealbox(["legacy", "decrypt", record, "-k", key, "-o", tmp_path / "out"])
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out").read_bytes() == b"old data"
