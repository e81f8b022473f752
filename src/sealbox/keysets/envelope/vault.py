"""HashiCorp Vault Transit as a key-encryption provider, through hvac.

The key-encryption key is a named Transit key; it never leaves Vault. Envelopes
use four Transit endpoints (Vault's published HTTP API, as hvac calls them):

=============================  ==========================================================
``POST /v1/{mount}/encrypt/K``   wrap a key blob (``plaintext``, base64)
``POST /v1/{mount}/decrypt/K``   unwrap it (``ciphertext`` ``vault:vN:…``)
``POST /v1/{mount}/rewrap/K``    move it to the newest key version; Vault never returns
                                 the plaintext (``batch_input`` for many at once)
``POST /v1/{mount}/datakey/plaintext/K``  a data key made by Vault, and its wrapped form
``GET  /v1/{mount}/keys/K``      the newest version (``latest_version``)
=============================  ==========================================================

Vault's own ``associated_data`` parameter is never sent: Vault's ``rewrap``
endpoint does not take it, so a ciphertext made with it cannot be rewrapped.
The envelope binds the caller's associated data inside the key blob instead
(:mod:`sealbox.keysets.envelope.format`), which a rewrap carries over unchanged.

In an envelope the key id is the Transit key's name, the version is the ``N``
of ``vault:vN:``, and the wrapped key is the base64-decoded rest of the
ciphertext: ``vault:v{version}:`` + base64 (standard, padded) rebuilds it.

Errors are translated at this boundary: 403 and 401 become
:class:`~sealbox.exceptions.KeyProviderError` (a 403 with code
``vault_permission_denied``, ``facts`` ``path`` and ``capability``: the policy rule the
token lacks, as the KV source says it; or a token given expired); 404 and "encryption key not
found" :class:`~sealbox.exceptions.KeyNotFoundError`; a ciphertext version below
the key's ``min_decryption_version`` :class:`~sealbox.exceptions.KeyStateError`;
a ciphertext Vault cannot decrypt :class:`~sealbox.exceptions.DecryptionError`;
503 (sealed, standby) and network or TLS failures
:class:`~sealbox.exceptions.KeyProviderError`, once the retries are spent.

Retries follow the KV source's one policy (:mod:`sealbox.secrets.vault_http`): a call
answered 429 (rate limited, or a performance standby's quota), 503 (sealed, or a
standby) or 500, 502 or 504 is sent again up to ``retries`` times, waiting what
``Retry-After`` says (up to 10 seconds; longer is not waited for) or 0.5, 1, 2… seconds,
each attempt within its own ``timeout``. Transit's ``encrypt``, ``decrypt``, ``rewrap``
and ``datakey`` are POSTs, but they only read the key and store nothing, so sending one
twice is safe: each answer is as good as the other, and only the last is used. An
AppRole login, which makes a token, is never sent twice by these retries. With
``approle``, a token is replaced by a new login before its end (``auth.lease_duration``),
and once after a call answered 403, which is then sent once more
(:mod:`sealbox.secrets.vault_login`). A batch in which some items failed, which Vault
answers 400 with every item's result, is read item by item. Messages name
the key and the status, never a token, a key blob or a ciphertext.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyNotFoundError,
    KeyProviderError,
    KeyStateError,
)
from sealbox.keysets.envelope.format import WrappedKey
from sealbox.secret import Secret, redact
from sealbox.secrets import vault_client as _vault
from sealbox.secrets import vault_login

if TYPE_CHECKING:
    import hvac

__all__ = ["VaultTransitProvider"]

_CIPHERTEXT: Final = re.compile(r"vault:v([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})")
_TOO_OLD: Final = "disallowed by policy (too old)"
_NOT_FOUND: Final = ("encryption key not found", "policy not found")
_ROUTES: Final = {"datakey": "datakey/plaintext"}  # calls whose path is not their name
_UNDECRYPTABLE: Final = ("invalid ciphertext", "cipher:", "could not decrypt", "unable to decrypt")


class VaultTransitProvider:
    """Wrap data keys with a named key of Vault's Transit secrets engine.

    Give either a ready ``client`` (an ``hvac.Client``, for any auth method) or
    the ``url`` and a ``token`` or ``approle`` login.

    Args:
        key: the Transit key's name.
        url: Vault's address, ``https://…`` (TLS is always verified; plain ``http://``
            only to a development server on a loopback address, with a warning);
            default ``$VAULT_ADDR``.
        token: a Vault token; with no ``client``, ``token`` nor ``approle``,
            ``$VAULT_TOKEN`` (or ``~/.vault-token``).
        approle: ``(role_id, secret_id)`` for AppRole login.
        approle_mount: where the AppRole auth method is mounted.
        namespace: a Vault Enterprise namespace (default ``$VAULT_NAMESPACE``).
        mount: where the Transit engine is mounted.
        ca: a PEM file of the CA that signed Vault's certificate (default
            ``$VAULT_CACERT``).
        timeout: seconds a request to Vault may take in all (connecting, sending, and
            reading the whole answer), not per read; each retry has its own.
        client: an authenticated ``hvac.Client`` to use instead (its own session: sealbox's
            deadline, size limit and retries apply only to the client it makes).
        retries: how many times a call is sent again after 429, 503 or another passing
            5xx (module docstring); ``0``: never.
        version_cache_seconds: how long :meth:`latest_version` is remembered.

    Raises:
        ConfigError: no address; the URL is not https (nor http to a loopback
            address); more than one of ``client``, ``token`` and ``approle``, or none
            and no token in the environment; a key name Vault cannot have.
        ExtraNotInstalledError: hvac is not installed (``sealbox[vault]``).
    """

    name = "vault-transit"

    def __init__(
        self,
        key: str,
        *,
        url: str | None = None,
        token: str | Secret[str] | None = None,
        approle: tuple[str | Secret[str], str | Secret[str]] | None = None,
        approle_mount: str = "approle",
        namespace: str | None = None,
        mount: str = "transit",
        ca: str | os.PathLike[str] | None = None,
        timeout: int = 10,
        client: hvac.Client | None = None,
        version_cache_seconds: float = 30.0,
        retries: int = _vault.DEFAULT_RETRIES,
    ) -> None:
        if not key or "/" in key:
            raise ConfigError(f"{key!r} is not a Vault Transit key name")
        try:
            WrappedKey(self.name, key, 0, b"\x00")
        except ValueError as exc:
            raise ConfigError(f"{key!r} cannot name a key in an envelope: {exc}") from None
        if sum(x is not None for x in (client, token, approle)) > 1:
            raise ConfigError("give exactly one of client=, token= and approle=")
        _vault.check_retries(retries)
        self.key = key
        self.mount = mount.strip("/")
        self._login = None if approle is None else vault_login.AppRoleLogin(approle, approle_mount)
        self._cache_seconds = version_cache_seconds
        self._latest: tuple[int, float] | None = None
        self._lock = threading.Lock()
        self._client: hvac.Client = (
            client
            if client is not None
            else _vault.client(
                url,
                token=token,
                namespace=namespace,
                ca=ca,
                timeout=timeout,
                approle=approle is not None,
                read_retries=retries,
            )
        )

    @property
    def label(self) -> str:
        """How errors name the key: ``vault transit key 'K' (mount 'transit')``."""
        return f"vault transit key {self.key!r} (mount {self.mount!r})"

    def __repr__(self) -> str:
        return f"VaultTransitProvider(key={self.key!r}, mount={self.mount!r})"

    # -- the provider interface -----------------------------------------------------

    def wrap(self, key_blob: bytes) -> WrappedKey:
        """Encrypt ``key_blob`` under the newest version of the key (``encrypt``)."""
        data = self._call(
            "encrypt",
            lambda t: t.encrypt_data(
                name=self.key, plaintext=_b64(key_blob), mount_point=self.mount
            ),
        )
        return self._wrapped(data.get("ciphertext"))

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """Decrypt the key blob (``decrypt``).

        Raises:
            DecryptionError: Vault cannot decrypt it (altered, or another key's), or
                the header names version 0, which Transit never writes.
            KeyStateError: its version is below the key's ``min_decryption_version``.
            KeyNotFoundError: no such key (or mount).
            KeyProviderError: permission denied, Vault sealed or unreachable.
        """
        ciphertext = _ciphertext(wrapped)
        data = self._call(
            "decrypt",
            lambda t: t.decrypt_data(name=self.key, ciphertext=ciphertext, mount_point=self.mount),
            version=wrapped.version,
        )
        try:
            return base64.b64decode(str(data.get("plaintext")), validate=True)
        except (binascii.Error, ValueError):
            raise KeyProviderError(f"{self.label}: unexpected answer to decrypt") from None

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """Move the wrapped key to the newest key version inside Vault (``rewrap``).

        The key blob never leaves Vault.
        """
        ciphertext = _ciphertext(wrapped)
        data = self._call(
            "rewrap",
            lambda t: t.rewrap_data(name=self.key, ciphertext=ciphertext, mount_point=self.mount),
            version=wrapped.version,
        )
        return self._wrapped(data.get("ciphertext"))

    def rewrap_batch(self, wrapped: Sequence[WrappedKey]) -> list[WrappedKey | Exception]:
        """Rewrap many keys in one request (``batch_input``); a failure per item.

        As Vault answers a batch, one key that fails does not stop the others: each
        result is the rewrapped key or the error of that key alone. A key this provider
        does not handle (another provider's, another Transit key's) is not sent, and
        its result is a :class:`~sealbox.exceptions.KeyNotFoundError`. Only a failure of
        the request itself (permission denied, Vault unreachable) raises, and then
        nothing was rewrapped.

        Returns:
            for each input, in order, the rewrapped key or the sealbox exception it got.

        Raises:
            KeyProviderError, KeyNotFoundError: the request as a whole failed.
        """
        out: list[WrappedKey | Exception] = [
            w
            if self.handles(w)
            else KeyNotFoundError(
                f"{self.label} does not hold the {w.provider} key {w.key_id!r}",
                facts={"provider": w.provider, "key_id": w.key_id},
            )
            for w in wrapped
        ]
        for i, w in enumerate(wrapped):
            if self.handles(w) and w.version < 1:
                out[i] = DecryptionError()  # never sent: see _ciphertext
        sent = [i for i, w in enumerate(wrapped) if self.handles(w) and w.version >= 1]
        if not sent:
            return out
        batch = [{"ciphertext": _ciphertext(wrapped[i])} for i in sent]
        data = self._call(
            "rewrap",
            lambda t: t.rewrap_data(
                name=self.key, ciphertext=None, batch_input=batch, mount_point=self.mount
            ),
        )
        results = data.get("batch_results")
        if not isinstance(results, list) or len(results) != len(sent):
            raise KeyProviderError(f"{self.label}: unexpected answer to a batch rewrap")
        for item, i in zip(results, sent, strict=True):
            error = item.get("error") if isinstance(item, dict) else "malformed result"
            if error:
                out[i] = self._refusal("rewrap", [str(error)], wrapped[i].version)
                continue
            try:
                out[i] = self._wrapped(item.get("ciphertext"))
            except KeyProviderError as exc:  # this item's answer only: the others stand
                out[i] = exc
        return out

    def is_current(self, wrapped: WrappedKey) -> bool:
        """Whether ``wrapped`` is under the newest key version (see :meth:`latest_version`).

        The envelope names the key and its version, not the mount: a key of the same
        name on another mount passes too. :class:`~sealbox.keysets.envelope.EnvelopeCipher`
        asks this provider to unwrap it when one of its ``decrypt_with`` providers
        handles the same name.
        """
        return wrapped.version >= self.latest_version()

    def handles(self, wrapped: WrappedKey) -> bool:
        """Whether the envelope names this provider's Transit key."""
        return wrapped.provider == self.name and wrapped.key_id == self.key

    # -- more of Transit ------------------------------------------------------------

    def latest_version(self, *, refresh: bool = False) -> int:
        """The key's newest version (``GET keys/K``), remembered ``version_cache_seconds``."""
        with self._lock:
            cached = self._latest
        fresh = cached is not None and time.monotonic() - cached[1] < self._cache_seconds
        if cached is not None and fresh and not refresh:
            return cached[0]
        data = self._call("read", lambda t: t.read_key(self.key, self.mount))
        latest = data.get("latest_version")
        if not isinstance(latest, int) or latest < 1:
            raise KeyProviderError(f"{self.label}: unexpected answer to read")
        with self._lock:
            self._latest = (latest, time.monotonic())
        return latest

    def generate_data_key(self, bits: int = 256) -> tuple[Secret[bytes], WrappedKey]:
        """Ask Vault for a new random key and its wrapped form (``datakey/plaintext``).

        For callers that build their own envelopes from a Vault-made key.
        :class:`~sealbox.keysets.envelope.EnvelopeCipher` does not use it: its key blob
        must carry the associated-data binding, which a key made by Vault cannot.

        Args:
            bits: 128, 256 or 512.

        Returns:
            the key (wrapped in :class:`~sealbox.Secret`) and the same key wrapped.
        """
        if bits not in (128, 256, 512):
            raise ConfigError("a Vault data key has 128, 256 or 512 bits")
        data = self._call(
            "datakey",
            lambda t: t.generate_data_key(
                name=self.key, key_type="plaintext", bits=bits, mount_point=self.mount
            ),
        )
        try:
            key = base64.b64decode(str(data.get("plaintext")), validate=True)
        except (binascii.Error, ValueError):
            raise KeyProviderError(f"{self.label}: unexpected answer to datakey") from None
        if len(key) * 8 != bits:
            raise KeyProviderError(f"{self.label}: unexpected answer to datakey")
        return Secret(key), self._wrapped(data.get("ciphertext"))

    # -- plumbing -------------------------------------------------------------------

    def _wrapped(self, ciphertext: object) -> WrappedKey:
        match = _CIPHERTEXT.fullmatch(ciphertext) if isinstance(ciphertext, str) else None
        error = KeyProviderError(
            f"{self.label}: Vault returned no ciphertext in the vault:vN: form"
        )
        if match is None:
            raise error
        try:
            return WrappedKey(self.name, self.key, int(match[1]), base64.b64decode(match[2]))
        except (ValueError, binascii.Error):
            raise error from None

    def _call(self, what: str, fn: Callable[[Any], Any], *, version: int = 0) -> dict[str, Any]:
        import hvac.exceptions as hx

        from sealbox.secrets.vault_http import repeatable

        def send() -> Any:
            # hvac's Transit methods are untyped: the engine is handed over as Any.
            transit: Any = self._client.secrets.transit
            # Every Transit call made here reads the key and stores nothing: safe to send
            # again after 429 or 503, or after a 403 and a new login (module docstring).
            with repeatable():
                return fn(transit)

        try:
            with _vault.transport_errors(self.label, what, KeyProviderError):
                # The login is outside repeatable(): it makes a token, and is never resent.
                response = vault_login.call(self._client, self._login, send)
        except hx.Forbidden:
            # Vault answers 403 both to a policy without the capability and to a token
            # that expired or was revoked; after an AppRole login, the token was new.
            route, capability = ("keys", "read") if what == "read" else (None, "update")
            path = f"{self.mount}/{route or _ROUTES.get(what, what)}/{self.key}"
            raise KeyProviderError(
                f"{self.label}: permission denied for {what} (403)",
                hint=vault_login.denied_hint(path, capability, approle=self._login is not None),
                code="vault_permission_denied",
                facts={"path": path, "capability": capability},
            ) from None
        except hx.InvalidPath:
            raise KeyNotFoundError(
                f"{self.label}: not found (404)",
                hint="check the key name and where the Transit engine is mounted",
            ) from None
        except hx.InvalidRequest as exc:
            # A batch in which some items failed is answered 400 with every item's result.
            results = _batch_results(getattr(exc, "json", None))
            if results is not None:
                return results
            raise self._refusal(what, [str(e) for e in (exc.errors or [])], version) from None
        _vault.refuse_wrapped(self.label, what, response, KeyProviderError)
        data = response.get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict):
            raise KeyProviderError(f"{self.label}: unexpected answer to {what}")
        return data

    def _refusal(self, what: str, errors: list[str], version: int) -> Exception:
        text = "; ".join(errors)
        if _TOO_OLD in text:
            return KeyStateError(
                f"{self.label}: version {version or '?'} is below the key's "
                "min_decryption_version; Vault refuses to decrypt it",
                hint="rewrap envelopes to the newest version before raising "
                "min_decryption_version, or lower it again",
            )
        if any(m in text for m in _NOT_FOUND):
            return KeyNotFoundError(f"{self.label}: no such key (400)")
        if what in ("decrypt", "rewrap") and any(m in text for m in _UNDECRYPTABLE):
            return DecryptionError()
        reasons = redact(text) or "invalid request"
        return KeyProviderError(f"{self.label}: {what} refused (400): {reasons}")


def _batch_results(body: object) -> dict[str, Any] | None:
    """The ``data`` of a 400 answer that carries ``batch_results``, else ``None``."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("batch_results"), list):
        return data
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ciphertext(wrapped: WrappedKey) -> str:
    # Vault reads "vault:v0:" as version 1 (its first keys were numbered from 0), and
    # Transit never names a version 0: a header saying 0 was altered from 1. Refused, so
    # that no header but the one written opens the envelope.
    if wrapped.version < 1:
        raise DecryptionError
    return f"vault:v{wrapped.version}:{_b64(wrapped.ciphertext)}"
