"""Secrets from HashiCorp Vault's KV version 2 engine, through hvac.

One source reads one secret path (``mount``/``path``), whose keys are the secret
names, optionally pinned to a version. It authenticates with a token or with
AppRole, sends ``X-Vault-Namespace`` when a namespace is given, and always
verifies TLS: the URL must be ``https://`` (Vault's ``-dev-tls`` mode serves that
locally; plain ``http://`` only to a development server on a loopback address, with
a warning), and a private CA is given with ``ca=``, never by turning checks off.
The address, token, namespace and CA not given are read from ``VAULT_ADDR``,
``VAULT_TOKEN`` (or ``~/.vault-token``), ``VAULT_NAMESPACE`` and ``VAULT_CACERT``, as
Vault's own tools read them.

API used (Vault's published HTTP API, as hvac calls it):
``GET /v1/{mount}/data/{path}[?version=N]``, ``POST /v1/{mount}/data/{path}``
(with ``options.cas`` for check-and-set), ``GET /v1/{mount}/metadata/{path}``,
``POST /v1/auth/{approle_mount}/login``. A version deleted or destroyed in Vault is
answered 404 with its metadata: reading it is a :class:`SecretSourceError` saying so
(codes ``vault_version_deleted``, ``vault_version_destroyed``), not "no such secret".
Reads are retried, a few times, when Vault answers 429 (rate limited) or 503 (sealed, or
a standby), honouring ``Retry-After``, and once on a new connection when a kept-alive one
was closed as it was reused; writes are not (see ``retries``). With ``approle``, a token is
replaced by a new login before its end (``auth.lease_duration``), and once after a call
answered 403, which is then sent once more (:mod:`sealbox.secrets.vault_login`).

Only KV version 2 is read and written. Before its first write, and after a read that
found nothing (404) or an answer of another shape, the source asks Vault what the mount
is (``GET /v1/sys/internal/ui/mounts/{mount}``, what Vault's CLI asks before a ``kv``
command; a token with any capability under the mount may call it): a KV version 1
mount is refused as such (code ``vault_kv_v1_mount``), as is another engine's mount
(``vault_not_kv_mount``) or a ``mount`` that goes past the mount into its paths
(``vault_not_a_mount``). KV v1 is not supported: it has no versions, metadata or
check-and-set, which this source's interface is made of, and a KV v2 write sent to a v1
mount would store the values, wrapped, at ``{mount}/data/{path}``. Vault documents that
endpoint as internal, without a promise of compatibility, so an answer that does not say
(403, 404, another shape, Vault unreachable) is no evidence: the call goes ahead, and its
own answer is reported.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from sealbox.exceptions import ConfigError, SecretSourceError
from sealbox.secret import Secret, redact
from sealbox.secrets import vault_client as _vault
from sealbox.secrets import vault_login
from sealbox.secrets.base import handed_out

if TYPE_CHECKING:
    pass

__all__ = ["DEFAULT_RETRIES", "MAX_RETRIES", "VaultKV2Source"]

DEFAULT_RETRIES: Final = _vault.DEFAULT_RETRIES
"""How many times a read is retried after 429 or a passing 5xx, unless told otherwise."""

MAX_RETRIES: Final = _vault.MAX_RETRIES
"""The most retries a source may be given: past that, a Vault that keeps refusing is down."""


class VaultKV2Source:
    """Read (and write) one KV v2 secret in Vault.

    Args:
        url: Vault's address, ``https://…``; ``None``: ``$VAULT_ADDR``.
        path: the secret's path inside the mount (``"app/prod"``).
        mount: where the KV v2 engine is mounted (``"secret"``).
        token: a Vault token. Give this or ``approle``; with neither, ``$VAULT_TOKEN``
            (or ``~/.vault-token``).
        approle: ``(role_id, secret_id)`` for AppRole login.
        approle_mount: where the AppRole auth method is mounted.
        namespace: a Vault Enterprise namespace (default ``$VAULT_NAMESPACE``).
        version: read this version instead of the latest.
        ca: a PEM file of the CA that signed Vault's certificate (default
            ``$VAULT_CACERT``, else the system's trust store).
        timeout: seconds a request to Vault may take in all (connecting, sending, and
            reading the whole answer, redirects included), not per read.
        retries: how many times a read (of the secret or its metadata) is sent again
            when Vault answers 429 (rate limited), 503 (sealed, or a standby) or another
            passing 5xx, waiting what its ``Retry-After`` says (up to 10 seconds) or
            0.5, 1, 2… seconds; each attempt has its own ``timeout``. Writes and logins
            are never sent twice. ``0``: never retry. Apart from these, a read that
            fails on a kept-alive connection before any byte of the answer came (Vault
            closed it, idle, as it was reused) is sent once more on a new connection,
            within its ``timeout``, whatever ``retries`` is.

    Raises:
        ConfigError: no address; the URL is not https (nor http to a loopback
            address); both ``token`` and ``approle``, or neither and no token in the
            environment; a ``timeout`` that is not a positive number of seconds.
        ExtraNotInstalledError: hvac is not installed (``sealbox[vault]``).
    """

    def __init__(
        self,
        url: str | None,
        path: str,
        *,
        mount: str = "secret",
        token: str | Secret[str] | None = None,
        approle: tuple[str | Secret[str], str | Secret[str]] | None = None,
        approle_mount: str = "approle",
        namespace: str | None = None,
        version: int | None = None,
        ca: str | os.PathLike[str] | None = None,
        timeout: int = 10,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if token is not None and approle is not None:
            raise ConfigError("give exactly one of token= and approle=")
        _vault.check_retries(retries)
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise TypeError(f"version is an int or None, not {type(version).__name__}")
        if version is not None and version < 1:
            raise ConfigError("version must be 1 or more")
        path, mount = _vault_path(path, "path"), _vault_path(mount, "mount")
        self._client = _vault.client(
            url,
            token=token,
            namespace=namespace,
            ca=ca,
            timeout=timeout,
            approle=approle is not None,
            read_retries=retries,
        )
        self.url: str = self._client.url
        self.path = path
        self.mount = mount
        self.namespace = namespace
        self.version = version
        self._login = None if approle is None else vault_login.AppRoleLogin(approle, approle_mount)
        self._lock = threading.Lock()
        self._data: dict[str, str] | None = None
        self._read_version: int | None = None
        self._mount_checked = False

    @property
    def label(self) -> str:
        ns = f" namespace {self.namespace}" if self.namespace else ""
        ver = f" version {self.version}" if self.version else ""
        return f"vault {_vault.shown_url(self.url)}{ns} {self.mount}/{self.path}{ver}"

    def __repr__(self) -> str:
        url = _vault.shown_url(self.url)
        return f"VaultKV2Source({url!r}, {self.path!r}, mount={self.mount!r})"

    # -- reading --------------------------------------------------------------------

    def lookup(self, name: str) -> Secret[str] | None:
        value = self._load().get(name)
        return None if value is None else handed_out(value)

    def names(self) -> list[str]:
        return sorted(self._load())

    @property
    def read_version(self) -> int | None:
        """The version that was read (``None`` before the first read)."""
        return self._read_version

    def reload(self) -> None:
        """Forget what was read; the next lookup reads Vault again."""
        with self._lock:
            self._data = None

    def _load(self) -> dict[str, str]:
        with self._lock:
            if self._data is None:
                response = self._call(
                    "read",
                    lambda c: c.secrets.kv.v2.read_secret_version(
                        path=self.path,
                        version=self.version,
                        mount_point=self.mount,
                        raise_on_deleted_version=True,
                    ),
                )
                body = response.get("data")
                data = body.get("data") if isinstance(body, dict) else None
                metadata = body.get("metadata") if isinstance(body, dict) else None
                if not isinstance(data, dict) or not isinstance(metadata, dict | None):
                    # A proxy's or another engine's answer: never read as an empty secret.
                    problem = self._mount_problem()
                    if problem is not None:
                        raise problem
                    raise SecretSourceError(
                        f"{self.label}: unexpected answer to read (no data.data object)"
                    )
                version = (metadata or {}).get("version")
                # KV v2's own answer: the mount need not be asked about before a write.
                self._mount_checked = self._mount_checked or isinstance(metadata, dict)
                self._read_version = (
                    version if isinstance(version, int) and not isinstance(version, bool) else None
                )
                self._data = {
                    str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()
                }
            return self._data

    def metadata(self) -> dict[str, Any]:
        """The secret's metadata (current version, versions and their times). No values."""
        response = self._call(
            "read metadata",
            lambda c: c.secrets.kv.v2.read_secret_metadata(path=self.path, mount_point=self.mount),
        )
        data = response.get("data")
        if not isinstance(data, dict):
            raise SecretSourceError(f"{self.label}: unexpected answer to read metadata")
        return dict(data)

    # -- writing --------------------------------------------------------------------

    def write(self, values: Mapping[str, str | Secret[str]], *, cas: int | None = None) -> int:
        """Write a new version holding exactly ``values``; return its version number.

        Args:
            values: the whole secret (KV v2 replaces, it does not merge).
            cas: check-and-set: write only if the current version is ``cas``
                (``0``: only if the secret does not exist yet).

        Raises:
            SecretSourceError: the check-and-set failed, permission was denied, …
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"values is a mapping of names to str, not {type(values).__name__}")
        plain = {k: _vault.reveal(v) for k, v in values.items()}
        # A KV v1 mount would store the write at {mount}/data/{path}: ask first, once.
        problem = self._mount_problem(what="write")
        if problem is not None:
            raise problem
        response = self._call(
            "write",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=self.path, secret=plain, cas=cas, mount_point=self.mount
            ),
        )
        self.reload()
        data = response.get("data")
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise SecretSourceError(f"{self.label}: unexpected answer to write (no version)")
        return version

    # -- plumbing -------------------------------------------------------------------

    def _call(self, what: str, fn: Any) -> dict[str, Any]:
        import hvac.exceptions as hx

        try:
            result = self._attempt(what, fn)
        except hx.Forbidden:
            # Vault answers 403 both to a policy without the capability and to a token
            # that expired or was revoked; after an AppRole login, the token was new.
            kind, capability = _POLICY.get(what, ("data", "read"))
            policy_path = f"{self.mount}/{kind}/{self.path}"
            raise SecretSourceError(
                f"{self.label}: {what}: permission denied (403)",
                hint=vault_login.denied_hint(
                    policy_path, capability, approle=self._login is not None
                ),
                code="vault_permission_denied",
                facts={"path": policy_path, "capability": capability},
            ) from None
        except hx.InvalidPath as exc:
            gone = _deleted(exc.json)
            if gone is not None:
                state, version = gone
                which = "the version read" if version is None else f"version {version}"
                raise SecretSourceError(
                    f"{self.label}: {which} was {state} (404)",
                    hint="read another version, or undelete this one in Vault"
                    if state == "deleted"
                    else "read another version: a destroyed version's data is gone for good",
                    code=f"vault_version_{state}",
                    facts={} if version is None else {"version": str(version)},
                ) from None
            problem = self._mount_problem()
            if problem is not None:
                raise problem from None
            target = f"version {self.version} of " if self.version and what == "read" else ""
            raise SecretSourceError(f"{self.label}: {target}no such secret (404)") from None
        except hx.InvalidRequest as exc:
            reasons = _reasons(exc.errors)
            raise SecretSourceError(f"{self.label}: {what} refused (400): {reasons}") from None
        if not isinstance(result, dict):
            raise SecretSourceError(f"{self.label}: unexpected answer to {what}")
        _vault.refuse_wrapped(self.label, what, result, SecretSourceError)
        return result

    def _mount_problem(self, what: str | None = None) -> SecretSourceError | None:
        """The error for a mount Vault says is not KV v2, else ``None`` (module docstring).

        Asks Vault at most once per source: an answer that does not say (a 4xx) is no
        evidence. ``what``: the call this look-up is part of, for which Vault that cannot
        be reached (sealed, too slow, redirecting) is reported at once, as the call would
        be; without it (a look-up after a read failed) that is no evidence either.
        """
        import hvac.exceptions as hx

        if self._mount_checked:
            return None
        try:
            answer = self._attempt(
                what or "look up the mount",
                lambda c: c.adapter.get(f"/v1/sys/internal/ui/mounts/{quote(self.mount)}"),
            )
        except hx.VaultError:
            self._mount_checked = True  # Vault answered, and will not say: no evidence
            return None
        except SecretSourceError:
            if what is None:
                return None
            raise
        self._mount_checked = True
        info = answer.get("data") if isinstance(answer, dict) else None
        return _mount_error(self.label, self.mount, info)

    def _attempt(self, what: str, fn: Any) -> Any:
        with _vault.transport_errors(self.label, what, SecretSourceError):
            # A call answered 403 is sent once more after a new login (vault_login): a
            # read, and a write too, as Vault refused it before doing anything.
            return vault_login.call(self._client, self._login, lambda: fn(self._client))


# What each call needs in a policy: the KV v2 path kind and the capability.
_POLICY: Final = {
    "read": ("data", "read"),
    "write": ("data", "update"),
    "read metadata": ("metadata", "read"),
}


def _deleted(answer: object) -> tuple[str, int | None] | None:
    """``("deleted" or "destroyed", version)`` when a 404 answer is KV v2's for such a
    version (its ``data.data`` null, its ``data.metadata`` saying so), else ``None``."""
    body = answer.get("data") if isinstance(answer, dict) else None
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return None
    version = meta.get("version")
    number = version if isinstance(version, int) and not isinstance(version, bool) else None
    if meta.get("destroyed") is True:
        return "destroyed", number
    return ("deleted", number) if meta.get("deletion_time") else None


def _mount_error(label: str, mount: str, info: object) -> SecretSourceError | None:
    """The error for the mount Vault's ``info`` (the ``data`` of
    ``sys/internal/ui/mounts/{mount}``) says is not KV v2, else ``None``."""
    kind = info.get("type") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(kind, str):
        return None  # not this endpoint's answer: no evidence
    mounted_at = info.get("path")
    options = info.get("options")
    version = options.get("version") if isinstance(options, dict) else None
    mounted_at = mounted_at.strip("/") if isinstance(mounted_at, str) else ""
    if mounted_at and mounted_at != mount and _shown(mounted_at):
        return SecretSourceError(
            f"{label}: {mount!r} is not a mount: the engine holding it is "
            f"mounted at {mounted_at!r}",
            hint=f"give mount={mounted_at!r}, and the rest as the start of the path",
            code="vault_not_a_mount",
            facts={"mount": mount, "mounted_at": mounted_at},
        )
    if kind not in ("kv", "generic"):
        shown = kind if _shown(kind) else "?"
        return SecretSourceError(
            f"{label}: the mount {mount!r} is a {shown!r} engine, not KV version 2",
            hint="give the mount of a KV version 2 secrets engine",
            code="vault_not_kv_mount",
            facts={"mount": mount, "type": shown},
        )
    if version != "2":
        # KV v1 ("generic" is its old name); a v1 mount may carry no version at all.
        return SecretSourceError(
            f"{label}: the mount {mount!r} is KV version 1: this source reads "
            "and writes KV version 2 (versions, metadata, check-and-set)",
            hint=f"upgrade the mount to KV version 2 (vault kv enable-versioning "
            f"{mount}; its policies then need {mount}/data/… paths), or give "
            "the mount of a KV version 2 engine",
            code="vault_kv_v1_mount",
            facts={"mount": mount},
        )
    return None


def _shown(text: str) -> bool:
    """Whether Vault's ``text`` (a mount path, an engine type) may be quoted in a message."""
    return len(text) <= 200 and text.isprintable()


