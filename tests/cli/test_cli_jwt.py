"""`sealbox jwt …`, transcript style."""

from __future__ import annotations

import json
import stat
import time
from datetime import UTC, datetime, timedelta

import pytest

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet, decode_unverified
from tests.cli._jwt import ENV, PASS, _through_click, issue


def test_rotate_says_so_when_another_writers_newer_key_stays_primary(cli, keyset_file, monkeypatch):
    # Another writer rotates the file between this command's load and its save, with a
    # key made later: the merge keeps that key primary, and the output must not claim
    # that this command's key signs.
    rotate = SigningKeySet.rotate
    theirs = []

    def racing_rotate(self, *args, **kwargs):
        info = rotate(self, *args, **kwargs)
        other = SigningKeySet.load(keyset_file, PASS)
        theirs.append(rotate(other, now=datetime.now(UTC) + timedelta(minutes=1)))
        other.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)
        return info

    first = SigningKeySet.load(keyset_file, PASS).primary.kid
    monkeypatch.setattr(SigningKeySet, "rotate", racing_rotate)
    result = cli(["jwt", "keyset", "rotate", keyset_file], env=ENV)
    assert result.code == 0, result.stderr
    keys = {k.kid: k for k in SigningKeySet.load(keyset_file, PASS)}
    (ours,) = set(keys) - {first, theirs[0].kid}
    assert keys[theirs[0].kid].primary
    assert keys[ours].state == "decrypt-only"
    assert result.out == (
        f"rotated {keyset_file}: added key {ours} (EdDSA), which verifies; another "
        f"writer's newer key {theirs[0].kid} (EdDSA) signs\n"
    )


def test_create_rotate_list_retire(cli, tmp_path):
    path = tmp_path / "k.jwt"
    created = cli(["jwt", "keyset", "create", path], env=ENV)
    assert created.code == 0, created.stderr
    first = SigningKeySet.load(path, PASS).primary
    assert created.out == f"created {path} with signing key {first.kid} (EdDSA)\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    rotated = cli(["jwt", "keyset", "rotate", path, "--alg", "ES256"], env=ENV)
    second = SigningKeySet.load(path, PASS).primary
    assert rotated.out == (
        f"rotated {path}: new signing key {second.kid} (ES256); 1 older key still verifies\n"
    )

    listed = cli(["jwt", "keyset", "list", path, "--json"], env=ENV)
    rows = json.loads(listed.out)
    assert [(r["kid"], r["alg"], r["state"], r["primary"]) for r in rows] == [
        (first.kid, "EdDSA", "decrypt-only", False),
        (second.kid, "ES256", "active", True),
    ]
    assert set(rows[0]) == {
        "id", "type", "kid", "alg", "state", "primary", "created", "destroyed"
    }  # fmt: skip
    assert (rows[0]["id"], rows[0]["type"]) == (rows[0]["kid"], rows[0]["alg"])
    table = cli(["jwt", "keyset", "list", path], env=ENV).out.splitlines()
    assert table[0].split() == ["KID", "ALG", "STATE", "PRIMARY", "CREATED"]
    assert table[2].split()[:4] == [second.kid, "ES256", "active", "yes"]

    refused = cli(["jwt", "keyset", "retire", path, "--", second.kid], env=ENV)
    assert refused.code == 1
    assert refused.stderr.splitlines() == [
        (
            f"sealbox: error: key {second.kid} of keyset {path} is the primary key (it signs) "
            "and cannot be retired"
        ),
        (
            f"sealbox: hint: make another key sign first: 'sealbox jwt keyset rotate {path}' "
            "(or 'add', then 'set-primary')"
        ),
    ]
    retired = cli(["jwt", "keyset", "retire", path, "--yes", "--", first.kid], env=ENV)
    assert (retired.out, retired.stderr) == ("", f"destroyed key {first.kid} in {path}\n")
    assert (
        json.loads(cli(["jwt", "keyset", "list", path, "--json"], env=ENV).out)[0]["state"]
        == "destroyed"
    )
    jwks = json.loads(cli(["jwt", "jwks", path], env=ENV).out)
    assert [k["kid"] for k in jwks["keys"]] == [second.kid]


