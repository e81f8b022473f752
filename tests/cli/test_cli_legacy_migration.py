"""Moving a recipe's Fernet file off to age as a user would: the age file read back with
the ``age`` program, the legacy file untouched, the password kept out of argv and errors."""

from __future__ import annotations

import os
import subprocess

from tests._legacy_records import fernet_file, fernet_token
from tests.cli.test_fields_legacy_terminal import _stdout_on_a_terminal
from tests.conftest import require_tool, run_sealbox

PASSWORD = "old password"
PLAIN = os.urandom(100_000)


def _age_identity(tmp_path) -> tuple[str, str]:
    """An identity file made by age-keygen, and its recipient."""
    keygen = require_tool("age-keygen")
    identity = tmp_path / "id.txt"
    subprocess.run([keygen, "-o", identity], check=True, capture_output=True)
    out = subprocess.run([keygen, "-y", identity], check=True, capture_output=True)
    return str(identity), out.stdout.decode().strip()


def test_a_migrated_file_reads_back_with_age_as_the_original_and_the_input_is_untouched(
    tmp_path,
):
    age_bin = require_tool("age")
    identity, recipient = _age_identity(tmp_path)
    src = tmp_path / "report.enc"
    src.write_bytes(fernet_file(PASSWORD.encode(), PLAIN))
    before = (src.read_bytes(), src.stat().st_mtime_ns, src.stat().st_mode)
    (tmp_path / "pw").write_bytes(PASSWORD.encode() + b"\r\n")  # saved on Windows
    for armor in ([], ["-a"]):
        out = tmp_path / f"report{len(armor)}.age"
        r = run_sealbox(
            ["legacy", "migrate", "--passphrase-file", tmp_path / "pw", "-r", recipient,
             *armor, "-o", out, src]
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        back = subprocess.run([age_bin, "-d", "-i", identity, out], capture_output=True)
        assert (back.returncode, back.stdout) == (0, PLAIN)
    assert (src.read_bytes(), src.stat().st_mtime_ns, src.stat().st_mode) == before


def test_migrate_to_standard_output_is_named_so_and_reads_back_with_age(tmp_path):
    age_bin = require_tool("age")
    identity, recipient = _age_identity(tmp_path)
    src = tmp_path / "report.enc"
    src.write_bytes(fernet_file(PASSWORD.encode(), PLAIN))
    env = {"SEALBOX_PASSPHRASE": PASSWORD}
    r = run_sealbox(["legacy", "migrate", "-r", recipient, "-o", "-", src], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode() == (
        f"migrated {src} to standard output ({len(PLAIN):,} bytes of plaintext)\n"
    )
    back = subprocess.run([age_bin, "-d", "-i", identity], input=r.stdout, capture_output=True)
    assert (back.returncode, back.stdout) == (0, PLAIN)


def test_migrate_refuses_binary_age_on_a_terminal_before_asking_for_the_password(tmp_path):
    # `sealbox encrypt` refuses it; `legacy migrate -o -` wrote the binary age file out.
    _, recipient = _age_identity(tmp_path)
    (tmp_path / "old.enc").write_bytes(fernet_file(PASSWORD.encode(), PLAIN))
    args = ["legacy", "migrate", "-r", recipient, "-o", "-", "old.enc"]
    # No password anywhere: the refusal comes before one is looked for.
    code, output = _stdout_on_a_terminal(args, b"", tmp_path, {})
    assert code == 1
    assert output.splitlines() == [
        b"sealbox: error: refusing to write binary output to the terminal",
        b"sealbox: hint: use -a for text output, or -o FILE",
    ]
    env = {"SEALBOX_PASSPHRASE": PASSWORD}
    code, output = _stdout_on_a_terminal([*args[:-1], "-a", "old.enc"], b"", tmp_path, env)
    assert code == 0
    assert output.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")


def test_a_wrong_password_quotes_neither_password_nor_record_and_writes_nothing(tmp_path):
    _, recipient = _age_identity(tmp_path)
    salt = os.urandom(16)
    token = fernet_token(PASSWORD.encode(), PLAIN, salt)
    src = tmp_path / "old.enc"
    src.write_bytes(salt + token)
    tried = "a wrong password of some length"
    for command in (["decrypt", "-o", tmp_path / "out"], ["migrate", "-r", recipient, "-o",
                    tmp_path / "out.age"]):  # fmt: skip
        r = run_sealbox(["legacy", *command, src], env={"SEALBOX_PASSPHRASE": tried})
        stderr = r.stderr.decode()
        assert (r.returncode, r.stdout) == (1, b"")
        assert stderr.splitlines() == [
            "sealbox: error: cannot decrypt: wrong password or key, or the data was altered",
            "sealbox: hint: the password came from $SEALBOX_PASSPHRASE",
        ]
        assert tried not in stderr and token[:20].decode() not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.txt", "old.enc"]
