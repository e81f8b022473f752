"""`sealbox jwt issue --claim NAME:=JSON`: a value JSON readers disagree on is a usage error
that names the claim, before any passphrase is asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._jwt import ENV, issue


@pytest.mark.parametrize("number", ["1e400", "-1e400", "[1, 2e999]", '{"x": 9e9999}'])
def test_a_number_too_large_for_a_double_is_a_usage_error_naming_the_claim(
    cli, keyset_file: Path, number: str
) -> None:
    # Python reads 1e400 as infinity, which no JSON text can carry.
    result = cli(["jwt", "issue", keyset_file, "--sub", "a", "--claim", f"n:={number}"], env=ENV)
    assert result.code == 2
    assert result.stderr.splitlines()[0] == (
        "sealbox: error: invalid value for '--claim': the value of 'n' is not JSON "
        "(a number too large for a double)"
    )


def test_a_json_object_giving_a_member_twice_is_refused_naming_it(cli, keyset_file: Path) -> None:
    # Which of the two a relying party reads is not for the issuer to guess.
    claim = 'cnf:={"jkt": "a", "jkt": "b"}'
    result = cli(["jwt", "issue", keyset_file, "--sub", "a", "--claim", claim], env=ENV)
    assert result.code == 2
    assert result.stderr.splitlines()[0] == (
        "sealbox: error: invalid value for '--claim': the value of 'cnf' gives the member "
        "'jkt' twice"
    )


def test_large_and_nested_json_values_within_range_are_signed_as_given(
    cli, keyset_file: Path
) -> None:
    import base64
    import json

    token = issue(
        cli, keyset_file, "--claim", "big:=1e300", "--claim", 'o:={"a": [{"a": 1}], "b": 1}'
    )
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["big"] == 1e300
    assert claims["o"] == {"a": [{"a": 1}], "b": 1}


def test_json_nested_past_the_reader_s_depth_is_a_usage_error(cli, keyset_file: Path) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    result = cli(["jwt", "issue", keyset_file, "--sub", "a", "--claim", f"n:={deep}"], env=ENV)
    assert result.code == 2
    assert result.stderr.splitlines()[0] == (
        "sealbox: error: invalid value for '--claim': the value of 'n' is not JSON"
    )
