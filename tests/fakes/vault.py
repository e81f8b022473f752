"""A fake Vault server for tests: real HTTPS on 127.0.0.1, Vault's published HTTP API.

Vault itself cannot run here. This server implements the parts sealbox uses, with
the request and response shapes of Vault's API documentation
(developer.hashicorp.com/vault/api-docs): KV version 2 (read a version, write with
check-and-set, read metadata; soft-delete the latest version or given versions, undelete,
destroy, delete the metadata and every version), AppRole login (its token's
``lease_duration`` is :attr:`FakeVault.token_ttl`; :meth:`FakeVault.expire` ends a token),
token checks (403), namespaces (``X-Vault-Namespace``), a sealed state (503), and answers
of 429 or 503 queued ahead of the rest (``unavailable``). hvac talks to it for real.

KV v2 deletion, as Vault's API documents it (api-docs/secret/kv/kv-v2):
``DELETE /v1/{mount}/data/{path}`` soft-deletes the latest version;
``POST /v1/{mount}/delete/{path}``, ``/undelete/{path}`` and ``/destroy/{path}`` take
``{"versions": [...]}``; ``DELETE /v1/{mount}/metadata/{path}`` removes the secret and
its history. All answer 204. Reading a deleted or destroyed version answers 404 with
``data.data`` null and the version's ``metadata`` (``deletion_time`` set, or
``destroyed`` true), which is how a client tells it from a path that never existed.
The Transit engine (mounted at ``transit``) is in :mod:`tests.fakes.vault_transit`.

Mounts (api-docs/system/internal-ui-mounts): ``GET /v1/sys/internal/ui/mounts/{path}``
answers, to a token, the mount that holds ``path``: its ``type`` (``kv``, ``transit``),
``options`` (``{"version": "2"}`` for KV v2; ``{"version": "1"}`` or null for KV v1) and
``path`` (with its trailing slash); a path under no mount is answered 403 with Vault's
"preflight capability check returned 403" text, so that it cannot list mounts.
:attr:`FakeVault.kv_mounts` declares KV mounts and their version (``"2"``; ``"1"`` or
``None`` for v1). A KV v1 mount serves KV v1's API (api-docs/secret/kv/kv-v1):
``GET /v1/{mount}/{path}`` answers ``data`` as the secret's keys, or 404 with
``{"errors": []}``; ``POST`` replaces the secret, 204. Any other mount is served as KV v2.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Secret:
    # n -> {"data", "created", "deleted" (a time, or ""), "destroyed"}
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    current: int = 0

    def add(self, data: dict[str, Any]) -> tuple[int, str]:
        self.current += 1
        created = _now()
        self.versions[self.current] = {
            "data": dict(data),
            "created": created,
            "deleted": "",
            "destroyed": False,
        }
        return self.current, created


def _version_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_time": entry["created"],
        "deletion_time": entry["deleted"],
        "destroyed": entry["destroyed"],
    }


@dataclass
class FakeVault:
    """State of the fake: tokens, roles, mounts and their secrets."""

    tokens: set[str] = field(default_factory=set)
    approles: dict[str, str] = field(default_factory=dict)  # role_id -> secret_id
    sealed: bool = False
    # Answers given before any other, one a request: (status, Retry-After or None).
    # Vault answers 429 when a rate limit quota is reached (with Retry-After) and 503
    # when it is sealed or a standby that does not forward.
    unavailable: list[tuple[int, str | None]] = field(default_factory=list)
    kv: dict[tuple[str, str, str], _Secret] = field(default_factory=dict)  # (ns, mount, path)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Transit: the mounts, then the keys of each (namespace, mount).
    transit_mounts: set[tuple[str, str]] = field(default_factory=lambda: {("", "transit")})
    transit: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    denied: set[tuple[str, str]] = field(default_factory=set)  # (token, "transit/decrypt/k")
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every JSON body received
    # A standby that does not forward (request forwarding off, or failing): Vault answers
    # every request 307 with ``Location`` the active node's api_addr and the same path.
    standby_of: str | None = None
    standby_redirects: int | None = None  # how many it redirects, then serves (None: all)
    # KV mounts and their options.version: "2", or "1" / None (KV v1, no version option).
    kv_mounts: dict[tuple[str, str], str | None] = field(
        default_factory=lambda: {("", "secret"): "2"}
    )
    kv1: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # The ``warnings`` of a KV v2 read's answer (Vault's, such as a parameter it ignored).
    warnings: list[str] = field(default_factory=list)
    # Response wrapping (api-docs, "Response wrapping"): a request carrying
    # ``X-Vault-Wrap-TTL`` is answered ``data`` null and ``wrap_info`` (a wrapping token).
    # ``wrap_ttl`` set: every request is answered so, as if something in front (a proxy)
    # added the header.
    wrap_ttl: str | None = None
    # AppRole tokens: the ``auth.lease_duration`` a login answers (Vault's token_ttl, in
    # seconds; 0: no end). A token past its end is answered 403 as any unknown token:
    # :meth:`expire` ends one now.
    token_ttl: int = 3600

    def expire(self, token: str) -> None:
        """End ``token`` now: Vault answers 403 to a token past its TTL, or revoked."""
        with self.lock:
            self.tokens.discard(token)

    def deny(self, token: str, path: str) -> None:
        """Make ``path`` (``transit/decrypt/app``, ``secret/data/app``) answer 403 to
        ``token``; ``"*"``: to every token (a policy of every token of a role)."""
        self.denied.add((token, path.strip("/")))

    def transit_key(self, name: str, *, mount: str = "transit", namespace: str = "") -> Any:
        """The fake's state of a Transit key, created (version 1) if missing."""
        from tests.fakes.vault_transit import TransitKey

        with self.lock:
            keys = self.transit.setdefault((namespace, mount), {})
            if name not in keys:
                keys[name] = TransitKey()
                keys[name].rotate()
            return keys[name]

    def put(
        self, path: str, data: dict[str, Any], *, mount: str = "secret", namespace: str = ""
    ) -> int:
        with self.lock:
            self.kv_mounts.setdefault((namespace, mount), "2")
            return self.kv.setdefault((namespace, mount, path), _Secret()).add(data)[0]

    def put_v1(
        self, path: str, data: dict[str, Any], *, mount: str = "kv", namespace: str = ""
    ) -> None:
        """Store a KV v1 secret (``mount`` must be declared v1 in :attr:`kv_mounts`)."""
        with self.lock:
            self.kv1[(namespace, mount, path)] = dict(data)

    def mount_of(self, namespace: str, path: str) -> tuple[str, str, str | None] | None:
        """``(mount, type, options.version)`` of the mount holding ``path``, or ``None``."""
        with self.lock:
            kv = {m: v for (ns, m), v in self.kv_mounts.items() if ns == namespace}
            transit = {m for ns, m in self.transit_mounts if ns == namespace}
        found = [m for m in (*kv, *transit) if path == m or path.startswith(m + "/")]
        if not found:
            return None
        mount = max(found, key=len)
        return (mount, "kv", kv[mount]) if mount in kv else (mount, "transit", None)


