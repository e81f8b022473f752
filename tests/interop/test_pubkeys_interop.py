"""Interop with the real ssh-keygen (Debian openssh-client) and openssl.

* signatures sealbox makes verify with ``ssh-keygen -Y verify``, and signatures
  ``ssh-keygen -Y sign`` makes verify with sealbox (library and CLI);
* keys sealbox writes load in ``ssh-keygen -y`` / ``openssl pkey``, and keys those
  tools write load in sealbox, with the same public key and fingerprint.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import DecryptionError, InvalidSignatureError, SignerNotAllowedError
from sealbox.hazmat import kdf
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey, PublicKey, decrypt_hybrid, encrypt_hybrid
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

PASS = "interop-passphrase-5c1e"
CHEAP = {"bcrypt_rounds": 2, "scrypt": kdf.ScryptParams(log_n=10, r=8, p=1)}
SSH_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "rsa": ["-t", "rsa", "-b", "2048"],
    "ecdsa": ["-t", "ecdsa", "-b", "256"],
}


def _run(
    argv: list[str], *, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run(argv, input=input, capture_output=True, timeout=60, check=False)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv} failed ({p.returncode}): {p.stderr.decode()}")
    return p


@pytest.fixture(scope="module")
def ssh_keygen() -> str:
    return require_tool("ssh-keygen")


@pytest.fixture(scope="module")
def openssl() -> str:
    return require_tool("openssl")


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory, ssh_keygen: str) -> dict[str, Path]:
    """Keys written by ssh-keygen, encrypted with PASS (bcrypt KDF, its default 16 rounds)."""
    folder = tmp_path_factory.mktemp("sshkeys")
    paths = {}
    for kind, args in SSH_TYPES.items():
        path = folder / f"id_{kind}"
        _run([ssh_keygen, "-q", *args, "-N", PASS, "-C", f"{kind}@example.com", "-f", str(path)])
        paths[kind] = path
    return paths


@pytest.fixture(scope="module")
def sealbox_keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": PrivateKey.generate("ed25519"),
        "rsa": PrivateKey.generate("rsa", bits=2048),
        "ecdsa": PrivateKey.generate("ecdsa"),
    }


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SSH_TYPES))
def test_sealbox_signature_verifies_with_ssh_keygen(
    tmp_path: Path, ssh_keygen: str, sealbox_keys, kind: str
) -> None:
    key = sealbox_keys[kind]
    data = tmp_path / "release.tar"
    data.write_bytes(b"payload " * 50_000)
    with data.open("rb") as fh:
        (tmp_path / "release.tar.sig").write_text(sshsig.sign(key, fh, namespace="file").armor())
    allowed = tmp_path / "allowed"
    allowed.write_text(f"alice@example.com {key.public_key.openssh()}\n")
    verify = [
        ssh_keygen,
        "-Y",
        "verify",
        "-f",
        str(allowed),
        "-I",
        "alice@example.com",
        "-s",
        str(tmp_path / "release.tar.sig"),
    ]
    p = _run([*verify, "-n", "file"], input=data.read_bytes())
    assert p.stdout.decode().startswith('Good "file" signature for alice@example.com with')
    assert key.public_key.fingerprint() in p.stdout.decode()
    # ssh-keygen refuses it for another namespace and for other data, as sealbox does.
    assert _run([*verify, "-n", "git"], input=data.read_bytes(), check=False).returncode != 0
    assert (
        _run([*verify, "-n", "file"], input=data.read_bytes() + b"!", check=False).returncode != 0
    )


@pytest.mark.parametrize("kind", list(SSH_TYPES))
def test_ssh_keygen_signature_verifies_with_sealbox(
    tmp_path: Path, ssh_keygen: str, ssh_keys, kind: str
) -> None:
    data = tmp_path / "notes.txt"
    data.write_bytes(b"line\n" * 10_000)
    _run([ssh_keygen, "-Y", "sign", "-f", str(ssh_keys[kind]), "-P", PASS, "-n", "file", str(data)])
    signature = sshsig.SSHSignature.load(tmp_path / "notes.txt.sig")
    public = PublicKey.load(ssh_keys[kind].with_name(ssh_keys[kind].name + ".pub"))
    assert public.comment == f"{kind}@example.com"
    with data.open("rb") as fh:
        result = sshsig.verify(signature, fh, namespace="file", public_key=public)
    assert result.public_key == public
    signers = sshsig.AllowedSigners.parse(
        f'{kind}@example.com namespaces="file" {public.openssh()}'
    )
    sshsig.verify(
        signature,
        data.read_bytes(),
        namespace="file",
        allowed_signers=signers,
        principal=f"{kind}@example.com",
    )
    with pytest.raises(InvalidSignatureError):
        sshsig.verify(signature, data.read_bytes() + b"x", namespace="file", public_key=public)
    with pytest.raises(SignerNotAllowedError, match="namespace 'file', not 'git'"):
        sshsig.verify(signature, data.read_bytes(), namespace="git", public_key=public)


def test_ed25519_signatures_are_byte_identical(
    tmp_path: Path, ssh_keygen: str, sealbox_keys
) -> None:
    """Ed25519 is deterministic: sealbox's armored signature is exactly ssh-keygen's."""
    key = sealbox_keys["ed25519"]
    key_path = tmp_path / "id"
    key.save(key_path, None)
    data = tmp_path / "f"
    data.write_bytes(b"same bytes")
    for namespace in ("file", "git"):
        _run([ssh_keygen, "-Y", "sign", "-f", str(key_path), "-n", namespace, str(data)])
        theirs = (tmp_path / "f.sig").read_text()
        (tmp_path / "f.sig").unlink()
        assert sshsig.sign(key, data.read_bytes(), namespace=namespace).armor() == theirs


def test_cli_against_ssh_keygen(tmp_path: Path, ssh_keygen: str, ssh_keys, cli) -> None:
    env = {"SEALBOX_PASSPHRASE": PASS}
    data = tmp_path / "doc.txt"
    data.write_text("signed by sealbox, checked by ssh-keygen\n")
    # sealbox sign with a key ssh-keygen wrote, ssh-keygen -Y verify checks it.
    r = cli(["sign", "-k", ssh_keys["ecdsa"], data], env=env)
    assert r.code == 0, r.stderr
    allowed = tmp_path / "allowed"
    pub = ssh_keys["ecdsa"].with_name("id_ecdsa.pub").read_text()
    allowed.write_text(f"carol@example.com {pub}")
    _run(
        [
            ssh_keygen,
            "-Y",
            "verify",
            "-f",
            str(allowed),
            "-I",
            "carol@example.com",
            "-n",
            "file",
            "-s",
            str(tmp_path / "doc.txt.sig"),
        ],
        input=data.read_bytes(),
    )
    # ssh-keygen -Y sign, sealbox verify with the same allowed-signers file.
    (tmp_path / "doc.txt.sig").unlink()
    _run(
        [
            ssh_keygen,
            "-Y",
            "sign",
            "-f",
            str(ssh_keys["ecdsa"]),
            "-P",
            PASS,
            "-n",
            "file",
            str(data),
        ]
    )
    r = cli(
        [
            "verify",
            "--allowed-signers",
            allowed,
            "-I",
            "carol@example.com",
            "-s",
            tmp_path / "doc.txt.sig",
            data,
        ]
    )
    assert r.code == 0, r.stderr
    assert r.out.startswith(
        f'good "file" signature on {data} by carol@example.com with ECDSA key SHA256:'
    )


# --- keys sealbox writes, read by the tools ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(SSH_TYPES))
@pytest.mark.parametrize("encrypted", [True, False])
def test_sealbox_openssh_keys_load_in_ssh_keygen(
    tmp_path: Path, ssh_keygen: str, sealbox_keys, kind: str, encrypted: bool
) -> None:
    key = sealbox_keys[kind]
    path = tmp_path / "id"
    key.save(path, PASS if encrypted else None, **CHEAP)
    p = _run([ssh_keygen, "-y", "-P", PASS if encrypted else "", "-f", str(path)])
    assert p.stdout.decode().split()[:2] == key.public_key.openssh().split()[:2]
    if encrypted:
        assert _run([ssh_keygen, "-y", "-P", "wrong", "-f", str(path)], check=False).returncode != 0
    key.public_key.save(tmp_path / "id.pub")
    fp = _run([ssh_keygen, "-l", "-f", str(tmp_path / "id.pub")]).stdout.decode().strip()
    assert fp == key.public_key.fingerprint_line()


def test_default_bcrypt_rounds_load_in_ssh_keygen(
    tmp_path: Path, ssh_keygen: str, sealbox_keys
) -> None:
    path = tmp_path / "id"
    sealbox_keys["ed25519"].save(path, PASS)  # the default 32 rounds
    assert _run([ssh_keygen, "-y", "-P", PASS, "-f", str(path)]).stdout.startswith(b"ssh-ed25519 ")


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa", "x25519"])
@pytest.mark.parametrize("encrypted", [True, False])
def test_sealbox_pem_keys_load_in_openssl(
    tmp_path: Path, openssl: str, sealbox_keys, kind: str, encrypted: bool
) -> None:
    key = sealbox_keys.get(kind) or PrivateKey.generate(kind)
    path = tmp_path / "key.pem"
    key.save(path, PASS if encrypted else None, format="pem", **CHEAP)
    p = _run([openssl, "pkey", "-in", str(path), "-passin", f"pass:{PASS}", "-pubout"])
    assert PublicKey.from_bytes(p.stdout) == key.public_key
    assert p.stdout == key.public_key.pem()
    if encrypted:
        assert (
            _run(
                [openssl, "pkey", "-in", str(path), "-passin", "pass:wrong", "-noout"], check=False
            ).returncode
            != 0
        )


def test_default_scrypt_pem_loads_in_openssl_and_ssh_keygen(
    tmp_path: Path, openssl: str, ssh_keygen: str, sealbox_keys
) -> None:
    """N=2^14, r=8, p=5 is within OpenSSL 3's scrypt memory limit (it refuses N=2^15)."""
    key = sealbox_keys["ecdsa"]
    path = tmp_path / "key.pem"
    key.save(path, PASS, format="pem")
    p = _run([openssl, "pkey", "-in", str(path), "-passin", f"pass:{PASS}", "-pubout"])
    assert p.stdout == key.public_key.pem()
    # ssh-keygen reads PKCS#8 PEM for RSA and ECDSA keys through OpenSSL.
    p = _run([ssh_keygen, "-y", "-P", PASS, "-f", str(path)])
    assert p.stdout.decode().split()[:2] == key.public_key.openssh().split()[:2]


