"""A bare Fernet token is named as one in every form a store leaves it in.

Stores trim base64 padding, wrap long text over lines, or keep the standard base64
alphabet; each is still the token (cryptography's Fernet reads it, its padding restored). Taken for a record of the recipes,
such a token's first characters would pass for the salt and every password would seem
wrong; taken for unknown bytes, the hint would point at raw AES-GCM.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from sealbox.exceptions import FormatError
from sealbox.keysets import legacy
from sealbox.keysets.legacy import LegacyFormat


def _forms(token: bytes) -> dict[str, bytes]:
    return {
        "padding trimmed": token.rstrip(b"="),
        "padding trimmed, newline": token.rstrip(b"=") + b"\n",
        "wrapped at 76": b"\n".join(token[i : i + 76] for i in range(0, len(token), 76)),
        "standard alphabet": token.replace(b"-", b"+").replace(b"_", b"/"),
    }


def _padded_token(fernet: Fernet, plain: bytes) -> bytes:
    while True:
        token = fernet.encrypt(plain)
        if token.endswith(b"=") and (b"-" in token or b"_" in token):
            return token


@pytest.mark.parametrize("plain", [b"x", b"quarterly numbers\n" * 100], ids=["shortest", "long"])
@pytest.mark.parametrize(
    "form", ["padding trimmed", "padding trimmed, newline", "wrapped at 76", "standard alphabet"]
)
def test_a_bare_fernet_token_in_any_form_fernet_reads_is_named_as_one(plain, form):
    fernet = Fernet(Fernet.generate_key())
    data = _forms(_padded_token(fernet, plain))[form]
    unwrapped = b"".join(data.split())
    assert fernet.decrypt(unwrapped + b"=" * (-len(unwrapped) % 4)) == plain
    with pytest.raises(FormatError) as caught:
        legacy.detect(data)
    assert caught.value.code == "legacy_fernet_token"
    for fmt in (None, LegacyFormat.FERNET_FILE):
        with pytest.raises(FormatError) as caught:
            legacy.decrypt(data, password=b"any password", format=fmt)
        assert caught.value.code == "legacy_fernet_token"


def test_a_fernet_file_is_still_a_fernet_file_whatever_its_salt():
    # A salt that is itself the start of a token: bytes 16 on decide.
    fernet_salt = b"gAAAAAB0ZXN0aW5n"
    key = legacy.fernet_key(b"pw", fernet_salt)
    data = fernet_salt + Fernet(key).encrypt(b"x").rstrip(b"=")
    assert legacy.detect(data) is LegacyFormat.FERNET_FILE
    assert legacy.decrypt(data, password=b"pw") == b"x"
