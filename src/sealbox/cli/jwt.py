"""``sealbox jwt …``: signing keysets, JWKS, and issuing, verifying and inspecting tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sealbox.cli._age_args import click_option, click_options
from sealbox.cli._dialect import confirm, echo_json, json_option, option, yes_option
from sealbox.cli._io import CLIError, note, passphrase_file_option, read_passphrase
from sealbox.cli._jwt_verify import TOKEN, VERIFY, token_text, usage_problem, verify_token
from sealbox.cli._paths import NamedFile
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


@keyset.command()
@_FILE
@_ALG
@json_option
@passphrase_file_option
def rotate(file: Path, alg: str | None, as_json: bool, passphrase_file: Path | None) -> None:
    """Add a fresh signing key to FILE; older keys keep verifying until destroyed.

    With --json, the new key as 'list --json' shows it. If another writer rotated FILE
    meanwhile with a newer key, that key stays primary and the new one only verifies.
    """
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
    older = sum(1 for k in keys if k.state == "decrypt-only")
    still = "1 older key still verifies" if older == 1 else f"{older} older keys still verify"
    click.echo(f"rotated {file}: new signing key {info.kid} ({info.alg}); {still}")


@keyset.command(name="list")
@_FILE
@json_option
@passphrase_file_option
def list_(file: Path, as_json: bool, passphrase_file: Path | None) -> None:
    """List the keys of FILE (never their material)."""
    keys = _keysets().load(file, read_passphrase(passphrase_file))
    infos = [k.to_dict() for k in keys]
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


_KID = click.argument("kid", metavar="KEY_ID")


@keyset.command()
@_FILE
@_KID
@yes_option
@passphrase_file_option
def destroy(file: Path, kid: str, yes: bool, passphrase_file: Path | None) -> None:
    """Destroy key KEY_ID: it stops verifying and its material is erased."""
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, old_name=False)


@keyset.command(hidden=True)
@_FILE
@_KID
@yes_option
@passphrase_file_option
def retire(file: Path, kid: str, yes: bool, passphrase_file: Path | None) -> None:
    """Destroy key KEY_ID (the older name of destroy)."""
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, old_name=True)


def _destroy(
    file: Path, kid: str, *, yes: bool, passphrase_file: Path | None, old_name: bool
) -> None:
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    # Only a key that would be erased is asked about: the keyset refuses the primary
    # itself, and an unknown or already destroyed key needs no answer.
    if any(k.kid == kid and not k.primary and k.state != "destroyed" for k in keys):
        confirm(
            f"Destroy key {kid}? Tokens it signed stop verifying, for good.",
            action=f"destroying key {kid}",
            yes=yes,
        )
    (keys.retire if old_name else keys.destroy)(kid)
    keys.save(file, passphrase)
    click.echo(f"destroyed key {kid} in {file}")


@keyset.command()
@_FILE
@_KID
@passphrase_file_option
def disable(file: Path, kid: str, passphrase_file: Path | None) -> None:
    """Stop key KEY_ID from verifying and take it out of the JWKS (reversible with enable)."""
    passphrase = read_passphrase(passphrase_file)
    keys = _keysets().load(file, passphrase)
    keys.disable(kid)
    keys.save(file, passphrase)
    click.echo(f"disabled key {kid} in {file}")


@keyset.command()
@_FILE
@_KID
@passphrase_file_option
def enable(file: Path, kid: str, passphrase_file: Path | None) -> None:
    """Let a disabled key KEY_ID verify again (it becomes decrypt-only)."""
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
