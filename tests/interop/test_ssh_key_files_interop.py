"""Key files the real ssh-keygen writes, as sealbox reads them (Debian openssh-client).

Covers what tests/interop/test_pubkeys_interop.py does not: every RSA size ssh-keygen
offers, non-ASCII comments, authorized_keys lines with options, the key types sealbox
refuses (DSA, P-384, P-521, certificates, RSA under 2048 bits) and hostile KDF rounds.
"""

from __future__ import annotations

import base64
import struct
import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import KeyFormatError, UnsupportedAlgorithmError
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

PASS = "files-interop-9d2a"


def _keygen(ssh_keygen: str, path: Path, *args: str) -> None:
    argv = [ssh_keygen, "-q", *args, "-f", str(path)]
    p = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr.decode()


def _ssh_keygen_fingerprint(ssh_keygen: str, path: Path) -> str:
    p = subprocess.run(
        [ssh_keygen, "-l", "-f", str(path)], capture_output=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


@pytest.fixture(scope="module")
def ssh_keygen() -> str:
    return require_tool("ssh-keygen")


@pytest.fixture(scope="module")
def ed25519(tmp_path_factory, ssh_keygen: str) -> Path:
    path = tmp_path_factory.mktemp("ak") / "id_ed25519"
    _keygen(ssh_keygen, path, "-t", "ed25519", "-N", "", "-C", "ops@example.com")
    return path


@pytest.mark.parametrize("bits", [3072, 4096])
def test_ssh_keygen_rsa_sizes_load_with_its_fingerprint_and_comment(
    tmp_path: Path, ssh_keygen: str, bits: int
) -> None:
    path = tmp_path / "id_rsa"
    _keygen(ssh_keygen, path, "-t", "rsa", "-b", str(bits), "-N", PASS, "-C", "José 東京")
    key = PrivateKey.load(path, PASS)
    assert key.bits == bits
    pub = PublicKey.load(path.with_name("id_rsa.pub"))
    assert pub.fingerprint_line() == _ssh_keygen_fingerprint(ssh_keygen, path)
    assert pub.comment == "José 東京"
    assert key.public_key.fingerprint() == pub.fingerprint()


@pytest.mark.parametrize(
    "options",
    [
        'from="10.0.0.1",no-pty',
        "restrict",
        'command="echo \\"a b\\" c",no-port-forwarding',
        'environment="X=1 2"',
    ],
)
def test_authorized_keys_line_with_options_loads_as_ssh_keygen_reads_it(
    tmp_path: Path, ssh_keygen: str, ed25519: Path, options: str
) -> None:
    line = ed25519.with_name("id_ed25519.pub").read_text().strip()
    path = tmp_path / "authorized_keys"
    path.write_text(f"# the deploy key\n\n{options} {line}\n")
    pub = PublicKey.load(path)
    assert pub.fingerprint_line() == _ssh_keygen_fingerprint(ssh_keygen, path)
    assert pub.comment == "ops@example.com"


def test_authorized_keys_options_before_an_unsupported_key_name_it(
    tmp_path: Path, ssh_keygen: str
) -> None:
    key = tmp_path / "id_dsa"
    _keygen(ssh_keygen, key, "-t", "dsa", "-N", "")
    path = tmp_path / "authorized_keys"
    path.write_text(f"no-pty {key.with_name('id_dsa.pub').read_text()}")
    with pytest.raises(UnsupportedAlgorithmError, match="ssh-dss"):
        PublicKey.load(path)


def test_authorized_keys_line_of_options_alone_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "authorized_keys"
    path.write_text('from="10.0.0.1",no-pty\n')
    with pytest.raises(KeyFormatError):
        PublicKey.load(path)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["-t", "dsa"], "ssh-dss"),
        (["-t", "ecdsa", "-b", "384"], "ecdsa-sha2-nistp384"),
        (["-t", "ecdsa", "-b", "521"], "ecdsa-sha2-nistp521"),
    ],
)
def test_unsupported_ssh_keygen_key_types_are_refused_by_name(
    tmp_path: Path, ssh_keygen: str, args: list[str], name: str
) -> None:
    path = tmp_path / "id_key"
    _keygen(ssh_keygen, path, *args, "-N", PASS)
    for load in (
        lambda: PrivateKey.load(path, PASS),
        lambda: PublicKey.load(path),
        lambda: PublicKey.load(path.with_name("id_key.pub")),
    ):
        with pytest.raises(UnsupportedAlgorithmError, match=name) as info:
            load()
        assert PASS not in str(info.value)


