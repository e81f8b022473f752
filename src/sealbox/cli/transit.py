"""``sealbox transit …``: encryption as a service, through a running sealbox service.

The commands parse their options, call :class:`sealbox.transit.client.TransitClient`
and print. The access token comes from ``$SEALBOX_TOKEN`` only, never from the command
line; data comes from stdin and goes to stdout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from sealbox.cli._dialect import AliasChoice, Seconds, echo_json, option
from sealbox.cli._hints import hint_for
from sealbox.cli._io import CLIError, read_stdin, read_value, write_stdout
from sealbox.cli._paths import FilePath
from sealbox.exceptions import SealboxError
from sealbox.transit.client import DEFAULT_URL, MAX_TIMEOUT, TOKEN_ENV, TransitClient
from sealbox.transit.registry import KEY_TYPES

T = TypeVar("T")

# The service takes transit bodies of up to 4 MiB; base64 makes data a third larger.
MAX_PLAINTEXT = 3 * 1024 * 1024 - 4096
MAX_CIPHERTEXT = 5 * 1024 * 1024

_TIMEOUT = 30.0
_TIMEOUT_KEY = "sealbox.transit.timeout"

# The command line's advice for the codes of the client's errors.
_HINTS = {
    "token_missing": f"set ${TOKEN_ENV} to an access token (POST /auth/token)",
    "not_authenticated": f"set ${TOKEN_ENV} to an access token (POST /auth/token)",
    "invalid_token": f"the token in ${TOKEN_ENV} is expired or revoked: log in again",
    "insufficient_scope": "ask an administrator for the scope (sealbox users grant NAME SCOPE)",
    "key_version_too_old": "the key's min_decryption_version refuses it; rewrap data before "
    "raising it",
    "payload_too_large": "for large data use envelope encryption: a data key "
    "(TransitClient.datakey, POST /v1/keys/NAME/datakey) or 'sealbox encrypt'",
    "not_https": "sealbox transit talks to the service over TLS only",
    "server_unverified": "give --ca with the service's CA (its data folder's tls/ca.crt)",
    "service_unreachable": "is the service running? (sealbox serve)",
    "timeout": "is the service overloaded, or the address right? (a longer wait: --timeout)",
    "no_such_route": "give --url the service's base URL, e.g. https://localhost:8443",
    "token_malformed": f"set ${TOKEN_ENV} to the access_token a POST /auth/token answers",
    "url_userinfo": f"remove 'user:password@' from --url: the access token comes from ${TOKEN_ENV}",
    "url_invalid": "give --url as https://HOST[:PORT], e.g. https://localhost:8443",
    "not_found": "see the names with 'sealbox transit keys list' (case counts), or "
    "create it with 'sealbox transit keys create NAME'",
    "key_exists": "choose another name, or use this key (sealbox transit keys config NAME "
    "shows it)",
    "decryption_failed": "give the key that encrypted it and the same -A text as encrypt was given",
    "invalid_ciphertext": "give one ciphertext as 'sealbox transit encrypt' printed it",
    "invalid_key_version": "see the key's versions with 'sealbox transit keys config NAME'",
    "unsupported_operation": "use a key of one of those types (sealbox transit keys create "
    "NAME --type TYPE)",
}


def _hint(exc: SealboxError) -> str | None:
    suggestion = exc.facts.get("suggestion") if exc.code == "not_https" else None
    if suggestion:
        return f"did you mean {suggestion}? ({_HINTS['not_https']})"
    if exc.code == "server_unverified" and exc.facts.get("failed") == "certificate":
        return exc.hint  # its name or its dates: giving --ca changes nothing
    return _HINTS.get(exc.code) or hint_for(exc)


def _shown(value: object) -> str:
    """``value`` as one line of output: a name with a newline or another control
    character (stored before names were checked, or sent by another server) would forge
    lines, so it is printed escaped and quoted, as Python writes it."""
    text = str(value)
    return text if text.isprintable() else repr(text)


def _service_options(func: Any) -> Any:
    func = click.option(
        "--timeout",
        type=Seconds(0, MAX_TIMEOUT, above=True),
        default=_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for the service's answer to each request.",
        # Kept on the context for _service: every command takes it, none reads it itself.
        expose_value=False,
        callback=lambda ctx, _param, value: ctx.meta.__setitem__(_TIMEOUT_KEY, value),
    )(func)
    func = click.option(
        "--ca",
        type=FilePath(dir_okay=False, path_type=Path),
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


@contextmanager
def _service(url: str, ca: Path | None) -> Iterator[TransitClient]:
    """The client of ``url``; its errors become one ``sealbox: error:`` line with advice."""
    context = click.get_current_context(silent=True)
    timeout = context.meta.get(_TIMEOUT_KEY, _TIMEOUT) if context is not None else _TIMEOUT
    try:
        os.environ.get(TOKEN_ENV, "").encode()
    except UnicodeEncodeError:
        # Bytes that are not UTF-8 (lone surrogates here) are no bearer token; said before
        # the client takes the value as a secret, which cannot hold them.
        raise CLIError(
            f"the access token in ${TOKEN_ENV} is not a bearer token (it is not UTF-8 text)",
            hint=_HINTS["token_malformed"],
        ) from None
    try:
        with TransitClient(url, ca=ca, timeout=timeout) as client:
            yield client
    except SealboxError as exc:
        if isinstance(exc, CLIError):
            raise
        raise CLIError(str(exc), hint=_hint(exc)) from None


def _call(url: str, ca: Path | None, do: Callable[[TransitClient], T]) -> T:
    with _service(url, ca) as client:
        return do(client)


def _show_key(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(info)
        return
    click.echo(f"name:                   {_shown(info['name'])}")
    click.echo(f"type:                   {_shown(info['type'])}")
    click.echo(f"latest_version:         {_shown(info['latest_version'])}")
    click.echo(f"min_decryption_version: {_shown(info['min_decryption_version'])}")
    click.echo(f"min_encryption_version: {_shown(info['min_encryption_version'])}")
    click.echo(f"deletion_allowed:       {_shown(str(info['deletion_allowed']).lower())}")
    click.echo(f"exportable:             {_shown(str(info['exportable']).lower())}")
    states = info.get("version_states") or {}
    if states:
        click.echo(f"versions:               {_shown(_ranges(states))}")


def _ranges(states: dict[str, str]) -> str:
    """``1-3 disabled, 4 active``: runs of versions in one state (a key may have thousands)."""
    runs: list[list[Any]] = []
    for version, state in sorted((int(v), s) for v, s in states.items()):
        if runs and runs[-1][2] == state and runs[-1][1] == version - 1:
            runs[-1][1] = version
        else:
            runs.append([version, version, state])
    return ", ".join(
        f"{low} {state}" if low == high else f"{low}-{high} {state}" for low, high, state in runs
    )


# The command line spells algorithms with hyphens (docs/cli.md); the service keeps
# Vault's names, which stay accepted as old spellings.
_TYPE_NAMES = {name.replace("aes256-", "aes-256-"): name for name in KEY_TYPES}

_JSON = click.option("--json", "as_json", is_flag=True, help="Print the service's JSON answer.")
_NAME = click.argument("name")
_AD = option(
    "-A",
    "--aad",
    "associated_data",
    old=("--associated-data",),
    help="Associated data (text, not secret) bound to the ciphertext; decrypting needs the same.",
)


def _ad(value: str | None) -> bytes:
    # The argument's own bytes: argv that is not UTF-8 arrives with surrogate escapes.
    return b"" if value is None else os.fsencode(value)


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
    if len(text.split()) > 1:
        # A ciphertext is one word: this is a file of them, which the service would call
        # bad base64.
        raise CLIError(
            f"stdin holds {len(text.split())} values separated by spaces or lines: the "
            "command takes one ciphertext",
            hint="run it once per ciphertext, or send them all in one request with "
            "TransitClient.batch (docs/transit.md)",
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
    "--type",
    "key_type",
    type=AliasChoice(list(_TYPE_NAMES), {v: k for k, v in _TYPE_NAMES.items() if k != v}),
    default="aes-256-gcm",
    show_default=True,
    help="The kind of key.",
)
@click.option("--exportable", is_flag=True, help="Allow exporting the key material (never undone).")
@_service_options
@_JSON
def create(  # noqa: PLR0917 - click passes options positionally
    name: str, key_type: str, exportable: bool, url: str, ca: Path | None, as_json: bool
) -> None:
    """Create key NAME with version 1."""
    service_type = _TYPE_NAMES[key_type]
    info = _call(url, ca, lambda c: c.create_key(name, service_type, exportable=exportable))
    _show_key(info, as_json)


@keys.command("list")
@_service_options
@_JSON
def list_(url: str, ca: Path | None, as_json: bool) -> None:
    """List the keys' names."""
    names = _call(url, ca, TransitClient.list_keys)
    if as_json:
        echo_json(names)
    for name in [] if as_json else names:
        click.echo(_shown(name))


