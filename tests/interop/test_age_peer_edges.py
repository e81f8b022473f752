"""Interop edges with the real peers that the main interop tests leave out: passphrases with
the `age` CLI on a terminal (work factors other than 18), many X25519 recipients through
the command lines, and headers holding stanzas sealbox does not know (another tool's,
grease) next to one it does — built here with pyca directly, so that neither sealbox's
writer nor its reader vouches for the file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox import age
from tests.conftest import require_module, require_tool, run_sealbox

pytestmark = pytest.mark.interop

PLAIN = os.urandom(70_000)  # two chunks


def _run(args: list[object], **kw) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=120, **kw)


def _age_on_terminal(args: list[object], passphrase: str, *, confirm: bool = False) -> int:
    """Run `age` on a pseudo-terminal (it reads passphrases only from one), answering."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(require_tool("age"), [str(a) for a in args], timeout=60)
    for _ in range(2 if confirm else 1):
        child.expect("passphrase")
        child.sendline(passphrase)
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus)


@pytest.mark.parametrize("work_factor", [10, 18])
def test_a_passphrase_file_of_sealbox_opens_with_age_at_its_work_factor(tmp_path, work_factor):
    sealed, out = tmp_path / "f.age", tmp_path / "out"
    sealed.write_bytes(
        age.encrypt(PLAIN, [age.ScryptRecipient("tr0ub4dor", work_factor=work_factor)])
    )
    assert b"-> scrypt " in sealed.read_bytes().split(b"\n")[1]
    assert _age_on_terminal(["-d", "-o", out, sealed], "tr0ub4dor") == 0
    assert out.read_bytes() == PLAIN


def test_an_age_passphrase_file_opens_with_sealbox_decrypt(tmp_path):
    plain, sealed = tmp_path / "plain", tmp_path / "f.age"
    plain.write_bytes(PLAIN)
    assert _age_on_terminal(["-p", "-o", sealed, plain], "tr0ub4dor", confirm=True) == 0
    r = run_sealbox(["decrypt", sealed], env={"SEALBOX_PASSPHRASE": "tr0ub4dor"})
    assert (r.returncode, r.stdout) == (0, PLAIN), r.stderr
    r = run_sealbox(["decrypt", sealed], env={"SEALBOX_PASSPHRASE": "Tr0ub4dor"})
    assert r.returncode == 1
    assert r.stderr.decode().startswith("sealbox: error: incorrect passphrase\n")


def test_many_x25519_recipients_through_both_command_lines(tmp_path):
    require_tool("age-keygen")
    keys = []
    for n in range(24):
        key = tmp_path / f"k{n}.txt"
        assert _run(["age-keygen", "-o", key]).returncode == 0
        keys.append(key)
    recipients = tmp_path / "recipients.txt"
    lines = [_run(["age-keygen", "-y", k]).stdout.decode() for k in keys]
    recipients.write_text(
        "# the team\r\n\r\n" + "".join(line.replace("\n", "\r\n") for line in lines)
    )
    plain, ours, theirs = tmp_path / "plain", tmp_path / "ours.age", tmp_path / "theirs.age"
    plain.write_bytes(PLAIN)
    r = run_sealbox(["encrypt", "-R", recipients, "-o", ours, plain])
    assert r.returncode == 0, r.stderr
    for key in (keys[0], keys[11], keys[-1]):
        assert _run(["age", "-d", "-i", key, ours]).stdout == PLAIN
    args = [a for line in lines for a in ("-r", line.strip())]
    assert _run(["age", *args, "-o", theirs, plain]).returncode == 0
    for key in (keys[0], keys[-1]):
        r = run_sealbox(["decrypt", "-i", key, theirs])
        assert (r.returncode, r.stdout) == (0, PLAIN), r.stderr


# A header written by hand from the specification (age.md), with pyca only.


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _body(data: bytes) -> str:
    text = _b64(data)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    if not lines or len(lines[-1]) == 64:
        lines.append("")  # a body ends with a short line, empty if need be
    return "\n".join(lines) + "\n"


