"""Usage errors that point at the right name, completion scripts, and binary output kept off
terminals."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from sealbox import age
from tests.conftest import run_sealbox

_RECIPIENT = str(age.X25519Identity.generate().recipient())


@pytest.mark.parametrize(
    ("args", "error", "hint"),
    [
        (
            ["encrypt", "--recipeint", "x"],
            "unknown option (not shown: it may be a secret)",
            (
                "did you mean --recipient or --recipients-file? "
                "(run 'sealbox encrypt --help' for usage)"
            ),
        ),
        (
            ["seal", "--aa", "x"],
            "unknown option (not shown: it may be a secret)",
            "did you mean --aad? (run 'sealbox seal --help' for usage)",
        ),
        (
            ["encrypt", "--bogus"],
            "unknown option (not shown: it may be a secret)",
            "run 'sealbox encrypt --help' for usage",
        ),
        (
            ["ecnrypt"],
            "unknown command (not shown: it may be a secret)",
            "did you mean encrypt or decrypt? (run 'sealbox --help' for usage)",
        ),
        (
            ["keyring", "lst"],
            "unknown command (not shown: it may be a secret)",
            "did you mean list? (run 'sealbox keyring --help' for usage)",
        ),
        (
            ["jwt", "keyset", "xyzzy"],
            "unknown command (not shown: it may be a secret)",
            "run 'sealbox jwt keyset --help' for usage",
        ),
    ],
)
def test_a_mistyped_name_gets_the_nearest_one(cli, args, error, hint):
    r = cli(args)
    assert r.code == 2
    assert r.stdout == b""
    assert r.stderr.splitlines() == [f"sealbox: error: {error}", f"sealbox: hint: {hint}"]


@pytest.mark.parametrize(
    "args",
    [
        ["secrets", "set", "s.env", "NAME", "canary-value-9f3"],
        ["secrets", "set", "s.env", "NAME", "canary-value-9f3", "more"],
        ["hash-password", "canary-value-9f3"],
    ],
)
def test_an_extra_argument_is_never_echoed_as_it_may_be_a_secret(cli, args):
    r = cli(args, input=b"")
    assert r.code == 2
    assert r.stderr.splitlines()[0] == (
        "sealbox: error: got unexpected extra arguments (not shown: they may be secret)"
    )
    assert "canary-value-9f3" not in r.stderr + r.out


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["users", "list", "--data-dir"], "sealbox users list"),
        (["jwt", "verify", "--jwks"], "sealbox jwt verify"),
        (["--debug", "keyring", "create", "--recipient"], "sealbox keyring create"),
    ],
)
def test_an_option_without_its_value_gets_the_commands_own_help(cli, args, command):
    r = cli(args)
    assert r.code == 2
    assert r.stderr.splitlines()[-1] == f"sealbox: hint: run '{command} --help' for usage"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["encrypt", "-R", _RECIPIENT, "-o", ""], "invalid value for '-o' / '--output'"),
        (["encrypt", "-R", _RECIPIENT, "--output="], "invalid value for '-o' / '--output'"),
        (["decrypt", ""], "invalid value for '[INPUT]'"),
        (["keygen", "-o", ""], "invalid value for '-o' / '--output'"),
        (["key", "generate", "-o", ""], "invalid value for '-o' / '--output'"),
        (["users", "list", "--data-dir", ""], "invalid value for '--data-dir'"),
        (["jwt", "verify", "--keyset", "", "t"], "invalid value for '--keyset'"),
    ],
)
def test_an_empty_file_name_is_a_usage_error_not_the_current_folder(
    cli, tmp_path, monkeypatch, args, said
):
    # Path('') is '.': an unset shell variable (-o "$OUT") spoke of the current folder.
    monkeypatch.chdir(tmp_path)
    r = cli(args)
    assert r.code == 2
    assert r.stderr.splitlines()[0] == (
        f"sealbox: error: {said}: an empty file name (is a shell variable unset?)"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_empty_jwks_value_is_a_usage_error(cli):
    r = cli(["jwt", "verify", "--jwks", "", "t"])
    assert r.code == 2
    assert r.stderr.startswith("sealbox: error: --jwks: an empty value")


def test_an_unknown_option_gets_no_hint_about_values_that_start_with_a_dash(cli):
    for args in (
        ["encrypt", "--bogus"],
        ["encrypt", "--recipeint=x"],
        ["encrypt", "-Z", "x"],
        ["keyring", "list", "--jsn"],
    ):
        r = cli(args)
        assert r.code == 2
        assert "goes after '--'" not in r.stderr


def test_a_value_read_as_short_options_gets_the_dash_hint(cli, tmp_path):
    r = cli(["keyring", "disable", tmp_path / "k", "-x1f2a3b4"])
    assert r.code == 2
    assert r.stderr.splitlines()[-1] == (
        "sealbox: hint: a value that starts with '-' goes after '--'; "
        "run 'sealbox keyring disable --help' for usage"
    )


def test_hidden_commands_are_not_suggested(cli):
    r = cli(["jwt", "keyset", "retir"])
    assert r.code == 2
    assert "retire" not in r.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_of_each_shell(cli, shell):
    r = cli(["completion", shell])
    assert r.code == 0, r.stderr
    assert "_SEALBOX_COMPLETE" in r.out
    assert "sealbox" in r.out


def test_completion_refuses_an_unknown_shell(cli):
    r = cli(["completion", "tcsh"])
    assert r.code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in r.stderr


def test_the_completion_script_completes_commands_and_options():
    def complete(words: str, cword: int) -> list[str]:
        env = {
            **os.environ,
            "_SEALBOX_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
        result = subprocess.run(
            [sys.executable, "-m", "sealbox"], env=env, capture_output=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.decode().splitlines()

    assert "plain,completion" in complete("sealbox compl", 1)
    assert "plain,create" in complete("sealbox keyring cr", 2)
    assert "plain,--keyring" in complete("sealbox seal --", 2)
    assert "plain,retire" not in complete("sealbox jwt keyset r", 3)


def test_the_bash_script_loads_in_bash(tmp_path):
    bash = "/bin/bash"
    if not os.path.exists(bash):
        pytest.skip("no bash here")
    script = run_sealbox(["completion", "bash"]).stdout
    (tmp_path / "sealbox.bash").write_bytes(script)
    result = subprocess.run(
        [bash, "-c", f"source {tmp_path / 'sealbox.bash'} && complete -p sealbox"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"_sealbox_completion" in result.stdout


def _on_a_terminal(args: list[str], cwd) -> tuple[int, bytes]:
    """Run sealbox with a pseudo-terminal as stdin, stdout and stderr; all it printed."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "sealbox", *args])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output