# --- keys the tools write, read by sealbox ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(SSH_TYPES))
def test_ssh_keygen_keys_load_in_sealbox(ssh_keygen: str, ssh_keys, kind: str) -> None:
    path = ssh_keys[kind]
    key = PrivateKey.load(path, PASS)
    pub = PublicKey.load(path.with_name(path.name + ".pub"))
    assert key.public_key == pub
    fp = (
        _run([ssh_keygen, "-l", "-f", str(path.with_name(path.name + ".pub"))])
        .stdout.decode()
        .strip()
    )
    assert pub.fingerprint_line() == fp
    # The public half of the encrypted private key file, without the passphrase.
    assert PublicKey.load(path) == pub
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        PrivateKey.load(path, "wrong")


def test_ssh_keygen_unencrypted_key_comment(tmp_path: Path, ssh_keygen: str) -> None:
    path = tmp_path / "id"
    _run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "dana@example.com", "-f", str(path)])
    (tmp_path / "id.pub").unlink()
    public = PublicKey.load(path)
    assert public.comment == "dana@example.com"
    assert (
        public.fingerprint_line()
        == _run([ssh_keygen, "-l", "-f", str(path)]).stdout.decode().strip()
    )


@pytest.mark.parametrize(
    ("kind", "fmt"), [("rsa", "PEM"), ("rsa", "PKCS8"), ("ecdsa", "PEM"), ("ecdsa", "PKCS8")]
)
def test_ssh_keygen_pem_formats_load_in_sealbox(
    tmp_path: Path, ssh_keygen: str, kind: str, fmt: str
) -> None:
    path = tmp_path / "id"
    _run([ssh_keygen, "-q", *SSH_TYPES[kind], "-m", fmt, "-N", PASS, "-f", str(path)])
    key = PrivateKey.load(path, PASS)
    assert key.public_key == PublicKey.load(tmp_path / "id.pub")


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("ed25519", ["-algorithm", "ed25519"]),
        ("x25519", ["-algorithm", "x25519"]),
        ("rsa", ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"]),
        ("ecdsa-p256", ["-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    ],
)
def test_openssl_keys_load_in_sealbox(
    tmp_path: Path, openssl: str, kind: str, args: list[str]
) -> None:
    clear, enc = tmp_path / "k.pem", tmp_path / "enc.pem"
    _run([openssl, "genpkey", *args, "-out", str(clear)])
    _run(
        [
            openssl,
            "pkey",
            "-in",
            str(clear),
            "-aes-256-cbc",
            "-passout",
            f"pass:{PASS}",
            "-out",
            str(enc),
        ]
    )
    assert b"ENCRYPTED PRIVATE KEY" in enc.read_bytes()
    pub = _run([openssl, "pkey", "-in", str(clear), "-pubout"]).stdout
    for path, pw in ((clear, None), (enc, PASS)):
        key = PrivateKey.load(path, pw)
        assert key.key_type == kind
        assert key.public_key == PublicKey.from_bytes(pub)
    # openssl's scrypt PKCS#8 (-scrypt) too.
    scrypt = tmp_path / "scrypt.pem"
    _run(
        [
            openssl,
            "pkcs8",
            "-topk8",
            "-in",
            str(clear),
            "-scrypt",
            "-passout",
            f"pass:{PASS}",
            "-out",
            str(scrypt),
        ]
    )
    assert PrivateKey.load(scrypt, PASS).public_key == PublicKey.from_bytes(pub)


def test_openssl_small_rsa_key_is_refused(tmp_path: Path, openssl: str) -> None:
    path = tmp_path / "small.pem"
    _run(
        [
            openssl,
            "genpkey",
            "-algorithm",
            "rsa",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            str(path),
        ]
    )
    from sealbox.exceptions import UnsupportedAlgorithmError

    with pytest.raises(UnsupportedAlgorithmError, match="1024-bit RSA key, too small"):
        PrivateKey.load(path)


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "x25519"])
def test_hybrid_encryption_interoperates_with_age(tmp_path: Path, sealbox_keys, kind: str) -> None:
    """encrypt_hybrid output opens with the age tool, and age's output opens with decrypt_hybrid."""
    age = require_tool("age")
    key = sealbox_keys.get(kind) or PrivateKey.generate(kind)
    if kind == "x25519":
        # age knows X25519 keys as age1… recipients and AGE-SECRET-KEY-1… identities.
        identity = key.age_identity().expose_secret()  # type: ignore[attr-defined]
        (tmp_path / "id").write_text(identity + "\n")
        recipient_args = ["-r", str(key.public_key.age_recipient())]
    else:
        key.save(tmp_path / "id", None)  # OpenSSH key files are age identities
        key.public_key.save(tmp_path / "id.pub")
        recipient_args = ["-R", str(tmp_path / "id.pub")]
    data = os.urandom(200_000) + b"hybrid: any size"
    (tmp_path / "ours.age").write_bytes(encrypt_hybrid(data, key.public_key))
    out = _run([age, "-d", "-i", str(tmp_path / "id"), str(tmp_path / "ours.age")]).stdout
    assert out == data
    (tmp_path / "m").write_bytes(data)
    _run([age, *recipient_args, "-o", str(tmp_path / "theirs.age"), str(tmp_path / "m")])
    assert decrypt_hybrid((tmp_path / "theirs.age").read_bytes(), key) == data