def _hkdf(salt: bytes, ikm: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def _x25519_stanza(public: bytes, file_key: bytes) -> str:
    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    key = _hkdf(share + public, secret, b"age-encryption.org/v1/X25519")
    return f"-> X25519 {_b64(share)}\n" + _body(
        ChaCha20Poly1305(key).encrypt(bytes(12), file_key, None)
    )


def _file(stanzas: list[str], file_key: bytes, plain: bytes) -> bytes:
    head = "age-encryption.org/v1\n" + "".join(stanzas) + "---"
    mac = hmac.new(_hkdf(b"", file_key, b"header"), head.encode(), hashlib.sha256).digest()
    nonce = os.urandom(16)
    aead = ChaCha20Poly1305(_hkdf(nonce, file_key, b"payload"))
    chunks = [plain[i : i + 65536] for i in range(0, len(plain), 65536)] or [b""]
    sealed = [
        aead.encrypt(i.to_bytes(11, "big") + bytes([i == len(chunks) - 1]), chunk, None)
        for i, chunk in enumerate(chunks)
    ]
    return f"{head} {_b64(mac)}\n".encode() + nonce + b"".join(sealed)


UNKNOWN = {
    "another_tool_first": lambda: "-> piv-p256 Zm9v YmFy\n" + _body(os.urandom(40)),
    "grease_after": lambda: "-> 8!-grease #a ~z\n" + _body(os.urandom(33)),
    "grease_empty_body": lambda: "-> x-grease\n\n",
    "body_of_exactly_64_columns": lambda: "-> unknown\n" + _body(os.urandom(48)),
}


@pytest.mark.parametrize("kind", list(UNKNOWN))
def test_a_header_with_stanzas_sealbox_does_not_know_opens_with_the_one_it_does(tmp_path, kind):
    require_module("pyrage")
    import pyrage

    me = pyrage.x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(f"{me}\n")
    public = age.parse_recipient(str(me.to_public()))._raw  # type: ignore[attr-defined]
    file_key = os.urandom(16)
    known = _x25519_stanza(public, file_key)
    other = UNKNOWN[kind]()
    stanzas = [known, other] if kind == "grease_after" else [other, known]
    sealed = tmp_path / "f.age"
    sealed.write_bytes(_file(stanzas, file_key, PLAIN))
    # The peers agree that it opens...
    assert _run(["age", "-d", "-i", key, sealed]).stdout == PLAIN
    assert pyrage.decrypt(sealed.read_bytes(), [me]) == PLAIN
    # ...and so does sealbox, through the library and the command line.
    assert age.decrypt(sealed.read_bytes(), age.load_identities(key)) == PLAIN
    r = run_sealbox(["decrypt", "-i", key, sealed])
    assert (r.returncode, r.stdout) == (0, PLAIN), r.stderr


def test_a_64_column_body_line_without_its_empty_line_is_refused_as_age_refuses_it(tmp_path):
    me = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    file_key = os.urandom(16)
    public = me.recipient()._raw  # type: ignore[attr-defined]
    cut = "-> unknown\n" + _b64(os.urandom(48)) + "\n"  # no short line after the full one
    sealed = tmp_path / "f.age"
    sealed.write_bytes(_file([cut, _x25519_stanza(public, file_key)], file_key, PLAIN))
    assert _run(["age", "-d", "-i", key, sealed]).returncode == 1
    r = run_sealbox(["decrypt", "-i", key, sealed])
    assert (r.returncode, r.stdout) == (1, b"")
    # It was "stanza body line is not unpadded base64: '-> X25519 …'", blaming the next
    # stanza (age: "stanza ended without a short line").
    assert r.stderr.decode() == (
        "sealbox: error: a stanza body ends without a short line: its last line is 64 "
        "columns, so an empty line must follow it\n"
    )