@keys.command()
@_NAME
@_service_options
@_JSON
def rotate(name: str, url: str, ca: Path | None, as_json: bool) -> None:
    """Add a version to key NAME; new data uses it, older versions still decrypt."""
    _show_key(_call(url, ca, lambda c: c.rotate_key(name)), as_json)


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
    changes = (min_decryption_version, min_encryption_version, deletion_allowed, exportable)
    with _service(url, ca) as client:
        if any(v is not None for v in changes):
            info = client.configure_key(
                name,
                min_decryption_version=min_decryption_version,
                min_encryption_version=min_encryption_version,
                deletion_allowed=deletion_allowed,
                exportable=exportable,
            )
        else:
            info = client.read_key(name)
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
    """Encrypt stdin with key NAME; print the sealbox:v<N>: ciphertext.

    On a terminal, the value is asked for (not shown as it is typed).
    """
    with _service(url, ca) as client:
        data = read_value(
            MAX_PLAINTEXT,
            "the plaintext",
            prompt="Value to encrypt",
            hint="for large data use 'sealbox encrypt' (age files)",
        )
        ciphertext = client.encrypt(
            name, data, associated_data=_ad(associated_data), key_version=key_version
        )
    click.echo(ciphertext)


@transit.command()
@_NAME
@_AD
@_service_options
def decrypt(name: str, associated_data: str | None, url: str, ca: Path | None) -> None:
    """Decrypt the ciphertext on stdin with key NAME; write the plaintext to stdout."""
    with _service(url, ca) as client:
        ciphertext = _ciphertext_from_stdin()
        plaintext = client.decrypt(name, ciphertext, associated_data=_ad(associated_data))
    write_stdout(plaintext)


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
    with _service(url, ca) as client:
        ciphertext = _ciphertext_from_stdin()
        rewrapped = client.rewrap(
            name, ciphertext, associated_data=_ad(associated_data), key_version=key_version
        )
    click.echo(rewrapped)
    sys.stdout.flush()
