"""`sealbox key encrypt|decrypt|sign|verify` and `key fingerprint --json`, checked against
openssl pkeyutl both ways (RSA-OAEP SHA-256; RSA-PSS, Ed25519 and ECDSA signatures)."""

from __future__ import annotations

import base64
import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox.keys.asymmetric import PublicKey
from tests.conftest import require_tool, run_sealbox

PASS = "canary-key-ops-passphrase-91c2"
SECRET = b"canary-oaep-payload-3e7f"
OAEP = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
    "-pkeyopt",
    "rsa_mgf1_md:sha256",
]


def _openssl(*args: str | Path, input: bytes = b"") -> bytes:
    openssl = require_tool("openssl")
    done = subprocess.run(
        [openssl, *map(str, args)], input=input, capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _pair(tmp_path: Path, algorithm: str, *opts: str) -> tuple[Path, Path]:
    private, public = tmp_path / f"{algorithm}.key", tmp_path / f"{algorithm}.pub.pem"
    _openssl("genpkey", "-algorithm", algorithm, *opts, "-out", private)
    _openssl("pkey", "-in", private, "-pubout", "-out", public)
    return private, public


@pytest.fixture
def rsa(tmp_path: Path) -> tuple[Path, Path]:
    return _pair(tmp_path, "rsa", "-pkeyopt", "rsa_keygen_bits:2048")


# --- RSA-OAEP ---------------------------------------------------------------------------------


def test_key_encrypt_output_opens_with_openssl_pkeyutl(tmp_path: Path, cli, rsa) -> None:
    private, public = rsa
    plain = tmp_path / "p"
    plain.write_bytes(SECRET)
    r = cli(["key", "encrypt", "-k", public, "-o", tmp_path / "c", plain])
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    ciphertext = (tmp_path / "c").read_bytes()
    assert len(ciphertext) == 256 and SECRET not in ciphertext
    assert _openssl("pkeyutl", "-decrypt", "-inkey", private, *OAEP, input=ciphertext) == SECRET


def test_openssl_oaep_ciphertext_decrypts_from_stdin_to_stdout(tmp_path: Path, cli, rsa) -> None:
    private, public = rsa
    ciphertext = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=SECRET)
    r = cli(["key", "decrypt", "-k", private], input=ciphertext)
    assert (r.code, r.stdout, r.stderr) == (0, SECRET, "")


def test_oaep_label_round_trips_with_openssl_and_a_wrong_label_fails(
    tmp_path: Path, cli, rsa
) -> None:
    private, public = rsa
    r = cli(["key", "encrypt", "-k", public, "--label", "db-key"], input=SECRET)
    assert r.code == 0, r.stderr
    label = ["-pkeyopt", f"rsa_oaep_label:{b'db-key'.hex()}"]
    opened = _openssl("pkeyutl", "-decrypt", "-inkey", private, *OAEP, *label, input=r.stdout)
    assert opened == SECRET
    wrong = cli(["key", "decrypt", "-k", private, "--label", "other"], input=r.stdout)
    assert (wrong.code, wrong.stdout) == (1, b"")
    assert wrong.stderr.startswith("sealbox: error: decryption failed")


def test_an_encrypted_pem_key_decrypts_with_the_passphrase_from_a_file_or_the_environment(
    tmp_path: Path, cli, rsa
) -> None:
    private, public = rsa
    locked = tmp_path / "locked.pem"
    _openssl("pkey", "-in", private, "-aes-256-cbc", "-passout", f"pass:{PASS}", "-out", locked)
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASS + "\n")
    ciphertext = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=SECRET)
    by_file = cli(
        ["key", "decrypt", "-k", locked, "--passphrase-file", pass_file], input=ciphertext
    )
    assert (by_file.code, by_file.stdout) == (0, SECRET), by_file.stderr
    by_env = cli(
        ["key", "decrypt", "-k", locked], input=ciphertext, env={"SEALBOX_PASSPHRASE": PASS}
    )
    assert (by_env.code, by_env.stdout) == (0, SECRET), by_env.stderr
    wrong = cli(
        ["key", "decrypt", "-k", locked], input=ciphertext, env={"SEALBOX_PASSPHRASE": "no"}
    )
    assert wrong.code == 1 and PASS not in wrong.stderr


