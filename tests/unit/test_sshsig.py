"""sealbox.keys.sshsig: the SSHSIG format, streaming, verification policy, allowed signers."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from sealbox.exceptions import (
    ConfigError,
    FormatError,
    InvalidSignatureError,
    SignerNotAllowedError,
    StorageError,
    UnsupportedAlgorithmError,
)
from sealbox.keys import allowed_signers, sshsig
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from sealbox.keys.sshsig import AllowedSigners, SSHSignature

MESSAGE = b"the quick brown fox\n" * 100


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {
        "rsa": PrivateKey.generate("rsa", bits=2048),
        "ed25519": PrivateKey.generate("ed25519"),
        "ecdsa-p256": PrivateKey.generate("ecdsa"),
    }


def _armor(blob: bytes) -> str:
    body = base64.b64encode(blob).decode()
    return f"{sshsig.ARMOR_BEGIN}\n{body}\n{sshsig.ARMOR_END}\n"


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa-p256"])
def test_sign_verify_bytes_and_files(keys, kind: str) -> None:
    key = keys[kind]
    sig = sshsig.sign(key, MESSAGE, namespace="file")
    assert sig.hash_algorithm == "sha512" and sig.namespace == "file"
    assert (
        sig.algorithm
        == {
            "rsa": "rsa-sha2-512",
            "ed25519": "ssh-ed25519",
            "ecdsa-p256": "ecdsa-sha2-nistp256",
        }[kind]
    )
    text = sig.armor()
    lines = text.splitlines()
    assert lines[0] == sshsig.ARMOR_BEGIN and lines[-1] == sshsig.ARMOR_END
    assert all(len(line) <= 70 for line in lines[1:-1]) and len(lines[1]) == 70
    assert SSHSignature.parse(text) == sig
    result = sshsig.verify(text, io.BytesIO(MESSAGE), namespace="file", public_key=key.public_key)
    assert result.public_key == key.public_key and result.principal is None
    assert "fingerprint='SHA256:" in repr(result)
    # A signature made over a file object equals the one over the same bytes (Ed25519 is
    # deterministic; the others are randomized but must verify).
    from_file = sshsig.sign(key, io.BytesIO(MESSAGE), namespace="file")
    if kind == "ed25519":
        assert from_file == sig
    sshsig.verify(from_file, MESSAGE, namespace="file", public_key=key.public_key)


def test_blob_layout(keys) -> None:
    key = keys["ed25519"]
    sig = sshsig.sign(key, MESSAGE, namespace="git")
    r = _sshwire.Reader(sig.blob(), "t")
    assert r.raw(6, "m") == b"SSHSIG" and r.uint32("v") == 1
    assert r.string("k") == key.public_key.ssh_blob()
    assert r.string("n") == b"git" and r.string("r") == b"" and r.string("h") == b"sha512"
    inner = _sshwire.Reader(r.string("s"), "t")
    assert inner.string("a") == b"ssh-ed25519"
    raw = inner.string("sig")
    r.done()
    signed = (
        b"SSHSIG"
        + _sshwire.string(b"git")
        + _sshwire.string(b"")
        + _sshwire.string(b"sha512")
        + _sshwire.string(hashlib.sha512(MESSAGE).digest())
    )
    key.public_key.verify(raw, signed)  # section 3: exactly this was signed


def test_streaming_digest_uses_one_buffer() -> None:
    data = bytes(range(256)) * 20_000  # 5 MiB, several chunks

    class ReadOnly:
        def __init__(self) -> None:
            self._f = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._f.read(n)

    expected = hashlib.sha512(data).digest()
    assert sshsig.digest(io.BytesIO(data)) == expected
    assert sshsig.digest(ReadOnly()) == expected  # type: ignore[arg-type]
    assert sshsig.digest(memoryview(data), "sha256") == hashlib.sha256(data).digest()
    with pytest.raises(UnsupportedAlgorithmError):
        sshsig.digest(data, "md5")


def test_sha256_signatures_verify(keys) -> None:
    """ssh-keygen writes sha512; PROTOCOL.sshsig also allows sha256, which is read."""
    key = keys["rsa"]
    signed = (
        b"SSHSIG"
        + _sshwire.string(b"file")
        + _sshwire.string(b"")
        + _sshwire.string(b"sha256")
        + _sshwire.string(hashlib.sha256(MESSAGE).digest())
    )
    raw = key.expose_private_key().sign(signed, padding.PKCS1v15(), hashes.SHA256())
    sig = SSHSignature(key.public_key, "file", "sha256", "rsa-sha2-256", raw)
    parsed = SSHSignature.parse(sig.armor())
    sshsig.verify(parsed, MESSAGE, namespace="file", public_key=key.public_key)
    with pytest.raises(InvalidSignatureError):
        sshsig.verify(parsed, MESSAGE + b"x", namespace="file", public_key=key.public_key)


def test_policy_failures_say_why(keys) -> None:
    key, other = keys["ed25519"], keys["ecdsa-p256"]
    sig = sshsig.sign(key, MESSAGE, namespace="file").armor()
    with pytest.raises(SignerNotAllowedError) as info:
        sshsig.verify(sig, MESSAGE, namespace="git", public_key=key.public_key)
    assert str(info.value) == "the signature is for namespace 'file', not 'git'"
    assert info.value.code == "wrong_namespace"
    assert info.value.facts == {"namespace": "file", "expected": "git"}
    assert "-n" not in (info.value.hint or "")  # the command line's hint is its own
    with pytest.raises(SignerNotAllowedError) as info:
        sshsig.verify(sig, MESSAGE, namespace="file", public_key=other.public_key)
    assert str(info.value) == (
        f"the signature was made by key {key.public_key.fingerprint()}, "
        f"not by {other.public_key.fingerprint()}"
    )
    assert isinstance(info.value, InvalidSignatureError)  # callers catching the parent are safe


def test_modified_data_is_an_opaque_failure(keys) -> None:
    for key in keys.values():
        sig = sshsig.sign(key, MESSAGE, namespace="file")
        with pytest.raises(InvalidSignatureError) as info:
            sshsig.verify(sig, MESSAGE[:-1] + b"?", namespace="file", public_key=key.public_key)
        assert type(info.value) is InvalidSignatureError
        assert str(info.value) == "signature verification failed"
        # A damaged signature value (same key, same namespace) fails the same way.
        raw = bytearray(sig.signature)
        raw[-3] ^= 0x01
        damaged = SSHSignature(
            sig.public_key, sig.namespace, sig.hash_algorithm, sig.algorithm, bytes(raw)
        )
        with pytest.raises(InvalidSignatureError) as info:
            sshsig.verify(damaged.armor(), MESSAGE, namespace="file", public_key=key.public_key)
        assert type(info.value) is InvalidSignatureError


def test_malformed_ecdsa_and_oversized_rsa_values(keys) -> None:
    ec_key, rsa_key = keys["ecdsa-p256"], keys["rsa"]
    bad_ec = SSHSignature(ec_key.public_key, "file", "sha512", "ecdsa-sha2-nistp256", b"\0\0")
    with pytest.raises(InvalidSignatureError):
        sshsig.verify(bad_ec, MESSAGE, namespace="file", public_key=ec_key.public_key)
    long_rsa = SSHSignature(rsa_key.public_key, "file", "sha512", "rsa-sha2-512", b"\1" * 257)
    with pytest.raises(InvalidSignatureError):
        sshsig.verify(long_rsa, MESSAGE, namespace="file", public_key=rsa_key.public_key)


def test_rsa_signature_shorter_than_modulus_is_padded(keys) -> None:
    """RFC 8332 section 3: a signature value with leading zeros dropped still verifies."""
    key = keys["rsa"]
    for n in range(2000):
        message = MESSAGE + str(n).encode()
        sig = sshsig.sign(key, message, namespace="file")
        if sig.signature[0] == 0:
            short = SSHSignature(
                sig.public_key, "file", "sha512", sig.algorithm, sig.signature.lstrip(b"\0")
            )
            sshsig.verify(short.armor(), message, namespace="file", public_key=key.public_key)
            return
    pytest.fail("no RSA signature with a leading zero byte in 2000 tries")  # p < 1e-3


@pytest.mark.parametrize(
    ("mangle", "error", "message"),
    [
        (lambda t: t.replace(sshsig.ARMOR_END, ""), FormatError, "truncated: no -----END"),
        (lambda t: t[: len(t) // 2], FormatError, "truncated: no -----END"),
        (lambda t: "garbage\n" + t, FormatError, "does not start with -----BEGIN SSH SIGNATURE"),
        (lambda t: t + "trailing\n", FormatError, "text after the -----END"),
        (lambda t: t.replace("\nU1NI", "\nU*NI"), FormatError, "not valid base64"),
        (lambda t: "", FormatError, "does not start with"),
    ],
)
def test_damaged_armor(keys, mangle, error, message: str) -> None:
    text = sshsig.sign(keys["ed25519"], MESSAGE, namespace="file").armor()
    with pytest.raises(error, match=message):
        SSHSignature.parse(mangle(text), what="signature file s")


def _blob_with(keys, **change: bytes) -> bytes:
    sig = sshsig.sign(keys["ed25519"], MESSAGE, namespace="file")
    fields = {
        "magic": b"SSHSIG",
        "version": _sshwire.uint32(1),
        "key": _sshwire.string(sig.public_key.ssh_blob()),
        "namespace": _sshwire.string(b"file"),
        "reserved": _sshwire.string(b""),
        "hash": _sshwire.string(b"sha512"),
        "sig": _sshwire.string(
            _sshwire.string(sig.algorithm.encode()) + _sshwire.string(sig.signature)
        ),
    }
    fields.update(change)
    return b"".join(fields.values())


def test_damaged_blobs(keys) -> None:
    good = _blob_with(keys)
    for cut in (3, 10, 40, len(good) - 1):
        with pytest.raises(FormatError, match="truncated"):
            SSHSignature.parse(_armor(good[:cut]))
    cases = [
        ({"magic": b"SSHSIH"}, FormatError, "no SSHSIG magic"),
        ({"version": _sshwire.uint32(2)}, UnsupportedAlgorithmError, "SSHSIG version 2"),
        ({"hash": _sshwire.string(b"md5")}, UnsupportedAlgorithmError, "hash 'md5'"),
        ({"namespace": _sshwire.string(b"")}, FormatError, "empty namespace"),
        ({"namespace": _sshwire.string(b"\xff")}, FormatError, "namespace is not UTF-8"),
        ({"key": _sshwire.string(b"\0\0\0\x03abc")}, FormatError, "not a key|damaged|truncated"),
        (
            {"sig": _sshwire.string(_sshwire.string(b"rsa-sha2-512") + _sshwire.string(b"x"))},
            FormatError,
            "'rsa-sha2-512' does not match its ssh-ed25519 key",
        ),
        (
            {
                "sig": _sshwire.string(
                    _sshwire.string(b"ssh-ed25519") + _sshwire.string(b"x") + b"!"
                )
            },
            FormatError,
            "unexpected trailing bytes",
        ),
    ]
    for change, error, message in cases:
        with pytest.raises(error, match=message):
            SSHSignature.parse(_armor(_blob_with(keys, **change)))
    with pytest.raises(FormatError, match="unexpected trailing bytes"):
        SSHSignature.parse(_armor(good + b"\0"))


def test_sha1_rsa_is_refused(keys) -> None:
    rsa_blob = keys["rsa"].public_key.ssh_blob()
    blob = _blob_with(
        keys,
        key=_sshwire.string(rsa_blob),
        sig=_sshwire.string(_sshwire.string(b"ssh-rsa") + _sshwire.string(b"\1" * 256)),
    )
    with pytest.raises(UnsupportedAlgorithmError, match="ssh-rsa \\(RSA with SHA-1\\)"):
        SSHSignature.parse(_armor(blob))


def test_argument_errors(keys) -> None:
    key = keys["ed25519"]
    with pytest.raises(ConfigError, match="namespace must not be empty"):
        sshsig.sign(key, b"x", namespace="")
    with pytest.raises(UnsupportedAlgorithmError, match="x25519 keys cannot sign"):
        sshsig.sign(PrivateKey.generate("x25519"), b"x", namespace="file")
    sig = sshsig.sign(key, b"x", namespace="file")
    with pytest.raises(TypeError):
        sshsig.verify(sig, b"x", namespace="file")
    signers = AllowedSigners.parse(f"a@x {key.public_key.openssh()}")
    with pytest.raises(TypeError):
        sshsig.verify(
            sig, b"x", namespace="file", public_key=key.public_key, allowed_signers=signers
        )
    with pytest.raises(TypeError):
        sshsig.verify(sig, b"x", namespace="file", allowed_signers=signers)


def test_signature_file_helpers(tmp_path: Path, keys) -> None:
    key = keys["ecdsa-p256"]
    path = tmp_path / "f.sig"
    path.write_text(sshsig.sign(key, MESSAGE, namespace="file").armor())
    assert SSHSignature.load(path).public_key == key.public_key
    with pytest.raises(StorageError, match="does not exist"):
        SSHSignature.load(tmp_path / "nope.sig")
    path.write_bytes(b"x" * (70 * 1024))
    with pytest.raises(StorageError, match="larger than"):
        SSHSignature.load(path)


# --- allowed signers ----------------------------------------------------------------------


def test_allowed_signers_parsing(keys) -> None:
    ed, rsa_, ec_ = (keys[k].public_key for k in ("ed25519", "rsa", "ecdsa-p256"))
    text = f"""
