"""A client of the sealbox service's transit routes (``/v1/keys/…``), over verified TLS.

:class:`TransitClient` manages keys (create, list, read, rotate, configure, delete)
and runs the operations (encrypt, decrypt, rewrap, datakey, sign, verify, hmac, and
batches of any of them) with bytes in and bytes out; base64 and JSON stay inside.
The access token is the caller's (a :class:`~sealbox.secret.Secret`) or comes from
``$SEALBOX_TOKEN``; it is never shown in a repr, a message or a log line. TLS is
:func:`sealbox.tls.client.secure_client`'s: certificate and host name always verified,
optionally a private CA, a client certificate and pins.

A refusal from the service raises the library error of its code, carrying the
service's code and message: :class:`~sealbox.exceptions.DecryptionError` for
``decryption_failed``, :class:`~sealbox.exceptions.KeyNotFoundError` for ``not_found``,
:class:`~sealbox.transit.errors.KeyVersionTooOldError` for ``key_version_too_old``…,
and :class:`~sealbox.transit.errors.ServiceError` for the service's own reasons
(``insufficient_scope``, ``not_authenticated``, ``payload_too_large``…).

Example::

    from sealbox.secret import Secret
    from sealbox.transit.client import TransitClient

    url, ca = "https://localhost:8443", ".sealbox/tls/ca.crt"
    with TransitClient(url, token=Secret(token), ca=ca) as c:
        c.create_key("orders")
        ciphertext = c.encrypt("orders", b"card 4111", associated_data=b"order:42")
        assert c.decrypt("orders", ciphertext, associated_data=b"order:42") == b"card 4111"

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyNotFoundError,
    SealboxError,
    TLSError,
    UnsupportedAlgorithmError,
)
from sealbox.secret import Secret
from sealbox.transit._url import URL_HINT, service_url
from sealbox.transit.errors import (
    BatchTooLargeError,
    DeletionNotAllowedError,
    InvalidCiphertextError,
    InvalidKeyVersionError,
    InvalidRequestError,
    KeyExistsError,
    KeyVersionTooOldError,
    NotExportableError,
    ServiceError,
    ServiceUnreachableError,
    UnsupportedOperationError,
)
from sealbox.transit.registry import KEY_NAME_PATTERN, OPERATIONS

if TYPE_CHECKING:
    import httpx2

    from sealbox.tls.context import StrPath

__all__ = [
    "DEFAULT_URL",
    "ERROR_CLASSES",
    "MAX_TIMEOUT",
    "TOKEN_ENV",
    "DataKey",
    "TransitClient",
    "error_from_answer",
]

TOKEN_ENV: Final = "SEALBOX_TOKEN"  # noqa: S105 - a variable name, not a value
DEFAULT_URL: Final = "https://localhost:8443"
MAX_TIMEOUT: Final = 3600.0
"""The longest wait for an answer, in seconds (an hour): a longer one is a hang, not a wait."""

ERROR_CLASSES: Final[Mapping[str, type[SealboxError]]] = {
    "decryption_failed": DecryptionError,
    "unsupported_algorithm": UnsupportedAlgorithmError,
    "not_found": KeyNotFoundError,
    "unsupported_operation": UnsupportedOperationError,
    "invalid_ciphertext": InvalidCiphertextError,
    "invalid_key_version": InvalidKeyVersionError,
    "key_version_too_old": KeyVersionTooOldError,
    "invalid_request": InvalidRequestError,
    "key_exists": KeyExistsError,
    "deletion_not_allowed": DeletionNotAllowedError,
    "not_exportable": NotExportableError,
    "batch_too_large": BatchTooLargeError,
}
"""The library error each of the service's codes becomes (others: :class:`ServiceError`)."""


def error_from_answer(answer: object, fallback: str) -> SealboxError:
    """The library error for a service error body ``{"error": CODE, "message": TEXT}``.

    Args:
        answer: the decoded JSON body (an item of ``batch_results`` too).
        fallback: the message when the body has none.
    """
    body = answer if isinstance(answer, dict) else {}
    code = str(body.get("error") or ServiceError.code)
    message = str(body.get("message") or fallback)
    details = body.get("details")
    if code == "validation_error" and isinstance(details, list) and details:
        first = details[0] if isinstance(details[0], dict) else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{message}: {where}: {first.get('message', '')}"
    cls = ERROR_CLASSES.get(code, ServiceError)
    return cls(message, code=code)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True, slots=True, repr=False)