def test_decrypted_plaintext_file_is_private_and_not_replaced_without_force(
    tmp_path: Path, cli, rsa
) -> None:
    private, public = rsa
    ciphertext = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=SECRET)
    out = tmp_path / "plain"
    assert cli(["key", "decrypt", "-k", private, "-o", out], input=ciphertext).code == 0
    assert out.read_bytes() == SECRET
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = cli(["key", "decrypt", "-k", private, "-o", out], input=ciphertext)
    assert again.code == 1
    assert again.stderr == (
        f"sealbox: error: {out} already exists\nsealbox: hint: use --force to replace it\n"
    )
    forced = cli(["key", "decrypt", "-k", private, "-o", out, "--force"], input=ciphertext)
    assert forced.code == 0


def test_base64_ciphertext_round_trips(cli, rsa) -> None:
    private, public = rsa
    r = cli(["key", "encrypt", "-k", public, "--base64"], input=SECRET)
    assert r.code == 0 and r.out.endswith("\n")
    assert len(base64.b64decode(r.out.strip(), validate=True)) == 256
    back = cli(["key", "decrypt", "-k", private, "--base64"], input=r.stdout)
    assert (back.code, back.stdout) == (0, SECRET)
    bad = cli(["key", "decrypt", "-k", private, "--base64"], input=b"not base64!")
    assert bad.code == 1 and "not valid base64" in bad.stderr


def test_too_large_payloads_and_non_rsa_keys_point_at_age_encryption(
    tmp_path: Path, cli, rsa
) -> None:
    _, public = rsa
    big = cli(["key", "encrypt", "-k", public], input=b"x" * 191)
    assert big.code == 1 and big.stdout == b""
    assert "encrypts at most 190" in big.stderr
    assert "sealbox: hint: encrypt data of any size to the key with 'sealbox encrypt" in big.stderr
    _, ed_public = _pair(tmp_path, "ed25519")
    ed = cli(["key", "encrypt", "-k", ed_public], input=SECRET)
    assert ed.code == 1 and "ed25519 keys cannot encrypt directly" in ed.stderr
    assert "'sealbox encrypt -R KEY.pub'" in ed.stderr


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "opts", "verify_opts"),
    [
        ("ed25519", (), ()),
        ("ec", ("-pkeyopt", "ec_paramgen_curve:P-256"), ("-digest", "sha256")),
        (
            "rsa",
            ("-pkeyopt", "rsa_keygen_bits:2048"),
            (
                "-digest",
                "sha256",
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                "rsa_pss_saltlen:32",
            ),
        ),
    ],
)
def test_signatures_verify_with_openssl_and_openssl_signatures_verify_here(
    tmp_path: Path, cli, algorithm: str, opts: tuple[str, ...], verify_opts: tuple[str, ...]
) -> None:
    private, public = _pair(tmp_path, algorithm, *opts)
    data = tmp_path / "data"
    data.write_bytes(os.urandom(5000))
    sig = tmp_path / "data.sig"
    r = cli(["key", "sign", "-k", private, "-o", sig, data])
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", *verify_opts,
        "-in", data, "-sigfile", sig,
    )  # fmt: skip
    theirs = tmp_path / "theirs.sig"
    sign_opts = [o.replace("-verify", "-sign") for o in verify_opts]
    _openssl(
        "pkeyutl", "-sign", "-inkey", private, "-rawin", *sign_opts,
        "-in", data, "-out", theirs,
    )  # fmt: skip
    ok = cli(["key", "verify", "-k", public, "-s", theirs, data])
    assert ok.code == 0, ok.stderr
    assert ok.out.startswith("good signature by ")
    tampered = bytearray(data.read_bytes())
    tampered[0] ^= 1
    bad = cli(["key", "verify", "-k", public, "-s", theirs], input=bytes(tampered))
    assert bad.code == 1 and bad.stdout == b""
    assert bad.stderr.startswith("sealbox: error: signature verification failed\n")