# The KV v2 routes that act on listed versions (``POST /v1/{mount}/{action}/{path}``).
_VERSION_ACTIONS = ("delete", "undelete", "destroy")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any] | None) -> None:
        if status == 204:  # no content, and no Content-Length (RFC 9110 §8.6)
            self.send_response(status)
            self.end_headers()
            return
        wrap_ttl = self.headers.get("X-Vault-Wrap-TTL") or self.server.vault.wrap_ttl
        if status == 200 and body is not None and wrap_ttl:
            body = {
                "request_id": secrets.token_hex(8),
                "data": None,
                "wrap_info": {
                    "token": "hvs.wrapping-" + secrets.token_urlsafe(12),
                    "accessor": secrets.token_hex(8),
                    "ttl": 300,
                    "creation_time": _now(),
                    "creation_path": urlsplit(self.path).path.removeprefix("/v1/"),
                },
                "warnings": None,
                "auth": None,
            }
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, *errors: str) -> None:
        self._send(status, {"errors": list(errors)})

    def _refuse(self, status: int, retry_after: str | None) -> None:
        raw = json.dumps(
            {
                "errors": ['request path "…": rate limit quota exceeded']
                if status == 429
                else ["Vault is sealed"]
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        self.server.vault.bodies.append(body)
        return body

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        vault = self.server.vault
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        vault.requests.append((method, url.path, headers))
        if vault.sealed:
            return self._error(503, "Vault is sealed")
        with vault.lock:
            redirect = vault.standby_of is not None and vault.standby_redirects != 0
            if redirect and vault.standby_redirects is not None:
                vault.standby_redirects -= 1
        if redirect and vault.standby_of is not None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", vault.standby_of.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        with vault.lock:
            refusal = vault.unavailable.pop(0) if vault.unavailable else None
        if refusal is not None:
            return self._refuse(*refusal)
        parts = url.path.strip("/").split("/")
        if parts[0] != "v1":
            return self._error(404)
        namespace = headers.get("x-vault-namespace", "").strip("/")
        if parts[1:3] == ["auth", "approle"] and parts[-1] == "login" and method == "POST":
            body = self._body()
            if vault.approles.get(body.get("role_id", "")) != body.get("secret_id"):
                return self._error(400, "invalid role ID or secret ID")
            token = "hvs." + secrets.token_urlsafe(24)
            vault.tokens.add(token)
            return self._send(
                200,
                {
                    "auth": {
                        "client_token": token,
                        "accessor": secrets.token_hex(8),
                        "policies": ["default"],
                        "token_policies": ["default"],
                        "lease_duration": vault.token_ttl,
                        "renewable": True,
                        "metadata": {"role_name": "app"},
                    }
                },
            )
        if headers.get("x-vault-token") not in vault.tokens:
            return self._error(403, "permission denied")
        where = "/".join(parts[1:])
        if {(headers["x-vault-token"], where), ("*", where)} & vault.denied:
            return self._error(403, "1 error occurred:\n\t* permission denied\n\n")
        if parts[1:5] == ["sys", "internal", "ui", "mounts"] and method == "GET":
            return self._mount_info(namespace, "/".join(parts[5:]))
        if (namespace, parts[1]) in vault.transit_mounts:
            from tests.fakes import vault_transit

            return vault_transit.handle(
                self, method, namespace, parts[1], parts[2:], headers["x-vault-token"]
            )
        if vault.kv_mounts.get((namespace, parts[1]), "2") != "2":
            return self._kv1(method, namespace, parts[1], "/".join(parts[2:]))
        if len(parts) < 4 or parts[2] not in ("data", "metadata", *_VERSION_ACTIONS):
            return self._error(404)
        mount, kind, path = parts[1], parts[2], "/".join(parts[3:])
        key = (namespace, mount, path)
        query = parse_qs(url.query)
        with vault.lock:
            secret = vault.kv.get(key)
            if kind == "data" and method == "GET":
                if secret is None:
                    return self._error(404)
                version = int(query.get("version", [secret.current])[0] or secret.current)
                if version == 0:
                    version = secret.current
                entry = secret.versions.get(version)
                if entry is None:
                    return self._error(404)
                metadata = {**_version_metadata(entry), "custom_metadata": None, "version": version}
                if entry["deleted"] or entry["destroyed"]:
                    # Vault's answer for a deleted or destroyed version: 404, no data, and
                    # the version's metadata (not an "errors" list).
                    return self._send(404, {"data": {"data": None, "metadata": metadata}})
                return self._send(
                    200,
                    {
                        "request_id": secrets.token_hex(8),
                        "lease_id": "",
                        "renewable": False,
                        "lease_duration": 0,
                        "data": {"data": entry["data"], "metadata": metadata},
                        "wrap_info": None,
                        "warnings": list(vault.warnings) or None,
                        "auth": None,
                    },
                )
            if kind == "data" and method == "POST":
                body = self._body()
                cas = (body.get("options") or {}).get("cas")
                current = secret.current if secret else 0
                if cas is not None and int(cas) != current:
                    return self._error(
                        400, "check-and-set parameter did not match the current version"
                    )
                secret = vault.kv.setdefault(key, _Secret())
                _, created = secret.add(body.get("data") or {})
                return self._send(
                    200,
                    {
                        "data": {
                            "created_time": created,
                            "custom_metadata": None,
                            "deletion_time": "",
                            "destroyed": False,
                            "version": secret.current,
                        }
                    },
                )
            if kind == "metadata" and method == "GET":
                if secret is None:
                    return self._error(404)
                return self._send(
                    200,
                    {
                        "data": {
                            "cas_required": False,
                            "created_time": secret.versions[min(secret.versions)]["created"],
                            "current_version": secret.current,
                            "delete_version_after": "0s",
                            "max_versions": 0,
                            "oldest_version": min(secret.versions),
                            "updated_time": secret.versions[secret.current]["created"],
                            "custom_metadata": None,
                            "versions": {
                                str(n): _version_metadata(v) for n, v in secret.versions.items()
                            },
                        }
                    },
                )
            if kind == "data" and method == "DELETE":
                # Soft-deletes the latest version (nothing to do for a missing secret).
                if secret is not None and secret.current in secret.versions:
                    latest = secret.versions[secret.current]
                    latest["deleted"] = latest["deleted"] or _now()
                return self._send(204, None)
            if kind == "metadata" and method == "DELETE":
                vault.kv.pop(key, None)
                return self._send(204, None)
            if kind in _VERSION_ACTIONS and method == "POST":
                versions = self._body().get("versions")
                if not isinstance(versions, list) or not versions:
                    return self._error(400, "no version number provided")
                for n in versions:
                    entry = secret.versions.get(int(n)) if secret is not None else None
                    if entry is None or entry["destroyed"]:
                        continue  # Vault skips versions that do not exist, or are gone
                    if kind == "delete":
                        entry["deleted"] = entry["deleted"] or _now()
                    elif kind == "undelete":
                        entry["deleted"] = ""
                    else:
                        entry["destroyed"], entry["data"] = True, None
                return self._send(204, None)
        return self._error(405)

    def _mount_info(self, namespace: str, path: str) -> None:
        found = self.server.vault.mount_of(namespace, path.strip("/"))
        if found is None:
            # Vault's answer for a path under no mount, so that mounts cannot be listed.
            return self._error(
                403,
                "preflight capability check returned 403, please ensure client's policies "
                f'grant access to path "{path.strip("/")}/"',
            )
        mount, kind, version = found
        options = None if kind != "kv" or version is None else {"version": version}
        return self._send(
            200,
            {
                "request_id": secrets.token_hex(8),
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": {
                    "accessor": f"{kind}_{secrets.token_hex(4)}",
                    "config": {"default_lease_ttl": 0, "force_no_cache": False, "max_lease_ttl": 0},
                    "description": "",
                    "external_entropy_access": False,
                    "local": False,
                    "options": options,
                    "path": mount + "/",
                    "plugin_version": "",
                    "running_plugin_version": "",
                    "seal_wrap": False,
                    "type": kind,
                    "uuid": secrets.token_hex(16),
                },
                "wrap_info": None,
                "warnings": None,
                "auth": None,
            },
        )

    def _kv1(self, method: str, namespace: str, mount: str, path: str) -> None:
        vault = self.server.vault
        key = (namespace, mount, path)
        with vault.lock:
            if method == "GET":
                data = vault.kv1.get(key)
                if data is None:
                    return self._error(404)
                return self._send(
                    200,
                    {
                        "request_id": secrets.token_hex(8),
                        "lease_id": "",
                        "renewable": False,
                        "lease_duration": 2764800,
                        "data": data,
                        "wrap_info": None,
                        "warnings": None,
                        "auth": None,
                    },
                )
            if method == "POST":
                vault.kv1[key] = self._body()
                return self._send(204, None)
            if method == "DELETE":
                vault.kv1.pop(key, None)
                return self._send(204, None)
        return self._error(405)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    vault: FakeVault


class _Server6(_Server):
    address_family = socket.AF_INET6


class FakeVaultServer:
    """Start with ``with FakeVaultServer(cert_pem, key_pem) as srv:``; ``srv.url``, ``srv.vault``."""

    def __init__(self, context: ssl.SSLContext | None, host: str = "127.0.0.1") -> None:
        self.vault = FakeVault()
        self._server = (_Server6 if ":" in host else _Server)((host, 0), _Handler)
        self._server.vault = self.vault
        scheme = "http"
        if context is not None:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeVaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_vault_http(*tokens: str, host: str = "127.0.0.1") -> Iterator[FakeVaultServer]:
    """A :class:`FakeVaultServer` over plain HTTP on ``host``, as ``vault server -dev`` is."""
    with FakeVaultServer(None, host) as srv:
        srv.vault.tokens.update(tokens)
        yield srv


@contextmanager
def fake_vault(ca: Any, *tokens: str) -> Iterator[FakeVaultServer]:
    """A :class:`FakeVaultServer` with a certificate for 127.0.0.1 from the trustme ``ca``.

    ``tokens`` are accepted as Vault tokens.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with FakeVaultServer(ctx) as srv:
        srv.vault.tokens.update(tokens)
        yield srv