def test_create_refuses_to_overwrite(cli, keyset_file):
    before = keyset_file.read_bytes()
    result = cli(["jwt", "keyset", "create", keyset_file], env=ENV)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        f"sealbox: error: {keyset_file} already exists",
        "sealbox: hint: choose another name, or use --force to replace it and lose its keys",
    ]
    assert keyset_file.read_bytes() == before


def test_create_with_force_and_a_passphrase_file(cli, keyset_file, tmp_path):
    secret = tmp_path / "pass.txt"
    secret.write_text("from a file\n")
    result = cli(
        ["jwt", "keyset", "create", keyset_file, "--force", "--yes", "--alg", "HS256",
         "--passphrase-file", secret]
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert SigningKeySet.load(keyset_file, "from a file").primary.alg == "HS256"
    jwks = cli(["jwt", "jwks", keyset_file, "--passphrase-file", secret])
    assert json.loads(jwks.out) == {"keys": []}
    assert "only HMAC keys" in jwks.stderr


def test_no_passphrase_and_no_terminal(cli, keyset_file):
    result = cli(["jwt", "jwks", keyset_file])
    assert result.code == 1
    assert "no passphrase given" in result.stderr


def test_verify_with_a_missing_keyset_says_so_before_asking_for_a_passphrase(cli, tmp_path):
    # It said "no passphrase given and no terminal to ask on", for a file not there.
    result = cli(["jwt", "verify", "--keyset", tmp_path / "none.jwt", "-"], input=b"a.b.c")
    assert result.code == 1
    missing = tmp_path / "none.jwt"
    assert result.stderr == (
        f"sealbox: error: keyset {missing} does not exist\n"
        f"sealbox: hint: create one with 'sealbox jwt keyset create {missing}'\n"
    )


def test_issue_and_verify(cli, keyset_file, jwks_file):
    token = issue(
        cli, keyset_file, "--aud", "api", "--aud", "billing", "--iss", "https://me",
        "--ttl", "60", "--scope", "read write", "--claim", "role=admin",
        "--claim", "level:=3", "--claim", "flags:=[1, 2]",
    )  # fmt: skip
    parsed = decode_unverified(token)
    assert parsed.header["typ"] == "at+jwt"
    claims = parsed.claims
    assert claims["exp"] - claims["iat"] == 60
    assert (claims["role"], claims["level"], claims["flags"]) == ("admin", 3, [1, 2])
    result = cli(
        ["jwt", "verify", "--jwks", jwks_file, "--aud", "api", "--iss", "https://me", token]
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.out) == claims
    # From stdin, which keeps the token out of argv.
    piped = cli(["jwt", "verify", "--jwks", jwks_file, "--aud", "billing"], input=token.encode())
    assert json.loads(piped.out) == claims
    dash = cli(
        ["jwt", "verify", "--jwks", jwks_file, "--aud", "api", "-"], input=f"{token}\n".encode()
    )
    assert dash.code == 0


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("novalue", "is not NAME=VALUE"),
        ("=x", "is not NAME=VALUE"),
        ("n:=nope", "is not JSON"),
        ("n:=NaN", "the value of 'n' is not JSON"),
        ("n:=[-Infinity]", "the value of 'n' is not JSON"),
        ("sub=admin", "'sub' has its own option"),
        ("exp:=1", "'exp' has its own option"),
    ],
)
def test_issue_bad_claims_are_usage_errors(cli, keyset_file, claim, message):
    result = cli(["jwt", "issue", keyset_file, "--sub", "a", "--claim", claim], env=ENV)
    assert result.code == 2
    assert message in result.stderr


def test_issue_needs_sub_and_a_positive_ttl(cli, keyset_file):
    assert cli(["jwt", "issue", keyset_file], env=ENV).code == 2
    assert cli(["jwt", "issue", keyset_file, "--sub", "a", "--ttl", "0"], env=ENV).code == 2


