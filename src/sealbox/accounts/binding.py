"""Certificate-bound access tokens (RFC 8705 §3).

A token issued over a mutual-TLS connection carries the SHA-256 thumbprint of the
client's certificate, ``"cnf": {"x5t#S256": base64url(SHA-256(DER))}`` (§3.1); a
resource server accepts it only over a connection whose verified client certificate
has that thumbprint (§3.2), so a stolen token is useless without the client's key.
A token without ``cnf`` is not bound and is accepted with or without a certificate.

Framework-free: the service's bearer check calls :func:`check_binding_thumbprint` with
the thumbprint of the connection's certificate; an application that has the
certificate's DER calls :func:`check_binding`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final

from sealbox.exceptions import TokenError

__all__ = [
    "CNF_CLAIM",
    "X5T_S256",
    "bound_thumbprint",
    "certificate_thumbprint",
    "check_binding",
    "check_binding_thumbprint",
    "cnf_claim",
    "thumbprint_from_digest",
]

CNF_CLAIM: Final = "cnf"  # RFC 7800 §3.1
X5T_S256: Final = "x5t#S256"  # RFC 8705 §3.1
_SHA256_SIZE: Final = 32
# base64url of 32 bytes without padding (RFC 8705 §3.1): 43 characters.
_THUMBPRINT: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def thumbprint_from_digest(digest: bytes) -> str:
    """The ``x5t#S256`` value of a certificate whose DER has SHA-256 ``digest``."""
    if len(digest) != _SHA256_SIZE:
        raise ValueError("a SHA-256 digest has 32 bytes")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def certificate_thumbprint(cert_der: bytes) -> str:
    """The ``x5t#S256`` value of a certificate (its DER encoding)."""
    return thumbprint_from_digest(hashlib.sha256(cert_der).digest())


def cnf_claim(thumbprint: str) -> dict[str, dict[str, str]]:
    """The claims that bind a token to the certificate with ``thumbprint``."""
    return {CNF_CLAIM: {X5T_S256: thumbprint}}


def bound_thumbprint(claims: Mapping[str, Any]) -> str | None:
    """The thumbprint a token is bound to, or ``None`` for an unbound token.

    Raises:
        TokenError: a ``cnf`` claim that is not an object whose one member is a
            thumbprint ``x5t#S256`` (code ``token_binding_unsupported``): a confirmation
            method sealbox does not check is refused, never ignored, also beside a
            thumbprint (a DPoP ``jkt`` as well: the issuer expects its proof too).
    """
    if CNF_CLAIM not in claims:
        return None
    cnf = claims[CNF_CLAIM]
    thumbprint = cnf.get(X5T_S256) if isinstance(cnf, Mapping) and len(cnf) == 1 else None
    # Only what a thumbprint can be: ASCII, so the comparison never meets a lone surrogate.
    if not isinstance(thumbprint, str) or not _THUMBPRINT.fullmatch(thumbprint):
        raise TokenError(
            "the token's confirmation (cnf) is not a certificate thumbprint",
            code="token_binding_unsupported",
        )
    return thumbprint


def check_binding_thumbprint(claims: Mapping[str, Any], thumbprint: str | None) -> None:
    """Accept a token over a connection whose client certificate has ``thumbprint``.

    Args:
        claims: the verified claims of the access token.
        thumbprint: the ``x5t#S256`` of the connection's verified client certificate,
            ``None`` when there is none.

    Raises:
        TokenError: the token is bound to another certificate or the connection has
            none (code ``token_binding_mismatch``).
    """
    expected = bound_thumbprint(claims)
    if expected is None:
        return
    if thumbprint is None or not hmac.compare_digest(expected.encode(), thumbprint.encode()):
        raise TokenError(
            "the token is bound to a client certificate this connection did not present",
            code="token_binding_mismatch",
        )


def check_binding(claims: Mapping[str, Any], cert_der: bytes | None) -> None:
    """:func:`check_binding_thumbprint` with the connection's certificate (DER), or ``None``."""
    check_binding_thumbprint(claims, None if cert_der is None else certificate_thumbprint(cert_der))
