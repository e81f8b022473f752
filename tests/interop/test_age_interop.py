"""Interop with the real peers, both directions: the `age` CLI (Go) and `pyrage` (rage, Rust).

X25519, ssh-ed25519, ssh-rsa, passphrases (pyrage; age 1.1 reads passphrases only from
a terminal), armored and binary, several recipients, and the sizes around chunk
boundaries.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import NoIdentityMatchError
from tests.conftest import require_module, require_tool

pytestmark = pytest.mark.interop

MIB = 1024 * 1024
SIZES = [0, 1, 65535, 65536, 65537, 131072, 10 * MIB + 3]
SMALL_SIZES = [0, 1, 65536, 65537, 10 * MIB + 3]


def _data(size: int) -> bytes:
    return os.urandom(size)


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, check=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    age_bin = require_tool("age")
    require_tool("age-keygen")
    ssh_keygen = require_tool("ssh-keygen")
    d = tmp_path_factory.mktemp("keys")
    _run(["age-keygen", "-o", str(d / "age.key")])
    age_recipient = _run(["age-keygen", "-y", str(d / "age.key")]).stdout.decode().strip()
    ours = age.X25519Identity.generate()
    (d / "ours.key").write_text(age.identity_file(ours))
    _run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(d / "ed")])
    _run([ssh_keygen, "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(d / "rsa")])
    return {
        "age": age_bin,
        "dir": d,
        "age_key": d / "age.key",
        "age_recipient": age_recipient,
        "ours_key": d / "ours.key",
        "ours_recipient": str(ours.recipient()),
    }


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_x25519_sealbox_to_age(keys, tmp_path: Path, size: int, armor: bool):
    plain = _data(size)
    enc = tmp_path / "f.age"
    recipient = age.parse_recipient(str(keys["age_recipient"]))
    age.encrypt_file(_write(tmp_path, plain), enc, [recipient], armor=armor)
    out = _run([str(keys["age"]), "-d", "-i", str(keys["age_key"]), str(enc)]).stdout
    assert out == plain


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_x25519_age_to_sealbox(keys, tmp_path: Path, size: int, armor: bool):
    plain = _data(size)
    enc = tmp_path / "f.age"
    args = [str(keys["age"]), "-r", str(keys["ours_recipient"]), "-o", str(enc)]
    _run([*args, *(["-a"] if armor else []), str(_write(tmp_path, plain))])
    age.decrypt_file(enc, tmp_path / "out", age.load_identities(keys["ours_key"]))
    assert (tmp_path / "out").read_bytes() == plain


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_x25519_pyrage_both_ways(keys, size: int, armor: bool):
    require_module("pyrage")
    import pyrage

    plain = _data(size)
    theirs = pyrage.x25519.Identity.generate()
    ours = age.X25519Identity.generate()
    sealed = age.encrypt(plain, [age.parse_recipient(str(theirs.to_public()))], armor=armor)
    assert pyrage.decrypt(sealed, [theirs]) == plain
    sealed = pyrage.encrypt(
        plain, [pyrage.x25519.Recipient.from_str(str(ours.recipient()))], armored=armor
    )
    assert age.decrypt(sealed, [ours]) == plain


@pytest.mark.parametrize("kind", ["ed", "rsa"], ids=["ssh-ed25519", "ssh-rsa"])
@pytest.mark.parametrize("size", SMALL_SIZES)
def test_ssh_with_age(keys, tmp_path: Path, kind: str, size: int):
    plain = _data(size)
    d = Path(keys["dir"])
    pub, priv = d / f"{kind}.pub", d / kind
    enc = tmp_path / "f.age"
    recipients = age.load_recipients(pub)
    age.encrypt_file(_write(tmp_path, plain), enc, recipients)
    assert _run([str(keys["age"]), "-d", "-i", str(priv), str(enc)]).stdout == plain
    enc2 = tmp_path / "g.age"
    _run([str(keys["age"]), "-R", str(pub), "-a", "-o", str(enc2), str(_write(tmp_path, plain))])
    assert age.decrypt(enc2.read_bytes(), age.load_identities(priv)) == plain


@pytest.mark.parametrize("kind", ["ed", "rsa"], ids=["ssh-ed25519", "ssh-rsa"])
@pytest.mark.parametrize("size", SMALL_SIZES)
def test_ssh_with_pyrage(keys, kind: str, size: int):
    require_module("pyrage")
    import pyrage

    plain = _data(size)
    d = Path(keys["dir"])
    pub, priv = d / f"{kind}.pub", d / kind
    sealed = age.encrypt(plain, age.load_recipients(pub))
    assert pyrage.decrypt(sealed, [pyrage.ssh.Identity.from_buffer(priv.read_bytes())]) == plain
    sealed = pyrage.encrypt(plain, [pyrage.ssh.Recipient.from_str(pub.read_text().strip())])
    assert age.decrypt(sealed, age.load_identities(priv)) == plain


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", [0, 65537])
def test_passphrase_sealbox_to_pyrage(size: int, armor: bool):
    require_module("pyrage")
    import pyrage

    plain = _data(size)
    # age's own work factor (18): what pyrage and age must accept.
    sealed = age.encrypt(plain, [age.ScryptRecipient("correct horse")], armor=armor)
    assert pyrage.passphrase.decrypt(sealed, "correct horse") == plain


def test_passphrase_pyrage_to_sealbox():
    """rage calibrates its work factor to about a second here: one file is enough."""
    require_module("pyrage")
    import pyrage

    plain = _data(65537)
    sealed = pyrage.passphrase.encrypt(plain, "correct horse", armored=True)
    assert age.decrypt(sealed, [age.ScryptIdentity("correct horse")]) == plain


@pytest.mark.parametrize("size", [0, 65537, 10 * MIB + 3])
def test_several_recipients(keys, tmp_path: Path, size: int):
    """One file to age, an SSH key and pyrage at once: each opens it; and back."""
    require_module("pyrage")
    import pyrage

    plain = _data(size)
    d = Path(keys["dir"])
    theirs = pyrage.x25519.Identity.generate()
    recipients = [
        age.parse_recipient(str(keys["age_recipient"])),
        age.parse_recipient(str(theirs.to_public())),
        *age.load_recipients(d / "ed.pub"),
        *age.load_recipients(d / "rsa.pub"),
    ]
    enc = tmp_path / "f.age"
    age.encrypt_file(_write(tmp_path, plain), enc, recipients)
    assert _run([str(keys["age"]), "-d", "-i", str(keys["age_key"]), str(enc)]).stdout == plain
    assert _run([str(keys["age"]), "-d", "-i", str(d / "rsa"), str(enc)]).stdout == plain
    assert pyrage.decrypt(enc.read_bytes(), [theirs]) == plain
    ours = age.load_identities(keys["ours_key"])
    enc2 = tmp_path / "g.age"
    _run(
        [
            str(keys["age"]),
            "-r",
            str(keys["age_recipient"]),
            "-r",
            str(keys["ours_recipient"]),
            "-R",
            str(d / "ed.pub"),
            "-o",
            str(enc2),
            str(_write(tmp_path, plain)),
        ]
    )
    assert age.decrypt(enc2.read_bytes(), ours) == plain
    assert age.decrypt(enc2.read_bytes(), age.load_identities(d / "ed")) == plain


def test_cli_pipes_with_age(keys, tmp_path: Path):
    """The real programs in a pipe: `sealbox encrypt | age -d` and `age | sealbox decrypt`."""
    from tests.conftest import run_sealbox

    plain = _data(200_000)
    r = run_sealbox(["encrypt", "-r", keys["age_recipient"]], input=plain)
    assert r.returncode == 0, r.stderr
    assert (
        _run([str(keys["age"]), "-d", "-i", str(keys["age_key"])], input=r.stdout).stdout == plain
    )
    sealed = _run([str(keys["age"]), "-a", "-r", str(keys["ours_recipient"])], input=plain).stdout
    r = run_sealbox(["decrypt", "-i", keys["ours_key"]], input=sealed)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain


def test_encrypted_openssh_key(tmp_path: Path):
    """An OpenSSH key with a passphrase: the passphrase is asked only when a stanza is for it."""
    ssh_keygen = require_tool("ssh-keygen")
    age_bin = require_tool("age")
    key = tmp_path / "enc"
    _run([ssh_keygen, "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(key)])
    asked: list[bool] = []

    def passphrase() -> str:
        asked.append(True)
        return "pass phrase"

    identity = age.load_identities(key, passphrase=passphrase)
    assert asked == []  # the public half is read without it
    plain = b"for the encrypted key"
    sealed = _run([age_bin, "-R", str(key) + ".pub"], input=plain).stdout
    other = age.encrypt(plain, [age.X25519Identity.generate().recipient()])
    with pytest.raises(NoIdentityMatchError):
        age.decrypt(other, identity)
    assert asked == []
    assert age.decrypt(sealed, identity) == plain
    assert asked == [True]
    from sealbox.exceptions import DecryptionError

    wrong = age.load_identities(key, passphrase=lambda: "wrong")
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        age.decrypt(sealed, wrong)


def test_an_openssh_key_under_a_cipher_pyca_cannot_open_is_named_with_that_cipher(
    tmp_path: Path,
) -> None:
    # pyca's own words ("Unsupported cipher: b'aes128-cbc'") were passed on as they were.
    from sealbox.exceptions import UnsupportedAlgorithmError

    ssh_keygen = require_tool("ssh-keygen")
    age_bin = require_tool("age")
    key = tmp_path / "cbc"
    _run(
        [ssh_keygen, "-q", "-t", "ed25519", "-N", "pass phrase", "-Z", "aes128-cbc", "-f", str(key)]
    )
    sealed = _run([age_bin, "-R", str(key) + ".pub"], input=b"for the cbc key").stdout
    identity = age.load_identities(key, passphrase=lambda: "pass phrase")
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        age.decrypt(sealed, identity)
    assert str(caught.value) == (
        f"identity file {key} is encrypted with the cipher 'aes128-cbc', which sealbox cannot open"
    )
    assert caught.value.hint is not None and "ssh-keygen -p -f" in caught.value.hint
