"""``sealbox jwt …``: signing keysets, JWKS, and issuing, verifying and inspecting tokens.

The ``keyset`` group is :mod:`sealbox.cli._jwt_keyset`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sealbox.cli._age_args import click_option, click_options
from sealbox.cli._dialect import option
from sealbox.cli._io import note, passphrase_file_option, warn
from sealbox.cli._jwt_keyset import (
    FILE,
    FILE_OR_SERVICE,
    SERVICE_DIR,
    keyset,
    load_keyset,
    service_settings,
)
from sealbox.cli._jwt_verify import TOKEN, VERIFY, token_text, usage_problem, verify_token
from sealbox.cli.serve import _service
from sealbox.exceptions import TokenError
from sealbox.jwt import DEFAULT_MAX_TOKEN_SIZE, UnverifiedToken, decode_unverified
from sealbox.jwt.defaults import DEFAULT_TTL, REGISTERED_CLAIMS


@click.group()
def jwt() -> None:
    """Create signing keysets, publish their JWKS, issue, verify and inspect JWTs.

    A keyset file is always encrypted with a passphrase (Argon2id). The
    passphrase comes from --passphrase-file, $SEALBOX_PASSPHRASE or a prompt.
    A TOKEN argument may be left out (or given as '-') to read it from stdin,
    which keeps it out of the process list and shell history.
    """


jwt.add_command(keyset)


# Every command that prints for scripts takes --json (docs/cli.md); these always print JSON.
_ALWAYS_JSON = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON for scripts (fields: docs/cli.md), as without it.",
)


@jwt.command()
@FILE_OR_SERVICE
@passphrase_file_option
@_ALWAYS_JSON
@SERVICE_DIR
def jwks(
    file: Path | None,
    passphrase_file: Path | None,
    as_json: bool,  # noqa: ARG001
    data_dir: Path | None,
) -> None:
    """Print the public JWKS of FILE's active keys (RFC 7517) on stdout.

    With --data-dir DIR instead of FILE: the JWKS of the service's keyset, as its
    /.well-known/jwks.json publishes it once the running workers have read the file.
    """
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        document = _service().signing_jwks(settings)
    else:
        assert file is not None
        document = load_keyset(file, passphrase_file)[0].public_jwks()
    if not document["keys"]:
        note("the keyset has only HMAC keys, which are secret: the JWKS is empty")
    click.echo(json.dumps(document, indent=2))


class _NotJSONError(ValueError):
    """A value Python's reader takes but a JSON text cannot carry, or carries ambiguously;
    its message follows "the value of NAME"."""


def _not_json(constant: str) -> Any:  # noqa: ARG001 - json.loads's hook signature
    raise _NotJSONError("is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        # 1e400 reads as infinity, which the token's JSON cannot carry.
        raise _NotJSONError("is not JSON (a number too large for a double)")
    return number


def _members_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Readers differ on which of two same-named members counts: the signed value must be
    # the one every relying party reads.
    seen: dict[str, Any] = {}
    for member, value in pairs:
        if member in seen:
            raise _NotJSONError(f"gives the member {member[:40]!r} twice")
        seen[member] = value
    return seen


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
                claims[name] = json.loads(
                    value,
                    parse_constant=_not_json,
                    parse_float=_finite,
                    object_pairs_hook=_members_once,
                )
            except _NotJSONError as exc:
                raise click.BadParameter(f"the value of {name!r} {exc}") from None
            except (ValueError, RecursionError):
                raise click.BadParameter(f"the value of {name!r} is not JSON") from None
        else:
            claims[name] = value
    return claims


@jwt.command()
@FILE
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
    keys, _ = load_keyset(file, passphrase_file, data_dir_ok=False)
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

    The token is read from stdin when TOKEN is '-' or left out. An unsigned token
    (alg 'none', which 'sealbox jwt verify' refuses) is shown too, with a warning.
    """
    text = token_text(token, "inspect")
    try:
        parsed = decode_unverified(text)
    except TokenError:
        unsigned = _unsigned(text)
        if unsigned is None:
            raise
        parsed = unsigned
        warn(
            "unsigned: the header says alg 'none', so anyone could have written this "
            "token; 'sealbox jwt verify' and sealbox's verifiers refuse it"
        )
    warn("not verified: the signature and claims were not checked")
    document = {"verified": False, "header": parsed.header, "claims": parsed.claims}
    click.echo(json.dumps(document, indent=2))


# A token's parts under a header or signature of the right shape, for the library to
# parse by the rules of every token: base64url, strict JSON, no duplicate member.
_STAND_IN_HEADER = "eyJhbGciOiJIUzI1NiJ9"  # {"alg":"HS256"}
_STAND_IN_SIGNATURE = "AA"
_STAND_IN_ALG = "HS256"


def _unsigned(text: str) -> UnverifiedToken | None:
    """An ``alg: none`` token's header and claims, for display; None for any other token.

    The library's parser refuses such a token before reading the rest of it, for
    decode_unverified as for every verifier, and that rule stays whole: inspect shows
    it by handing the library the token's parts in a token it does parse. The header
    goes where claims go (the same strict JSON and base64url); the claims go under a
    stand-in header that keeps every member of the token's but its alg, so that the
    members refused in any token (jwk, crit, a malformed kid...) are refused here too.
    """
    import base64

    parts = text.split(".")
    if len(parts) != 3 or len(text) > DEFAULT_MAX_TOKEN_SIZE:
        return None
    h64, p64, s64 = parts
    try:
        header = decode_unverified(f"{_STAND_IN_HEADER}.{h64}.{_STAND_IN_SIGNATURE}").claims
    except TokenError:
        return None  # the header is what the library refused: its own error says so
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.strip().lower() != "none":
        return None
    members = {**header, "alg": _STAND_IN_ALG}
    encoded = json.dumps(members, separators=(",", ":"), ensure_ascii=False).encode()
    stand_in = base64.urlsafe_b64encode(encoded).rstrip(b"=").decode("ascii")
    claims = decode_unverified(f"{stand_in}.{p64}.{s64 or _STAND_IN_SIGNATURE}").claims
    return UnverifiedToken(header, claims)
