"""Transcript-style tests of `sealbox keyring`, `seal` and `open`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_sealbox, sealbox_on_terminal

PASS = "canary-cli-passphrase-93d1"
ENV = {"SEALBOX_PASSPHRASE": PASS}
PLAIN = b"canary-cli-plaintext-4c2e"


@pytest.fixture
def keyring(tmp_path: Path, cli) -> Path:
    path = tmp_path / "app.keyring"
    r = cli(["keyring", "create", path], env=ENV)
    assert r.code == 0, r.stderr
    return path


def _ids(cli, path: Path) -> list[dict]:
    r = cli(["keyring", "list", path, "--json"], env=ENV)
    assert r.code == 0, r.stderr
    return json.loads(r.out)


def test_create_list_rotate(cli, keyring: Path) -> None:
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    keys = _ids(cli, keyring)
    assert len(keys) == 1 and keys[0]["primary"] is True
    assert set(keys[0]) == {"id", "type", "algorithm", "state", "primary", "created"}
    assert keys[0]["type"] == keys[0]["algorithm"]
    r = cli(["keyring", "rotate", keyring], env=ENV)
    assert r.code == 0 and r.out.startswith(f"rotated {keyring}: new primary key ")
    keys = _ids(cli, keyring)
    assert [k["primary"] for k in keys] == [False, True]
    assert [k["state"] for k in keys] == ["decrypt-only", "active"]
    table = cli(["keyring", "list", keyring], env=ENV).out.splitlines()
    assert table[0].split() == ["ID", "ALGORITHM", "STATE", "PRIMARY", "CREATED"]
    assert len(table) == 3 and keys[1]["id"] in table[2] and "yes" in table[2]


def test_create_refuses_existing_file(cli, keyring: Path) -> None:
    before = keyring.read_bytes()
    r = cli(["keyring", "create", keyring], env=ENV)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.splitlines()[0] == f"sealbox: error: {keyring} already exists"
    assert r.stderr.splitlines()[1].startswith("sealbox: hint: ")
    assert keyring.read_bytes() == before
    # Replacing it loses its keys: no terminal here, so --force alone is refused.
    r = cli(["keyring", "create", keyring, "--force"], env=ENV)
    assert r.code == 1 and "pass --yes" in r.stderr
    assert keyring.read_bytes() == before
    assert cli(["keyring", "create", keyring, "--force", "--yes"], env=ENV).code == 0
    assert keyring.read_bytes() != before


def test_seal_open_round_trip(cli, keyring: Path) -> None:
    r = cli(["seal", "-k", keyring, "--aad", "users.card:42"], input=PLAIN, env=ENV)
    assert r.code == 0 and r.stderr == ""
    token = r.stdout
    assert token.endswith(b"\n") and PLAIN not in token
    r = cli(["open", "-k", keyring, "--aad", "users.card:42"], input=token, env=ENV)
    assert r.code == 0 and r.stdout == PLAIN


def test_deterministic_seal(cli, keyring: Path) -> None:
    a = cli(["seal", "-k", keyring, "--deterministic"], input=PLAIN, env=ENV).stdout
    b = cli(["seal", "-k", keyring, "--deterministic"], input=PLAIN, env=ENV).stdout
    assert a == b
    assert cli(["open", "-k", keyring], input=a, env=ENV).stdout == PLAIN


_ALTERED = (
    "sealbox: error: decryption failed: the token was altered or cut short, or it was "
    "sealed with other associated data\n"
    "sealbox: hint: give the -A/--aad it was sealed with (none if it was sealed without)\n"
)
_NOT_A_TOKEN = (
    "sealbox: error: the input on stdin is not a sealbox token, or it was cut short\n"
    "sealbox: hint: a token is the URL-safe base64 line 'sealbox seal' prints\n"
)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda t: t[:-3] + b"\n", _ALTERED),
        (lambda t: t.strip()[:-1] + b"\n", _NOT_A_TOKEN),  # 77 characters: no base64 length
        (lambda t: b"B" + t[1:], _NOT_A_TOKEN),  # no token version starts so
        (lambda t: t[:10] + (b"B" if t[10:11] != b"B" else b"C") + t[11:], _ALTERED),
        (lambda t: t.strip() + b"AAAA\n", _ALTERED),
        (lambda t: b"not a token!\n", _NOT_A_TOKEN),
        (
            lambda t: b"\n",
            (
                "sealbox: error: no token on stdin\n"
                "sealbox: hint: pipe in what 'sealbox seal' printed\n"
            ),
        ),
    ],
)
def test_open_says_why_a_damaged_token_does_not_open(cli, keyring: Path, damage, said) -> None:
    token = cli(["seal", "-k", keyring], input=PLAIN, env=ENV).stdout
    r = cli(["open", "-k", keyring], input=damage(token), env=ENV)
    assert r.code == 1
    assert r.stdout == b""
    assert r.stderr == said


def test_open_names_the_tokens_key_when_the_keyring_cannot_use_it(
    cli, keyring: Path, tmp_path: Path
) -> None:
    token = cli(["seal", "-k", keyring, "--aad", "a"], input=PLAIN, env=ENV).stdout
    r = cli(["open", "-k", keyring, "--aad", "b"], input=token, env=ENV)
    assert (r.code, r.stdout, r.stderr) == (1, b"", _ALTERED)
    old = _ids(cli, keyring)[0]["id"]
    r = cli(["keyring", "disable", keyring, old], env=ENV)
    assert r.code == 1 and "primary key" in r.stderr and "hint: rotate" in r.stderr
    assert cli(["keyring", "rotate", keyring], env=ENV).code == 0
    assert cli(["keyring", "disable", keyring, old], env=ENV).stderr == (
        f"disabled key {old} in {keyring}\n"
    )
    r = cli(["open", "-k", keyring, "--aad", "a"], input=token, env=ENV)
    assert (r.code, r.stdout, r.stderr) == (
        1,
        b"",
        (
            f"sealbox: error: decryption failed: the token was sealed with key {old}, which is "
            f"disabled in keyring {keyring}\n"
            f"sealbox: hint: to read it again: sealbox keyring enable {keyring} {old}\n"
        ),
    )
    assert cli(["keyring", "enable", keyring, f"0x{old}"], env=ENV).stderr == (
        f"key {old} in {keyring} is decrypt-only\n"
    )
    states = {k["id"]: k["state"] for k in _ids(cli, keyring)}
    assert sorted(states.values()) == ["active", "decrypt-only"]
    assert cli(["open", "-k", keyring, "--aad", "a"], input=token, env=ENV).stdout == PLAIN
    other = tmp_path / "other.keyring"
    assert cli(["keyring", "create", other], env=ENV).code == 0
    r = cli(["open", "-k", other, "--aad", "a"], input=token, env=ENV)
    assert (r.code, r.stdout, r.stderr) == (
        1,
        b"",
        (
            f"sealbox: error: decryption failed: the token was sealed with key {old}, which "
            f"keyring {other} does not hold\n"
            "sealbox: hint: open it with the keyring that sealed it\n"
        ),
    )


def test_destroy_needs_confirmation_without_terminal(cli, keyring: Path) -> None:
    token = cli(["seal", "-k", keyring], input=PLAIN, env=ENV).stdout
    old = _ids(cli, keyring)[0]["id"]
    cli(["keyring", "rotate", keyring], env=ENV)
    cli(["keyring", "disable", keyring, old], env=ENV)
    before = keyring.read_bytes()
    r = cli(["keyring", "destroy", keyring, old], env=ENV)
    if r.code == 1:  # no controlling terminal here (CI): refused, nothing changed
        assert "pass --yes" in r.stderr and keyring.read_bytes() == before
    r = cli(["keyring", "destroy", keyring, old, "--yes"], env=ENV)
    assert r.code == 0
    states = {k["id"]: k["state"] for k in _ids(cli, keyring)}
    assert states[old] == "destroyed"
    r = cli(["open", "-k", keyring], input=token, env=ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        f"sealbox: error: decryption failed: the token was sealed with key {old}, which was "
        f"destroyed in keyring {keyring}: it can never be opened\n"
    )
    r = cli(["keyring", "enable", keyring, old], env=ENV)
    assert r.code == 1 and "destroyed" in r.stderr


@pytest.mark.parametrize("command", ["disable", "enable", "destroy", "set-primary"])
def test_unknown_key_id_names_the_keyring_file(cli, keyring: Path, command: str) -> None:
    before = keyring.read_bytes()
    r = cli(
        ["keyring", command, keyring, "00000001", *(["--yes"] * (command == "destroy"))], env=ENV
    )
    assert (r.code, r.stdout, r.stderr) == (
        1,
        b"",
        (
            f"sealbox: error: no key 00000001 in keyring {keyring}\n"
            f"sealbox: hint: 'sealbox keyring list {keyring}' shows its keys\n"
        ),
    )
    assert keyring.read_bytes() == before


def test_wrong_passphrase_changes_nothing_and_says_which_keyring_and_passphrase(
    cli, keyring: Path, tmp_path: Path
) -> None:
    before = keyring.read_bytes()
    for args in (["keyring", "rotate", keyring], ["keyring", "list", keyring]):
        r = cli(args, env={"SEALBOX_PASSPHRASE": "wrong"})
        assert r.code == 1 and r.stdout == b""
        assert r.stderr == (
            f"sealbox: error: cannot open keyring {keyring}: wrong passphrase, or the file "
            "was altered\nsealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE\n"
        )
    pf = tmp_path / "old-pass"
    pf.write_text("wrong\n")
    r = cli(["keyring", "rotate", keyring, "--passphrase-file", pf])
    assert r.code == 1
    assert (
        r.stderr.splitlines()[1] == f"sealbox: hint: the passphrase came from passphrase file {pf}"
    )
    assert keyring.read_bytes() == before


def test_corrupt_keyring_file(cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.keyring"
    path.write_text("{ not json")
    r = cli(["keyring", "rotate", path], env=ENV)
    assert r.code == 1 and "not a sealbox keyring file" in r.stderr
    assert r.stderr.startswith(f"sealbox: error: keyring {path}: ")
    assert path.read_text() == "{ not json"
    r = cli(["keyring", "list", tmp_path / "missing"], env=ENV)
    assert r.code == 1 and "does not exist" in r.stderr


def test_passphrase_file(cli, tmp_path: Path) -> None:
    pf = tmp_path / "pass"
    pf.write_text(PASS + "\n")
    path = tmp_path / "k"
    assert cli(["keyring", "create", path, "--passphrase-file", pf]).code == 0
    # The trailing newline is not part of the passphrase: the env value opens it too.
    assert cli(["keyring", "list", path], env=ENV).code == 0
    (tmp_path / "empty").write_text("\n")
    r = cli(["keyring", "list", path, "--passphrase-file", tmp_path / "empty"])
    assert r.code == 1 and "is empty" in r.stderr
    r = cli(["keyring", "list", path, "--passphrase-file", tmp_path / "nope"])
    assert r.code == 1 and "cannot read passphrase file" in r.stderr


def test_no_passphrase_source(cli, keyring: Path) -> None:
    r = cli(["keyring", "list", keyring])
    if r.code == 1:  # no terminal to prompt on
        assert r.stderr.splitlines() == [
            "sealbox: error: no passphrase given and no terminal to ask on",
            "sealbox: hint: set $SEALBOX_PASSPHRASE or use --passphrase-file",
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keyring"], None),
        (["keyring", "list"], "missing argument 'FILE'"),
        (["keyring", "disable", "f", "xyz"], "invalid value for 'KEY_ID': 'xyz' is not a key id"),
        (["seal"], "missing option '-K' / '--keyring'"),
        (["frobnicate"], "unknown command (not shown: it may be a secret)"),
        (["keyring", "create", "f", "--algorithm", "des"], "invalid value for '--type'"),
        (["keyring", "create", "f", "--type", "des"], "invalid value for '--type'"),
    ],
)
def test_usage_errors_exit_2(cli, args: list[str], message: str | None) -> None:
    r = cli(args, env=ENV)
    assert r.code == 2 and r.stdout == b""
    if message:
        assert f"sealbox: error: {message}" in r.stderr
        assert "sealbox: hint: run 'sealbox" in r.stderr


def test_debug_shows_traceback(cli, keyring: Path) -> None:
    with pytest.raises(Exception, match="wrong passphrase"):
        cli(["--debug", "keyring", "list", keyring], env={"SEALBOX_PASSPHRASE": "x"})


def test_canaries_never_leave_through_outputs(cli, keyring: Path) -> None:
    outputs = []
    for args, stdin in (
        (["keyring", "list", keyring], b""),
        (["keyring", "list", keyring, "--json"], b""),
        (["keyring", "rotate", keyring], b""),
        (["seal", "-k", keyring], PLAIN),
    ):
        r = cli(args, input=stdin, env=ENV)
        outputs += [r.stdout.decode(), r.stderr]
    r = cli(["open", "-k", keyring, "--aad", "wrong"], input=outputs[-2].encode(), env=ENV)
    outputs += [r.stdout.decode(), r.stderr]
    text = "\n".join(outputs)
    assert PASS not in text and PLAIN.decode() not in text
    assert PASS.encode() not in keyring.read_bytes()


def test_version_and_help(cli) -> None:
    r = cli(["--version"])
    assert r.code == 0 and r.out.startswith("sealbox ")
    r = cli(["--help"])
    assert r.code == 0 and "keyring" in r.out and "seal" in r.out


def test_real_program_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "k"
    assert run_sealbox(["keyring", "create", path], env=ENV).returncode == 0
    token = run_sealbox(["seal", "-k", path], input=PLAIN, env=ENV).stdout
    p = run_sealbox(["open", "-k", path], input=token, env=ENV)
    assert (p.returncode, p.stdout) == (0, PLAIN)
    p = run_sealbox(["open", "-k", path], input=token[:-5], env=ENV)
    assert (p.returncode, p.stdout, p.stderr) == (1, b"", _ALTERED.encode())
    p = run_sealbox(["nope"])
    assert p.returncode == 2


def test_prompt_on_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = tmp_path / "k"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    child = pexpect.spawn(
        sys.executable, ["-m", "sealbox", "keyring", "create", str(path)], env=env, timeout=30
    )
    child.expect("New keyring passphrase: ")
    child.sendline(PASS)
    child.expect(r"\(again\): ")
    child.sendline(PASS + "typo")
    child.expect("do not match")
    child.wait()
    assert child.exitstatus == 1 and not path.exists()
    child = pexpect.spawn(
        sys.executable, ["-m", "sealbox", "keyring", "create", str(path)], env=env, timeout=30
    )
    child.expect("passphrase: ")
    child.sendline(PASS)
    child.expect(r"\(again\): ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0
    assert PASS.encode() not in child.before
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sealbox", "keyring", "destroy", str(path), "00000001"],
        env=env,
        timeout=30,
    )
    child.expect("Passphrase: ")
    child.sendline(PASS)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 1 and b"no key 00000001" in child.before


def test_destroy_confirmation_on_terminal(tmp_path: Path, cli) -> None:
    path = tmp_path / "k"
    cli(["keyring", "create", path], env=ENV)
    old = _ids(cli, path)[0]["id"]
    cli(["keyring", "rotate", path], env=ENV)
    cli(["keyring", "disable", path, old], env=ENV)
    for answer, code, state in (("n", 1, "disabled"), ("y", 0, "destroyed")):
        status, _ = sealbox_on_terminal(
            ["keyring", "destroy", path, old], [(r"\[y/N\] ", answer)], env=ENV
        )
        assert status == code
        assert {k["id"]: k["state"] for k in _ids(cli, path)}[old] == state


def test_seal_binds_non_utf8_aad_argument_as_its_bytes(keyring: Path) -> None:
    # The real program: argv bytes that are not UTF-8 reach it with surrogate escapes.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | ENV
    program = [sys.executable.encode(), b"-m", b"sealbox"]

    def run(*args: bytes, input: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*program, *args], input=input, capture_output=True, env=env, check=False
        )

    sealed = run(b"seal", b"-K", bytes(keyring), b"-A", b"orders.note:\xff", input=PLAIN)
    assert sealed.returncode == 0, sealed.stderr
    opened = run(b"open", b"-K", bytes(keyring), b"-A", b"orders.note:\xff", input=sealed.stdout)
    assert opened.returncode == 0 and opened.stdout == PLAIN
    other = run(b"open", b"-K", bytes(keyring), b"-A", b"orders.note:\xfe", input=sealed.stdout)
    assert other.returncode == 1 and other.stdout == b""
    assert other.stderr.startswith(b"sealbox: error: ")


def test_create_with_force_never_replaces_its_passphrase_or_recipients_file(
    cli, tmp_path: Path
) -> None:
    # The new keyring would be sealed under a passphrase (or to recipients) whose only copy
    # it replaced: a keyring nobody can open.
    pf = tmp_path / "pass"
    pf.write_text(PASS + "\n")
    r = cli(["keyring", "create", pf, "--passphrase-file", pf, "--force", "--yes"])
    assert r.code == 1 and r.stderr.splitlines() == [
        f"sealbox: error: {pf} is the passphrase file",
        "sealbox: hint: write the keyring to another file",
    ]
    assert pf.read_text() == PASS + "\n"
    from sealbox import age

    recipients = tmp_path / "recipients"
    recipients.write_text(f"{age.X25519Identity.generate().recipient()}\n")
    before = recipients.read_bytes()
    r = cli(["keyring", "create", recipients, "-R", recipients, "--force", "--yes"])
    assert r.code == 1 and f"sealbox: error: {recipients} is the recipients file" in r.stderr
    assert recipients.read_bytes() == before


def test_create_that_loses_a_race_to_another_creator_says_so_with_the_hint(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.keysets.keyring import Keyring

    path = tmp_path / "k"
    generate = Keyring.generate

    def other_writer_first(*args, **kwargs):
        path.write_bytes(b"the other writer's keyring")  # created after the existence check
        return generate(*args, **kwargs)

    monkeypatch.setattr(Keyring, "generate", other_writer_first)
    r = cli(["keyring", "create", path], env=ENV)
    assert r.code == 1 and r.stderr.splitlines() == [
        f"sealbox: error: {path} already exists",
        "sealbox: hint: choose another name, or use --force to replace it and lose its keys",
    ]
    assert path.read_bytes() == b"the other writer's keyring"


def test_create_to_recipients_refuses_a_passphrase_file_it_would_not_use(
    cli, tmp_path: Path
) -> None:
    # Sealed to the recipient, the keyring took no passphrase: the file given was dropped
    # without a word, and its owner believed the keyring opened with it.
    from sealbox import age

    passphrase = tmp_path / "pass"
    passphrase.write_text(PASS)
    recipient = str(age.X25519Identity.generate().recipient())
    path = tmp_path / "app.keyring"
    r = cli(["keyring", "create", path, "-r", recipient, "--passphrase-file", passphrase])
    assert r.code == 2
    assert "--passphrase-file cannot be combined with -r or -R" in r.stderr
    assert not path.exists()


def _token_key(token: bytes) -> str:
    from sealbox.keysets.fields import decode_token, token_key_id

    return f"{token_key_id(decode_token(token)):08x}"


def test_set_primary_rolls_a_rotation_back(cli, keyring: Path) -> None:
    old = _ids(cli, keyring)[0]["id"]
    token = cli(["seal", "-k", keyring], input=PLAIN, env=ENV).stdout
    assert cli(["keyring", "rotate", keyring], env=ENV).code == 0
    new = _ids(cli, keyring)[1]["id"]
    r = cli(["keyring", "set-primary", keyring, old], env=ENV)
    assert (r.code, r.stderr, r.out) == (0, f"key {old} is now the primary key of {keyring}\n", "")
    states = {k["id"]: (k["state"], k["primary"]) for k in _ids(cli, keyring)}
    assert states == {old: ("active", True), new: ("decrypt-only", False)}
    assert _token_key(cli(["seal", "-k", keyring], input=PLAIN, env=ENV).stdout) == old
    assert cli(["open", "-k", keyring], input=token, env=ENV).stdout == PLAIN
    before = keyring.read_bytes()
    r = cli(["keyring", "set-primary", keyring, f"0x{old}"], env=ENV)
    assert (r.code, r.stderr) == (0, f"key {old} is already the primary key of {keyring}\n")
    assert keyring.read_bytes() == before


def test_set_primary_refuses_a_disabled_or_destroyed_key_with_what_to_do(
    cli, keyring: Path
) -> None:
    old = _ids(cli, keyring)[0]["id"]
    cli(["keyring", "rotate", keyring], env=ENV)
    cli(["keyring", "disable", keyring, old], env=ENV)
    before = keyring.read_bytes()
    r = cli(["keyring", "set-primary", keyring, old], env=ENV)
    assert (r.code, r.stdout, r.stderr) == (
        1,
        b"",
        (
            f"sealbox: error: key {old} is disabled in keyring {keyring}; only a decrypt-only key "
            "can become primary\n"
            f"sealbox: hint: enable it first: sealbox keyring enable {keyring} {old}\n"
        ),
    )
    assert keyring.read_bytes() == before
    assert cli(["keyring", "destroy", keyring, old, "--yes"], env=ENV).code == 0
    r = cli(["keyring", "set-primary", keyring, old], env=ENV)
    assert r.code == 1 and r.stderr.splitlines() == [
        (
            f"sealbox: error: key {old} is destroyed in keyring {keyring}; only a decrypt-only "
            "key can become primary"
        ),
        (
            f"sealbox: hint: a destroyed key is gone for good; for a new primary key: sealbox "
            f"keyring rotate {keyring}"
        ),
    ]


def test_set_primary_merges_what_another_writer_saved_meanwhile(
    cli, keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading and saving, another writer disabled a third key (kept), then
    rotated (its newer key wins, and the command says it did not change the primary)."""
    from sealbox.keysets.keyring import Keyring

    cli(["keyring", "rotate", keyring], env=ENV)
    cli(["keyring", "rotate", keyring], env=ENV)
    first, old, _current = (k["id"] for k in _ids(cli, keyring))
    set_primary = Keyring.set_primary

    def other_writer_disables_first(self, key_id):
        other = Keyring.load(keyring, PASS)
        other.disable(first)
        other.save(keyring, PASS)
        return set_primary(self, key_id)

    monkeypatch.setattr(Keyring, "set_primary", other_writer_disables_first)
    r = cli(["keyring", "set-primary", keyring, old], env=ENV)
    assert r.code == 0, r.stderr
    states = {k["id"]: k["state"] for k in _ids(cli, keyring)}
    assert states[first] == "disabled" and states[old] == "active"

    def other_writer_rotates(self, key_id):
        other = Keyring.load(keyring, PASS)
        newest = other.rotate()
        other.save(keyring, PASS)
        rotated.append(newest.hex_id)
        return set_primary(self, key_id)

    rotated: list[str] = []
    monkeypatch.setattr(Keyring, "set_primary", other_writer_rotates)
    r = cli(["keyring", "set-primary", keyring, _current], env=ENV)
    assert r.code == 1 and r.stderr.splitlines() == [
        (
            f"sealbox: error: keyring {keyring}: another writer made key {rotated[0]} primary at "
            f"the same time, so {_current} stays decrypt-only"
        ),
        "sealbox: hint: run the command again if it should still be primary",
    ]
    primary = [k["id"] for k in _ids(cli, keyring) if k["primary"]]
    assert primary == rotated
