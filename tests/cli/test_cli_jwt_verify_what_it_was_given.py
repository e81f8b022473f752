"""`sealbox jwt verify` given something close to what it asks for: a keyset file or a single
JWK as --jwks, a token a Windows editor saved with a byte order mark."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.cli._jwt import issue
from tests.conftest import run_sealbox

SERVICE_ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


def test_a_keyset_file_given_as_jwks_says_to_use_keyset_or_jwks(cli, keyset_file: Path) -> None:
    token = issue(cli, keyset_file)
    result = cli(["jwt", "verify", "--jwks", keyset_file], input=token.encode())
    assert result.code == 1
    quoted = shlex.quote(str(keyset_file))
    assert result.stderr.splitlines() == [
        f"sealbox: error: JWKS file {keyset_file}: a JWK Set is a JSON object with a 'keys' array",
        (
            f"sealbox: hint: it is a signing keyset (private keys, sealed): verify with "
            f"--keyset {quoted}, or publish its JWKS with 'sealbox jwt jwks {quoted} > jwks.json'"
        ),
    ]


def test_a_service_keyset_given_as_jwks_says_to_print_its_jwks(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"], env=SERVICE_ENV)
    assert r.returncode == 0, r.stderr.decode()
    sealed = data / "jwt-keyset.sealed"
    assert sealed.is_file()
    result = cli(["jwt", "verify", "--jwks", sealed], input=b"a.b.c")
    assert result.code == 1
    assert result.stderr.splitlines()[1] == (
        "sealbox: hint: it is the signing keyset of a service's data folder, sealed under "
        f"its master key: its JWKS is 'sealbox jwt jwks --data-dir {shlex.quote(str(data))}'"
    )


def test_a_single_jwk_given_as_jwks_says_a_set_holds_it_in_keys(
    cli, keyset_file: Path, jwks_file: Path
) -> None:
    token = issue(cli, keyset_file)
    one = jwks_file.parent / "one.jwk"
    one.write_text(json.dumps(json.loads(jwks_file.read_text())["keys"][0]))
    result = cli(["jwt", "verify", "--jwks", one], input=token.encode())
    assert result.code == 1
    assert result.stderr.splitlines()[1] == (
        'sealbox: hint: it is one JWK, not a set of them: a JWKS holds it as {"keys": [JWK]}'
    )


def test_a_jwks_that_is_only_malformed_keeps_the_library_s_message(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": {}}')
    result = cli(["jwt", "verify", "--jwks", bad], input=b"a.b.c")
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "sealbox: error: a JWK Set is a JSON object with a 'keys' array"
    ]


@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_a_token_saved_with_a_byte_order_mark_is_read(
    cli, keyset_file: Path, jwks_file: Path, command: str
) -> None:
    token = issue(cli, keyset_file)
    args = ["jwt", command, "-"] + (["--jwks", jwks_file] if command == "verify" else [])
    # Notepad saves UTF-8 with a byte order mark first, and a CRLF line end.
    result = cli(args, input=b"\xef\xbb\xbf" + token.encode() + b"\r\n")
    assert result.code == 0, result.stderr
    claims = json.loads(result.out)
    assert (claims if command == "verify" else claims["claims"])["sub"] == "alice"


def test_a_token_in_utf16_is_still_refused_as_not_ascii(cli, jwks_file: Path) -> None:
    result = cli(["jwt", "verify", "--jwks", jwks_file], input="\ufeffa.b.c".encode("utf-16-le"))
    assert result.code == 1
    assert result.stderr.splitlines() == ["sealbox: error: the token on stdin is not ASCII text"]