@pytest.mark.parametrize(
    "options",
    [
        'namespaces="file"',
        "namespaces=file",
        'namespaces="git",namespaces="file"',
        "valid-after=20200101",
        'valid-after="20200101"',
    ],
)
def test_allowed_signers_lines_grant_in_sealbox_what_they_grant_in_ssh_keygen(
    tmp_path: Path, ssh_keygen: str, ssh_keys, options: str
) -> None:
    key = ssh_keys["ed25519"]
    data = tmp_path / "notes.txt"
    data.write_bytes(b"signed\n")
    _run([ssh_keygen, "-Y", "sign", "-f", str(key), "-P", PASS, "-n", "file", str(data)])
    public = PublicKey.load(key.with_name(key.name + ".pub"))
    signers_file = tmp_path / "allowed_signers"
    signers_file.write_text(f"me@example.com {options} {public.openssh()}\n")
    with data.open("rb") as fh:
        theirs = subprocess.run(
            [
                *(ssh_keygen, "-Y", "verify", "-f", str(signers_file)),
                *("-I", "me@example.com", "-n", "file", "-s", f"{data}.sig"),
            ],
            stdin=fh,
            capture_output=True,
            check=False,
        ).returncode
    signature = sshsig.SSHSignature.load(tmp_path / "notes.txt.sig")
    try:
        sshsig.verify(
            signature,
            data.read_bytes(),
            namespace="file",
            allowed_signers=sshsig.AllowedSigners.load(signers_file),
            principal="me@example.com",
        )
        ours = 0
    except SignerNotAllowedError:
        ours = 1
    assert (ours == 0) == (theirs == 0), (options, theirs)