class DataKey:
    """A data key from :meth:`TransitClient.datakey`.

    Attributes:
        ciphertext: the data key encrypted under the transit key (``sealbox:v<N>:…``).
        key_version: the transit key's version that encrypted it.
        plaintext: the data key itself (``None`` when only the wrapped form was asked for).
    """

    ciphertext: str
    key_version: int
    plaintext: bytes | None = None

    def __repr__(self) -> str:
        return (
            f"DataKey(key_version={self.key_version}, with_plaintext={self.plaintext is not None})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("DataKey may hold a data key and cannot be pickled")


class TransitClient:
    """The transit routes of one sealbox service, called with one access token.

    Args:
        url: the service, ``https://`` only (default ``https://localhost:8443``).
        token: the access token; ``None`` reads ``$SEALBOX_TOKEN``.
        ca: PEM file of the CA the service's certificate chains to (default: the
            system's trust store).
        cert: client certificate for mutual TLS (PEM), with ``key`` its private key.
        key: the client certificate's private key (PEM).
        pins: SPKI pins the service's key must match (``sha256//BASE64``).
        timeout: seconds for each request, above 0 and at most :data:`MAX_TIMEOUT`.

    Raises:
        ConfigError: ``url`` is not ``https://HOST[:PORT]`` (``not_https``), holds a
            user name or password (``url_userinfo``, never shown) or has no host, a bad
            host or port, a query or a fragment (``url_invalid``); ``timeout`` is not a
            finite number of seconds in range (``timeout_invalid``); no token was given and
            ``$SEALBOX_TOKEN`` is not set (``token_missing``); the token is not one an
            HTTP header can carry (``token_malformed``).

    Use it as a context manager (or call :meth:`close`): it keeps its connections open
    between calls.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: Secret[str] | None = None,
        ca: StrPath | None = None,
        cert: StrPath | None = None,
        key: StrPath | None = None,
        pins: Iterable[str] | str = (),
        timeout: float = 30.0,
    ) -> None:
        self.url = service_url(url)
        self._timeout = _seconds(timeout)
        where = "given"
        if token is None:
            where = f"in ${TOKEN_ENV}"
            raw = os.environ.get(TOKEN_ENV, "").strip()
            if not raw:
                raise ConfigError(
                    f"no access token: ${TOKEN_ENV} is not set",
                    code="token_missing",
                    hint=f"pass token=Secret(...) or set ${TOKEN_ENV} to an access token",
                )
            token = Secret(raw, register=True)
        if not isinstance(token, Secret):
            raise TypeError("token must be a sealbox.secret.Secret (token=Secret(value))")
        if _SCHEME_PREFIXED.fullmatch(token.expose_secret()):
            # The whole header value, copied from a curl command or another client: the
            # client writes "Bearer " itself. Nothing of the token is shown.
            raise ConfigError(
                f"the access token {where} starts with 'Bearer ': give the token alone "
                "(the client sends the Authorization header itself)",
                code="token_malformed",
                hint=f"set ${TOKEN_ENV} to the access_token a POST /auth/token answers, "
                "without 'Bearer '",
            )
        if not _BEARER_TOKEN.fullmatch(token.expose_secret()):
            # An HTTP header cannot carry it as it is; nothing of it is shown.
            raise ConfigError(
                f"the access token {where} is not a bearer token (RFC 6750: letters, digits "
                "and -._~+/ with = at the end)",
                code="token_malformed",
                hint=f"set ${TOKEN_ENV} to the access_token a POST /auth/token answers",
            )
        self._token = token
        from sealbox.tls.pinning import parse_pins

        # Read once, here: an iterator would be used up by the first connection, and the
        # ones opened after close() would be made with no pin at all. A malformed pin is
        # refused now, not at the first request.
        pins = [pins] if isinstance(pins, str) else list(pins)
        parse_pins(pins)
        self._tls: dict[str, Any] = {"ca": ca, "cert": cert, "key": key, "pins": pins}
        self._client: httpx2.Client | None = None

    def __repr__(self) -> str:
        # getattr: a client whose __init__ refused its arguments has no url yet.
        return f"TransitClient(url={getattr(self, 'url', None)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("TransitClient holds an access token and cannot be pickled")

    def __enter__(self) -> TransitClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the open connections (the client opens new ones if used again)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the exchange -------------------------------------------------------------------

    def _http(self) -> httpx2.Client:
        if self._client is None:
            from sealbox.tls.client import secure_client

            self._client = secure_client(base_url=self.url, timeout=self._timeout, **self._tls)
        return self._client

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None) -> httpx2.Response:
        import httpx2

        from sealbox.tls.client import tls_failure

        headers = {"Authorization": f"Bearer {self._token.expose_secret()}"}
        try:
            return self._http().request(method, path, json=body, headers=headers)
        except (httpx2.ConnectError, httpx2.ReadError) as exc:
            # Which check failed (an unknown CA, another host's name, an expired
            # certificate, a protocol the two sides do not share), not only that one did.
            tls = tls_failure(exc)
            if tls is not None and tls.certificate:
                raise TLSError(
                    f"cannot verify the certificate of {self.url}: {tls.reason}",
                    code="server_unverified",
                    hint="trust the CA that issued the service's certificate "
                    "(ca=, its data folder's tls/ca.crt)"
                    if tls.unknown_issuer
                    else tls.hint,
                    # What failed: the issuer (a CA to give) or the certificate itself
                    # (its name, its dates: no CA helps).
                    facts={
                        "url": self.url,
                        "failed": "issuer" if tls.unknown_issuer else "certificate",
                    },
                ) from None
            if tls is not None:
                raise ServiceUnreachableError(
                    f"cannot connect to {self.url}: {tls.reason}",
                    code="tls_handshake_failed",
                    hint=tls.hint,
                    facts={"url": self.url},
                ) from None
            if isinstance(exc, httpx2.ReadError):
                raise ServiceUnreachableError(
                    f"the request to {self.url} failed: {type(exc).__name__}",
                    code="request_failed",
                    facts={"url": self.url},
                ) from None
            raise ServiceUnreachableError(
                f"cannot connect to {self.url}",
                hint="is the service running at that address?",
                facts={"url": self.url},
            ) from None
        except httpx2.InvalidURL:
            # service_url let through a URL httpx cannot use; its message would quote it.
            raise ConfigError(
                f"the service URL {self.url} cannot be used for a request",
                code="url_invalid",
                hint=URL_HINT,
                facts={"url": self.url},
            ) from None
        except httpx2.TimeoutException:
            raise ServiceUnreachableError(
                f"{self.url} did not answer within {self._timeout:g} s",
                code="timeout",
                hint="is the service overloaded, or the address right? (a longer wait: timeout=)",
                facts={"url": self.url},
            ) from None
        except httpx2.HTTPError as exc:
            raise ServiceUnreachableError(
                f"the request to {self.url} failed: {type(exc).__name__}",
                code="request_failed",
                facts={"url": self.url},
            ) from None

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One call to the service: the decoded JSON answer (``None`` for no content).

        Raises:
            SealboxError: the service refused (the error of its code), or could not be
                reached (:class:`~sealbox.transit.errors.ServiceUnreachableError`).
        """
        response = self._send(method, path, body)
        if response.status_code == 204:
            return None
        answer = self._json(response, path)
        if response.is_error:
            raise error_from_answer(answer, f"the service answered {response.status_code}")
        return answer

    def _json(self, response: httpx2.Response, path: str) -> Any:
        """The decoded JSON of an answer from ``path``, refused when it is none, or when
        there is no transit route there (a 404 that is not a key's)."""
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 404 and (
            not isinstance(answer, dict) or answer.get("message") == _NO_ROUTE
        ):
            # Not a key the service lacks: no transit route there (a URL with a path that
            # is not the service's, or another server).
            raise ServiceError(
                f"{self.url} has no sealbox transit route {path} (404)",
                code="no_such_route",
                hint="give the service's base URL, e.g. https://localhost:8443",
                facts={"url": self.url, "path": path},
            )
        if answer is None:
            raise ServiceError(
                f"the service answered {response.status_code} without JSON",
                code="not_json",
            )
        return answer

    def _operate(self, name: str, operation: str, body: Mapping[str, Any]) -> Any:
        return self.request("POST", _key_path(name, operation), body)

    # -- keys ---------------------------------------------------------------------------

    def create_key(
        self, name: str, key_type: str = "aes256-gcm", *, exportable: bool = False
    ) -> dict[str, Any]:
        """Create key ``name`` with version 1; return the key as :meth:`read_key` does."""
        body = {"type": key_type, "exportable": exportable}
        answer: dict[str, Any] = self.request("POST", _key_path(name), body)
        return answer

    def list_keys(self) -> list[str]:
        """Every key's name, sorted."""
        return list(self.request("GET", "/v1/keys")["keys"])

    def read_key(self, name: str) -> dict[str, Any]:
        """Key ``name``'s configuration, versions (creation times, public keys of signing
        keys) and each version's state (``version_states``); never its material."""
        answer: dict[str, Any] = self.request("GET", _key_path(name))
        return answer

    def rotate_key(self, name: str) -> dict[str, Any]:
        """Add a version to key ``name``; new data uses it. Returns the key."""
        answer: dict[str, Any] = self.request("POST", _key_path(name, "rotate"))
        return answer

    def configure_key(
        self,
        name: str,
        *,
        min_decryption_version: int | None = None,
        min_encryption_version: int | None = None,
        deletion_allowed: bool | None = None,
        exportable: bool | None = None,
    ) -> dict[str, Any]:
        """Change what is given of key ``name``'s configuration; return the key."""
        changes = {
            "min_decryption_version": min_decryption_version,
            "min_encryption_version": min_encryption_version,
            "deletion_allowed": deletion_allowed,
            "exportable": exportable,
        }
        body = {k: v for k, v in changes.items() if v is not None}
        answer: dict[str, Any] = self.request("PATCH", _key_path(name), body)
        return answer

    def delete_key(self, name: str) -> None:
        """Delete key ``name`` (its ``deletion_allowed`` must be on)."""
        self.request("DELETE", _key_path(name))

    # -- operations -----------------------------------------------------------------------

    def encrypt(
        self, name: str, plaintext: bytes, *, associated_data: bytes = b"", key_version: int = 0
    ) -> str:
        """Encrypt ``plaintext`` with key ``name``; the ``sealbox:v<N>:…`` ciphertext."""
        body = {
            "plaintext": _b64(plaintext),
            "associated_data": _b64(associated_data),
            "key_version": key_version,
        }
        return str(self._operate(name, "encrypt", body)["ciphertext"])

    def decrypt(self, name: str, ciphertext: str, *, associated_data: bytes = b"") -> bytes:
        """Decrypt a ciphertext of key ``name``.

        Raises:
            DecryptionError: it does not authenticate (altered, another key, other
                associated data).
        """
        body = {"ciphertext": ciphertext, "associated_data": _b64(associated_data)}
        return _unb64(self._operate(name, "decrypt", body)["plaintext"])

    def rewrap(
        self, name: str, ciphertext: str, *, associated_data: bytes = b"", key_version: int = 0
    ) -> str:
        """Re-encrypt ``ciphertext`` with the latest version (or ``key_version``) of key
        ``name``; the plaintext never leaves the service."""
        body = {
            "ciphertext": ciphertext,
            "associated_data": _b64(associated_data),
            "key_version": key_version,
        }
        return str(self._operate(name, "rewrap", body)["ciphertext"])

    def datakey(
        self,
        name: str,
        *,
        bits: int = 256,
        associated_data: bytes = b"",
        key_version: int = 0,
        plaintext: bool = True,
    ) -> DataKey:
        """A fresh random data key wrapped by key ``name`` (and the key itself unless
        ``plaintext`` is false)."""
        body = {
            "type": "plaintext" if plaintext else "wrapped",
            "bits": bits,
            "associated_data": _b64(associated_data),
            "key_version": key_version,
        }
        answer = self._operate(name, "datakey", body)
        raw = answer.get("plaintext")
        return DataKey(
            ciphertext=str(answer["ciphertext"]),
            key_version=int(answer["key_version"]),
            plaintext=None if raw is None else _unb64(raw),
        )

    def sign(self, name: str, data: bytes, *, key_version: int = 0) -> str:
        """Sign ``data`` with key ``name``; the ``sealbox:v<N>:…`` signature."""
        body = {"input": _b64(data), "key_version": key_version}
        return str(self._operate(name, "sign", body)["signature"])

    def verify(self, name: str, data: bytes, signature: str) -> bool:
        """Whether ``signature`` (from :meth:`sign`) of key ``name`` is valid for ``data``."""
        body = {"input": _b64(data), "signature": signature}
        return bool(self._operate(name, "verify", body)["valid"])

    def hmac(self, name: str, data: bytes, *, key_version: int = 0) -> str:
        """HMAC-SHA-256 of ``data`` with hmac key ``name``; the ``sealbox:v<N>:…`` tag."""
        body = {"input": _b64(data), "key_version": key_version}
        return str(self._operate(name, "hmac", body)["hmac"])

    def verify_hmac(self, name: str, data: bytes, tag: str) -> bool:
        """Whether ``tag`` (from :meth:`hmac`) is the HMAC of ``data`` under key ``name``."""
        body = {"input": _b64(data), "hmac": tag}
        return bool(self._operate(name, "verify", body)["valid"])

    def batch(
        self,
        name: str,
        operation: str,
        items: Sequence[Mapping[str, Any]],
        **options: Any,
    ) -> list[dict[str, Any] | SealboxError]:
        """Run ``operation`` on every item in one call; each item succeeds or fails alone.

        Args:
            name: the key.
            operation: one of ``encrypt``, ``decrypt``, ``rewrap``, ``datakey``, ``sign``,
                ``verify``, ``hmac``.
            items: the inputs in the service's form (``{"plaintext": base64,
                "associated_data": base64, "reference": …}``; see ``docs/transit.md``).
            **options: the request's other fields (``key_version``, ``bits``…).

        Returns:
            One entry per item, in order: the item's answer (base64 fields as the
            service sends them), or the library error of the item's code.

        Raises:
            SealboxError: the whole request was refused (scope, limits, a bad option).
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: one of {', '.join(OPERATIONS)}")
        path = _key_path(name, operation)
        response = self._send("POST", path, {**options, "batch_input": list(items)})
        answer = self._json(response, path)
        results = answer.get("batch_results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise error_from_answer(answer, f"the service answered {response.status_code}")
        return [
            error_from_answer(r, "the item failed") if isinstance(r, dict) and "error" in r else r
            for r in results
        ]


_KEY_NAME: Final = re.compile(KEY_NAME_PATTERN)


# Starlette's message for a path no route takes (a missing key's message names the key).
_NO_ROUTE: Final = "Not Found"
# RFC 6750 §2.1's b64token: what an Authorization header can carry as a bearer token.
_BEARER_TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The same, after the Authorization scheme (RFC 7235: case-insensitive).
_SCHEME_PREFIXED: Final = re.compile(r"(?i:bearer)[ \t]+[A-Za-z0-9\-._~+/]+=*")


def _seconds(timeout: object) -> float:
    """``timeout`` as a float, refused unless it is a finite number of seconds in range
    (``inf`` and ``1e300`` overflow the socket layer, ``nan`` compares false to all)."""
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    try:
        seconds = float(timeout)
    except OverflowError:  # an int beyond any float
        seconds = float("inf")
    if not 0 < seconds <= MAX_TIMEOUT:  # nan fails this too
        raise ConfigError(
            f"the timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g} "
            f"(got {seconds!r})",
            code="timeout_invalid",
            hint="pass timeout= a number of seconds, e.g. 30 (the default)",
            facts={"timeout": repr(seconds), "maximum": f"{MAX_TIMEOUT:g}"},
        )
    return seconds


def _key_path(name: str, operation: str = "") -> str:
    """The path of key ``name`` (and of an operation on it), the name checked first: a
    name with ``/``, ``..``, ``?`` or ``#`` would reach another route with the caller's
    token (``../../users/me``, ``orders/rotate#``)."""
    if not isinstance(name, str) or not _KEY_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"{str(name)[:80]!r} is not a transit key name: 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return f"/v1/keys/{name}/{operation}" if operation else f"/v1/keys/{name}"