def test_rsa_pss_signatures_with_another_salt_length_need_it_named(
    tmp_path: Path, cli, rsa
) -> None:
    private, public = rsa
    data = tmp_path / "data"
    data.write_bytes(b"payload")
    sig = tmp_path / "max.sig"
    _openssl(
        "dgst", "-sha256", "-sign", private, "-sigopt", "rsa_padding_mode:pss",
        "-sigopt", "rsa_pss_saltlen:max", "-out", sig, data,
    )  # fmt: skip
    assert cli(["key", "verify", "-k", public, "-s", sig, data]).code == 1
    ok = cli(["key", "verify", "-k", public, "-s", sig, "--pss-salt-length", "222", data])
    assert ok.code == 0, ok.stderr
    _, ed_public = _pair(tmp_path, "ed25519")
    usage = cli(["key", "verify", "-k", ed_public, "-s", sig, "--pss-salt-length", "32", data])
    assert usage.code == 2 and "RSA keys only" in usage.stderr


def test_verify_json_names_the_key_and_sign_base64_round_trips(tmp_path: Path, cli) -> None:
    gen = cli(["key", "generate", "-o", tmp_path / "id", "--no-passphrase", "-C", "ci@example"])
    assert gen.code == 0, gen.stderr
    signed = cli(["key", "sign", "-k", tmp_path / "id", "--base64"], input=b"release 1.2")
    assert signed.code == 0 and len(base64.b64decode(signed.out)) == 64
    (tmp_path / "sig.b64").write_bytes(signed.stdout)
    r = cli(
        [
            "key",
            "verify",
            "-k",
            tmp_path / "id.pub",
            "-s",
            tmp_path / "sig.b64",
            "--base64",
            "--json",
        ],
        input=b"release 1.2",
    )
    assert r.code == 0, r.stderr
    public = PublicKey.load(tmp_path / "id.pub")
    assert json.loads(r.out) == {
        "valid": True,
        "type": "ed25519",
        "bits": 256,
        "fingerprint": public.fingerprint(),
        "comment": "ci@example",
    }


def test_verify_refuses_data_and_signature_both_on_stdin(cli, rsa) -> None:
    _, public = rsa
    r = cli(["key", "verify", "-k", public, "-s", "-"], input=b"x")
    assert r.code == 2 and "both come from stdin" in r.stderr


def test_x25519_keys_cannot_sign(tmp_path: Path, cli) -> None:
    private, _ = _pair(tmp_path, "x25519")
    r = cli(["key", "sign", "-k", private], input=b"x")
    assert r.code == 1 and "x25519 keys cannot sign" in r.stderr


@pytest.mark.parametrize("command", ["sign", "verify"])
def test_a_file_too_large_to_sign_whole_is_refused_with_the_way_to_sign_it(
    tmp_path: Path, cli, command: str
) -> None:
    key = tmp_path / "k"
    assert cli(["key", "generate", "-o", key, "--no-passphrase"]).code == 0
    (tmp_path / "sig").write_bytes(bytes(64))
    big = tmp_path / "big"
    with big.open("wb") as fh:  # sparse: no disk space taken
        fh.truncate(256 * 1024 * 1024 + 1)
    args = ["-s", tmp_path / "sig"] if command == "verify" else ["-o", tmp_path / "out"]
    r = cli(["key", command, "-k", key, *args, big])
    assert (r.code, r.stdout) == (1, b"")
    hint = {
        "sign": "sign large files with 'sealbox sign'",
        "verify": "files this large are signed with 'sealbox sign'",
    }[command]
    assert r.stderr.endswith(f"{big} is larger than 268435456 bytes\nsealbox: hint: {hint}\n")
    assert not (tmp_path / "out").exists()


# --- fingerprint --json -------------------------------------------------------------------------


def test_fingerprint_json_has_the_same_facts_as_the_line(tmp_path: Path, cli) -> None:
    key = tmp_path / "k"
    assert cli(["key", "generate", "--type", "rsa", "--bits", "2048", "-o", key,
                "--no-passphrase", "-C", "ops"]).code == 0  # fmt: skip
    line = cli(["key", "fingerprint", key]).out.strip()
    doc = json.loads(cli(["key", "fingerprint", "--json", key]).out)
    assert doc == {
        "type": "rsa",
        "bits": 2048,
        "fingerprint": line.split()[1],
        "comment": "ops",
    }
    assert line == f"2048 {doc['fingerprint']} ops (RSA)"


# --- binary output never to a terminal ------------------------------------------------------