@pytest.fixture
def identity(tmp_path):
    key = age.X25519Identity.generate()
    (tmp_path / "key.txt").write_text(key.expose_secret() + "\n")
    return key


def test_encrypt_to_a_terminal_is_refused_with_a_hint_for_armor(tmp_path, identity):
    (tmp_path / "plain").write_bytes(b"data")
    for args in (["-o", "-", "plain"], ["plain"]):
        code, output = _on_a_terminal(["encrypt", "-i", "key.txt", *args], tmp_path)
        assert code == 1
        assert output.splitlines() == [
            b"sealbox: error: refusing to write binary output to the terminal",
            b"sealbox: hint: use -a for text output, or -o FILE",
        ]
    code, output = _on_a_terminal(["encrypt", "-a", "-i", "key.txt", "-o", "-", "plain"], tmp_path)
    assert code == 0
    assert b"-----BEGIN AGE ENCRYPTED FILE-----" in output


def test_decrypt_of_binary_data_to_a_terminal_is_refused(tmp_path, identity):
    (tmp_path / "bin.age").write_bytes(age.encrypt(b"\x00\xff\x01binary", [identity.recipient()]))
    (tmp_path / "text.age").write_bytes(age.encrypt(b"hello\n", [identity.recipient()]))
    code, output = _on_a_terminal(["decrypt", "-i", "key.txt", "-o", "-", "bin.age"], tmp_path)
    assert code == 1
    assert output.startswith(b"sealbox: error: refusing to write binary output to the terminal")
    assert b"\x00" not in output
    code, output = _on_a_terminal(["decrypt", "-i", "key.txt", "-o", "-", "text.age"], tmp_path)
    assert (code, output) == (0, b"hello\r\n")


