"""A token's ``cnf`` is checked whole (RFC 7800 §3.1, RFC 8705 §3): every confirmation it
names is one sealbox checks, or the token is refused; none is skipped because another one
beside it holds."""

from __future__ import annotations

import asyncio
import time

import pytest

from sealbox.accounts.binding import check_binding_thumbprint, cnf_claim
from sealbox.exceptions import TokenError
from sealbox.integrations.fastapi import LocalJWKS
from sealbox.jwt import SigningKeySet

THUMBPRINT = "oxSe3eCDc3e8jvCJy00jNNESPWYINNN-hyeNoTYCZBI"
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.mark.parametrize(
    "cnf",
    [
        {"x5t#S256": THUMBPRINT, "jkt": JKT},  # also bound to a DPoP key (RFC 9449 §6.1)
        {"x5t#S256": THUMBPRINT, "kid": "k1"},  # also a proof-of-possession key (RFC 7800)
        None,  # "cnf": null names a confirmation and says nothing of it
        {"x5t#S256": THUMBPRINT + "="},  # not a SHA-256 thumbprint as RFC 8705 writes it
        {"x5t#S256": "\ud800"},
    ],
)
def test_a_confirmation_beside_the_thumbprint_or_a_malformed_one_is_refused(cnf: object) -> None:
    with pytest.raises(TokenError) as info:
        check_binding_thumbprint({"cnf": cnf}, THUMBPRINT)
    assert info.value.code == "token_binding_unsupported"


def test_the_thumbprint_alone_still_binds_the_token() -> None:
    check_binding_thumbprint(cnf_claim(THUMBPRINT), THUMBPRINT)
    with pytest.raises(TokenError) as info:
        check_binding_thumbprint(cnf_claim(THUMBPRINT), None)
    assert info.value.code == "token_binding_mismatch"


def test_another_issuers_token_bound_by_certificate_and_dpop_is_refused_with_the_certificate() -> (
    None
):
    # An issuer that binds a token to a DPoP key as well expects that key's proof too;
    # taking the certificate alone would let whoever holds the certificate's key skip it.
    keys = SigningKeySet.generate("EdDSA")
    source = LocalJWKS(keys, issuer="https://issuer.test", audience="orders-api")
    now = int(time.time())
    claims = {
        "iss": "https://issuer.test",
        "aud": "orders-api",
        "sub": "worker",
        "iat": now,
        "exp": now + 300,
        "jti": "j1",
        "cnf": {"x5t#S256": THUMBPRINT, "jkt": JKT},
    }
    token = keys.sign(claims)
    with pytest.raises(TokenError):
        asyncio.run(source.authenticate(token, thumbprint=THUMBPRINT))
    alone = keys.sign({**claims, "jti": "j2", "cnf": {"x5t#S256": THUMBPRINT}})
    assert asyncio.run(source.authenticate(alone, thumbprint=THUMBPRINT)) is not None
