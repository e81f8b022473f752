"""JSON Web Tokens: a signing keyset, strict verification, JWK Sets (RFC 7519, 7515, 7517, 8725).

What is here:

* :class:`SigningKeySet`: signing keys with ids (``kid`` in every header),
  rotation with overlap, public JWKS export, sealed storage; it issues access
  tokens (``typ: at+jwt``, RFC 9068).
* :class:`TokenVerifier`: strict verification with an algorithm allow-list bound
  to each key, required claims, audience, issuer, token type, leeway, an
  injectable clock and a maximum size.
* :class:`JWKSet` and :class:`VerificationKey`: public keys from a JWK Set, with
  an import policy that refuses weak and ambiguous keys;
  :class:`RemoteJWKSet`: the same fetched over HTTPS with caching and refresh.

The signatures are made and checked on pyca/cryptography directly, and sealbox
frames the tokens itself to parse them strictly; tokens interoperate with PyJWT,
joserfc and the npm ``jose`` package. python-jose is not used (CVE-2024-33663,
CVE-2024-33664).

Example::

    >>> from sealbox.jwt import SigningKeySet, JWKSet, TokenVerifier
    >>> keys = SigningKeySet.generate()
    >>> token = keys.issue("user-42", audience="api", scope=["read", "write"])
    >>> verifier = TokenVerifier(JWKSet.from_dict(keys.public_jwks()), audience="api")
    >>> verifier.verify(token)["scope"]
    'read write'

The signing keyset is split by job: the object (:mod:`~sealbox.jwt.keyset`), its
storage (:mod:`~sealbox.jwt.keyset_store`), its document (:mod:`~sealbox.jwt.keyset_file`)
and the merge of two copies (:mod:`~sealbox.jwt.keyset_merge`). Its keys' states are the
:class:`~sealbox.keysets.lifecycle.KeyState` words keyrings use (``KeyStatus`` is the
older name).

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox._util`,
:mod:`sealbox.hazmat`, :mod:`sealbox.keysets` (sealed storage, key states),
:mod:`sealbox.tls` (remote JWK Sets) and third-party ``cryptography`` and ``httpx2``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealbox._util.lazy import lazy_names
from sealbox.jwt._jws import ALGORITHMS, DEFAULT_MAX_TOKEN_SIZE
from sealbox.jwt.defaults import DEFAULT_ALGORITHM, DEFAULT_TTL, SIGNING_ALGORITHMS
from sealbox.jwt.jwk import JWKSet, KeySource, VerificationKey
from sealbox.jwt.verify import (
    DEFAULT_REQUIRED_CLAIMS,
    TokenVerifier,
    UnverifiedToken,
    VerifiedJWS,
    decode_unverified,
    verify_jws,
)

if TYPE_CHECKING:
    from sealbox.jwt.keyset import KeyStatus, SigningKeyInfo, SigningKeySet
    from sealbox.jwt.remote import RemoteJWKSet
    from sealbox.jwt.remote_async import AsyncRemoteJWKSet

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_MAX_TOKEN_SIZE",
    "DEFAULT_REQUIRED_CLAIMS",
    "DEFAULT_TTL",
    "SIGNING_ALGORITHMS",
    "AsyncRemoteJWKSet",
    "JWKSet",
    "KeySource",
    "KeyStatus",
    "RemoteJWKSet",
    "SigningKeyInfo",
    "SigningKeySet",
    "TokenVerifier",
    "UnverifiedToken",
    "VerificationKey",
    "VerifiedJWS",
    "decode_unverified",
    "verify_jws",
]

# httpx2 is imported only by those who fetch a remote JWK Set, and the keyset (its file
# format, sealing, merging) only by those who sign: verifying needs neither.
# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(
        __name__,
        {
            "RemoteJWKSet": "sealbox.jwt.remote",
            "AsyncRemoteJWKSet": "sealbox.jwt.remote_async",
            "KeyStatus": "sealbox.jwt.keyset",
            "SigningKeyInfo": "sealbox.jwt.keyset",
            "SigningKeySet": "sealbox.jwt.keyset",
        },
        __all__,
    )