def test_a_binary_secret_value_is_not_written_to_a_terminal(tmp_path, identity):
    sfile = tmp_path / "s.env"
    assert run_sealbox(["secrets", "init", sfile, "-r", identity.recipient()]).returncode == 0
    assert run_sealbox(["secrets", "set", sfile, "BIN"], input=b"\x00\x01\x02").returncode == 0
    code, output = _on_a_terminal(["secrets", "get", "s.env", "BIN", "-i", "key.txt"], tmp_path)
    assert code == 1
    assert output.splitlines() == [
        b"sealbox: error: refusing to write binary output to the terminal",
        b"sealbox: hint: redirect it to a file (> FILE), or pipe it",
    ]
    piped = run_sealbox(["secrets", "get", sfile, "BIN", "-i", tmp_path / "key.txt"])
    assert (piped.returncode, piped.stdout) == (0, b"\x00\x01\x02")


def test_a_file_name_with_escape_sequences_is_shown_escaped_in_errors(tmp_path):
    # A name from the user or a file must not drive the terminal: an ESC sequence would
    # clear the screen, a bidi override (U+202E) would show the name reversed.
    name = tmp_path / "id\x1b[2J\u202ekey"
    r = run_sealbox(["decrypt", "-i", name, os.devnull])
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "\x1b" not in err
    assert "\u202e" not in err
    assert "id\\x1b[2J\\u202ekey does not exist" in err


def test_messages_keep_their_own_newlines_and_tabs():
    from sealbox.cli._io import terminal_safe

    assert terminal_safe("refused\n  line 1\tx") == "refused\n  line 1\tx"
    assert terminal_safe("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"
    assert terminal_safe("a\x9bb\x7fc\u200bd") == "a\\x9bb\\x7fc\\u200bd"


@pytest.mark.parametrize(
    ("redirect", "args", "said"),
    [
        ("<&-", ["secrets", "set", "{dir}/s.env", "X"], "standard input is closed"),
        (">&-", ["keygen"], "standard output is closed"),
        (">&-", ["encrypt", "-p", "{dir}/in.txt"], "standard output is closed"),
    ],
)
def test_a_closed_standard_stream_is_one_clear_error(tmp_path, redirect, args, said):
    (tmp_path / "in.txt").write_text("x")
    words = " ".join(shlex.quote(a.format(dir=tmp_path)) for a in args)
    env = {**os.environ, "SEALBOX_PASSPHRASE": "correct horse battery staple"}
    if args[0] == "secrets":
        init = run_sealbox(["secrets", "init", tmp_path / "s.env", "-r", _RECIPIENT])
        assert init.returncode == 0, init.stderr
    p = subprocess.run(
        ["sh", "-c", f"exec {shlex.quote(sys.executable)} -m sealbox {words} {redirect}"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert p.returncode == 1
    assert p.stderr.decode().startswith(f"sealbox: error: {said}\nsealbox: hint: run it with ")
    assert b"internal error" not in p.stderr


def test_json_nested_past_the_recursion_limit_is_no_internal_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 100_000)
    identity = tmp_path / "key.txt"
    identity.write_text(age.identity_file(age.X25519Identity.generate()))
    for args in (["legacy", "detect", deep], ["decrypt", "-i", identity, deep]):
        p = run_sealbox(args)
        assert p.returncode == 1, args
        assert p.stderr.startswith(b"sealbox: error: ")
        assert b"internal error" not in p.stderr