@pytest.mark.parametrize("option", ["--sub", "--aud", "--iss", "--typ", "--scope"])
def test_issue_with_an_empty_option_value_is_a_usage_error(cli, keyset_file, option):
    # An unset shell variable ("--aud $AUD"): named as the option, exit 2, no token
    # (an empty --typ made one that no verifier asks for).
    args = ["--sub", "alice", option, ""] if option != "--sub" else ["--sub", ""]
    result = cli(["jwt", "issue", keyset_file, *args], env=ENV)
    assert (result.code, result.out) == (2, "")
    assert result.stderr.startswith(f"sealbox: error: {option}: an empty value")


def test_issue_with_a_claim_given_twice_is_a_usage_error(cli, keyset_file):
    # The last one was signed, unsaid: "--claim tenant=a ... --claim tenant:=7".
    result = cli(
        ["jwt", "issue", keyset_file, "--sub", "alice", "--claim", "t=a", "--claim", "t:=7"],
        env=ENV,
    )
    assert (result.code, result.out) == (2, "")
    assert "the claim 't' is given twice" in result.stderr


@pytest.mark.parametrize("path", ["direct", "click"])
@pytest.mark.parametrize("option", ["--aud", "--iss", "--typ"])
def test_verify_with_an_empty_option_value_is_a_usage_error(
    cli, keyset_file, jwks_file, monkeypatch, path, option
):
    run = cli if path == "direct" else _through_click(monkeypatch)
    token = issue(cli, keyset_file, "--aud", "api")
    extra = [] if option == "--aud" else ["--aud", "api"]
    result = run(["jwt", "verify", "--jwks", jwks_file, *extra, option, "", token])
    assert (result.code, result.out) == (2, "")
    assert result.stderr.startswith(f"sealbox: error: {option}: an empty value")


@pytest.mark.parametrize("path", ["direct", "click"])
def test_the_commands_that_always_print_json_take_json_too(
    cli, keyset_file, jwks_file, monkeypatch, path
):
    # docs/cli.md: a command that prints for scripts takes --json; these print JSON
    # either way, and a script that passes --json everywhere must not get exit 2.
    run = cli if path == "direct" else _through_click(monkeypatch)
    token = issue(cli, keyset_file, "--aud", "api")
    commands = [
        (["jwt", "verify", "--jwks", jwks_file, "--aud", "api", "-"], token.encode(), {}),
        (["jwt", "inspect", "-"], token.encode(), {}),
        (["jwt", "jwks", keyset_file], b"", ENV),
    ]
    for args, stdin, env in commands:
        plain = run(args, input=stdin, env=env)
        with_json = run([*args[:2], "--json", *args[2:]], input=stdin, env=env)
        assert (with_json.code, with_json.stderr) == (0, plain.stderr), args
        assert json.loads(with_json.out) == json.loads(plain.out)