def _on_terminal(args: list[str | Path], data: bytes) -> tuple[int, str]:
    """Run sealbox with stdout on a pseudo-terminal; data on stdin."""
    main, secondary = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
        done = subprocess.run(
            [sys.executable, "-m", "sealbox", *map(str, args)],
            input=data,
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(secondary)
    os.set_blocking(main, False)
    shown = b""
    try:
        while chunk := os.read(main, 4096):
            shown += chunk
    except OSError:
        pass
    os.close(main)
    assert shown == b"" or done.returncode == 0
    return done.returncode, done.stderr.decode()


def test_binary_ciphertexts_and_signatures_never_go_to_a_terminal(tmp_path: Path, rsa) -> None:
    private, public = rsa
    for args in (["key", "encrypt", "-k", public], ["key", "sign", "-k", private]):
        code, err = _on_terminal(args, SECRET)
        assert code == 1
        assert err.startswith("sealbox: error: not writing the binary")
        assert "hint: write it to a file with -o FILE" in err
    text = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=SECRET)
    assert _on_terminal(["key", "decrypt", "-k", private], text)[0] == 0
    binary = _openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=b"\x00\xff\x1b[2J"
    )
    code, err = _on_terminal(["key", "decrypt", "-k", private], binary)
    assert code == 1 and "not writing the binary plaintext to a terminal" in err


def test_base64_wrapped_by_openssl_is_read(tmp_path: Path, cli, rsa) -> None:
    private, public = rsa
    ciphertext = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, *OAEP, input=SECRET)
    wrapped = _openssl("base64", input=ciphertext)
    assert wrapped.count(b"\n") > 1
    r = cli(["key", "decrypt", "-k", private, "--base64"], input=wrapped)
    assert (r.code, r.stdout) == (0, SECRET), r.stderr


# --- what a key file says is shown, never acted on, by a terminal ------------------------------


def _shown_on_terminal(args: list[str | Path]) -> bytes:
    """What sealbox writes to a terminal (stdout on a pseudo-terminal)."""
    main, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sealbox", *map(str, args)],
            stdout=secondary,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(secondary)
    shown = b""
    try:
        while chunk := os.read(main, 4096):
            shown += chunk
    except OSError:  # the pseudo-terminal is closed once read to its end
        pass
    os.close(main)
    assert done.returncode == 0, done.stderr.decode()
    return shown


@pytest.mark.parametrize("command", ["fingerprint", "public"])
def test_control_characters_in_a_key_comment_are_escaped_on_a_terminal(
    tmp_path: Path, cli, command: str
) -> None:
    # A .pub file is often someone else's: its comment must not clear the screen, set the
    # window title or backspace over the fingerprint before your eyes (ssh-keygen -l
    # escapes them too).
    key = tmp_path / "k"
    assert cli(["key", "generate", "-o", key, "--no-passphrase"]).code == 0
    kind, blob = (tmp_path / "k.pub").read_text().split()[:2]
    theirs = tmp_path / "theirs.pub"
    theirs.write_bytes(f"{kind} {blob} alice\x1b]0;owned\x07\x1b[2J\x08\x08\x08mallory\n".encode())
    shown = _shown_on_terminal(["key", command, theirs])
    assert not set(shown) & {0x1B, 0x07, 0x08}
    assert b"alice\\x1b]0;owned\\x07\\x1b[2J\\x08\\x08\\x08mallory" in shown


def test_key_public_piped_writes_the_comment_as_the_file_has_it(tmp_path: Path, cli) -> None:
    # Piped, the key line is data (for authorized_keys and the like): nothing in it is
    # escaped or dropped, not even the ANSI sequences click strips from what is not a
    # terminal.
    key = tmp_path / "k"
    assert cli(["key", "generate", "-o", key, "--no-passphrase"]).code == 0
    kind, blob = (tmp_path / "k.pub").read_text().split()[:2]
    line = f"{kind} {blob} alice\x1b[2J\x1b]0;t\x07mallory\n".encode()
    theirs = tmp_path / "theirs.pub"
    theirs.write_bytes(line)
    done = run_sealbox(["key", "public", str(theirs)])
    assert (done.returncode, done.stdout) == (0, line), done.stderr.decode()
