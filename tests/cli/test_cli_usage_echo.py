"""Usage errors never repeat what was typed where sealbox did not expect it.

A password typed where an option or a command was expected (``sealbox decrypt -p
s3cret``, ``sealbox --hunter2``) would otherwise come back on stderr, which ends up in
CI logs and terminal scrollback. These errors say what was wrong and which ``--help``
to read, and may name sealbox's own options and commands, never the text given.
"""

from __future__ import annotations

import pytest

from sealbox import age
from tests.conftest import run_sealbox

CANARY = "Kq7canaryZ"  # in every word the user typed wrongly below; never in any output
_RECIPIENT = str(age.X25519Identity.generate().recipient())


def _assert_not_echoed(result, *, status: int = 2) -> list[str]:
    assert result.code == status, result.stderr
    assert result.stdout == b""
    assert CANARY not in result.stderr
    assert CANARY.lower() not in result.stderr.lower()
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sealbox: error: ")
    assert all(line.startswith(("sealbox: error: ", "sealbox: hint: ")) for line in lines)
    return lines


@pytest.mark.parametrize(
    ("args", "command"),
    [
        # an unknown long option, on a command, a group, and before any command
        (["encrypt", f"--{CANARY}", "-r", _RECIPIENT], "sealbox encrypt"),
        (["decrypt", f"--{CANARY}"], "sealbox decrypt"),
        (["keyring", f"--{CANARY}", "list"], "sealbox keyring"),
        ([f"--{CANARY}"], "sealbox"),
        (["--debug", f"--{CANARY}", "encrypt"], "sealbox"),
        (["jwt", "verify", "--jwks", "keys.json", f"--{CANARY}"], "sealbox jwt verify"),
        # --unknown=value: neither the name nor (above all) the value
        (["encrypt", f"--{CANARY}={CANARY}", "-r", _RECIPIENT], "sealbox encrypt"),
        (["decrypt", f"--passphrase={CANARY}"], "sealbox decrypt"),
        (["keyring", "list", "f", f"--x={CANARY}"], "sealbox keyring list"),
        # a single-dash word: click reads it as short options
        (["encrypt", f"-{CANARY}", "-r", _RECIPIENT], "sealbox encrypt"),
        (["encrypt", f"-a{CANARY}", "-r", _RECIPIENT], "sealbox encrypt"),
        (["hash-password", f"-{CANARY}"], "sealbox hash-password"),
    ],
)
def test_an_unknown_option_is_not_shown(cli, args, command):
    lines = _assert_not_echoed(cli(args))
    assert lines[0] == "sealbox: error: unknown option (not shown: it may be a secret)"
    assert lines[-1].startswith("sealbox: hint: ")
    assert lines[-1].rstrip(")").endswith(f"run '{command} --help' for usage")


def test_an_unknown_short_option_is_not_shown_even_as_one_letter(cli):
    # `decrypt` has no -p: the password after it must not come back, nor the letter.
    r = cli(["decrypt", "-p", CANARY])
    lines = _assert_not_echoed(r)
    assert lines == [
        "sealbox: error: unknown option (not shown: it may be a secret)",
        "sealbox: hint: run 'sealbox decrypt --help' for usage",
    ]
    assert "'-p'" not in r.stderr
    # Inside a cluster (-a is encrypt's, -Q is not), the unknown letter is not named either.
    r = cli(["encrypt", "-aQ", "-r", _RECIPIENT])
    _assert_not_echoed(r)
    assert "-Q" not in r.stderr and "'Q'" not in r.stderr


def test_a_close_match_is_suggested_by_its_own_name_only(cli):
    r = cli(["encrypt", "--recipeint", "x"])
    lines = _assert_not_echoed(r)
    assert "recipeint" not in r.stderr
    assert lines == [
        "sealbox: error: unknown option (not shown: it may be a secret)",
        (
            "sealbox: hint: did you mean --recipient or --recipients-file? "
            "(run 'sealbox encrypt --help' for usage)"
        ),
    ]
    # With a value after '=': the suggestion comes from the name, the value stays unseen.
    r = cli(["seal", f"--aa={CANARY}"])
    lines = _assert_not_echoed(r)
    assert lines[-1] == "sealbox: hint: did you mean --aad? (run 'sealbox seal --help' for usage)"


def test_a_flag_given_a_value_names_the_flag_not_the_value(cli):
    r = cli(["encrypt", f"--armor={CANARY}", "-r", _RECIPIENT])
    lines = _assert_not_echoed(r)
    assert lines[0] == "sealbox: error: option '--armor' does not take a value"


@pytest.mark.parametrize(
    "args",
    [
        ["decrypt", "in.age", CANARY],
        ["hash-password", CANARY],
        ["keyring", "list", "f", CANARY, "more"],
        ["jwt", "verify", "--jwks", "keys.json", "token", CANARY],
    ],
)
def test_an_unexpected_extra_argument_is_not_shown(cli, args):
    lines = _assert_not_echoed(cli(args))
    assert lines[0] == (
        "sealbox: error: got unexpected extra arguments (not shown: they may be secret)"
    )


@pytest.mark.parametrize(
    ("args", "command"),
    [
        ([CANARY], "sealbox"),
        (["keyring", CANARY], "sealbox keyring"),
        (["jwt", "keyset", CANARY], "sealbox jwt keyset"),
        ([f"{CANARY}\nsecond line"], "sealbox"),
    ],
)
def test_an_unknown_command_is_not_shown(cli, args, command):
    lines = _assert_not_echoed(cli(args))
    assert lines == [
        "sealbox: error: unknown command (not shown: it may be a secret)",
        f"sealbox: hint: run '{command} --help' for usage",
    ]


def test_a_mistyped_command_still_gets_the_nearest_names(cli):
    r = cli(["ecnrypt"])
    lines = _assert_not_echoed(r)
    assert "ecnrypt" not in r.stderr
    assert lines[-1] == (
        "sealbox: hint: did you mean encrypt or decrypt? (run 'sealbox --help' for usage)"
    )


def test_the_program_does_not_echo_them_either():
    # The real program (its direct path for encrypt/decrypt hands these to click).
    for args in (
        ["decrypt", "-p", CANARY],
        ["decrypt", f"--{CANARY}={CANARY}"],
        ["encrypt", "-r", _RECIPIENT, "in", CANARY],
        [CANARY],
    ):
        p = run_sealbox(args)
        assert p.returncode == 2, args
        assert p.stdout == b""
        assert CANARY.encode() not in p.stderr
        assert p.stderr.startswith(b"sealbox: error: ")
