"""sealbox.keys.asymmetric: key generation, key files, signatures, RSA-OAEP, X25519."""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import pickle
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, padding, rsa

from sealbox._util import pem as _pem
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    InvalidSignatureError,
    KeyFormatError,
    NoIdentityMatchError,
    StorageError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.keys.asymmetric import (
    OPENSSH_BCRYPT_ROUNDS,
    PKCS8_SCRYPT,
    KeyType,
    PrivateKey,
    PublicKey,
    decrypt_hybrid,
    encrypt_hybrid,
    oaep_max_plaintext,
)
from sealbox.keys.sshwire import Reader
from sealbox.keys.sshwire import mpint as sshwire_mpint
from sealbox.secret import Secret

PASS = "canary-key-passphrase-71f0"
CHEAP = {"bcrypt_rounds": 1, "scrypt": kdf.ScryptParams(log_n=4, r=8, p=1)}
SIGNING = ["rsa", "ed25519", "ecdsa-p256"]


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    """One key of each type (RSA at the 2048-bit minimum, to keep the suite fast)."""
    return {
        "rsa": PrivateKey.generate("rsa", bits=2048),
        "ed25519": PrivateKey.generate("ed25519"),
        "ecdsa-p256": PrivateKey.generate("ecdsa"),
        "x25519": PrivateKey.generate("x25519"),
    }


# --- generation ---------------------------------------------------------------------------


def test_generate_defaults() -> None:
    assert PrivateKey.generate().key_type is KeyType.ED25519
    rsa_key = PrivateKey.generate("rsa")
    assert rsa_key.key_type is KeyType.RSA and rsa_key.bits == 3072
    assert PrivateKey.generate(KeyType.ECDSA_P256).bits == 256


@pytest.mark.parametrize("bits", [512, 1024, 2047])
def test_generate_refuses_small_rsa(bits: int) -> None:
    with pytest.raises(ConfigError, match=f"RSA keys of {bits} bits are too small") as info:
        PrivateKey.generate("rsa", bits=bits)
    assert "minimum is 2048" in str(info.value) and info.value.hint


def test_generate_argument_errors() -> None:
    with pytest.raises(ConfigError, match="maximum is 8192"):
        PrivateKey.generate("rsa", bits=16384)
    with pytest.raises(ConfigError, match="bits apply to rsa keys only"):
        PrivateKey.generate("ed25519", bits=2048)
    with pytest.raises(ConfigError, match="unknown key type 'dsa'"):
        PrivateKey.generate("dsa")
    with pytest.raises(TypeError):
        PrivateKey.generate("rsa", bits="2048")  # type: ignore[arg-type]


# --- key files ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa-p256", "x25519"])
@pytest.mark.parametrize("fmt", ["openssh", "pem"])
@pytest.mark.parametrize("encrypted", [True, False])
def test_export_and_load_round_trip(keys, kind: str, fmt: str, encrypted: bool) -> None:
    key = keys[kind]
    if kind == "x25519" and fmt == "openssh":
        with pytest.raises(UnsupportedAlgorithmError, match="no OpenSSH private key format"):
            key.export_private(None, format=fmt)
        return
    data = key.export_private(PASS if encrypted else None, format=fmt, **CHEAP)
    assert PASS.encode() not in data
    calls = []

    def ask() -> str:
        calls.append(1)
        return PASS

    loaded = PrivateKey.from_bytes(data, ask)
    assert loaded.public_key == key.public_key
    assert calls == ([1] if encrypted else [])  # the passphrase is asked only when needed
    header = data.splitlines()[0]
    if fmt == "openssh":
        assert header == b"-----BEGIN OPENSSH PRIVATE KEY-----"
    else:
        assert header == (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
            if encrypted
            else b"-----BEGIN PRIVATE KEY-----"
        )
    # The public half is readable from the file, and from an OpenSSH file without passphrase.
    calls.clear()
    assert PublicKey.from_bytes(data, passphrase=ask) == key.public_key
    assert calls == ([1] if encrypted and fmt == "pem" else [])