# team keys
alice@example.com,alice@example.org {ed.openssh()} alice's laptop
"bob@example.com" namespaces="file,git" {rsa_.openssh()}
*@ops.example.com,!mallory@ops.example.com {ec_.openssh()}
*@example.com cert-authority {rsa_.openssh()}
carol@example.com ssh-dss AAAAB3NzaC1kc3MAAACBAP1
  dave@example.com NAMESPACES="release",Valid-After="20200101" {ed.openssh()}
"""
    signers = AllowedSigners.parse(text, source="signers")
    assert len(signers) == 5  # the ssh-dss line is left out
    assert signers.entries[0].principals == "alice@example.com,alice@example.org"
    assert signers.entries[1].principals == "bob@example.com"
    assert signers.entries[1].namespaces == "file,git"
    assert signers.entries[3].cert_authority
    assert signers.entries[4].namespaces == "release" and signers.entries[4].line == 8
    assert signers.entries[4].valid_after is not None
    assert repr(signers) == "AllowedSigners(source='signers', entries=5)"

    assert signers.check("alice@example.org", ed, "anything").line == 3
    assert signers.check("bob@example.com", rsa_, "git").line == 4
    assert signers.check("eve@ops.example.com", ec_, "file").line == 5
    with pytest.raises(
        SignerNotAllowedError, match=r"principal 'mallory@ops.example.com' is not in signers"
    ):
        signers.check("mallory@ops.example.com", ec_, "file")
    with pytest.raises(
        SignerNotAllowedError, match=r"principal 'zed@example.net' is not in signers"
    ):
        signers.check("zed@example.net", ed, "file")
    with pytest.raises(SignerNotAllowedError) as info:
        signers.check("alice@example.com", rsa_, "file")
    assert str(info.value) == (
        f"key {rsa_.fingerprint()} is not an allowed signer for 'alice@example.com' in signers"
    )
    with pytest.raises(SignerNotAllowedError) as info:
        signers.check("bob@example.com", rsa_, "backup")
    assert str(info.value) == (
        "signers does not allow 'bob@example.com' to sign namespace 'backup' "
        "(line 4: namespaces=file,git)"
    )
    # The cert-authority line trusts certificates, never the bare key.
    with pytest.raises(SignerNotAllowedError, match=r"principal 'frank@example.com' is not in"):
        signers.check("frank@example.com", rsa_, "file")
    assert signers.principals_for(ed) == [
        "alice@example.com,alice@example.org",
        "dave@example.com",
    ]
    assert signers.principals_for(ed, "file") == ["alice@example.com,alice@example.org"]


def test_allowed_signers_validity_window(keys) -> None:
    ed = keys["ed25519"].public_key
    signers = AllowedSigners.parse(
        f'a@x valid-after="20300101Z",valid-before="20300201120000Z" {ed.openssh()}\n'
        f'b@x valid-before="202001011200" {ed.openssh()}\n'
    )
    inside = datetime(2030, 1, 15, tzinfo=UTC)
    assert signers.check("a@x", ed, "file", now=inside).line == 1
    for moment in (datetime(2029, 12, 31, 23, 59, tzinfo=UTC), datetime(2030, 2, 2, tzinfo=UTC)):
        with pytest.raises(SignerNotAllowedError, match="is not valid now") as info:
            signers.check("a@x", ed, "file", now=moment)
        assert "valid-after 2030-01-01 00:00:00 UTC" in str(info.value)
    assert signers.entries[1].valid_before is not None
    assert signers.entries[1].valid_before.utcoffset() is not None  # local time, made aware
    with pytest.raises(SignerNotAllowedError, match="not valid now"):
        signers.check("b@x", ed, "file")
    assert signers.check("b@x", ed, "file", now=datetime(2019, 1, 1, tzinfo=UTC)).line == 2
    assert signers.check("b@x", ed, "file", now=datetime.now(UTC) - timedelta(days=3650 * 2))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice@x", "line 1: expected 'principals \\[options\\] keytype base64-key'"),
        ("alice@x ssh-ed25519", "line 1: expected 'principals"),
        ('"alice@x ssh-ed25519 AAAA', "line 1: unterminated double quote"),
        ("alice@x frobnicate=1 ssh-ed25519 AAAA", "line 1: unknown option 'frobnicate'"),
        ("alice@x cert-authority=yes ssh-ed25519 AAAA", "option 'cert-authority' is malformed"),
        ("alice@x namespaces ssh-ed25519 AAAA", "option 'namespaces' is malformed"),
        ('alice@x valid-after="2020" KEY', "bad timestamp '2020'"),
        ('alice@x valid-after="20201399" KEY', "bad timestamp '20201399'"),
        ('alice@x valid-before="2020010112x" KEY', "bad timestamp '2020010112x'"),
        ('alice@x namespaces="file" ssh-ed25519', "expected a key type and a base64 key after"),
        # ssh-keygen skips these ("missing start quote"): the values are quoted there.
        ("alice@x namespaces=file KEY", "value of option 'namespaces' must be in double quotes"),
        ("alice@x valid-after=20200101 KEY", "'valid-after' must be in double quotes"),
        ("alice@x ssh-ed25519 !!!notbase64", "line 1"),
        ('"" ssh-ed25519 AAAA', "line 1: empty principals"),
        # ssh-keygen skips these ("multiple clauses"): the last one must not win.
        ('alice@x namespaces="git",namespaces="file" KEY', "'namespaces' is given more than once"),
        ('a@x valid-after="20990101",Valid-After="20200101" KEY', "'valid-after' is given more"),
        # ssh-keygen skips these too ("unexpected end-of-options", "invalid options").
        ('alice@x namespaces="file", KEY', "the options end with a comma"),
        ('alice@x namespaces="file\\" KEY', "unterminated double quote in the options"),
    ],
)
def test_allowed_signers_errors(keys, line: str, message: str) -> None:
    line = line.replace("KEY", keys["ed25519"].public_key.openssh())
    with pytest.raises(FormatError, match=message):
        AllowedSigners.parse(line + "\n", source="f", strict=True)
    skipped = AllowedSigners.parse(line + "\n", source="f")  # as ssh-keygen: skipped
    assert len(skipped) == 0 and len(skipped.skipped) == 1
    assert re.search(message, skipped.skipped[0])


def test_a_malformed_line_is_skipped_and_named_not_fatal_for_the_other_signers(keys) -> None:
    ed = keys["ed25519"].public_key.openssh()
    text = f'bob@x valid-before="2099" {ed}\nalice@x {ed}\ncarol@x ssh-ed25519 !!!\n'
    signers = AllowedSigners.parse(text, source="f")
    sig = sshsig.sign(keys["ed25519"], b"data", namespace="file")
    result = sshsig.verify(
        sig, b"data", namespace="file", allowed_signers=signers, principal="alice@x"
    )
    assert result.principal == "alice@x"
    assert len(signers.skipped) == 2
    assert signers.skipped[0].startswith("f line 1: bad timestamp '2099'")
    assert signers.skipped[1].startswith("f line 3 ")
    # A refusal says which lines were skipped: the signer may have been on one of them.
    with pytest.raises(SignerNotAllowedError) as refused:
        sshsig.verify(sig, b"data", namespace="file", allowed_signers=signers, principal="bob@x")
    assert str(refused.value) == (
        "principal 'bob@x' is not in f; malformed lines were skipped "
        "(line 1: bad timestamp '2099' (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]) and 1 more)"
    )


def test_allowed_signers_file(tmp_path: Path, keys) -> None:
    path = tmp_path / "allowed"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(FormatError, match="is not UTF-8 text"):
        AllowedSigners.load(path)
    path.write_text(f"me@x {keys['ed25519'].public_key.openssh()}\n")
    signers = AllowedSigners.load(path)
    assert signers.source == f"allowed signers file {path}"
    sig = sshsig.sign(keys["ed25519"], b"data", namespace="file")
    result = sshsig.verify(
        sig, b"data", namespace="file", allowed_signers=signers, principal="me@x"
    )
    assert result.principal == "me@x"
    with pytest.raises(SignerNotAllowedError, match="principal 'you@x' is not in allowed signers"):
        sshsig.verify(sig, b"data", namespace="file", allowed_signers=signers, principal="you@x")


@pytest.mark.parametrize(
    ("text", "patterns", "expected"),
    [
        ("a@x", "a@x", True),
        ("a@x", "b@x", False),
        ("a@x", "*@x", True),
        ("a@x", "?@x", True),
        ("ab@x", "?@x", False),
        ("a@x", "*", True),
        ("a@x", "*,!a@x", False),
        ("b@x", "*,!a@x", True),
        ("a.b@x", "a?b@x", True),
        ("a[b]@x", "a[b]@x", True),
        ("a@x", "A@x", False),
        ("", "*", True),
    ],
)
def test_pattern_lists(text: str, patterns: str, expected: bool) -> None:
    assert allowed_signers._match_list(text, patterns) is expected


def test_public_key_from_signature_is_usable(keys) -> None:
    key = keys["ecdsa-p256"]
    sig = SSHSignature.parse(sshsig.sign(key, b"x", namespace="file").armor())
    assert isinstance(sig.public_key, PublicKey) and sig.public_key == key.public_key
