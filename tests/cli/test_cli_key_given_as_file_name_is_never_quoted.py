"""A secret key pasted where a file name goes (``-i "$(cat key.txt)"``, ``-k "$KEY"``) is
refused as a usage error without a character of its key data on stderr or stdout: an
error quoting the missing "file" would put the key in terminals and CI logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sealbox import age
from tests.conftest import run_sealbox

AGE_KEY = age.X25519Identity.generate().expose_secret()
AGE_DATA = AGE_KEY.removeprefix("AGE-SECRET-KEY-1")
PEM_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    .decode()
)
PEM_DATA = "".join(PEM_KEY.splitlines()[1:-1])


def _leaked(output: str, data: str, size: int = 6) -> list[str]:
    folded = output.casefold()
    windows = {data[i : i + size].casefold() for i in range(len(data) - size + 1)}
    return sorted(w for w in windows if w in folded)


def _commands(tmp: Path, key: str) -> list[list[object]]:
    return [
        ["decrypt", "-i", key, tmp / "in.age"],  # read without click
        ["decrypt", "-i", key, "-o", tmp / "out", tmp / "in.age"],
        ["decrypt", "--force", "-i", key, tmp / "in.age"],  # read by click
        ["keygen", "-y", key],
        ["keyring", "list", tmp / "k.keyring", "-i", key],
        ["secrets", "get", tmp / "s.env", "NAME", "-i", key],
        ["seal", "-K", tmp / "k.keyring", "-i", key],
        ["sign", "-k", key, tmp / "in.age"],
        ["key", "public", key],
        ["legacy", "decrypt", "-k", key, tmp / "in.age"],
        ["serve", "--check", "--key", key, "--data-dir", tmp / "data"],
        ["decrypt", "--passphrase-file", key, tmp / "in.age"],
    ]


@pytest.mark.parametrize(
    ("key", "data"), [(AGE_KEY, AGE_DATA), (PEM_KEY, PEM_DATA)], ids=["age", "pem"]
)
def test_a_secret_key_given_as_a_file_name_is_refused_without_its_key_data(
    tmp_path: Path, key: str, data: str
) -> None:
    (tmp_path / "in.age").write_bytes(b"x")
    for argv in _commands(tmp_path, key):
        r = run_sealbox(argv, input=b"x")
        err, out = r.stderr.decode(), r.stdout.decode()
        assert r.returncode == 2, (argv[:2], err)
        as_argument = argv[:2] in (["keygen", "-y"], ["key", "public"])
        if not (as_argument and key.startswith("-")):
            # A PEM key in an argument's place starts with '-': click reads it as an
            # unknown option, which is not shown either.
            assert "a secret key was given where a file name goes" in err, (argv[:2], err)
            assert "write it to a file" in err, (argv[:2], err)
        assert _leaked(err + out, data) == [], argv[:2]


def test_a_quoted_age_identity_given_as_a_file_name_is_refused_without_its_key_data(
    tmp_path: Path,
) -> None:
    r = run_sealbox(["decrypt", "-i", f'KEY="{AGE_KEY}"', tmp_path / "in.age"])
    assert r.returncode == 2
    assert _leaked(r.stderr.decode(), AGE_DATA) == []


def test_a_file_whose_name_only_mentions_a_private_key_is_still_read(tmp_path: Path) -> None:
    # Only a missing "file" is taken for pasted key material: a real file keeps its name.
    identity = tmp_path / "age-secret-key-backup.txt"
    me = age.X25519Identity.generate()
    age.save_identity(identity, me)
    encrypted = tmp_path / "in.age"
    encrypted.write_bytes(age.encrypt(b"canary-plaintext", [me.recipient()]))
    r = run_sealbox(["decrypt", "-i", identity, encrypted])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"canary-plaintext"