def test_ssh_keygen_small_rsa_key_is_refused_with_its_size(tmp_path: Path, ssh_keygen: str) -> None:
    path = tmp_path / "id_rsa"
    _keygen(ssh_keygen, path, "-t", "rsa", "-b", "1024", "-N", "")
    with pytest.raises(UnsupportedAlgorithmError, match="1024-bit RSA key, too small"):
        PrivateKey.load(path)
    with pytest.raises(UnsupportedAlgorithmError, match="1024-bit RSA key, too small"):
        PublicKey.load(path.with_name("id_rsa.pub"))


def test_ssh_keygen_certificate_is_refused_as_a_certificate(
    tmp_path: Path, ssh_keygen: str, ed25519: Path
) -> None:
    user = tmp_path / "id_user"
    _keygen(ssh_keygen, user, "-t", "ed25519", "-N", "")
    pub = user.with_name("id_user.pub")
    argv = [ssh_keygen, "-q", "-s", str(ed25519), "-I", "user", "-n", "alice", str(pub)]
    p = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr.decode()
    with pytest.raises(UnsupportedAlgorithmError, match="OpenSSH certificate"):
        PublicKey.load(tmp_path / "id_user-cert.pub")


def _with_rounds(path: Path, rounds: int) -> bytes:
    lines = path.read_text().strip().splitlines()
    blob = base64.b64decode("".join(lines[1:-1]))
    # kdf options: string salt (16 bytes) then uint32 rounds, right after "bcrypt".
    at = blob.index(b"bcrypt") + len(b"bcrypt") + 4 + 4 + 16
    blob = blob[:at] + struct.pack(">I", rounds) + blob[at + 4 :]
    body = base64.b64encode(blob).decode()
    rows = [body[i : i + 70] for i in range(0, len(body), 70)]
    return "\n".join([lines[0], *rows, lines[-1], ""]).encode()


@pytest.mark.parametrize("rounds", [0, 1025, 0xFFFFFFFF])
def test_hostile_bcrypt_rounds_are_refused_before_the_passphrase_is_asked(
    tmp_path: Path, ssh_keygen: str, rounds: int
) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(ssh_keygen, path, "-t", "ed25519", "-N", PASS, "-a", "2")
    hostile = tmp_path / "hostile"
    hostile.write_bytes(_with_rounds(path, rounds))

    def ask() -> str:
        raise AssertionError("the passphrase was asked for")

    with pytest.raises(KeyFormatError, match=f"asks for {rounds} bcrypt rounds"):
        PrivateKey.load(hostile, ask)


@pytest.mark.parametrize("prefix", ["", "# deploy\n", "no-pty,restrict "])
def test_public_key_line_given_for_a_private_key_says_so(
    tmp_path: Path, ed25519: Path, cli, prefix: str
) -> None:
    key = tmp_path / "authorized_keys"
    key.write_text(prefix + ed25519.with_name("id_ed25519.pub").read_text())
    data = tmp_path / "data"
    data.write_bytes(b"payload")
    r = cli(["sign", "-k", key, data])
    assert r.code == 1
    assert f"key file {key} is a public key, not a private key" in r.stderr
    assert "give the private key file (without .pub)" in r.stderr


def test_cli_fingerprint_of_authorized_keys_line_matches_ssh_keygen(
    tmp_path: Path, ssh_keygen: str, ed25519: Path, cli
) -> None:
    path = tmp_path / "authorized_keys"
    line = ed25519.with_name("id_ed25519.pub").read_text()
    path.write_text(f'from="192.0.2.1",command="/bin/echo \\"hi there\\"" {line}')
    r = cli(["key", "fingerprint", path])
    assert r.code == 0, r.stderr
    assert r.out.strip() == _ssh_keygen_fingerprint(ssh_keygen, path)
    r = cli(["key", "public", path])
    assert r.out == line
