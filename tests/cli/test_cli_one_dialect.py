"""Commands that spoke their own dialect (docs/cli.md), run as the real ``sealbox``: a key
file replaced only with ``--force --yes``, notes on stderr and results on stdout, one
error line, ``INPUT`` omitted meaning stdin, a client named by what ``clients list`` prints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sealbox import age
from sealbox.tls.context import server_context
from tests._legacy_records import fernet_file
from tests._tls import TLSServer
from tests.conftest import run_sealbox

PASS = "dialect passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS, "SEALBOX_PASSWORD_PROFILE": "test"}


def sealbox(*args: object, input: bytes = b"", env: dict[str, str] | None = None):
    return run_sealbox([str(a) for a in args], input=input, env={**ENV, **(env or {})})


def test_key_generate_force_over_a_private_key_needs_yes_without_a_terminal(tmp_path: Path):
    key = tmp_path / "id"
    assert sealbox("key", "generate", "-o", key, "--no-passphrase").returncode == 0
    before = key.read_bytes(), (tmp_path / "id.pub").read_bytes()
    r = sealbox("key", "generate", "-o", key, "--no-passphrase", "--force")
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: replacing {key} cannot be undone and there is no terminal to confirm on",
        "sealbox: hint: pass --yes to confirm",
    ]
    assert (key.read_bytes(), (tmp_path / "id.pub").read_bytes()) == before
    r = sealbox("key", "generate", "-o", key, "--no-passphrase", "--force", "--yes")
    assert r.returncode == 0, r.stderr
    assert key.read_bytes() != before[0]


def test_key_generate_force_over_a_lone_public_key_needs_no_yes(tmp_path: Path):
    # A public key is not lost: it is derived from a private key kept elsewhere.
    (tmp_path / "id.pub").write_text("ssh-ed25519 AAAA old\n")
    r = sealbox("key", "generate", "-o", tmp_path / "id", "--no-passphrase", "--force")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("kind", ["keyring", "jwt-keyset"])
def test_key_state_changes_are_notes_on_stderr_and_leave_stdout_empty(
    tmp_path: Path, kind: str
) -> None:
    file = tmp_path / "f"
    if kind == "keyring":
        # Encrypted to an age recipient: each command opens and writes it without the
        # passphrase's Argon2id, whose cost is not what this test is about.
        identity = age.X25519Identity.generate()
        (tmp_path / "id.txt").write_text(age.identity_file(identity))
        group = ["keyring"]
        create: list[object] = ["-r", identity.recipient()]
        opened: list[object] = ["-i", tmp_path / "id.txt"]
    else:
        group, create, opened = ["jwt", "keyset"], [], []
    first = json.loads(sealbox(*group, "create", file, *create, "--json").stdout)["id"]
    second = json.loads(sealbox(*group, "rotate", file, *opened, "--json").stdout)["id"]
    for verb, kid, *options in (
        ["set-primary", first],
        ["set-primary", first],  # already: said the same way
        ["set-primary", second],
        ["disable", first],
        ["disable", first],
        ["enable", first],
        ["disable", first],
        ["destroy", first, "--yes"],
        ["destroy", first, "--yes"],
    ):
        # A JWK thumbprint may start with "-": after "--", as the docs write key ids.
        r = sealbox(*group, verb, *options, *opened, "--", file, kid)
        assert (r.returncode, r.stdout) == (0, b""), (verb, r.stdout, r.stderr)
        said = r.stderr.decode().splitlines()
        assert len(said) == 1 and kid in said[0], (verb, said)


def test_ca_pin_no_verify_warns_with_the_dialects_prefix(tmp_path: Path):
    ca = tmp_path / "ca"
    assert sealbox("ca", "init", ca, "--name", "Dialect CA").returncode == 0
    made = sealbox("ca", "issue", "server", ca, "--san", "localhost", "-o", tmp_path / "s")
    assert made.returncode == 0, made.stderr
    with TLSServer(server_context(tmp_path / "s.crt", tmp_path / "s.key")) as srv:
        target = f"localhost:{srv.port}"
        r = sealbox("ca", "pin", target, "--no-verify")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("sha256//")
    assert r.stderr.decode() == (
        f"sealbox: warning: the certificate of {target} was not verified: check this pin "
        "against one obtained another way\n"
    )


def test_users_import_of_a_missing_file_says_it_as_every_command_does(tmp_path: Path):
    missing = tmp_path / "nope"
    r = sealbox("users", "import", missing, "--data-dir", tmp_path / "data")
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr.decode().splitlines() == [f"sealbox: error: {missing} does not exist"]
    encrypt = sealbox("encrypt", "-p", missing)
    assert encrypt.stderr.decode().splitlines()[0] == f"sealbox: error: {missing} does not exist"


def test_users_import_refusal_is_one_error_line_then_the_refused_lines_as_notes(tmp_path: Path):
    source = tmp_path / "users.jsonl"
    source.write_text('{"username": "ok"}\nnot json\n{"username": "x", "pass": 1}\n')
    r = sealbox("users", "import", source, "--data-dir", tmp_path / "data")
    assert (r.returncode, r.stdout) == (1, b"")
    lines = r.stderr.decode().splitlines()
    assert lines[0] == "sealbox: error: nothing was imported: 3 of 3 lines are refused"
    assert lines[1] == (
        "sealbox: hint: correct them, or pass --skip-invalid to import the other lines"
    )
    assert [line.split(":", 2)[1] for line in lines[2:]] == [
        " refused line 1 ('ok')",
        " refused line 2",
        " refused line 3 ('x')",
    ]
    assert all(line.startswith("sealbox: refused line ") for line in lines[2:])


@pytest.mark.parametrize("stdin_as", ["omitted", "dash"])
def test_legacy_commands_read_stdin_when_input_is_omitted_or_dash(
    tmp_path: Path, stdin_as: str
) -> None:
    record = fernet_file(PASS.encode(), b"old secret")
    given = [] if stdin_as == "omitted" else ["-"]
    detect = sealbox("legacy", "detect", *given, input=record)
    assert (detect.returncode, detect.stdout) == (0, b"fernet-file\n"), detect.stderr
    plain = sealbox("legacy", "decrypt", *given, input=record)
    assert (plain.returncode, plain.stdout) == (0, b"old secret"), plain.stderr
    identity = tmp_path / "id.txt"
    assert sealbox("keygen", "-o", identity).returncode == 0
    recipient = sealbox("keygen", "-y", identity).stdout.decode().strip()
    out = tmp_path / "new.age"
    moved = sealbox("legacy", "migrate", *given, "-r", recipient, "-o", out, input=record)
    assert moved.returncode == 0, moved.stderr
    opened = sealbox("decrypt", "-i", identity, out)
    assert opened.stdout == b"old secret"


@pytest.fixture(scope="module")
def with_reporting(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data folder holding the client ``reporting``, and its client_id; never used
    itself, each test changes a copy of its own."""
    data = tmp_path_factory.mktemp("clients") / "data"
    made = sealbox("clients", "create", "reporting", "--json", "--data-dir", data)
    assert made.returncode == 0, made.stderr
    return data, json.loads(made.stdout)["client_id"]


@pytest.mark.parametrize(
    "args", [["show"], ["rotate-secret"], ["grant", "users:me"], ["disable"], ["delete", "--yes"]]
)
def test_a_client_id_given_for_a_client_name_is_refused_with_a_hint_naming_the_client(
    tmp_path: Path, args: list[str], with_reporting: tuple[Path, str]
) -> None:
    made, client_id = with_reporting
    data = Path(shutil.copytree(made, tmp_path / "data"))
    r = sealbox("clients", args[0], client_id, *args[1:], "--data-dir", data)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: there is no client named {client_id!r}",
        f"sealbox: hint: {client_id} is the client_id of client reporting: give its name",
    ]
    shown = sealbox("clients", "show", "reporting", "--json", "--data-dir", data)
    assert json.loads(shown.stdout)["disabled"] is False
