"""A name quoted back in an error (``no account named '…'``) hides a token pasted for it
before it is cut to length: cut first, a JWT would lose its shape and its header and
claims would be shown."""

from __future__ import annotations

import base64
import json

from sealbox.accounts.models import quoted


def _b64(document: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


TOKEN = ".".join(
    [
        _b64({"alg": "EdDSA", "typ": "at+jwt", "kid": "k-canary-31"}),
        _b64({"sub": "alice-canary-31", "scope": "users:admin", "aud": "sealbox"}),
        "c2lnbmF0dXJlLWNhbmFyeS0zMS1zaWduYXR1cmUtY2FuYXJ5",
    ]
)


def test_a_token_given_for_a_name_is_hidden_before_the_cut() -> None:
    shown = quoted(TOKEN, 40)
    assert TOKEN[:12] not in shown
    assert "**********" in shown


def test_an_ordinary_long_name_is_still_cut_and_marked() -> None:
    assert quoted("a" * 100, 10) == repr("a" * 10) + "…"
    assert quoted("alice", 150) == "'alice'"
