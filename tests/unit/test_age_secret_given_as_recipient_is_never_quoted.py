"""A secret key given where a recipient belongs is refused without a character of it shown.

However it is wrapped (quotes, a ``NAME=`` before it, spaces, any case) an age identity or
a private key text never reaches an error's message, hint, facts or repr: an unknown
recipient is quoted, and the start of one of these is key material.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sealbox import age
from sealbox.exceptions import KeyFormatError, SealboxError


# Six characters of Bech32 are thirty bits of the key; the 24 characters an unknown
# recipient was quoted with held seven of an identity's behind its quote and prefix.
def _windows(secret: str, size: int = 6) -> set[str]:
    return {secret[i : i + size].casefold() for i in range(len(secret) - size + 1)}


def _shown(exc: SealboxError) -> str:
    return " ".join([str(exc), repr(exc), exc.hint or "", repr(exc.facts)]).casefold()


def _assert_none_shown(exc: SealboxError, secret: str) -> None:
    shown = _shown(exc)
    leaked = sorted(w for w in _windows(secret) if w in shown)
    assert leaked == []


X25519 = age.X25519Identity.generate().expose_secret()
X25519_DATA = X25519.removeprefix("AGE-SECRET-KEY-1")
PQ = age.HybridIdentity.generate().expose_secret()
PQ_DATA = PQ.removeprefix("AGE-SECRET-KEY-PQ-1")
# The shape of a plugin identity (the name, 1, Bech32 data): its data may be a secret too.
PLUGIN_DATA = "QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGP5Z4M3N"
PLUGIN = f"AGE-PLUGIN-EXAMPLE-1{PLUGIN_DATA}"
KELVIN = "\u212a"


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (f'"{X25519}"', X25519_DATA),
        (f"'{X25519}'", X25519_DATA),
        (f"x{X25519}", X25519_DATA),
        (f"KEY={X25519.lower()}", X25519_DATA),
        (f"recipient: {X25519}", X25519_DATA),
        # The Kelvin sign folds to k: the text still holds the key's data.
        ('"' + X25519.replace("K", KELVIN, 1) + '"', X25519_DATA),
        (f'"{PQ}"', PQ_DATA),
        (f"x{PQ.lower()}", PQ_DATA),
        (PLUGIN, PLUGIN_DATA),
        (f'"{PLUGIN}"', PLUGIN_DATA),
    ],
    ids=[
        "double-quoted",
        "single-quoted",
        "prefixed",
        "after-a-name-lower-case",
        "after-a-label",
        "kelvin-sign",
        "pq-quoted",
        "pq-prefixed-lower-case",
        "plugin",
        "plugin-quoted",
    ],
)
def test_an_age_identity_anywhere_in_a_recipient_is_refused_unquoted(text: str, data: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient(text)
    assert info.value.code == "identity_as_recipient"
    assert "was given as a recipient: it is a secret key" in str(info.value)
    assert "recipient" in (info.value.hint or "")
    _assert_none_shown(info.value, data)


def test_an_ssh_key_line_whose_comment_holds_an_identity_is_refused_unquoted() -> None:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient(f"{line.decode()} {X25519}")
    assert info.value.code == "identity_as_recipient"
    _assert_none_shown(info.value, X25519_DATA)


def _pem(
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, fmt: serialization.PrivateFormat
) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def _body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


ED = ed25519.Ed25519PrivateKey.generate()
OPENSSH_PEM = _pem(ED, serialization.PrivateFormat.OpenSSH)
PKCS8_PEM = _pem(ED, serialization.PrivateFormat.PKCS8)


@pytest.mark.parametrize(
    ("text", "pem"),
    [
        (f'"{OPENSSH_PEM}', OPENSSH_PEM),
        (" ".join(OPENSSH_PEM.splitlines()), OPENSSH_PEM),
        (f"KEY={' '.join(PKCS8_PEM.splitlines())}", PKCS8_PEM),
        (PKCS8_PEM.lower(), PKCS8_PEM),
    ],
    ids=["quoted-openssh", "openssh-on-one-line", "pkcs8-after-a-name", "pkcs8-lower-case"],
)
def test_a_pem_private_key_anywhere_in_a_recipient_is_refused_unquoted(text: str, pem: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient(text)
    assert info.value.code == "private_key_as_recipient"
    _assert_none_shown(info.value, _body(pem))


def _der_b64(key: object, fmt: serialization.PrivateFormat) -> str:
    der = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, fmt, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    "text",
    [
        _der_b64(ED, serialization.PrivateFormat.PKCS8),
        f'"{_der_b64(ED, serialization.PrivateFormat.PKCS8)}"',
        _der_b64(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8),
        _der_b64(
            ec.generate_private_key(ec.SECP256R1()),
            serialization.PrivateFormat.TraditionalOpenSSL,
        ),
        _der_b64(
            rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL
        ),
        _body(OPENSSH_PEM),
    ],
    ids=[
        "ed25519-pkcs8",
        "ed25519-pkcs8-quoted",
        "p256-pkcs8",
        "p256-sec1",
        "rsa-pkcs1",
        "openssh",
    ],
)
def test_a_private_key_in_base64_without_its_pem_lines_is_refused_unquoted(text: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient(text)
    assert info.value.code == "private_key_as_recipient"
    _assert_none_shown(info.value, text.strip('"'))


def test_a_public_key_in_base64_is_still_an_unknown_recipient_quoted() -> None:
    der = ED.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b64encode(der).decode()
    with pytest.raises(KeyFormatError) as info:
        age.parse_recipient(text)
    assert info.value.code == "unknown_recipient"
    assert text[:24] in str(info.value)


def test_a_recipients_file_line_holding_a_quoted_identity_is_refused_unquoted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "recipients.txt"
    path.write_text(f'# team\n"{X25519}"\n')
    with pytest.raises(KeyFormatError) as info:
        age.load_recipients(path)
    assert info.value.code == "identity_as_recipient"
    assert "line 2" in str(info.value)
    _assert_none_shown(info.value, X25519_DATA)


def test_a_secrets_file_recipient_line_holding_a_quoted_identity_is_refused_unquoted(
    tmp_path: Path,
) -> None:
    from sealbox.secrets.sealed import SealedFile

    path = tmp_path / "app.env"
    SealedFile.create(path, [str(age.X25519Identity.generate().recipient())]).save()
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(1, f'# recipient: "{X25519}"\n')
    path.write_text("".join(lines))
    with pytest.raises(SealboxError) as info:
        SealedFile.load(path)
    assert "bad recipient" in str(info.value)
    _assert_none_shown(info.value, X25519_DATA)
