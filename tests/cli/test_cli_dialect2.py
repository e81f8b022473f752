"""The dialect of docs/cli.md as rules over the whole command tree: a command added later
is checked by walking click's tree, not by being listed here."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import click
import pytest

from sealbox import __version__
from sealbox.cli._app import cli as root
from sealbox.cli._dialect import AliasedOption
from sealbox.cli._io import PASSPHRASE_SOURCES
from tests.conftest import run_sealbox


def _tree(command: click.Command, path: tuple[str, ...] = ()):
    """Every command and group below ``command`` with its path, hidden ones included."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in sorted({*command.list_commands(ctx), *command.commands}):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _tree(sub, (*path, name))


ALL = list(_tree(root))
LEAVES = [(path, command) for path, command in ALL if not isinstance(command, click.Group)]


def _ids(items):
    return [" ".join(path) or "sealbox" for path, _ in items]


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _names(option: click.Option) -> list[str]:
    old = option.old_names if isinstance(option, AliasedOption) else ()
    return [n for n in option.opts + option.secondary_opts if n not in old]


def _long(option: click.Option) -> tuple[str, ...]:
    return tuple(n for n in _names(option) if n.startswith("--"))


def _short(option: click.Option) -> tuple[str, ...]:
    return tuple(n for n in _names(option) if not n.startswith("--"))


@pytest.mark.parametrize(("path", "command"), ALL, ids=_ids(ALL))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_prints_its_help_with_the_same_usage_line(cli, path, command, flag):
    r = cli([*path, flag])
    assert (r.code, r.stderr) == (0, ""), (path, r.stderr)
    usage = " ".join(["Usage: sealbox", *path, "[OPTIONS]"])
    assert r.out.splitlines()[0].startswith(usage), (path, r.out.splitlines()[0])


def test_every_shown_option_says_what_it_does():
    for path, command in ALL:
        for option in _options(command):
            assert (option.help or "").strip(), (path, option.opts)


def test_each_long_option_has_the_same_short_flag_everywhere():
    # `serve --key` is the TLS server's key, which no other command reads: it takes no -k.
    alone = {(("serve",), "--key")}
    shorts: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path, command in ALL:
        for option in _options(command):
            for name in _long(option):
                if (path, name) not in alone:
                    shorts[name].add(_short(option))
    differ = {name: found for name, found in shorts.items() if len(found) > 1}
    assert differ == {}


def test_the_shared_concepts_are_spelled_one_way():
    for path, command in ALL:
        for option in _options(command):
            names = set(_names(option))
            if names & {"-o", "--output"}:
                assert names == {"-o", "--output"} and not option.is_flag, path
            if names & {"--json", "--force", "--yes"}:
                assert option.is_flag and len(names) == 1, (path, names)
            if "--data-dir" in names:
                assert names == {"--data-dir"} and option.type.name == "directory", path
            if "--passphrase-file" in names:
                assert names == {"--passphrase-file"}, path
                assert PASSPHRASE_SOURCES in (option.help or ""), path


def test_a_command_that_writes_with_o_replaces_a_file_only_with_force():
    # keygen, as age-keygen, never replaces an identity: its error says so.
    for path, command in LEAVES:
        names = {n for option in _options(command) for n in _names(option)}
        if "--output" in names and path != ("keygen",):
            assert "--force" in names, path


SECRET_WORDS = ("password", "passphrase", "secret", "token", "private")


def test_no_option_takes_a_secret_value_on_the_command_line():
    # A value given on the command line is in the process list and the shell's history:
    # a secret is read from a file (NAME-file), stdin or a prompt; a flag names no value.
    for path, command in ALL:
        for option in command.params:
            if not isinstance(option, click.Option) or option.is_flag or option.count:
                continue
            for name in (*option.opts, *option.secondary_opts):
                if any(word in name for word in SECRET_WORDS):
                    assert name.endswith("-file"), (path, name)


def test_only_the_documented_arguments_can_hold_a_secret():
    # docs/cli.md: verify-password's HASH (or --hash-file), and the token of jwt verify and
    # jwt inspect (or '-', with a warning when given as an argument).
    documented = {("verify-password", "hash_"), ("jwt verify", "token"), ("jwt inspect", "token")}
    found = {
        (" ".join(path), param.name or "")
        for path, command in ALL
        for param in command.params
        if isinstance(param, click.Argument)
        and any(w in (param.name or "") for w in (*SECRET_WORDS, "hash"))
    }
    assert found == documented


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=_ids(LEAVES))
def test_every_command_refuses_an_unknown_option_as_a_usage_error(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path, command
):
    monkeypatch.chdir(tmp_path)
    r = cli([*path, "--no-such-option"])
    assert r.code == 2, (path, r.stderr)
    assert r.stderr.startswith("sealbox: error: unknown option (not shown"), path
    assert r.stderr.endswith(f"run 'sealbox {' '.join(path)} --help' for usage\n"), path
    assert "no-such-option" not in r.stderr
    assert r.out == ""


REQUIRING = [
    (path, command)
    for path, command in LEAVES
    if any(p.required for p in command.params) and not command.hidden
]


@pytest.mark.parametrize(("path", "command"), REQUIRING, ids=_ids(REQUIRING))
def test_every_command_called_without_what_it_requires_is_a_usage_error(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path, command
):
    monkeypatch.chdir(tmp_path)
    r = cli(list(path))
    assert r.code == 2, (path, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("sealbox: error: missing "), (path, lines)
    assert lines[1].startswith("sealbox: hint: "), path
    assert r.out == ""


def test_the_version_is_the_packages_in_every_way_it_is_asked(cli):
    expected = f"sealbox {__version__}\n"
    assert cli(["--version"]).out == expected
    ran = run_sealbox(["--version"])
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, expected.encode(), b"")
    # `sealbox version` is not a command: an unknown command, a usage error.
    assert cli(["version"]).code == 2


@pytest.mark.parametrize("stdin_as", ["omitted", "dash"])
def test_inspect_reads_stdin_when_input_is_omitted_or_dash(cli, tmp_path: Path, stdin_as: str):
    # As decrypt (and age-inspect): INPUT left out or '-' is standard input.
    identity = tmp_path / "id.txt"
    assert cli(["keygen", "-o", identity]).code == 0
    sealed = cli(["encrypt", "-i", identity], input=b"value").stdout
    given = [] if stdin_as == "omitted" else ["-"]
    r = cli(["inspect", "--json", *given], input=sealed)
    assert r.code == 0, r.stderr
    assert json.loads(r.out)["recipients"] == ["X25519"]
    assert r.out == cli(["inspect", "--json", "-"], input=sealed).out
    usage = cli(["inspect", "--help"]).out.splitlines()[0]
    assert usage == "Usage: sealbox inspect [OPTIONS] [INPUT]"


def test_sealbox_version_as_a_command_points_to_the_version_option() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sealbox", "version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "sealbox: hint: sealbox prints its version with 'sealbox --version'" in result.stderr