def test_default_kdf_settings_are_written(keys) -> None:
    """The documented defaults are what lands in the files (one real derivation each)."""
    key = keys["ed25519"]
    pem = key.export_private(PASS, format="pem")
    der = _pem.first_block(pem, "t").der
    # scrypt parameters sit in the AlgorithmIdentifier: N=2^14, r=8, p=5.
    scrypt_oid = _pkcs8._oid("1.3.6.1.4.1.11591.4.11")
    assert scrypt_oid in der
    params = _pkcs8._Der(der, "t").sequence().sequence()
    params.oid()
    kdf_params = params.sequence().sequence()
    kdf_params.oid()
    p = kdf_params.sequence()
    assert len(p.octets()) == 16
    assert (p.integer(), p.integer(), p.integer()) == (1 << 14, 8, 5)
    assert kdf.ScryptParams(log_n=14, r=8, p=5) == PKCS8_SCRYPT
    assert PrivateKey.from_bytes(pem, PASS).public_key == key.public_key

    openssh = key.export_private(PASS, format="openssh")
    body = _pem.first_block(openssh, "t").der
    r = Reader(body[len(b"openssh-key-v1\0") :], "t")
    assert r.string("c") == b"aes256-ctr" and r.string("k") == b"bcrypt"
    opts = Reader(r.string("o"), "t")
    assert len(opts.string("salt")) == 16 and opts.uint32("rounds") == OPENSSH_BCRYPT_ROUNDS == 32


def test_pkcs8_is_not_pycas_weak_default(keys) -> None:
    """What BestAvailableEncryption writes (PBKDF2, 2048 rounds) is what sealbox avoids."""
    weak = (
        keys["ed25519"]
        .expose_private_key()
        .private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"x"),
        )
    )
    ours = _pem.first_block(keys["ed25519"].export_private("x", format="pem", **CHEAP), "t").der
    pbkdf2 = _pkcs8._oid("1.2.840.113549.1.5.12")
    assert pbkdf2 in weak and pbkdf2 not in ours


def test_wrong_and_missing_passphrase(keys) -> None:
    for fmt in ("openssh", "pem"):
        data = keys["ecdsa-p256"].export_private(PASS, format=fmt, **CHEAP)
        with pytest.raises(DecryptionError) as info:
            PrivateKey.from_bytes(data, "wrong", what="key file k")
        assert (
            str(info.value)
            == "cannot decrypt key file k: wrong passphrase, or the file was altered"
        )
        with pytest.raises(
            DecryptionError, match="is encrypted and no passphrase was given"
        ) as info:
            PrivateKey.from_bytes(data, what="key file k")
        assert info.value.hint
        assert PrivateKey.from_bytes(data, Secret(PASS)).key_type is KeyType.ECDSA_P256
        assert PrivateKey.from_bytes(data, PASS.encode()).key_type is KeyType.ECDSA_P256


def test_altered_encrypted_key(keys) -> None:
    data = keys["ed25519"].export_private(PASS, format="pem", **CHEAP)
    block = _pem.first_block(data, "t")
    damaged = bytearray(block.der)
    damaged[-5] ^= 1
    with pytest.raises(DecryptionError, match="wrong passphrase, or the file was altered"):
        PrivateKey.from_bytes(_pem.encode("ENCRYPTED PRIVATE KEY", bytes(damaged)), PASS)


