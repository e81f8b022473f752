"""The command line's dialect (docs/cli.md): one meaning per flag, old spellings, --json."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import click
import pytest

from sealbox.cli._app import cli as root
from sealbox.cli._dialect import AliasedOption
from sealbox.cli._io import Terminated
from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring
from sealbox.tls.pinning import pin_from_file

PASS = "dialect passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    """Every leaf command of the tree with its path (hidden ones included)."""
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        names = sorted({*command.list_commands(ctx), *command.commands})
        for name in names:
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _shown_names(option: click.Option) -> list[str]:
    old = option.old_names if isinstance(option, AliasedOption) else ()
    return [name for name in option.opts + option.secondary_opts if name not in old]


def test_each_short_flag_stands_for_one_long_option_everywhere():
    meanings: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path, command in _commands(root):
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = _shown_names(param)
                long_names = tuple(n for n in names if n.startswith("--"))
                for short in (n for n in names if not n.startswith("--")):
                    meanings[short].add(long_names)
                    assert len(meanings[short]) == 1, (short, path, meanings[short])
    assert meanings["-k"] == {("--key",)}
    assert meanings["-K"] == {("--keyring",)}
    assert meanings["-A"] == {("--aad",)}


def test_type_means_the_kind_of_key_to_create():
    # --type is never the JWT typ header any more: that is --typ.
    for path, command in _commands(root):
        shown = {n for p in command.params if isinstance(p, click.Option) for n in _shown_names(p)}
        if "--type" in shown:
            assert path[-1] in {"create", "rotate", "generate", "add"}, path
        if path[:1] == ("jwt",) and path[-1] in {"issue", "verify"}:
            assert "--typ" in shown


OLD_SPELLINGS = [
    (["seal"], "-k", "--keyring"),
    (["open"], "-k", "--keyring"),
    (["transit", "encrypt"], "--associated-data", "--aad"),
    (["transit", "decrypt"], "--associated-data", "--aad"),
    (["transit", "rewrap"], "--associated-data", "--aad"),
    (["keyring", "create"], "--algorithm", "--type"),
    (["keyring", "rotate"], "--algorithm", "--type"),
    (["jwt", "keyset", "create"], "--alg", "--type"),
    (["jwt", "keyset", "rotate"], "--alg", "--type"),
    (["jwt", "issue"], "--type", "--typ"),
    (["jwt", "verify"], "--type", "--typ"),
    (["ca", "issue", "client"], "--name", "--san"),
    (["ca", "renew"], "--force", "--now"),
]


@pytest.mark.parametrize(("command", "old", "new"), OLD_SPELLINGS)
def test_old_spellings_are_left_out_of_help(cli, command, old, new):
    help_text = cli([*command, "--help"]).out
    words = help_text.replace(",", " ").split()
    assert new in words
    assert old not in words


@pytest.mark.parametrize(("command", "old", "new"), OLD_SPELLINGS)
def test_old_spellings_are_left_out_of_shell_completion(command, old, new):
    from click.shell_completion import ShellComplete

    prefix = old[:2] if old.startswith("--") else "-"
    offered = ShellComplete(root, {}, "sealbox", "_SEALBOX_COMPLETE").get_completions(
        command, prefix
    )
    names = {item.value for item in offered}
    assert new in names or not new.startswith(prefix)
    assert old not in names


def test_seal_and_open_with_the_new_and_the_old_flags(cli, tmp_path: Path):
    ring = tmp_path / "r.keyring"
    Keyring.generate().save(ring, PASS, kdf_params=kdf.ARGON2ID_TEST)
    token = cli(["seal", "-K", ring, "-A", "users.email:1"], input=b"v", env=ENV)
    assert token.code == 0, token.stderr
    opened = cli(["open", "-k", ring, "--aad", "users.email:1"], input=token.stdout, env=ENV)
    assert (opened.code, opened.stdout) == (0, b"v")
    wrong = cli(["open", "--keyring", ring, "-A", "users.email:2"], input=token.stdout, env=ENV)
    assert wrong.code == 1


def test_keyring_type_and_its_old_spelling(cli, tmp_path: Path):
    new = tmp_path / "new.keyring"
    old = tmp_path / "old.keyring"
    assert cli(["keyring", "create", new, "--type", "chacha20-poly1305"], env=ENV).code == 0
    assert cli(["keyring", "create", old, "--algorithm", "aes-256-gcm-siv"], env=ENV).code == 0
    assert [k.algorithm for k in Keyring.load(new, PASS)] == ["chacha20-poly1305"]
    assert [k.algorithm for k in Keyring.load(old, PASS)] == ["aes-256-gcm-siv"]


def test_key_lists_share_their_json_field_names(cli, tmp_path: Path):
    ring = tmp_path / "r.keyring"
    Keyring.generate().save(ring, PASS, kdf_params=kdf.ARGON2ID_TEST)
    keyset = tmp_path / "k.jwt"
    SigningKeySet.generate().save(keyset, PASS, kdf_params=kdf.ARGON2ID_TEST)
    shared = {"id", "type", "state", "primary", "created"}
    for command in (["keyring", "list", ring], ["jwt", "keyset", "list", keyset]):
        r = cli([*command, "--json"], env=ENV)
        assert r.code == 0, r.stderr
        [key] = json.loads(r.out)
        assert shared <= set(key)
        assert (key["state"], key["primary"]) == ("active", True)
    ring_key = json.loads(cli(["keyring", "list", ring, "--json"], env=ENV).out)[0]
    assert ring_key["type"] == "aes-256-gcm"
    keyset_key = json.loads(cli(["jwt", "keyset", "list", keyset, "--json"], env=ENV).out)[0]
    assert (keyset_key["id"], keyset_key["type"]) == (keyset_key["kid"], "EdDSA")


def test_ca_client_san_and_its_old_spelling(cli, tmp_path: Path):
    assert cli(["ca", "init", tmp_path / "ca"]).code == 0
    for flag, name in (("--san", "worker-a"), ("--name", "worker-b")):
        r = cli(["ca", "issue", "client", tmp_path / "ca", flag, name, "-o", tmp_path / name])
        assert r.code == 0, r.stderr
        shown = json.loads(cli(["ca", "inspect", "--json", tmp_path / f"{name}.crt"]).out)
        assert shown["dns_names"] == [name]
    missing = cli(["ca", "issue", "client", tmp_path / "ca", "-o", tmp_path / "x"])
    assert missing.code == 2
    assert "missing option '--san'" in missing.stderr


def test_ca_pin_json(cli, tmp_path: Path):
    assert cli(["ca", "init", tmp_path / "ca"]).code == 0
    cert = tmp_path / "ca" / "ca.crt"
    plain = cli(["ca", "pin", cert])
    as_json = cli(["ca", "pin", cert, "--json"])
    assert plain.out == pin_from_file(cert) + "\n"
    assert json.loads(as_json.out) == {
        "pin": pin_from_file(cert),
        "source": str(cert),
        "verified": None,
    }


def test_ca_pin_and_inspect_read_a_certificate_from_stdin_as_dash(cli, tmp_path: Path):
    assert cli(["ca", "init", tmp_path / "ca"]).code == 0
    cert = tmp_path / "ca" / "ca.crt"
    piped = cli(["ca", "pin", "-", "--json"], input=cert.read_bytes())
    assert piped.code == 0, piped.stderr
    assert json.loads(piped.out) == {"pin": pin_from_file(cert), "source": "-", "verified": None}
    shown = cli(["ca", "inspect", "--json", "-"], input=cert.read_bytes())
    assert json.loads(shown.out)["pin"] == pin_from_file(cert)


def test_create_and_rotate_print_the_new_key_as_the_list_does(cli, tmp_path: Path):
    for group, file, kind in (
        (["keyring"], tmp_path / "r.keyring", "chacha20-poly1305"),
        (["jwt", "keyset"], tmp_path / "k.jwt", "ES256"),
    ):
        created = cli([*group, "create", file, "--type", kind, "--json"], env=ENV)
        assert created.code == 0, created.stderr
        first = json.loads(created.out)
        rotated = json.loads(cli([*group, "rotate", file, "--json"], env=ENV).out)
        listed = json.loads(cli([*group, "list", file, "--json"], env=ENV).out)
        first["state"], first["primary"] = "decrypt-only", False  # after the rotation
        assert listed == [first, rotated]
        assert (rotated["type"], rotated["state"], rotated["primary"]) == (kind, "active", True)


def test_force_only_ever_means_replace_an_existing_file():
    # ca renew's "renew before it is due" is --now; --force there is its old spelling.
    for path, command in _commands(root):
        for param in command.params:
            if isinstance(param, click.Option) and "--force" in _shown_names(param):
                assert "Replace" in (param.help or ""), (path, param.help)


def test_every_json_option_says_the_same_thing():
    # One help text for --json, as docs/cli.md's table defines the fields; the transit
    # commands print the service's answer as it is.
    for path, command in _commands(root):
        for param in command.params:
            if isinstance(param, click.Option) and "--json" in _shown_names(param):
                expected = (
                    "Print the service's JSON answer."
                    if path[0] == "transit"
                    else "Print JSON for scripts (fields: docs/cli.md)"
                )
                assert (param.help or "").startswith(expected), (path, param.help)


def test_every_command_that_takes_yes_is_listed_in_the_docs():
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    section = docs.split("## `--yes`", 1)[1].split("\n## ", 1)[0]
    for path, command in _commands(root):
        if command.hidden:
            continue
        names = {n for p in command.params if isinstance(p, click.Option) for n in p.opts}
        if "--yes" in names:
            assert f"`{' '.join(path)}" in section, path


def test_a_missing_choice_argument_is_one_error_line_naming_the_choices(cli):
    r = cli(["completion"])
    assert r.code == 2
    assert r.stderr == (
        "sealbox: error: missing argument 'SHELL' (one of: bash, zsh, fish)\n"
        "sealbox: hint: run 'sealbox completion --help' for usage\n"
    )


def test_a_word_for_a_number_range_is_reported_as_not_an_integer(cli):
    r = cli(["jwt", "verify", "--leeway", "soon", "-"])
    assert r.code == 2
    assert r.stderr.startswith(
        "sealbox: error: invalid value for '--leeway': 'soon' is not a valid integer\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["keyring", "create", "-"],
        ["keyring", "list", "-"],
        ["jwt", "keyset", "create", "-"],
        ["jwt", "jwks", "-"],
        ["secrets", "init", "-", "-r", "age1qqqq"],
        ["secrets", "list", "-"],
        ["key", "fingerprint", "-"],
        ["sign", "-k", "-", "data"],
        ["key", "sign", "-k", "-", "data"],
        ["seal", "-K", "-"],
        ["legacy", "decrypt", "rec", "-k", "-"],
    ],
)
def test_dash_is_a_usage_error_where_a_file_is_read_or_changed_by_name(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
):
    # '-' is stdin or stdout in the dialect; here it would have been a file called '-'
    # (keyring create wrote one and said "created -").
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").write_bytes(b"data")
    (tmp_path / "rec").write_bytes(b"record")
    r = cli(args, env=ENV)
    assert r.code == 2, r.stderr
    assert "'-' is not a file name here" in r.stderr
    assert r.stderr.endswith(" --help' for usage\n")
    assert not (tmp_path / "-").exists()
    assert r.out == ""


def test_a_file_called_dash_is_still_reachable_as_dot_slash_dash(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert cli(["keyring", "create", "./-"], env=ENV).code == 0
    assert (tmp_path / "-").is_file()


def test_the_legacy_key_hint_names_the_current_option(cli, tmp_path: Path):
    record = tmp_path / "record.json"
    record.write_text('{"iv": "AAAA", "ciphertext": "AAAA", "tag": "AAAA"}')
    r = cli(["legacy", "decrypt", record], env=ENV)
    assert r.code == 1
    assert r.stderr.endswith("sealbox: hint: give its key file with -k/--key\n")
    assert "--key-file" not in r.stderr


def _boom(raised: BaseException) -> click.Command:
    @click.command("boom")
    def boom() -> None:
        raise raised

    return boom


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [(KeyboardInterrupt(), 130, "interrupted"), (Terminated(), 143, "terminated")],
)
def test_an_interruption_inside_a_command_is_one_line_and_its_own_status(
    cli, monkeypatch: pytest.MonkeyPatch, raised, code, line
):
    # click turned both into Abort after an empty line: SIGTERM exited 130 as "interrupted".
    monkeypatch.setitem(root.commands, "boom", _boom(raised))
    for args in (["boom"], ["--debug", "boom"]):
        r = cli(args)
        assert (r.code, r.stderr, r.out) == (code, f"sealbox: error: {line}\n", ""), args


def test_an_interruption_while_the_command_still_loads_is_one_line_not_a_traceback() -> None:
    # Ctrl-C in the first instants lands in an import, before the command's handling of
    # it is in place: it printed a traceback. The interruption is raised here as Ctrl-C
    # raises it, from inside the import of the command's machinery.
    script = (
        "import sys\n"
        "class Stop:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'sealbox.cli._app':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        "sys.argv = ['sealbox', 'keygen']\n"
        "from sealbox.cli import console\n"
        "console()\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert (r.returncode, r.stderr) == (130, b"sealbox: error: interrupted\n")
    assert r.stdout == b""
