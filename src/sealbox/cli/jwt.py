"""``sealbox jwt …``: signing keysets, JWKS, and issuing, verifying and inspecting tokens."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sealbox.cli._age_args import click_option, click_options
from sealbox.cli._dialect import confirm, echo_json, json_option, option, yes_option
from sealbox.cli._io import CLIError, note, passphrase_file_option, read_passphrase
from sealbox.cli._jwt_verify import TOKEN, VERIFY, token_text, usage_problem, verify_token
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.cli.serve import _load_settings, _service
from sealbox.jwt import decode_unverified
from sealbox.jwt.defaults import (
    DEFAULT_ALGORITHM,
    DEFAULT_TTL,
    REGISTERED_CLAIMS,
    SIGNING_ALGORITHMS,
)

if TYPE_CHECKING:
    from sealbox.jwt.keyset import SigningKeySet


def _keysets() -> type[SigningKeySet]:
    # Verifying and inspecting need no keyset: its module (file format, sealing, merging)
    # loads only for the commands that read or write one.
    from sealbox.jwt.keyset import SigningKeySet

    return SigningKeySet


_FILE = click.argument("file", type=NamedFile(dir_okay=False, path_type=Path))
_ALG = option(
    "--type",
    "alg",
    old=("--alg",),
    type=click.Choice(SIGNING_ALGORITHMS),
    help=f"The kind (signing algorithm) of the new key (default: {DEFAULT_ALGORITHM}; on rotate, "
    "the primary's).",
)


@click.group()
def jwt() -> None:
    """Create signing keysets, publish their JWKS, issue, verify and inspect JWTs.

    A keyset file is always encrypted with a passphrase (Argon2id). The
    passphrase comes from --passphrase-file, $SEALBOX_PASSPHRASE or a prompt.
    A TOKEN argument may be left out (or given as '-') to read it from stdin,
    which keeps it out of the process list and shell history.
    """


@jwt.group()
def keyset() -> None:
    """Create, rotate, list, disable and destroy the keys of a signing keyset.

    The primary key is active (it signs); older keys are decrypt-only (they verify
    what they signed and are published in the JWKS) until disabled or destroyed.
    --data-dir DIR instead of FILE: the keyset of a 'sealbox serve' data folder, sealed
    under its master key; the running service takes a change within seconds.
    """


@keyset.command()
@_FILE
@_ALG
@click.option("--force", is_flag=True, help="Replace FILE if it exists (its keys are lost).")
@yes_option
@json_option
@passphrase_file_option
def create(  # noqa: PLR0917 - click passes every option positionally
    file: Path,
    alg: str | None,
    force: bool,
    yes: bool,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a signing keyset in FILE with one fresh key."""
    if file.exists() and not force:
        raise CLIError(
            f"{file} already exists",
            hint="choose another name, or use --force to replace it and lose its keys",
        )
    if file.exists():
        confirm(f"Replace {file} and lose its keys?", action=f"replacing {file}", yes=yes)
    passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New keyset passphrase")
    keys = _keysets().generate(alg or DEFAULT_ALGORITHM)
    keys.save(file, passphrase, overwrite=force, merge=False)
    info = keys.primary
    if as_json:
        echo_json(_key_record(info.to_dict()))
        return
    click.echo(f"created {file} with signing key {info.kid} ({info.alg})")


# The service's keyset instead of a FILE: the same commands on the data folder's keyset,
# sealed under its master key (no passphrase), changed while the service runs.
_FILE_OR_SERVICE = click.argument(
    "file", required=False, type=NamedFile(dir_okay=False, path_type=Path)
)
_SERVICE_DIR = click.option(
    "--data-dir",
    type=FilePath(file_okay=False, path_type=Path),
    help="The signing keyset of the service's data folder (sealed under its master key) "
    "instead of FILE; a running service takes the change within seconds.",
)