def _openssh_section(der: bytes) -> int:
    """Where the private section (the last field, encrypted or not) starts in an OpenSSH key."""
    r = Reader(der[len(b"openssh-key-v1\x00") :], "t")
    for _ in range(3):  # cipher, kdf, kdf options
        r.string("f")
    r.uint32("count")
    r.string("public key")
    return len(der) - len(r.string("private keys"))


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
@pytest.mark.parametrize("encrypted", [False, True])
def test_openssh_key_whose_secret_no_longer_matches_its_public_key_is_refused(
    keys, kind: str, encrypted: bool
) -> None:
    # AES-CTR has no MAC and the check integers come before the key: one flipped bit in
    # the secret loaded as another key than the one the file lists (and `key fingerprint`
    # prints), and `sealbox sign` made signatures its .pub could never verify.
    key = keys[kind]
    pyca = key.expose_private_key()
    if kind == "ed25519":
        secret = pyca.private_bytes_raw()  # type: ignore[union-attr]
    else:
        secret = sshwire_mpint(pyca.private_numbers().private_value)  # type: ignore[union-attr]
    clear = _pem.first_block(key.export_private(None, format="openssh"), "t").der
    offset = clear.index(secret) + len(secret) - 1 - _openssh_section(clear)
    data = key.export_private(PASS if encrypted else None, format="openssh", **CHEAP)
    der = bytearray(_pem.first_block(data, "t").der)
    der[_openssh_section(bytes(der)) + offset] ^= 1
    altered = _pem.encode("OPENSSH PRIVATE KEY", bytes(der))
    if encrypted:
        with pytest.raises(DecryptionError, match="wrong passphrase, or the file was altered"):
            PrivateKey.from_bytes(altered, PASS, what="key file k")
    else:
        with pytest.raises(
            KeyFormatError, match=r"^key file k is a damaged OpenSSH private key: its private "
        ):
            PrivateKey.from_bytes(altered, what="key file k")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not a key file"),
        (b"hello world\n", "is not a key file"),
        (b"\x00\x01\x02binary", "is not a key file"),
        (_pem.encode("CERTIFICATE", b"\x30\x00"), "holds a PEM 'CERTIFICATE' block, not a key"),
        (b"-----BEGIN PRIVATE KEY-----\nMIIE\n", "truncated: no '-----END PRIVATE KEY-----' line"),
        (b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", "not valid base64"),
        (_pem.encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00"), "is a damaged PRIVATE KEY"),
        (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "not an openssh-key-v1 private key",
        ),
    ],
)
def test_not_a_private_key(data: bytes, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        PrivateKey.from_bytes(data, PASS, what="key file k")


def test_public_key_given_as_private(keys) -> None:
    public = keys["ed25519"].public_key
    for data in (public.public_bytes("openssh"), public.pem()):
        with pytest.raises(KeyFormatError, match="is a public key, not a private key"):
            PrivateKey.from_bytes(data)


def test_truncated_openssh_private_key(keys) -> None:
    data = keys["ed25519"].export_private(None, format="openssh")
    body = _pem.first_block(data, "t").der
    cut = _pem.encode("OPENSSH PRIVATE KEY", body[:60])
    with pytest.raises(KeyFormatError, match="truncated"):
        PrivateKey.from_bytes(cut)


def _pem_of(pyca_key: object) -> bytes:
    return pyca_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_unsupported_key_types() -> None:
    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(UnsupportedAlgorithmError, match="1024-bit RSA key, too small") as info:
        PrivateKey.from_bytes(_pem_of(small))
    assert "2048 bits or more" in str(info.value) and info.value.hint
    small_pub = small.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    with pytest.raises(UnsupportedAlgorithmError, match="too small"):
        PublicKey.from_bytes(small_pub)
    with pytest.raises(UnsupportedAlgorithmError, match="ECDSA key on secp384r1"):
        PrivateKey.from_bytes(_pem_of(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(UnsupportedAlgorithmError, match="Ed448 key"):
        PrivateKey.from_bytes(_pem_of(ed448.Ed448PrivateKey.generate()))
    with pytest.raises(UnsupportedAlgorithmError, match="DSA key"):
        PrivateKey.from_bytes(_pem_of(dsa.generate_private_key(2048)))
    with pytest.raises(UnsupportedAlgorithmError, match="ssh-dss key"):
        PublicKey.from_bytes("ssh-dss AAAAB3NzaC1kc3MAAACBAP1 me@host")
    with pytest.raises(UnsupportedAlgorithmError, match="OpenSSH certificate"):
        PublicKey.from_bytes("ssh-ed25519-cert-v01@openssh.com AAAA me")
    with pytest.raises(UnsupportedAlgorithmError, match=r"sk-ssh-ed25519@openssh.com key"):
        PublicKey.from_bytes("sk-ssh-ed25519@openssh.com AAAA me")


def test_kdf_ceilings_refuse_before_any_work(keys) -> None:
    # A PKCS#8 file asking for scrypt N=2^24 (16 GiB): refused from its header alone.
    scrypt = _pkcs8._seq(
        _pkcs8._oid(_pkcs8._SCRYPT),
        _pkcs8._seq(
            _pkcs8._tlv(4, b"s" * 16), _pkcs8._int(1 << 24), _pkcs8._int(8), _pkcs8._int(1)
        ),
    )
    aes = _pkcs8._seq(_pkcs8._oid(_pkcs8._AES256_CBC), _pkcs8._tlv(4, b"i" * 16))
    alg = _pkcs8._seq(_pkcs8._oid(_pkcs8._PBES2), _pkcs8._seq(scrypt, aes))
    hostile = _pem.encode("ENCRYPTED PRIVATE KEY", _pkcs8._seq(alg, _pkcs8._tlv(4, b"c" * 48)))
    asked = []
    with pytest.raises(KeyFormatError, match=r"scrypt N=16777216 r=8 p=1, beyond"):
        PrivateKey.from_bytes(hostile, lambda: asked.append(1) or PASS)
    assert asked == []
    pbkdf2 = _pkcs8._seq(
        _pkcs8._oid(_pkcs8._PBKDF2), _pkcs8._seq(_pkcs8._tlv(4, b"s" * 8), _pkcs8._int(10**9))
    )
    alg = _pkcs8._seq(_pkcs8._oid(_pkcs8._PBES2), _pkcs8._seq(pbkdf2, aes))
    hostile = _pem.encode("ENCRYPTED PRIVATE KEY", _pkcs8._seq(alg, _pkcs8._tlv(4, b"c" * 48)))
    with pytest.raises(KeyFormatError, match="1000000000 PBKDF2 iterations"):
        PrivateKey.from_bytes(hostile, PASS)
    with pytest.raises(KeyFormatError, match="not a valid encrypted PKCS#8"):
        PrivateKey.from_bytes(_pem.encode("ENCRYPTED PRIVATE KEY", b"\x04\x00"), PASS)
    # An OpenSSH key asking for 2^20 bcrypt rounds.
    data = keys["ed25519"].export_private(PASS, format="openssh", bcrypt_rounds=7)
    body = _pem.first_block(data, "t").der
    marker = (7).to_bytes(4, "big")
    at = body.index(marker, len(b"openssh-key-v1\0"))
    forged = body[:at] + (1 << 20).to_bytes(4, "big") + body[at + 4 :]
    with pytest.raises(KeyFormatError, match="1048576 bcrypt rounds"):
        PrivateKey.from_bytes(_pem.encode("OPENSSH PRIVATE KEY", forged), PASS)


def test_export_errors(keys) -> None:
    key = keys["ed25519"]
    with pytest.raises(ConfigError, match="unknown key file format 'der'"):
        key.export_private(None, format="der")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the passphrase is empty"):
        key.export_private("", format="pem")
    with pytest.raises(ConfigError, match="bcrypt rounds must be 1 to 1024"):
        key.export_private(PASS, format="openssh", bcrypt_rounds=0)
    with pytest.raises(ConfigError, match="unknown key file format"):
        key.public_key.public_bytes("der")  # type: ignore[arg-type]


def test_save_modes_and_overwrite(tmp_path: Path, keys) -> None:
    key = keys["ed25519"]
    path = tmp_path / "id"
    key.save(path, PASS, **CHEAP)
    key.public_key.save(tmp_path / "id.pub")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "id.pub").stat().st_mode) == 0o644
    before = path.read_bytes()
    with pytest.raises(StorageError, match="already exists"):
        key.save(path, PASS, **CHEAP)
    with pytest.raises(StorageError, match="already exists"):
        key.public_key.save(tmp_path / "id.pub")
    assert path.read_bytes() == before
    keys["rsa"].save(path, None, format="pem", overwrite=True)
    assert PrivateKey.load(path).key_type is KeyType.RSA
    assert PublicKey.load(tmp_path / "id.pub") == key.public_key
    with pytest.raises(StorageError, match="does not exist"):
        PrivateKey.load(tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id", "id.pub"]  # no temporary files


def test_loads_legacy_and_pkcs1_pem(keys) -> None:
    pyca = keys["rsa"].expose_private_key()
    legacy = pyca.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(PASS.encode()),
    )
    assert b"Proc-Type: 4,ENCRYPTED" in legacy
    assert PrivateKey.from_bytes(legacy, PASS).public_key == keys["rsa"].public_key
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        PrivateKey.from_bytes(legacy, "nope")
    pkcs1_pub = pyca.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert PublicKey.from_bytes(pkcs1_pub) == keys["rsa"].public_key


# --- public keys and fingerprints -------------------------------------------------------------


def test_openssh_line_and_fingerprint(keys) -> None:
    for kind in SIGNING:
        public = keys[kind].public_key
        line = PublicKey.from_bytes(public.openssh() + " alice@example.com\n")
        assert line == public and line.comment == "alice@example.com"
        blob = base64.b64decode(public.openssh().split()[1])
        assert blob == public.ssh_blob()
        expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        assert public.fingerprint() == f"SHA256:{expected}"
        assert line.fingerprint_line() == (
            f"{public.bits} SHA256:{expected} alice@example.com ({public.type_label})"
        )
        assert public.fingerprint_line().endswith(f" no comment ({public.type_label})")
        assert PublicKey.from_bytes(public.pem()) == public
        assert PublicKey.from_ssh_blob(blob) == public
        assert str(public) == public.openssh()
    assert keys["rsa"].public_key.type_label == "RSA"
    assert keys["ecdsa-p256"].public_key.openssh().startswith("ecdsa-sha2-nistp256 ")


def test_x25519_public_key_forms(keys) -> None:
    public = keys["x25519"].public_key
    with pytest.raises(UnsupportedAlgorithmError, match="no OpenSSH form"):
        public.openssh()
    spki = public.cryptography_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = base64.b64encode(hashlib.sha256(spki).digest()).decode().rstrip("=")
    assert public.fingerprint() == f"SHA256:{digest}"
    assert public.fingerprint_line().endswith("(X25519)")
    assert str(public) == public.pem().decode()
    assert PublicKey.from_raw("x25519", public.raw()) == public
    with pytest.raises(UnsupportedAlgorithmError):
        keys["rsa"].public_key.raw()


def test_comments_and_blank_lines_before_the_key(keys) -> None:
    text = "# a comment\n\n" + keys["ed25519"].public_key.openssh() + " c\n"
    assert PublicKey.from_bytes(text).comment == "c"
    with pytest.raises(KeyFormatError, match="expected a key type and base64 key"):
        PublicKey.from_bytes("ssh-ed25519\n")
    with pytest.raises(KeyFormatError, match="damaged ssh-ed25519 public key"):
        PublicKey.from_bytes("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==")
    with pytest.raises(KeyFormatError, match="not a key file"):
        PublicKey.from_bytes("# only a comment\n")


def test_raw_keys() -> None:
    seed = bytes(range(32))
    key = PrivateKey.from_raw("ed25519", Secret(seed))
    assert PrivateKey.from_raw("ed25519", seed).public_key == key.public_key
    with pytest.raises(KeyFormatError, match="32 bytes"):
        PrivateKey.from_raw("x25519", b"short")
    with pytest.raises(KeyFormatError, match="not a valid raw ed25519 public key"):
        PublicKey.from_raw("ed25519", b"short")
    with pytest.raises(ConfigError, match="ed25519 and x25519 only"):
        PrivateKey.from_raw("rsa", seed)
    with pytest.raises(ConfigError, match="ed25519 and x25519 only"):
        PublicKey.from_raw("ecdsa", seed)


def test_equality_and_hash(keys) -> None:
    a = keys["ed25519"].public_key
    b = PublicKey.from_bytes(a.openssh() + " other comment")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != keys["ecdsa-p256"].public_key
    assert a != "not a key"


# --- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SIGNING)
def test_sign_verify(keys, kind: str) -> None:
    key = keys[kind]
    message = b"release 1.2.3"
    signature = key.sign(message)
    key.public_key.verify(signature, message)
    with pytest.raises(InvalidSignatureError) as info:
        key.public_key.verify(signature, message + b"!")
    assert str(info.value) == "signature verification failed"
    damaged = bytearray(signature)
    damaged[len(damaged) // 2] ^= 0x10
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(bytes(damaged), message)
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(signature[:-1], message)
    other = keys["ed25519" if kind != "ed25519" else "ecdsa-p256"]
    with pytest.raises(InvalidSignatureError):
        other.public_key.verify(signature, message)


def test_rsa_pss_parameters(keys) -> None:
    key = keys["rsa"]
    pyca = key.public_key.cryptography_key()
    signature = key.sign(b"m")
    pyca.verify(
        signature,
        b"m",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    # The classic recipe's signatures (maximum salt) verify when asked for.
    recipe = key.expose_private_key().sign(
        b"m",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(recipe, b"m")
    key.public_key.verify(recipe, b"m", pss_salt_length=key.bits // 8 - 34)


def test_ecdsa_signatures_are_der(keys) -> None:
    signature = keys["ecdsa-p256"].sign(b"m")
    assert signature[0] == 0x30 and 68 <= len(signature) <= 72


def test_x25519_cannot_sign(keys) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="x25519 keys cannot sign") as info:
        keys["x25519"].sign(b"m")
    assert "ed25519" in (info.value.hint or "")
    with pytest.raises(UnsupportedAlgorithmError, match="cannot sign"):
        keys["x25519"].public_key.verify(b"s" * 64, b"m")


# --- RSA-OAEP -----------------------------------------------------------------------------


def test_oaep_round_trip_and_limit(keys) -> None:
    key = keys["rsa"]
    limit = oaep_max_plaintext(2048)
    assert limit == 190 and oaep_max_plaintext(3072) == 318
    for size in (0, 1, limit):
        plaintext = bytes(range(256))[:size] if size <= 256 else b""
        ciphertext = key.public_key.encrypt(plaintext)
        assert len(ciphertext) == 256 and key.decrypt(ciphertext) == plaintext
    with pytest.raises(ConfigError) as info:
        key.public_key.encrypt(b"x" * (limit + 1))
    assert str(info.value) == (
        "plaintext is 191 bytes; RSA-OAEP-SHA256 with a 2048-bit key encrypts at most 190"
    )
    assert "hybrid encryption" in (info.value.hint or "")


def test_oaep_label_and_tampering(keys) -> None:
    key = keys["rsa"]
    ciphertext = key.public_key.encrypt(b"secret", label=b"users:42")
    assert key.decrypt(ciphertext, label=b"users:42") == b"secret"
    for bad, label in (
        (ciphertext, b"users:43"),
        (ciphertext, b""),
        (ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]), b"users:42"),
        (ciphertext[1:], b"users:42"),
        (b"", b"users:42"),
    ):
        with pytest.raises(DecryptionError) as info:
            key.decrypt(bad, label=label)
        assert str(info.value) == "decryption failed"
    other = PrivateKey.generate("rsa", bits=2048)
    with pytest.raises(DecryptionError):
        other.decrypt(key.public_key.encrypt(b"x"))


def test_oaep_needs_rsa(keys) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="cannot encrypt directly") as info:
        keys["ed25519"].public_key.encrypt(b"x")
    assert "hybrid" in (info.value.hint or "")
    with pytest.raises(UnsupportedAlgorithmError, match="cannot decrypt RSA-OAEP"):
        keys["ed25519"].decrypt(b"x")


# --- X25519 -------------------------------------------------------------------------------


def test_x25519_exchange(keys) -> None:
    alice, bob = keys["x25519"], PrivateKey.generate("x25519")
    assert alice.exchange(bob.public_key) == bob.exchange(alice.public_key)
    low_order = PublicKey.from_raw("x25519", bytes(32))
    with pytest.raises(KeyFormatError, match="low-order point"):
        alice.exchange(low_order)
    with pytest.raises(UnsupportedAlgorithmError, match="two x25519 keys"):
        alice.exchange(keys["ed25519"].public_key)
    with pytest.raises(UnsupportedAlgorithmError, match="two x25519 keys"):
        keys["ed25519"].exchange(alice.public_key)


# --- secrets stay in ----------------------------------------------------------------------


def test_private_key_never_shows_its_material(keys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for kind, key in keys.items():
        raw = key.export_private(None, format="pem")
        body = b"".join(raw.splitlines()[1:-1]).decode()
        for text in (repr(key), str(key), f"{key}", repr(key.public_key)):
            assert body[:40] not in text and body[-40:] not in text
            assert "PRIVATE" not in text
        assert repr(key).startswith(f"PrivateKey(type='{kind}', fingerprint='SHA256:")
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(key)
        assert copy.copy(key) is key and copy.deepcopy(key) is key
    assert not caplog.records


def test_errors_never_hold_passphrase_or_material(keys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    key = keys["ed25519"]
    messages = []
    for fmt in ("openssh", "pem"):
        data = key.export_private(PASS, format=fmt, **CHEAP)
        for attempt in (PASS + "x", None):
            try:
                PrivateKey.from_bytes(data, attempt, what="k")
            except DecryptionError as exc:
                messages.append(f"{exc} {exc.hint} {exc!r}")
    clear = key.export_private(None, format="pem")
    damaged = clear.replace(b"MC4CAQAw", b"MC4CAQBw")
    try:
        PrivateKey.from_bytes(damaged)
    except KeyFormatError as exc:
        messages.append(f"{exc} {exc!r}")
    text = "\n".join(messages + [r.getMessage() for r in caplog.records])
    assert len(messages) == 5
    assert PASS not in text and "PRIVATE KEY-----" not in text
    body = b"".join(clear.splitlines()[1:-1]).decode()
    assert body[10:40] not in text


# --- hybrid encryption (age) --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "x25519"])
def test_hybrid_round_trip_any_size(keys, kind: str) -> None:
    key = keys[kind]
    for size in (0, 1, 191, 65536, 65537, 300_001):
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        sealed = encrypt_hybrid(data, key.public_key)
        assert sealed.startswith(b"age-encryption.org/v1\n")
        assert decrypt_hybrid(sealed, key) == data
    armored = encrypt_hybrid(b"x", [key.public_key], armor=True)
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert decrypt_hybrid(armored, [key]) == b"x"


def test_hybrid_stanzas_match_the_key_types(keys) -> None:
    from sealbox import age

    sealed = encrypt_hybrid(
        b"to three people",
        [keys["rsa"].public_key, keys["ed25519"].public_key, keys["x25519"].public_key],
    )
    header = sealed.split(b"\n---", 1)[0].decode()
    assert [line.split()[1] for line in header.splitlines() if line.startswith("-> ")] == [
        "ssh-rsa",
        "ssh-ed25519",
        "X25519",
    ]
    for kind in ("rsa", "ed25519", "x25519"):  # any one recipient opens it
        assert decrypt_hybrid(sealed, keys[kind]) == b"to three people"
    assert str(keys["x25519"].public_key.age_recipient()).startswith("age1")
    assert isinstance(keys["ed25519"].age_identity(), age.SSHEd25519Identity)
    assert str(keys["ed25519"].public_key.age_recipient()) == keys["ed25519"].public_key.openssh()


def test_hybrid_failures(keys) -> None:
    sealed = encrypt_hybrid(b"secret" * 1000, keys["ed25519"].public_key)
    with pytest.raises(NoIdentityMatchError):
        decrypt_hybrid(sealed, [keys["rsa"], keys["x25519"]])
    with pytest.raises(DecryptionError):
        decrypt_hybrid(sealed[:-20] + bytes(20), keys["ed25519"])
    with pytest.raises(DecryptionError):
        decrypt_hybrid(sealed[:-1], keys["ed25519"])
    with pytest.raises(UnsupportedAlgorithmError, match="ecdsa-p256 keys cannot be encryption"):
        encrypt_hybrid(b"x", keys["ecdsa-p256"].public_key)
    with pytest.raises(UnsupportedAlgorithmError, match="ecdsa-p256 keys cannot decrypt"):
        keys["ecdsa-p256"].age_identity()
    with pytest.raises(ConfigError, match="at least one recipient"):
        encrypt_hybrid(b"x", [])


def test_oaep_limit_then_hybrid(keys) -> None:
    """Past the RSA-OAEP limit, the same key takes hybrid encryption, as the hint says."""
    key = keys["rsa"]
    big = b"y" * 191
    with pytest.raises(ConfigError) as info:
        key.public_key.encrypt(big)
    assert "sealbox.keys.asymmetric.encrypt_hybrid" in (info.value.hint or "")
    assert decrypt_hybrid(encrypt_hybrid(big, key.public_key), key) == big


def test_a_key_type_sealbox_does_not_take_is_named_with_its_article() -> None:
    from cryptography.hazmat.primitives.asymmetric import dsa, ed448, x448

    from sealbox.exceptions import UnsupportedAlgorithmError
    from sealbox.keys.kinds import classify

    for key, said in (
        (ed448.Ed448PrivateKey.generate(), "an Ed448 key"),
        (x448.X448PrivateKey.generate(), "an X448 key"),
        (dsa.generate_private_key(1024), "a DSA key"),
    ):
        with pytest.raises(
            UnsupportedAlgorithmError, match=f"^key.pem is {said}: sealbox supports"
        ):
            classify(key, "key.pem")
