"""``sealbox legacy`` on records made the way the original recipes made them, and the
pointer ``sealbox decrypt`` gives when it is handed one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from sealbox import age
from tests._legacy_records import aes_gcm_json, aes_gcm_raw, fernet_file, fernet_json
from tests.conftest import run_sealbox

PLAIN = b"quarterly numbers\n" * 100
PASSWORD = b"old password"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def me() -> age.X25519Identity:
    return age.X25519Identity.generate()


def _snippets(data: bytes) -> list[str]:
    """Pieces of a file that an error message quoting it would contain."""
    pieces = [data[i : i + 12] for i in range(0, min(len(data), 600), 12)]
    return [p.decode("latin-1") for p in pieces] + [repr(p)[2:-1] for p in pieces]


def test_migrate_takes_the_password_from_the_environment(cli, tmp_path, me):
    src = tmp_path / "old.bin"
    src.write_bytes(fernet_file(PASSWORD, PLAIN))
    out = tmp_path / "new.age"
    env = {"SEALBOX_PASSPHRASE": "old password"}
    r = cli(["legacy", "migrate", src, "-o", out, "-r", str(me.recipient())], env=env)
    assert r.code == 0, r.stderr
    assert f"migrated {src} to {out}" in r.stderr
    assert age.decrypt(out.read_bytes(), [me]) == PLAIN
    assert src.read_bytes()[:16]  # the legacy file is left as it was


def test_migrate_takes_the_password_from_a_file_and_the_record_from_stdin(cli, tmp_path, me):
    (tmp_path / "pw").write_text("old password\n")
    out = tmp_path / "new.age"
    r = cli(
        ["legacy", "migrate", "-", "-o", out, "-r", str(me.recipient()),
         "--passphrase-file", tmp_path / "pw"],
        input=fernet_json(PASSWORD, PLAIN, token_as="hex"),
        env={"SEALBOX_PASSPHRASE": "a wrong one, overridden by the file"},
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert "migrated standard input to" in r.stderr
    assert age.decrypt(out.read_bytes(), [me]) == PLAIN


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_migrate_reads_an_aes_gcm_json_record_with_its_key_file(cli, tmp_path, me, key, encoding):
    src = tmp_path / "rec.json"
    src.write_bytes(aes_gcm_json(key, PLAIN, encoding=encoding))
    (tmp_path / "key").write_bytes(key)
    out = tmp_path / "new.age"
    r = cli(
        ["legacy", "migrate", src, "-o", out, "-r", str(me.recipient()), "-a",
         "--key-file", tmp_path / "key"],
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert out.read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert age.decrypt(out.read_bytes(), [me]) == PLAIN


def test_a_raw_record_is_read_only_with_its_layout_named(cli, tmp_path, me, key):
    src = tmp_path / "rec.bin"
    src.write_bytes(aes_gcm_raw(key, PLAIN))
    (tmp_path / "key.hex").write_text(key.hex() + "\n")
    key_file = tmp_path / "key.hex"
    r = cli(["legacy", "decrypt", src, "-k", key_file])
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.splitlines() == [
        (
            "sealbox: error: not a recognisable legacy record: neither a salt and a Fernet token "
            "nor a JSON record; a raw AES-GCM record looks like any other bytes"
        ),
        (
            "sealbox: hint: if it is a raw AES-GCM record (iv, ciphertext, tag), name the layout: "
            "--format aes-gcm-raw"
        ),
    ]
    r = cli(["legacy", "decrypt", src, "--key-file", key_file, "--format", "aes-gcm-raw"])
    assert r.code == 0 and r.stdout == PLAIN, r.stderr
    out = tmp_path / "new.age"
    r = cli(
        ["legacy", "migrate", src, "--format", "aes-gcm-raw", "--key-file", key_file,
         "-o", out, "-r", str(me.recipient())],
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert age.decrypt(out.read_bytes(), [me]) == PLAIN


def test_detect_prints_the_layout(cli, tmp_path, key):
    for name, data in {
        "fernet-file": fernet_file(PASSWORD, PLAIN),
        "fernet-json": fernet_json(PASSWORD, PLAIN),
        "aes-gcm-json": aes_gcm_json(key, PLAIN, encoding="hex"),
    }.items():
        (tmp_path / name).write_bytes(data)
        r = cli(["legacy", "detect", tmp_path / name])
        assert (r.code, r.stdout, r.stderr) == (0, f"{name}\n".encode(), "")
        r = cli(["legacy", "detect", "--json", tmp_path / name])
        assert r.code == 0 and json.loads(r.stdout) == {"format": name}
    (tmp_path / "raw").write_bytes(aes_gcm_raw(key, PLAIN))
    r = cli(["legacy", "detect", tmp_path / "raw"])
    assert r.code == 1 and "--format aes-gcm-raw" in r.stderr


def test_a_wrong_password_or_key_fails_with_nothing_written_naming_where_it_came_from(
    cli, tmp_path, key, me
):
    src = tmp_path / "old.bin"
    src.write_bytes(fernet_file(PASSWORD, PLAIN))
    r = cli(["legacy", "decrypt", src, "-o", tmp_path / "out"], env={"SEALBOX_PASSPHRASE": "no"})
    assert r.code == 1 and r.stdout == b""
    assert r.stderr == (
        "sealbox: error: cannot decrypt: wrong password or key, or the data was altered\n"
        "sealbox: hint: the password came from $SEALBOX_PASSPHRASE\n"
    )
    assert not (tmp_path / "out").exists()
    (tmp_path / "pw").write_text("not it\n")
    r = cli(
        ["legacy", "migrate", src, "-o", tmp_path / "out.age", "-r", str(me.recipient()),
         "--passphrase-file", tmp_path / "pw"],
    )  # fmt: skip
    assert (r.code, r.stdout) == (1, b"")
    assert (
        r.stderr.splitlines()[1]
        == f"sealbox: hint: the password came from passphrase file {tmp_path / 'pw'}"
    )
    assert not (tmp_path / "out.age").exists()
    rec = tmp_path / "rec.json"
    rec.write_bytes(aes_gcm_json(key, PLAIN))
    (tmp_path / "other").write_bytes(os.urandom(32))
    r = cli(["legacy", "decrypt", rec, "--key-file", tmp_path / "other"])
    assert r.code == 1 and r.stderr == (
        "sealbox: error: cannot decrypt: wrong password or key, or the data was altered\n"
        f"sealbox: hint: the key came from key file {tmp_path / 'other'}\n"
    )


def test_the_missing_secret_is_named_with_its_option(cli, tmp_path, key):
    rec = tmp_path / "rec.json"
    rec.write_bytes(aes_gcm_json(key, PLAIN))
    r = cli(["legacy", "decrypt", rec])
    assert r.code == 1
    assert r.stderr.splitlines()[-1] == "sealbox: hint: give its key file with -k/--key"
    src = tmp_path / "old.bin"
    src.write_bytes(fernet_file(PASSWORD, PLAIN))
    (tmp_path / "key").write_bytes(key)
    r = cli(["legacy", "decrypt", src, "--key-file", tmp_path / "key"])
    assert r.code == 1
    assert "it is opened with its password, not a key" in r.stderr
    assert "--passphrase-file" in r.stderr


def test_a_key_file_without_a_key_is_refused_without_echoing_it(cli, tmp_path, key):
    rec = tmp_path / "rec.json"
    rec.write_bytes(aes_gcm_json(key, PLAIN))
    (tmp_path / "key").write_text("hunter2-is-not-a-key\n")
    r = cli(["legacy", "decrypt", rec, "--key-file", tmp_path / "key"])
    assert r.code == 1
    assert r.stderr == (
        f"sealbox: error: key file {tmp_path / 'key'}: not a 32-byte AES-256-GCM key "
        "(raw, hex or base64)\n"
    )
    assert "hunter2" not in r.stderr


def test_decrypt_refuses_an_existing_output_before_asking_for_the_password(cli, tmp_path):
    # The record was decrypted (the password asked for, the KDF run) and only then was
    # the output found to exist; `migrate` checked first.
    src = tmp_path / "old.bin"
    src.write_bytes(fernet_file(PASSWORD, PLAIN))
    out = tmp_path / "plain.txt"
    out.write_bytes(b"kept")
    r = cli(["legacy", "decrypt", src, "-o", out])  # no password anywhere
    assert r.code == 1
    assert f"{out} already exists" in r.stderr
    assert "password" not in r.stderr
    assert out.read_bytes() == b"kept"


def test_legacy_decrypt_points_an_age_file_at_sealbox_decrypt(cli, tmp_path, me):
    src = tmp_path / "new.age"
    src.write_bytes(age.encrypt(PLAIN, [me.recipient()]))
    r = cli(["legacy", "decrypt", src])
    assert r.code == 1
    assert r.stderr.splitlines()[-1] == "sealbox: hint: decrypt it with 'sealbox decrypt'"


def test_a_truncated_json_record_is_a_format_error(cli, tmp_path, key):
    rec = tmp_path / "rec.json"
    rec.write_bytes(aes_gcm_json(key, PLAIN)[:-30])
    (tmp_path / "key").write_bytes(key)
    r = cli(["legacy", "decrypt", rec, "--key-file", tmp_path / "key"])
    assert r.code == 1 and "cut short" in r.stderr and r.stdout == b""


@pytest.mark.parametrize(
    ("layout", "make"),
    [
        ("fernet-file", lambda k: fernet_file(PASSWORD, PLAIN)),
        ("fernet-json", lambda k: fernet_json(PASSWORD, PLAIN)),
        ("aes-gcm-json", lambda k: aes_gcm_json(k, PLAIN, encoding="hex")),
        ("aes-gcm-json", lambda k: aes_gcm_json(k, PLAIN, encoding="base64")),
    ],
)
def test_decrypt_points_a_legacy_record_at_sealbox_legacy_and_never_prints_it(
    tmp_path, key, layout, make
):
    data = make(key)
    src = tmp_path / "old.rec"
    src.write_bytes(data)
    # The real program: a plain decrypt runs without click, through the direct path.
    r = run_sealbox(["decrypt", src], env={"SEALBOX_PASSPHRASE": "old password"})
    stderr = r.stderr.decode()
    assert r.returncode == 1 and r.stdout == b""
    assert stderr.splitlines() == [
        (
            f"sealbox: error: {src} is not an age file: it is a record of the original recipes "
            f"({layout})"
        ),
        (
            f"sealbox: hint: read it with 'sealbox legacy decrypt {src}', or rewrite it as an age "
            f"file with 'sealbox legacy migrate {src} -o FILE.age -r RECIPIENT'"
        ),
    ]
    assert not [s for s in _snippets(data) if s in stderr]
    # From standard input with a regular file behind it, the same pointer.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    with src.open("rb") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "sealbox", "decrypt"],
            stdin=fh, capture_output=True, env=env, timeout=120, check=False,
        )  # fmt: skip
    stderr = proc.stderr.decode()
    assert proc.returncode == 1 and proc.stdout == b""
    assert stderr.startswith(
        f"sealbox: error: the input is not an age file: it is a record of the original "
        f"recipes ({layout})\n"
    )
    assert not [s for s in _snippets(data) if s in stderr]


def test_decrypt_of_other_bytes_quotes_none_of_them(tmp_path, key):
    data = aes_gcm_raw(key, PLAIN)
    src = tmp_path / "rec.bin"
    src.write_bytes(data)
    r = run_sealbox(["decrypt", src], env={"SEALBOX_PASSPHRASE": "x"})
    stderr = r.stderr.decode()
    assert r.returncode == 1
    assert stderr.splitlines() == [
        "sealbox: error: not an age file: it does not start with 'age-encryption.org/v1'",
        (
            "sealbox: hint: check that this is the encrypted file; records of the original "
            "Fernet and AES-GCM recipes are read with 'sealbox legacy decrypt'"
        ),
    ]
    secret_text = b"password=hunter2, and plaintext without a line end " * 3
    src.write_bytes(secret_text)
    r = run_sealbox(["decrypt", src], env={"SEALBOX_PASSPHRASE": "x"})
    assert b"hunter2" not in r.stderr and r.returncode == 1


def test_the_pointer_reads_the_json_records_keys_not_its_values(tmp_path, key):
    data = aes_gcm_json(key, os.urandom(300_000), encoding="hex")
    src = tmp_path / "big.json"
    src.write_bytes(data)
    r = run_sealbox(["decrypt", src], env={"SEALBOX_PASSPHRASE": "x"})
    stderr = r.stderr.decode()
    assert "(aes-gcm-json)" in stderr
    assert json.loads(data)["iv"] not in stderr


def test_the_pointer_quotes_a_path_with_a_space_as_a_shell_word(tmp_path):
    src = tmp_path / "old report.enc"
    src.write_bytes(fernet_file(PASSWORD, PLAIN))
    r = run_sealbox(["decrypt", src], env={"SEALBOX_PASSPHRASE": "x"})
    hint = r.stderr.decode().splitlines()[-1]
    assert f"sealbox legacy decrypt '{src}'" in hint


def test_a_bare_fernet_token_is_named_with_what_to_do_instead(cli, tmp_path):
    from cryptography.fernet import Fernet

    src = tmp_path / "value.tok"
    src.write_bytes(Fernet(Fernet.generate_key()).encrypt(PLAIN) + b"\n")
    for args in (
        ["legacy", "detect", src],
        ["legacy", "decrypt", src],
        ["legacy", "decrypt", "--format", "fernet-file", src],
    ):
        r = cli(args, env={"SEALBOX_PASSPHRASE": "old password"})
        assert (r.code, r.stdout) == (1, b""), args
        lines = r.stderr.splitlines()
        assert lines[0].startswith("sealbox: error: this is a bare Fernet token, made with a ")
        assert lines[1].startswith("sealbox: hint: decrypt it with cryptography's Fernet(key)")
        assert "aes-gcm-raw" not in r.stderr
        assert not any(s in r.stderr for s in _snippets(src.read_bytes()) if len(s) > 6)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_migrate_stopped_while_writing_leaves_no_output_and_no_temporary(
    tmp_path, key, me, signum
):
    # SIGTERM ended the process where it stood: the half-written temporary age file stayed
    # in the output's folder, and nothing was said.
    (tmp_path / "key").write_bytes(key)
    # Large enough, and armored, that the run is still writing when the signal lands.
    (tmp_path / "record").write_bytes(aes_gcm_raw(key, bytes(128 * 1024 * 1024)))
    out = tmp_path / "out.age"
    argv = [sys.executable, "-m", "sealbox", "legacy", "migrate", "--format", "aes-gcm-raw"]
    argv += ["-k", str(tmp_path / "key"), "-r", str(me.recipient()), "-a", "-o", str(out)]
    proc = subprocess.Popen([*argv, str(tmp_path / "record")], stderr=subprocess.PIPE)
    while proc.poll() is None:
        temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".out.age.")]
        if temporaries and temporaries[0].stat().st_size > 0:
            proc.send_signal(signum)
            break
    else:
        pytest.fail(f"the run ended before it could be interrupted: {proc.communicate()[1]!r}")
    _, stderr = proc.communicate(timeout=120)
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    assert (proc.returncode, stderr.decode()) == (128 + signum, f"sealbox: error: {word}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key", "record"]