def _service_settings(
    file: Path | None, data_dir: Path | None, passphrase_file: Path | None
) -> Any | None:
    """The service's settings for ``--data-dir``, ``None`` for FILE; usage errors for
    neither, both, or a passphrase for the service's keyset (which has none)."""
    if (file is None) == (data_dir is None):
        raise click.UsageError(
            "give FILE, or --data-dir DIR for the service's keyset (not both)"
            if file is not None
            else "missing FILE, or --data-dir DIR for the service's keyset"
        )
    if data_dir is None:
        return None
    if passphrase_file is not None:
        raise click.UsageError(
            "--passphrase-file is for a keyset FILE: the service's keyset is sealed under "
            "the data folder's master key"
        )
    return _load_settings(data_dir=data_dir)


def _older(keys: Any) -> str:
    older = sum(1 for k in keys if k.state == "decrypt-only")
    return "1 older key still verifies" if older == 1 else f"{older} older keys still verify"


@keyset.command()
@_FILE_OR_SERVICE
@_ALG
@json_option
@passphrase_file_option
@_SERVICE_DIR
def rotate(
    file: Path | None,
    alg: str | None,
    as_json: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Add a fresh signing key to FILE (or the service's keyset, --data-dir); older keys
    keep verifying until destroyed.

    With --json, the new key as 'list --json' shows it. If another writer rotated FILE
    meanwhile with a newer key, that key stays primary and the new one only verifies.
    With --data-dir, running services sign with the new key within seconds (audited).
    """
    settings = _service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        service = _service()
        made = service.rotate_signing_key(settings, alg)
        if as_json:
            echo_json(_key_record(made.to_dict()))
            return
        older = _older(service.signing_keys(settings))
        click.echo(
            f"rotated the service keyset of {settings.data_dir}: new signing key "
            f"{made.kid} ({made.alg}); {older}"
        )
        return
    assert file is not None
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    info = keys.rotate(alg)
    keys.save(file, passphrase)
    if as_json:
        echo_json(_key_record({k.kid: k for k in keys}[info.kid].to_dict()))
        return
    signer = keys.primary
    if signer.kid != info.kid:
        # Another writer rotated meanwhile with a newer key, which the save kept as primary.
        click.echo(
            f"rotated {file}: added key {info.kid} ({info.alg}), which verifies; another "
            f"writer's newer key {signer.kid} ({signer.alg}) signs"
        )
        return
    click.echo(f"rotated {file}: new signing key {info.kid} ({info.alg}); {_older(keys)}")


@keyset.command(name="list")
@_FILE_OR_SERVICE
@json_option
@passphrase_file_option
@_SERVICE_DIR
def list_(
    file: Path | None, as_json: bool, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """List the keys of FILE, or of the service's keyset (--data-dir); never their material."""
    settings = _service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        found = _service().signing_keys(settings)
    else:
        assert file is not None
        found = list(_keysets().load(file, read_passphrase(passphrase_file)))
    infos = [k.to_dict() for k in found]
    if as_json:
        echo_json([_key_record(i) for i in infos])
        return
    headers = ("KID", "ALG", "STATE", "PRIMARY", "CREATED")
    rows = [
        (i["kid"], i["alg"], i["state"], "yes" if i["primary"] else "", i["created"]) for i in infos
    ]
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _key_record(info: dict[str, Any]) -> dict[str, Any]:
    """A key as ``--json`` prints it: ``id`` and ``type`` are the dialect's names
    (docs/cli.md) for what ``kid`` and ``alg``, kept for scripts, say."""
    return {"id": info["kid"], "type": info["alg"], **info}


_KID = click.argument("kid", metavar="KEY_ID", required=False)


def _file_and_kid(
    file: Path | None, kid: str | None, data_dir: Path | None
) -> tuple[Path | None, str]:
    """FILE and KEY_ID as given: with --data-dir, the one argument is KEY_ID (click gives
    the first argument to FILE, which comes first and may be left out)."""
    if kid is None and data_dir is not None and file is not None:
        return None, os.fspath(file)
    if kid is None:
        raise click.UsageError("missing argument 'KEY_ID'")
    return file, kid


@keyset.command()
@_FILE_OR_SERVICE
@_KID
@yes_option
@passphrase_file_option
@_SERVICE_DIR
def destroy(
    file: Path | None,
    kid: str | None,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Destroy key KEY_ID: it stops verifying and its material is erased."""
    file, kid = _file_and_kid(file, kid, data_dir)
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, data_dir=data_dir)


@keyset.command(hidden=True)
@_FILE_OR_SERVICE
@_KID
@yes_option
@passphrase_file_option
@_SERVICE_DIR
def retire(
    file: Path | None,
    kid: str | None,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Destroy key KEY_ID (the older name of destroy)."""
    file, kid = _file_and_kid(file, kid, data_dir)
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, data_dir=data_dir, old_name=True)


def _destroy(
    file: Path | None,
    kid: str,
    *,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
    old_name: bool = False,
) -> None:
    settings = _service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        service = _service()
        keys = service.signing_keys(settings)
        _confirm_destroy(keys, kid, yes)
        was = next((k.state for k in keys if k.kid == kid), None)
        info = service.change_signing_key(settings, kid, "destroy")
        if was == info.state:
            click.echo(
                f"key {kid} of the service keyset of {settings.data_dir} was destroyed already"
            )
            return
        click.echo(f"destroyed key {kid} of the service keyset of {settings.data_dir}")
        return
    assert file is not None
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    _confirm_destroy(keys, kid, yes)
    (keys.retire if old_name else keys.destroy)(kid)
    keys.save(file, passphrase)
    click.echo(f"destroyed key {kid} in {file}")


def _confirm_destroy(keys: Any, kid: str, yes: bool) -> None:
    # Only a key that would be erased is asked about: the keyset refuses the primary
    # itself, and an unknown or already destroyed key needs no answer.
    if any(k.kid == kid and not k.primary and k.state != "destroyed" for k in keys):
        confirm(
            f"Destroy key {kid}? Tokens it signed stop verifying, for good.",
            action=f"destroying key {kid}",
            yes=yes,
        )


@keyset.command()
@_FILE_OR_SERVICE
@_KID
@passphrase_file_option
@_SERVICE_DIR
def disable(
    file: Path | None, kid: str | None, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """Stop key KEY_ID from verifying and take it out of the JWKS (reversible with enable)."""
    file, kid = _file_and_kid(file, kid, data_dir)
    settings = _service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        _service().change_signing_key(settings, kid, "disable")
        click.echo(f"disabled key {kid} of the service keyset of {settings.data_dir}")
        return
    assert file is not None
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    keys.disable(kid)
    keys.save(file, passphrase)
    click.echo(f"disabled key {kid} in {file}")


@keyset.command()
@_FILE_OR_SERVICE
@_KID
@passphrase_file_option
@_SERVICE_DIR
def enable(
    file: Path | None, kid: str | None, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """Let a disabled key KEY_ID verify again (it becomes decrypt-only)."""
    file, kid = _file_and_kid(file, kid, data_dir)
    settings = _service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        info = _service().change_signing_key(settings, kid, "enable")
        click.echo(f"key {kid} of the service keyset of {settings.data_dir} is {info.state}")
        return
    assert file is not None
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    keys.enable(kid)
    keys.save(file, passphrase)
    state = {k.kid: k.state for k in keys}[kid]
    click.echo(f"key {kid} in {file} is {state}")


# Every command that prints for scripts takes --json (docs/cli.md); these always print JSON.
_ALWAYS_JSON = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON for scripts (fields: docs/cli.md), as without it.",
)


@jwt.command()
@_FILE
@passphrase_file_option
@_ALWAYS_JSON
def jwks(file: Path, passphrase_file: Path | None, as_json: bool) -> None:  # noqa: ARG001
    """Print the public JWKS of FILE's active keys (RFC 7517) on stdout."""
    keys = _keysets().load(file, read_passphrase(passphrase_file))
    document = keys.public_jwks()
    if not document["keys"]:
        note("the keyset has only HMAC keys, which are secret: the JWKS is empty")
    click.echo(json.dumps(document, indent=2))


def _not_json(constant: str) -> Any:
    raise ValueError(constant)


def _parse_claim(
    ctx: click.Context,  # noqa: ARG001 - click's callback signature
    param: click.Parameter,  # noqa: ARG001
    values: tuple[str, ...],
) -> Any:
    claims: dict[str, Any] = {}
    for item in values:
        name, sep, value = item.partition("=")
        as_json = name.endswith(":")
        name = name.removesuffix(":")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE (or NAME:=JSON)")
        if name in REGISTERED_CLAIMS:
            raise click.BadParameter(f"{name!r} has its own option or is set by sealbox")
        if name in claims:
            # Which of the two was meant cannot be guessed: the last one won, unsaid.
            raise click.BadParameter(f"the claim {name!r} is given twice")
        if as_json:
            try:
                # NaN and Infinity are not JSON (RFC 8259 §6), though Python reads them.
                claims[name] = json.loads(value, parse_constant=_not_json)
            except ValueError:
                raise click.BadParameter(f"the value of {name!r} is not JSON") from None
        else:
            claims[name] = value
    return claims


@jwt.command()
@_FILE
@click.option("--sub", required=True, help="Subject: whom the token is about.")
@click.option("--aud", multiple=True, help="Audience (repeat for several).")
@click.option("--iss", help="Issuer, usually a URL.")
@click.option(
    "--ttl",
    type=click.IntRange(min=1),
    default=DEFAULT_TTL,
    show_default=True,
    help="Lifetime in seconds.",
)
@click.option("--scope", help="Space-separated scopes.")
@click.option(
    "--claim",
    "claims",
    multiple=True,
    callback=_parse_claim,
    help="Extra claim NAME=VALUE (a string) or NAME:=JSON; repeat for several.",
)
@option(
    "--typ",
    "token_type",
    old=("--type",),
    default="at+jwt",
    show_default=True,
    help="The header's typ.",
)
@passphrase_file_option
def issue(  # noqa: PLR0917 - click passes every option as an argument
    file: Path,
    sub: str,
    aud: tuple[str, ...],
    iss: str | None,
    ttl: int,
    scope: str | None,
    claims: dict[str, Any],
    token_type: str,
    passphrase_file: Path | None,
) -> None:
    """Issue a token signed by FILE's primary key and print it."""
    given = {"--sub": sub, "--aud": aud, "--iss": iss, "--scope": scope, "--claim": claims}
    for name, value in {**given, "--typ": token_type}.items():
        _refuse_not_utf8(name, value)
    values: dict[str, tuple[str | None, ...]] = {
        "--sub": (sub,),
        "--aud": aud,
        "--iss": (iss,),
        "--typ": (token_type,),
        "--scope": (scope,),  # "" signed a "scope": "" claim, granting nothing
    }
    for name, given_values in values.items():
        # An unset shell variable: a usage error, not a library refusal (or an empty typ).
        if "" in given_values:
            raise click.UsageError(f"{name}: an empty value (is a shell variable unset?)")
    keys = _keysets().load(file, read_passphrase(passphrase_file))
    token = keys.issue(
        sub,
        audience=list(aud) or None,
        issuer=iss,
        ttl=ttl,
        scope=scope,
        claims=claims,
        token_type=token_type,
    )
    click.echo(token)


def _refuse_not_utf8(option: str, value: Any) -> None:
    """A usage error for an argument holding bytes that are not UTF-8 (they arrive as lone
    surrogates, which a token would carry as \\udcXX escapes no other reader accepts)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise click.UsageError(f"{option} is not UTF-8 text") from None


@jwt.command()
@click_option(TOKEN)
@click_options(VERIFY)
def verify(token: str | None, **options: Any) -> None:
    """Verify TOKEN and print its claims as JSON; exit 1 with the reason if it is refused.

    The token is read from stdin when TOKEN is '-' or left out: 'sealbox jwt verify
    --jwks jwks.json - < token' keeps it out of the process list. A token without a
    key id (kid) is checked with the one key of its algorithm, if there is one.
    """
    problem = usage_problem(options)
    if problem:
        raise click.UsageError(problem)
    verify_token(token, **options)


@jwt.command()
@click_option(TOKEN)
@_ALWAYS_JSON
def inspect(token: str | None, as_json: bool) -> None:  # noqa: ARG001
    """Print TOKEN's header and claims WITHOUT verifying anything.

    The token is read from stdin when TOKEN is '-' or left out.
    """
    parsed = decode_unverified(token_text(token, "inspect"))
    note("sealbox: warning: not verified: the signature and claims were not checked")
    document = {"verified": False, "header": parsed.header, "claims": parsed.claims}
    click.echo(json.dumps(document, indent=2))
