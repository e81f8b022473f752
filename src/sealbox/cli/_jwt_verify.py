"""``sealbox jwt verify``: its options, declared once, and the run, free of click.

The click command (:mod:`sealbox.cli.jwt`) is built from :data:`VERIFY`, and so is
the direct path (:mod:`sealbox.cli._direct`), which reads a plain invocation —
``--jwks`` and the policy options, each value as the next argument or after ``=`` —
without loading click, as it does for ``encrypt``/``decrypt``: a token check is
often one line of a script, run once per request. Both call :func:`verify_token`.
Anything else (``--keyset`` and its passphrase, help, usage errors) goes through
click, which owns every message about usage (:func:`usage_problem` words the ones
about combinations for it).
"""

from __future__ import annotations

import os
import sys

from sealbox.cli._age_args import PASSPHRASE_FILE, Option
from sealbox.cli._io import CLIError, read_stdin, warn

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = [
    "MAX_TOKEN_INPUT",
    "TOKEN",
    "VERIFY",
    "token_text",
    "usage_problem",
    "verify_token",
]

MAX_TOKEN_INPUT = 64 * 1024
_URL_SCHEMES = ("https://", "http://")

# Read from stdin when left out or given as '-' (the way the docs show): a bearer token
# on the command line is visible to every user of the machine in the process list, and
# one given there is warned about (token_text).
TOKEN = Option((), "token", metavar="[TOKEN|-]")
"""The one positional argument of ``verify`` and ``inspect``."""

VERIFY: tuple[Option, ...] = (
    Option(
        ("--jwks",),
        "jwks",
        metavar="FILE|URL",
        help="The public keys: a JWKS file (as 'sealbox jwt jwks' prints) or an https:// "
        "URL serving one.",
    ),
    Option(
        ("--ca",),
        "ca",
        path=True,
        help="With a JWKS URL: the CA certificate (PEM) its server's certificate must chain "
        "to (default: the system's trust store).",
    ),
    Option(
        ("--pin",),
        "pins",
        repeat=True,
        metavar="sha256//BASE64",
        help="With a JWKS URL: an SPKI pin its server's key must also match (as 'sealbox ca "
        "pin' prints). Repeatable.",
    ),
    Option(
        ("--keyset",),
        "keyset_file",
        path=True,
        direct=False,  # its passphrase and prompt: click
        help="A keyset file instead (needed for HS256 tokens; asks for its passphrase).",
    ),
    Option(("--aud",), "aud", repeat=True, help="Accepted audience (repeat for several)."),
    Option(("--iss",), "iss", repeat=True, help="Accepted issuer (repeat for several)."),
    Option(
        ("--typ",), "token_type", old=("--type",), default="at+jwt", help="Required typ header."
    ),
    Option(("--any-type",), "any_type", takes_value=False, help="Accept any typ header."),
    Option(
        ("--leeway",),
        "leeway",
        default=0,
        int_range=(0, 300),
        help="Seconds of clock skew allowed.",
    ),
    PASSPHRASE_FILE,
    # Every command that prints for scripts takes --json (docs/cli.md); this one always does.
    Option(
        ("--json",),
        "as_json",
        takes_value=False,
        help="Print JSON for scripts (fields: docs/cli.md), as without it.",
    ),
)
"""``sealbox jwt verify``'s options, in the order of its help."""