def test_verify_refusals(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--aud", "api")
    cases = [
        (["--aud", "other", token],
         "sealbox: error: the token is not meant for this audience (aud)"),
        (["--aud", "api", "--iss", "x", token], "sealbox: error: the token has no 'iss' claim"),
        (["--aud", "api", token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")],
         "sealbox: error: the token's signature does not verify"),
        (["--aud", "api", "--type", "id+jwt", token],
         "sealbox: error: the token's type (typ) is 'at+jwt', expected 'id+jwt'"),
        (["--aud", "api", "bm90.a.bbbb"], "sealbox: error: the header is not valid JSON"),
    ]  # fmt: skip
    for args, first_line in cases:
        # The token on stdin: one in argv is warned about first (tested below).
        *options, given = args
        result = cli(["jwt", "verify", "--jwks", jwks_file, *options, "-"], input=given.encode())
        assert result.code == 1, args
        assert result.out == ""
        assert result.stderr.splitlines()[0] == first_line


def test_verify_without_aud_explains_the_option(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--aud", "api")
    result = cli(["jwt", "verify", "--jwks", jwks_file], input=token.encode())
    assert result.code == 1
    assert result.stderr.splitlines()[1] == (
        "sealbox: hint: pass --aud with the audience the token is for (api)"
    )


def test_verify_expired(cli, keyset_file, jwks_file):
    keys = SigningKeySet.load(keyset_file, PASS)
    token = keys.issue("a", ttl=60, now=1_000_000_000)
    result = cli(["jwt", "verify", "--jwks", jwks_file], input=token.encode())
    assert result.code == 1
    assert result.stderr.splitlines()[0] == "sealbox: error: the token has expired"
    lenient = cli(["jwt", "verify", "--jwks", jwks_file, "--leeway", "301", token])
    assert lenient.code == 2


def test_verify_any_type(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--type", "JWT")
    assert cli(["jwt", "verify", "--jwks", jwks_file, token]).code == 1
    assert cli(["jwt", "verify", "--jwks", jwks_file, "--any-type", token]).code == 0


def test_verify_hs256_with_the_keyset(cli, tmp_path):
    path = tmp_path / "hs.jwt"
    SigningKeySet.generate("HS256").save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    token = issue(cli, path)
    result = cli(["jwt", "verify", "--keyset", path, token], env=ENV)
    assert result.code == 0, result.stderr
    assert json.loads(result.out)["sub"] == "alice"


def test_verify_needs_exactly_one_key_source(cli, keyset_file, jwks_file):
    both = cli(["jwt", "verify", "--jwks", jwks_file, "--keyset", keyset_file, "t"], env=ENV)
    neither = cli(["jwt", "verify", "t"])
    for result in (both, neither):
        assert result.code == 2
        assert "give exactly one of --jwks and --keyset" in result.stderr


def test_verify_with_a_bad_jwks_file(cli, tmp_path):
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": [{"kty": "oct", "k": "AAAA"}]}')
    result = cli(["jwt", "verify", "--jwks", bad, "a.b.c"])
    assert result.code == 1
    assert "symmetric (oct) key" in result.stderr
    bad.write_text('{"keys": []}')
    result = cli(["jwt", "verify", "--jwks", bad], input=b"a.b.c")
    assert result.stderr == f"sealbox: error: {bad} holds no signature verification keys\n"


def test_inspect(cli, keyset_file):
    token = issue(cli, keyset_file, "--aud", "api")
    result = cli(["jwt", "inspect", "-"], input=token.encode())
    assert result.code == 0
    doc = json.loads(result.out)
    assert doc["verified"] is False
    assert doc["header"]["alg"] == "EdDSA"
    assert doc["claims"]["sub"] == "alice"
    assert result.stderr == (
        "sealbox: warning: not verified: the signature and claims were not checked\n"
    )
    assert json.loads(cli(["jwt", "inspect"], input=token.encode()).out) == doc


def test_inspect_garbage(cli):
    result = cli(["jwt", "inspect"], input=b"x.y")
    assert result.code == 1
    assert (
        result.stderr
        == "sealbox: error: a signed JWT has 3 dot-separated parts, this token has 2\n"
    )
    result = cli(["jwt", "inspect"], input=b"\xff")
    assert result.stderr == "sealbox: error: the token on stdin is not ASCII text\n"


def test_help_lists_the_commands(cli):
    result = cli(["jwt", "--help"])
    assert result.code == 0
    for name in ("keyset", "jwks", "issue", "verify", "inspect"):
        assert name in result.out
    assert "retire" not in cli(["jwt", "keyset", "--help"]).out  # hidden: the older name


def test_keyset_passphrase_prompt_on_a_terminal(tmp_path):
    from tests.cli.test_cli_passwords import _run_on_a_terminal

    path = tmp_path / "k.jwt"
    code, output = _run_on_a_terminal(
        ["jwt", "keyset", "create", str(path)], [b"typed passphrase", b"typed passphrase"]
    )
    assert code == 0, output
    assert b"New keyset passphrase (again):" in output
    assert b"typed passphrase" not in output
    assert SigningKeySet.load(path, "typed passphrase").primary.alg == "EdDSA"


def test_a_key_id_that_starts_with_a_dash(cli, tmp_path):
    path = tmp_path / "keys.sealed"
    r = cli(["jwt", "keyset", "retire", path, "-abcdefgh"], env=ENV)
    assert r.code == 2
    assert "a value that starts with '-' goes after '--'" in r.stderr


def test_destroy_disable_and_enable_by_their_new_names(cli, tmp_path):
    path = tmp_path / "k.jwt"
    assert cli(["jwt", "keyset", "create", path], env=ENV).code == 0
    first = SigningKeySet.load(path, PASS).primary.kid
    assert cli(["jwt", "keyset", "rotate", path], env=ENV).code == 0
    second = SigningKeySet.load(path, PASS).primary.kid
    assert cli(["jwt", "keyset", "disable", path, "--", first], env=ENV).stderr == (
        f"disabled key {first} in {path}\n"
    )
    assert [k["kid"] for k in json.loads(cli(["jwt", "jwks", path], env=ENV).out)["keys"]] == [
        second
    ]
    assert cli(["jwt", "keyset", "enable", path, "--", first], env=ENV).stderr == (
        f"key {first} in {path} is decrypt-only\n"
    )
    assert cli(["jwt", "keyset", "destroy", path, "--yes", "--", first], env=ENV).stderr == (
        f"destroyed key {first} in {path}\n"
    )
    states = {k.kid: k.state for k in SigningKeySet.load(path, PASS)}
    assert states == {first: "destroyed", second: "active"}


def test_destroy_without_a_terminal_needs_yes(cli, tmp_path):
    path = tmp_path / "k.jwt"
    assert cli(["jwt", "keyset", "create", path], env=ENV).code == 0
    first = SigningKeySet.load(path, PASS).primary.kid
    assert cli(["jwt", "keyset", "rotate", path], env=ENV).code == 0
    for command in ("destroy", "retire"):
        r = cli(["jwt", "keyset", command, path, "--", first], env=ENV)
        assert r.code == 1
        assert r.stderr.splitlines() == [
            (
                f"sealbox: error: destroying key {first} cannot be undone and there is no "
                "terminal to confirm on"
            ),
            "sealbox: hint: pass --yes to confirm",
        ]
        assert {k.kid: k.state for k in SigningKeySet.load(path, PASS)}[first] == "decrypt-only"


def test_old_option_spellings_still_work_and_are_hidden(cli, tmp_path):
    path = tmp_path / "k.jwt"
    assert cli(["jwt", "keyset", "create", path, "--alg", "ES256"], env=ENV).code == 0
    assert cli(["jwt", "keyset", "rotate", path, "--type", "RS256"], env=ENV).code == 0
    assert [k.alg for k in SigningKeySet.load(path, PASS)] == ["ES256", "RS256"]
    help_text = cli(["jwt", "keyset", "create", "--help"]).out
    assert "--type" in help_text
    assert "--alg" not in help_text
    old = cli(["jwt", "issue", path, "--sub", "a", "--type", "JWT"], env=ENV).out.strip()
    new = cli(["jwt", "issue", path, "--sub", "a", "--typ", "JWT"], env=ENV).out.strip()
    assert decode_unverified(old).header["typ"] == decode_unverified(new).header["typ"] == "JWT"
    issue_help = cli(["jwt", "issue", "--help"]).out
    assert "--typ " in issue_help
    assert "--type" not in issue_help


def test_verify_reads_the_token_from_stdin_given_as_dash(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file)
    r = cli(["jwt", "verify", "--jwks", jwks_file, "-"], input=token.encode() + b"\n")
    assert r.code == 0, r.stderr
    assert json.loads(r.out)["sub"] == "alice"
    r = cli(["jwt", "inspect", "-"], input=token.encode())
    assert json.loads(r.out)["claims"]["sub"] == "alice"


# -- a token without kid, and a JWKS fetched over HTTPS --------------------------------------


def test_direct_and_click_verify_alike(cli, keyset_file, jwks_file, monkeypatch):
    token = issue(cli, keyset_file, "--aud", "api")
    cases = [
        ["--aud", "api", token],
        ["--aud", "api", "--type", "JWT", token],
        ["--aud", "other", token],
        ["--aud", "api", "--leeway=5", "--any-type", token],
        ["--iss", "x", "--aud", "api", token],
        [token],
    ]
    direct = [cli(["jwt", "verify", "--jwks", jwks_file, *args]) for args in cases]
    click = _through_click(monkeypatch)
    through_click = [click(["jwt", "verify", "--jwks", jwks_file, *args]) for args in cases]
    assert direct == through_click
    assert [r.code for r in direct] == [0, 1, 1, 0, 1, 1]


def test_a_plain_jwt_verify_runs_without_click(keyset_file, jwks_file):
    import subprocess
    import sys

    token = SigningKeySet.load(keyset_file, PASS).issue("alice", audience="api")
    code = (
        "import sys, json\n"
        "from sealbox.cli._direct import run_direct\n"
        f"status = run_direct(['jwt', 'verify', '--jwks', {str(jwks_file)!r}, '--aud', 'api',"
        f" {token!r}])\n"
        "print(json.dumps([status, 'click' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [0, False]
    assert json.loads("\n".join(out.stdout.splitlines()[:-1]))["sub"] == "alice"


# -- a token on the command line, and the audience hint ----------------------------------------


@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_a_token_on_the_command_line_works_with_a_warning_naming_the_safer_form(
    cli, keyset_file, jwks_file, command
):
    # Other users read argv in the process list, and the shell keeps it in its history.
    token = issue(cli, keyset_file, "--aud", "api")
    options = ["--jwks", jwks_file, "--aud", "api"] if command == "verify" else []
    result = cli(["jwt", command, *options, token])
    assert result.code == 0, result.stderr
    warning = (
        "sealbox: warning: a token on the command line is visible to other users (in the "
        "process list) and kept in the shell's history: give '-' and pipe it on stdin "
        f"(sealbox jwt {command} … - < token.txt)"
    )
    assert result.stderr.splitlines()[0] == warning
    for part in token.split("."):
        assert part not in result.stderr
    piped = cli(["jwt", command, *options, "-"], input=token.encode())
    assert piped.code == 0
    assert "command line" not in piped.stderr
    assert json.loads(piped.out) == json.loads(result.out)


def test_a_refused_token_on_the_command_line_is_warned_about_too(cli, keyset_file, jwks_file):
    token = issue(cli, keyset_file, "--aud", "api")
    result = cli(["jwt", "verify", "--jwks", jwks_file, "--aud", "other", token])
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sealbox: warning: a token on the command line is visible")
    assert lines[1] == "sealbox: error: the token is not meant for this audience (aud)"


def test_an_empty_audience_list_gets_no_hint_to_pass_aud(cli, tmp_path):
    # It said "the token names an audience" and hinted at --aud, for a token naming none.
    import jwt  # PyJWT: sealbox issues no token with an empty audience list
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sealbox.jwt import JWKSet, VerificationKey

    private = ed25519.Ed25519PrivateKey.generate()
    public = VerificationKey.from_public_key(private.public_key(), alg="EdDSA", kid="k")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKSet([public]).to_dict()))
    now = int(time.time())
    claims = {"sub": "a", "aud": [], "iat": now, "exp": now + 60}
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": "k", "typ": "at+jwt"})
    result = cli(["jwt", "verify", "--jwks", jwks, "-"], input=token.encode())
    assert (result.code, result.stderr) == (
        1,
        "sealbox: error: the token's 'aud' claim is an empty list: it names no audience\n",
    )


@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_a_file_name_given_as_the_token_says_how_to_read_the_file(
    cli, keyset_file, jwks_file, tmp_path, monkeypatch, command
):
    # It warned about a token on the command line, then said "this token has 2 parts".
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token.txt").write_text(issue(cli, keyset_file) + "\n")
    options = ["--jwks", jwks_file] if command == "verify" else []
    result = cli(["jwt", command, *options, "token.txt"])
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "sealbox: error: TOKEN is the token itself, and token.txt is a file",
        f"sealbox: hint: read the token from the file: sealbox jwt {command} … - < token.txt",
    ]


def test_two_lines_on_stdin_are_not_taken_for_a_jwe(cli, keyset_file, jwks_file):
    # Two tokens, one a line, made 5 dot-separated parts: "the token is a JWE".
    token = issue(cli, keyset_file)
    result = cli(["jwt", "verify", "--jwks", jwks_file], input=f"{token}\n{token}\n".encode())
    assert (result.code, result.stderr) == (
        1,
        "sealbox: error: the token on stdin spans 2 lines: give one token, on one line\n",
    )
    assert token.split(".")[2] not in result.stderr
