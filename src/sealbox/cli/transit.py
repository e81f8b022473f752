"""``sealbox transit …``: encryption as a service, through a running sealbox service.

The commands talk to the service's ``/v1/keys`` routes over HTTPS
(:func:`sealbox.tls.client.secure_client`). The access token comes from
``$SEALBOX_TOKEN`` only, never from the command line; data comes from stdin and
goes to stdout.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from sealbox.cli._io import CLIError, read_stdin, write_stdout
from sealbox.secret import Secret

TOKEN_ENV = "SEALBOX_TOKEN"  # noqa: S105 - a variable name, not a value
DEFAULT_URL = "https://localhost:8443"
# The service takes transit bodies of up to 4 MiB; base64 makes data a third larger.
MAX_PLAINTEXT = 3 * 1024 * 1024 - 4096
MAX_CIPHERTEXT = 5 * 1024 * 1024
KEY_TYPES = (
    "aes256-gcm",
    "chacha20-poly1305",
    "aes256-siv",
    "hmac",
    "ed25519",
    "ecdsa-p256",
    "rsa-3072",
)

_HINTS = {
    "not_authenticated": f"set ${TOKEN_ENV} to an access token (POST /auth/token)",
    "invalid_token": f"the token in ${TOKEN_ENV} is expired or revoked: log in again",
    "insufficient_scope": "ask an administrator for the scope (sealbox users create … --scope)",
    "key_version_too_old": "the key's min_decryption_version refuses it; rewrap data before "
    "raising it",
    "payload_too_large": "for large data use envelope encryption: 'transit datakey' or "
    "'sealbox encrypt'",
}


def _service_options(func: Any) -> Any:
    func = click.option(
        "--ca",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SEALBOX_CA",
        help="CA certificate the service's certificate chains to (e.g. .sealbox/tls/ca.crt; "
        "default $SEALBOX_CA, else the system's trust store).",
    )(func)
    return click.option(
        "--url",
        envvar="SEALBOX_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The service (also $SEALBOX_URL).",
    )(func)


class _Service:
    """The service's transit routes, called with the token of ``$SEALBOX_TOKEN``."""

    def __init__(self, url: str, ca: Path | None) -> None:
        if not url.startswith("https://"):
            raise CLIError(
                f"the service URL must start with https:// (got {url.split('://', 1)[0]}://…)",
                hint="sealbox transit talks to the service over TLS only",
            )
        raw = os.environ.get(TOKEN_ENV, "").strip()
        if not raw:
            raise CLIError(
                f"no access token: ${TOKEN_ENV} is not set", hint=_HINTS["not_authenticated"]
            )
        self._token = Secret(raw, register=True)
        self.url = url.rstrip("/")
        self.ca = ca

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; the JSON answer, or a :class:`CLIError` with the service's message."""
        import httpx2

        from sealbox.tls.client import secure_client

        headers = {"Authorization": f"Bearer {self._token.expose_secret()}"}
        try:
            with secure_client(ca=self.ca, base_url=self.url, timeout=30) as client:
                response = client.request(method, path, json=body, headers=headers)
        except httpx2.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise CLIError(
                    f"cannot verify the certificate of {self.url}",
                    hint="give --ca with the service's CA (its data folder's tls/ca.crt)",
                ) from None
            raise CLIError(
                f"cannot connect to {self.url}", hint="is the service running? (sealbox serve)"
            ) from None
        except httpx2.HTTPError as exc:
            raise CLIError(f"the request to {self.url} failed: {type(exc).__name__}") from None
        if response.status_code == 204:
            return None
        try:
            answer = response.json()
        except ValueError:
            raise CLIError(f"the service answered {response.status_code} without JSON") from None
        if response.is_error:
            code = answer.get("error", "") if isinstance(answer, dict) else ""
            message = answer.get("message", "") if isinstance(answer, dict) else ""
            if code == "validation_error" and answer.get("details"):
                where = ".".join(str(p) for p in answer["details"][0].get("loc", ()))
                message = f"{message}: {where}: {answer['details'][0].get('message', '')}"
            raise CLIError(
                message or f"the service answered {response.status_code}", hint=_HINTS.get(code)
            )
        return answer


def _show_key(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"name:                   {info['name']}")
    click.echo(f"type:                   {info['type']}")
    click.echo(f"latest_version:         {info['latest_version']}")
    click.echo(f"min_decryption_version: {info['min_decryption_version']}")
    click.echo(f"min_encryption_version: {info['min_encryption_version']}")
    click.echo(f"deletion_allowed:       {str(info['deletion_allowed']).lower()}")
    click.echo(f"exportable:             {str(info['exportable']).lower()}")


_JSON = click.option("--json", "as_json", is_flag=True, help="Print the service's JSON answer.")
_NAME = click.argument("name")
_AD = click.option(
    "--associated-data",
    "-A",
    "associated_data",
    help="Associated data (text, not secret) bound to the ciphertext; decrypting needs the same.",
)


def _ad(value: str | None) -> dict[str, str]:
    return {} if value is None else {"associated_data": base64.b64encode(value.encode()).decode()}