def usage_problem(kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with this combination of options, or ``None``."""
    jwks, keyset = kwargs.get("jwks"), kwargs.get("keyset_file")
    if (jwks is None) == (keyset is None):
        return "give exactly one of --jwks and --keyset"
    empty = _empty_value(kwargs)
    if empty:
        return empty
    pins = kwargs.get("pins")
    if (kwargs.get("ca") is not None or pins) and not _is_url(jwks):
        return "--ca and --pin go with a JWKS URL (--jwks https://…)"
    if pins:
        # A malformed pin is a malformed argument (exit 2), found before any connection.
        from sealbox.exceptions import ConfigError
        from sealbox.tls.pinning import parse_pins

        try:
            parse_pins(pins)
        except ConfigError as exc:
            return f"--pin: {exc}"
    return None


def _empty_value(kwargs: Mapping[str, Any]) -> str | None:
    # An unset shell variable ("--aud $AUD"): said as a usage error naming the option.
    if kwargs.get("jwks") == "":
        return "--jwks: an empty value (a JWKS file or an https:// URL; is a shell variable unset?)"
    for name, param in (("--aud", "aud"), ("--iss", "iss")):
        if "" in (kwargs.get(param) or ()):
            return f"{name}: an empty value (is a shell variable unset?)"
    if kwargs.get("token_type") == "":
        return "--typ: an empty value (a type such as at+jwt; --any-type accepts any)"
    return None


def _is_url(jwks: object) -> bool:
    return isinstance(jwks, str) and jwks.lower().startswith(_URL_SCHEMES)  # RFC 3986 §3.1


def verify_token(
    token: str | None = None,
    *,
    jwks: str | None = None,
    ca: str | os.PathLike[str] | None = None,
    pins: Sequence[str] = (),
    keyset_file: str | os.PathLike[str] | None = None,
    aud: Sequence[str] = (),
    iss: Sequence[str] = (),
    token_type: str = "at+jwt",  # noqa: S107 - a media type, not a secret
    any_type: bool = False,
    leeway: int | str = 0,
    passphrase_file: str | os.PathLike[str] | None = None,
    as_json: bool = False,  # noqa: ARG001 - the output is JSON either way
) -> None:
    """Verify the token against the keys and policy given and print its claims (JSON).

    Raises:
        TokenError: the token is refused (the reason says why).
        CLIError: no token, or a JWKS file without verification keys.
    """
    from sealbox.jwt import TokenVerifier

    text = token_text(token, "verify")
    source: Any
    remote = None
    if jwks is not None and _is_url(jwks):
        from sealbox.jwt import RemoteJWKSet

        source = remote = RemoteJWKSet(jwks, ca=ca, pins=list(pins))
    elif jwks is not None:
        source = _jwks_file(jwks)
        if not len(source):
            raise CLIError(f"{jwks} holds no signature verification keys")
    else:
        from sealbox.cli._jwt_keyset_errors import load_keyset

        assert keyset_file is not None
        # Said before the passphrase is asked for (or found missing), if there is no file.
        source = load_keyset(keyset_file, passphrase_file, data_dir_ok=False)[0]
    verifier = TokenVerifier(
        source,
        audience=list(aud) or None,
        issuer=list(iss) or None,
        token_type=None if any_type else token_type,
        leeway=int(leeway),
        # A token without kid is checked with the one key of its algorithm, if one.
        require_kid=False,
    )
    try:
        claims = verifier.verify(text)
    finally:
        if remote is not None:
            remote.close()
    import json

    sys.stdout.write(json.dumps(claims, indent=2) + "\n")


def _jwks_file(path: str) -> Any:
    """The JWK Set in the file ``path``; a file that is something else close to one (a
    keyset, one JWK) is named, with what to give instead."""
    from sealbox.exceptions import KeyFormatError
    from sealbox.jwt import JWKSet
    from sealbox.jwt.jwk import MAX_JWKS_SIZE
    from sealbox.storage import read_limited

    data = read_limited(path, MAX_JWKS_SIZE, "JWKS file")
    try:
        return JWKSet.from_json(data)
    except KeyFormatError as exc:
        hint = _what_it_is(path, data)
        if hint is None:
            raise
        raise KeyFormatError(
            f"JWKS file {path}: {exc}", code=exc.code, facts=exc.facts, hint=hint
        ) from None


def _what_it_is(path: str, data: bytes) -> str | None:
    import json
    import shlex

    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or "keys" in document:
        return None
    from sealbox.jwt.keyset import SEALED_FORMAT

    quoted = shlex.quote(path)
    if document.get("format") == SEALED_FORMAT:
        return (
            f"it is a signing keyset (private keys, sealed): verify with --keyset {quoted}, "
            f"or publish its JWKS with 'sealbox jwt jwks {quoted} > jwks.json'"
        )
    from sealbox.jwt.keyset import SERVICE_SEALED_FORMAT as KEYSET_FORMAT

    if document.get("format") == KEYSET_FORMAT:
        folder = shlex.quote(os.path.dirname(path) or ".")  # noqa: PTH120 - no pathlib here
        return (
            "it is the signing keyset of a service's data folder, sealed under its master "
            f"key: its JWKS is 'sealbox jwt jwks --data-dir {folder}'"
        )
    if "kty" in document:
        return 'it is one JWK, not a set of them: a JWKS holds it as {"keys": [JWK]}'
    return None


def token_text(token: str | None, command: str) -> str:
    """The token given as the argument, or read from stdin (``-`` or none).

    A token given as the argument is used, with a warning naming the safer form: it is
    in the process list and the shell's history already, and scripts that pass it keep
    working. The warning never quotes it.
    """
    safer = f"sealbox jwt {command} … - < token.txt"
    if token is not None and token != "-":  # noqa: S105 - "-" means stdin
        if os.path.isfile(token):  # noqa: PTH113 - no pathlib on the direct path
            # A file's name, not a token (which is no file's name): said so, not parsed.
            raise CLIError(
                f"TOKEN is the token itself, and {token} is a file",
                hint=f"read the token from the file: sealbox jwt {command} … - < {token}",
            )
        warn(
            "a token on the command line is visible to other users (in the "
            "process list) and kept in the shell's history: give '-' and pipe it on stdin "
            f"({safer})"
        )
        return token.strip()
    if sys.stdin.isatty():
        raise CLIError("no token given", hint=f"pipe it on stdin: {safer}")
    # A byte order mark is what Windows editors put first in a file saved as UTF-8.
    raw = read_stdin(MAX_TOKEN_INPUT, "the token").removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise CLIError("the token on stdin is not ASCII text") from None
    if "\n" in text:
        # Two tokens, one a line, have 5 dot-separated parts: not to be called a JWE.
        lines = len(text.splitlines())
        raise CLIError(f"the token on stdin spans {lines} lines: give one token, on one line")
    return text
