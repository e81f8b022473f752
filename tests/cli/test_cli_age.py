"""`sealbox keygen|encrypt|decrypt|inspect` and keyrings saved to age recipients."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from sealbox import Keyring, age


def test_keygen_encrypt_decrypt(cli, tmp_path: Path):
    key = tmp_path / "key.txt"
    r = cli(["keygen", "-o", key])
    assert r.code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    recipient = r.stderr.strip().removeprefix("Public key: ")
    assert cli(["keygen", "-y", key]).out.strip() == recipient
    assert cli(["keygen", "-o", key]).code == 1  # never overwritten
    plain = os.urandom(200_000)
    (tmp_path / "p").write_bytes(plain)
    r = cli(["encrypt", "-r", recipient, "-o", tmp_path / "p.age", tmp_path / "p"])
    assert r.code == 0, r.stderr
    r = cli(["decrypt", "-i", key, tmp_path / "p.age"])
    assert r.code == 0 and r.stdout == plain
    r = cli(["encrypt", "-a", "-i", key], input=b"hi")
    assert r.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert cli(["decrypt", "-i", key], input=r.stdout).stdout == b"hi"


def test_output_safety(cli, tmp_path: Path):
    me = age.X25519Identity.generate()
    src = tmp_path / "p"
    src.write_bytes(b"data")
    out = tmp_path / "p.age"
    out.write_bytes(b"keep me")
    r = cli(["encrypt", "-r", str(me.recipient()), "-o", out, src])
    assert r.code == 1 and "already exists" in r.stderr and out.read_bytes() == b"keep me"
    r = cli(["encrypt", "-r", str(me.recipient()), "-o", src, "--force", src])
    assert r.code == 1 and "input" in r.stderr and src.read_bytes() == b"data"
    assert cli(["encrypt", "-r", str(me.recipient()), "-o", out, "--force", src]).code == 0
    assert age.decrypt(out.read_bytes(), [me]) == b"data"


def test_usage_errors(cli):
    assert cli(["encrypt"], input=b"x").code == 2
    assert cli(["encrypt", "-p", "-r", "age1x"], input=b"x").code == 2
    r = cli(["encrypt", "-r", "nonsense"], input=b"x")
    assert r.code == 1 and "unknown recipient" in r.stderr


def test_an_age_identity_given_as_a_recipient_is_refused_without_any_of_it_shown(
    cli, tmp_path: Path
):
    me = age.X25519Identity.generate()
    secret = me.expose_secret()
    assert secret.startswith("AGE-SECRET-KEY-1")
    key = tmp_path / "key.txt"
    key.write_text(f"# public key: {me.recipient()}\n{secret}\n")
    body = secret.removeprefix("AGE-SECRET-KEY-1")
    for argv in (
        ["encrypt", "-r", secret],
        ["encrypt", "-r", secret.lower()],
        ["encrypt", "-R", key],
        ["keyring", "create", tmp_path / "k.keyring", "-r", secret],
        ["secrets", "init", tmp_path / "s.env", "-r", secret],
    ):
        r = cli(argv, input=b"x")
        assert r.code == 1, argv
        assert "an age identity (AGE-SECRET-KEY-…) was given as a recipient" in r.stderr
        assert "sealbox keygen -y FILE" in r.stderr
        # Not even its first characters: eight of them are forty bits of the key.
        assert body[:4].lower() not in (r.stderr + r.out).lower(), argv
    assert not (tmp_path / "k.keyring").exists() and not (tmp_path / "s.env").exists()


def test_a_work_factor_above_the_maximum_says_how_a_trusted_file_opens(cli, tmp_path: Path):
    sealed = age.encrypt(b"pw", [age.ScryptRecipient("hunter2", work_factor=10)])
    costly = sealed.replace(b" 10\n", b" 30\n", 1)  # the stanza's work factor, edited
    assert costly != sealed
    (tmp_path / "f.age").write_bytes(costly)
    r = cli(["decrypt", tmp_path / "f.age"], env={"SEALBOX_PASSPHRASE": "hunter2"})
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: the scrypt work factor 2^30 is above the maximum 2^22",
        (
            "sealbox: hint: the command line keeps the maximum 2^22 (a file made this costly "
            "may be an attack on your memory); a file from a trusted source opens with the "
            "library: ScryptIdentity(passphrase, max_work_factor=30)"
        ),
    ]


def test_passphrase_round_trip(cli, tmp_path: Path):
    env = {"SEALBOX_PASSPHRASE": "correct horse battery"}
    r = cli(["encrypt", "-p", "-o", tmp_path / "f.age"], input=b"secret", env=env)
    assert r.code == 0, r.stderr
    assert cli(["decrypt", tmp_path / "f.age"], env=env).stdout == b"secret"
    r = cli(["decrypt", tmp_path / "f.age"], env={"SEALBOX_PASSPHRASE": "wrong"})
    assert r.code == 1 and "correct horse" not in r.stderr


def test_a_wrong_passphrase_is_reported_as_incorrect_with_its_source(cli, tmp_path: Path):
    # Sealed at a cheap work factor: each wrong try runs scrypt at the file's cost, and
    # the command line's own sealing is test_passphrase_round_trip's.
    sealed = age.encrypt(b"x", [age.ScryptRecipient("correct horse battery", work_factor=10)])
    (tmp_path / "f.age").write_bytes(sealed)
    r = cli(["decrypt", tmp_path / "f.age"], env={"SEALBOX_PASSPHRASE": "wrong words"})
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: incorrect passphrase",
        "sealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE",
    ]
    (tmp_path / "pass").write_text("also wrong\n")
    r = cli(["decrypt", "--passphrase-file", tmp_path / "pass", tmp_path / "f.age"])
    assert r.stderr.splitlines() == [
        "sealbox: error: incorrect passphrase",
        f"sealbox: hint: the passphrase came from passphrase file {tmp_path / 'pass'}",
    ]
    assert "wrong words" not in r.stderr and "also wrong" not in r.stderr
    # The same through the real program (its direct path runs without click).
    from tests.conftest import run_sealbox

    proc = run_sealbox(["decrypt", tmp_path / "f.age"], env={"SEALBOX_PASSPHRASE": "nope"})
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("sealbox: error: incorrect passphrase\n")


def test_a_wrong_passphrase_for_an_identity_file_names_the_file_and_its_source(cli, tmp_path: Path):
    from tests.conftest import require_tool

    ssh_keygen = require_tool("ssh-keygen")
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("good pass\n")
    bad.write_text("bad pass\n")
    assert cli(["keygen", "-o", tmp_path / "k.txt"]).code == 0
    r = cli(
        ["encrypt", "-p", "--passphrase-file", good, "-o", tmp_path / "k.age", tmp_path / "k.txt"]
    )
    assert r.code == 0, r.stderr
    # identity, what to encrypt to: an age-encrypted identity file, and two encrypted SSH
    # keys (OpenSSH's format opens when first used, PEM when read).
    keys = [(tmp_path / "k.age", ["-i", tmp_path / "k.txt"])]
    for name, extra in (
        ("ed25519", ["-t", "ed25519"]),
        ("rsa-pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"]),
    ):
        key = tmp_path / name
        subprocess.run(
            [ssh_keygen, "-q", *extra, "-N", "good pass", "-C", "x", "-f", key], check=True
        )
        keys.append((key, ["-R", tmp_path / f"{name}.pub"]))
    for identity, to in keys:
        sealed = tmp_path / f"{identity.name}.sealed"
        assert cli(["encrypt", *to, "-o", sealed], input=b"x").code == 0
        r = cli(["decrypt", "-i", identity, "--passphrase-file", bad, sealed])
        assert r.code == 1, identity
        error, hint = r.stderr.splitlines()
        assert f"identity file {identity}" in error and "passphrase" in error, error
        assert hint == f"sealbox: hint: the passphrase came from passphrase file {bad}"
        assert "bad pass" not in r.stderr
        r = cli(["decrypt", "-i", identity, "--passphrase-file", good, sealed])
        assert (r.code, r.out) == (0, "x"), (identity, r.stderr)


def test_identities_against_a_passphrase_file_and_none_against_a_recipient_file(
    cli, tmp_path: Path
):
    env = {"SEALBOX_PASSPHRASE": "correct horse battery"}
    assert cli(["encrypt", "-p", "-o", tmp_path / "p.age"], input=b"x", env=env).code == 0
    assert cli(["keygen", "-o", tmp_path / "k.txt"]).code == 0
    r = cli(["decrypt", "-i", tmp_path / "k.txt", tmp_path / "p.age"])
    assert r.code == 1
    assert "hint: the file is passphrase-encrypted: leave out -i" in r.stderr
    assert (
        cli(["encrypt", "-i", tmp_path / "k.txt", "-o", tmp_path / "r.age"], input=b"x").code == 0
    )
    r = cli(["decrypt", tmp_path / "r.age"], env=env)
    assert r.stderr.splitlines() == [
        "sealbox: error: no identity given, and the file is not passphrase-encrypted",
        "sealbox: hint: use -i FILE (the file is encrypted to: X25519)",
    ]


def test_inspect(cli, tmp_path: Path):
    me = age.X25519Identity.generate()
    path = tmp_path / "f.age"
    path.write_bytes(age.encrypt(b"x" * 70_000, [me.recipient()] * 2, armor=True))
    doc = json.loads(cli(["inspect", "--json", path]).out)
    assert doc["armored"] is True and doc["recipients"] == ["X25519", "X25519"]
    assert doc["plaintext_size"] == 70_000
    assert "2x X25519" in cli(["inspect", path]).out


def test_keyring_to_recipients(cli, tmp_path: Path):
    key = tmp_path / "key.txt"
    cli(["keygen", "-o", key])
    recipients = tmp_path / "r.txt"
    recipients.write_text(cli(["keygen", "-y", key]).out)
    ring = tmp_path / "ring.age"
    assert cli(["keyring", "create", ring, "-R", recipients]).code == 0
    assert ring.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert cli(["keyring", "rotate", ring, "-i", key]).code == 0
    listed = json.loads(cli(["keyring", "list", ring, "--json", "-i", key]).out)
    assert len(listed) == 2
    token = cli(["seal", "-k", ring, "-i", key], input=b"v").out.strip()
    assert cli(["open", "-k", ring, "-i", key], input=token.encode()).stdout == b"v"
    r = cli(["keyring", "list", ring])
    assert r.code == 1 and "-i" in r.stderr
    loaded = Keyring.load(ring, identities=age.load_identities(key))
    assert len(loaded) == 2 and loaded.recipients == tuple(recipients.read_text().split())


def test_large_files_through_files_and_redirected_stdout(tmp_path: Path):
    # Several batches, written in aligned pieces to -o files and to a standard
    # output redirected to a regular file that already holds data.
    me = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    plain = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / "p").write_bytes(plain)
    sealbox = [sys.executable, "-m", "sealbox"]
    rec = str(me.recipient())
    subprocess.run(
        [*sealbox, "encrypt", "-r", rec, "-o", tmp_path / "p.age", tmp_path / "p"], check=True
    )
    with (tmp_path / "stdout.age").open("wb") as fh:
        fh.write(b"x" * 100)
        fh.flush()
        subprocess.run([*sealbox, "encrypt", "-r", rec, tmp_path / "p"], stdout=fh, check=True)
    sealed = (tmp_path / "stdout.age").read_bytes()
    assert sealed[:100] == b"x" * 100
    assert age.decrypt(sealed[100:], [me]) == plain
    with (tmp_path / "out").open("ab") as fh:
        fh.write(b"y" * 100)
        fh.flush()
        subprocess.run([*sealbox, "decrypt", "-i", key, tmp_path / "p.age"], stdout=fh, check=True)
    assert (tmp_path / "out").read_bytes() == b"y" * 100 + plain
    subprocess.run(
        [*sealbox, "decrypt", "-i", key, "-o", tmp_path / "o2", tmp_path / "p.age"], check=True
    )
    assert (tmp_path / "o2").read_bytes() == plain
