"""`sealbox jwt verify` refusals say what to check, with the options that change the check."""

from __future__ import annotations

import time

from sealbox.jwt import SigningKeySet
from tests.cli._jwt import PASS, issue


def _refusal(cli, jwks_file, token, *options):
    result = cli(["jwt", "verify", "--jwks", jwks_file, *options, "-"], input=token.encode())
    assert (result.code, result.out) == (1, "")
    assert token not in result.stderr
    assert token.split(".")[2] not in result.stderr
    return result.stderr.splitlines()


def test_a_token_for_another_audience_names_its_audience_and_aud(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--aud", "api")
    assert _refusal(cli, jwks_file, token, "--aud", "other") == [
        "sealbox: error: the token is not meant for this audience (aud)",
        (
            "sealbox: hint: the token names the audience api: if it is meant for this service, "
            "pass that value with --aud (a token for another service stays refused)"
        ),
    ]


def test_a_token_from_another_issuer_names_its_issuer_and_iss(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--iss", "https://a.test")
    assert _refusal(cli, jwks_file, token, "--iss", "https://b.test")[1] == (
        "sealbox: hint: the token names the issuer https://a.test: if tokens from it are to "
        "pass, give that value with --iss (repeat --iss to accept several)"
    )


def test_a_missing_claim_points_at_inspect(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file)
    assert _refusal(cli, jwks_file, token, "--iss", "x") == [
        "sealbox: error: the token has no 'iss' claim",
        (
            "sealbox: hint: 'sealbox jwt inspect' shows the claims the token has; exp, iat and sub "
            "are required, iss with --iss and aud with --aud"
        ),
    ]


def test_another_type_names_typ_and_any_type(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--typ", "JWT")
    assert _refusal(cli, jwks_file, token)[1] == (
        "sealbox: hint: if a 'JWT' token is what this check is for, pass --typ JWT; "
        "--any-type accepts any type (only where these keys sign no other kind of token)"
    )


def test_a_signature_that_does_not_verify_says_to_check_the_keys(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    assert _refusal(cli, jwks_file, forged) == [
        "sealbox: error: the token's signature does not verify",
        (
            "sealbox: hint: the token was altered, or not signed by a key of --jwks or --keyset: "
            "check that they hold its issuer's current keys"
        ),
    ]


def test_an_expired_token_says_how_long_ago_it_expired(cli, keyset_file, jwks_file):
    keys = SigningKeySet.load(keyset_file, PASS)
    token = keys.issue("a", ttl=60, now=1_000_000_000)
    lines = _refusal(cli, jwks_file, token)
    assert lines[0] == "sealbox: error: the token has expired"
    assert lines[1].startswith("sealbox: hint: it expired ")
    assert lines[1].endswith(" days ago (2001-09-09T01:47:40Z): get a new token")


def test_a_token_expired_seconds_ago_offers_the_leeway_that_covers_it(cli, keyset_file, jwks_file):
    keys = SigningKeySet.load(keyset_file, PASS)
    token = keys.issue("a", ttl=60, now=int(time.time()) - 70)
    hint = _refusal(cli, jwks_file, token)[1]
    assert hint.startswith("sealbox: hint: it expired ")
    assert " seconds ago (" in hint
    leeway = int(hint.rsplit("--leeway ", 1)[1].split()[0])
    assert 10 < leeway <= 300
    # The leeway the hint names lets the token through.
    ok = cli(["jwt", "verify", "--jwks", jwks_file, "--leeway", str(leeway + 5), "-"],
             input=token.encode())  # fmt: skip
    assert ok.code == 0, ok.stderr


def test_a_token_not_valid_yet_says_when_it_will_be(cli, keyset_file, jwks_file):
    keys = SigningKeySet.load(keyset_file, PASS)
    token = keys.issue("a", ttl=60, now=int(time.time()) + 3 * 3600 + 60)
    lines = _refusal(cli, jwks_file, token)
    assert lines[0] == "sealbox: error: the token is not valid yet (nbf)"
    assert lines[1].startswith("sealbox: hint: its nbf is 3 hours from now (")
    assert lines[1].endswith("): check the clocks of this machine and of the issuer")