def _vault_path(value: str, what: str) -> str:
    """``value`` without its outer slashes, refused if a segment is ``.`` or ``..``.

    hvac quotes a path but leaves dot segments, which requests then resolves: the
    request would leave the mount's ``data/`` (``../../sys/…``, ``../../auth/…``) and
    read or write another endpoint of Vault with the token, under this source's label.
    """
    if not isinstance(value, str):
        raise TypeError(f"the Vault {what} is given as a str, not {type(value).__name__}")
    stripped = value.strip("/")
    segments = stripped.split("/")
    if not stripped or any(s in (".", "..") for s in segments):
        shown = value if len(value) <= 200 and value.isprintable() else "<path>"
        raise ConfigError(
            f"the Vault {what} {shown!r} is empty or has a '.' or '..' segment",
            hint=f"give the secret's {what} as Vault lists it, without '.' or '..'",
            code="vault_bad_path",
            facts={what: shown},
        )
    return stripped


#: The most of Vault's own words a refusal quotes: a proxy in front may echo a request.
_MAX_REASONS: Final = 300


def _reasons(errors: object) -> str:
    """Vault's ``errors`` of a 400, for a message: redacted (a value written, echoed back
    by a proxy, is a registered secret), then cut to :data:`_MAX_REASONS` characters."""
    listed = [errors] if isinstance(errors, str) else errors if isinstance(errors, list) else []
    text = redact("; ".join(str(e) for e in listed)) or "invalid request"
    return text if len(text) <= _MAX_REASONS else f"{text[:_MAX_REASONS]}…"