def _ciphertext_from_stdin() -> str:
    raw = read_stdin(MAX_CIPHERTEXT, "the ciphertext")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise CLIError("the ciphertext on stdin is not text (sealbox:v<N>:…)") from None
    if not text:
        raise CLIError(
            "no ciphertext on stdin", hint="pipe in what 'sealbox transit encrypt' printed"
        )
    return text


@click.group()
def transit() -> None:
    """Encryption as a service: keys that never leave the sealbox service.

    Each command calls a running service (--url, --ca) with the access token in
    $SEALBOX_TOKEN. Data is read from stdin and written to stdout.
    """


@transit.group()
def keys() -> None:
    """Create, list, rotate and configure transit keys (scope transit:admin)."""


@keys.command("create")
@_NAME
@click.option(
    "--type", "key_type", type=click.Choice(KEY_TYPES), default="aes256-gcm", show_default=True
)
@click.option("--exportable", is_flag=True, help="Allow exporting the key material (never undone).")
@_service_options
@_JSON
def create(  # noqa: PLR0917 - click passes options positionally
    name: str, key_type: str, exportable: bool, url: str, ca: Path | None, as_json: bool
) -> None:
    """Create key NAME with version 1."""
    info = _Service(url, ca).call(
        "POST", f"/v1/keys/{name}", {"type": key_type, "exportable": exportable}
    )
    _show_key(info, as_json)


@keys.command("list")
@_service_options
@_JSON
def list_(url: str, ca: Path | None, as_json: bool) -> None:
    """List the keys' names."""
    names = _Service(url, ca).call("GET", "/v1/keys")["keys"]
    if as_json:
        click.echo(json.dumps(names))
    for name in [] if as_json else names:
        click.echo(name)


@keys.command()
@_NAME
@_service_options
@_JSON
def rotate(name: str, url: str, ca: Path | None, as_json: bool) -> None:
    """Add a version to key NAME; new data uses it, older versions still decrypt."""
    _show_key(_Service(url, ca).call("POST", f"/v1/keys/{name}/rotate"), as_json)


@keys.command()
@_NAME
@click.option("--min-decryption-version", type=click.IntRange(1), help="Refuse older ciphertexts.")
@click.option(
    "--min-encryption-version",
    type=click.IntRange(0),
    help="Oldest version new data may use (0: latest).",
)
@click.option(
    "--deletion-allowed/--no-deletion-allowed", default=None, help="Allow deleting the key."
)
@click.option("--exportable", is_flag=True, default=None, help="Allow exporting (never undone).")
@_service_options
@_JSON
def config(  # noqa: PLR0917 - click passes options positionally
    name: str,
    min_decryption_version: int | None,
    min_encryption_version: int | None,
    deletion_allowed: bool | None,
    exportable: bool | None,
    url: str,
    ca: Path | None,
    as_json: bool,
) -> None:
    """Show key NAME's configuration, changing what the options say first."""
    changes = {
        "min_decryption_version": min_decryption_version,
        "min_encryption_version": min_encryption_version,
        "deletion_allowed": deletion_allowed,
        "exportable": exportable,
    }
    body = {k: v for k, v in changes.items() if v is not None}
    service = _Service(url, ca)
    info = (
        service.call("PATCH", f"/v1/keys/{name}", body)
        if body
        else service.call("GET", f"/v1/keys/{name}")
    )
    _show_key(info, as_json)


@transit.command()
@_NAME
@_AD
@click.option(
    "--key-version", type=click.IntRange(0), default=0, help="Version to use (0: latest)."
)
@_service_options
def encrypt(
    name: str, associated_data: str | None, key_version: int, url: str, ca: Path | None
) -> None:
    """Encrypt stdin with key NAME; print the sealbox:v<N>: ciphertext."""
    service = _Service(url, ca)
    data = read_stdin(
        MAX_PLAINTEXT, "the plaintext", hint="for large data use 'sealbox encrypt' (age files)"
    )
    body = {
        "plaintext": base64.b64encode(data).decode(),
        "key_version": key_version,
        **_ad(associated_data),
    }
    answer = service.call("POST", f"/v1/keys/{name}/encrypt", body)
    click.echo(answer["ciphertext"])


@transit.command()
@_NAME
@_AD
@_service_options
def decrypt(name: str, associated_data: str | None, url: str, ca: Path | None) -> None:
    """Decrypt the ciphertext on stdin with key NAME; write the plaintext to stdout."""
    service = _Service(url, ca)
    body = {"ciphertext": _ciphertext_from_stdin(), **_ad(associated_data)}
    answer = service.call("POST", f"/v1/keys/{name}/decrypt", body)
    write_stdout(base64.b64decode(answer["plaintext"]))


@transit.command()
@_NAME
@_AD
@click.option(
    "--key-version", type=click.IntRange(0), default=0, help="Version to use (0: latest)."
)
@_service_options
def rewrap(
    name: str, associated_data: str | None, key_version: int, url: str, ca: Path | None
) -> None:
    """Re-encrypt the ciphertext on stdin with key NAME's latest version; print it.

    The plaintext never leaves the service (scope transit:rewrap:NAME).
    """
    service = _Service(url, ca)
    body = {
        "ciphertext": _ciphertext_from_stdin(),
        "key_version": key_version,
        **_ad(associated_data),
    }
    answer = service.call("POST", f"/v1/keys/{name}/rewrap", body)
    click.echo(answer["ciphertext"])
    sys.stdout.flush()
