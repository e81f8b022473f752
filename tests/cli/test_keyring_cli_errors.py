"""`sealbox keyring` on a file it cannot use, and changes that are already made: each says
what is wrong or what it found, with the flag or command that helps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PASS = "canary-keyring-errors-passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


@pytest.fixture
def keyring(tmp_path: Path, cli) -> Path:
    path = tmp_path / "app.keyring"
    assert cli(["keyring", "create", path], env=ENV).code == 0
    return path


@pytest.fixture
def old_key(cli, keyring: Path) -> str:
    """The first key of the keyring, decrypt-only after a rotation."""
    assert cli(["keyring", "rotate", keyring], env=ENV).code == 0
    return _states(cli, keyring)[0][0]


def _states(cli, path: Path) -> list[tuple[str, str]]:
    r = cli(["keyring", "list", path, "--json"], env=ENV)
    assert r.code == 0, r.stderr
    return [(k["id"], k["state"]) for k in json.loads(r.out)]


@pytest.mark.parametrize("command", ["list", "rotate", "disable", "set-primary"])
def test_a_missing_keyring_says_so_and_how_to_create_one(cli, tmp_path: Path, command) -> None:
    path = tmp_path / "missing.keyring"
    args = ["keyring", command, path, *(["00000001"] * (command in ("disable", "set-primary")))]
    r = cli(args, env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: keyring {path} does not exist",
        (
            f"sealbox: hint: check the path, or create a keyring there with 'sealbox keyring "
            f"create {path}'"
        ),
    ]
    assert not path.exists()


DAMAGED_HINT = (
    "sealbox: hint: {path} is not a keyring sealbox wrote, or it was damaged (cut short or "
    "edited): give the keyring's own file, or restore it from a backup"
)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda b: b"", "not a sealbox keyring file (not JSON)"),
        (lambda b: b[: len(b) // 2], "not a sealbox keyring file (not JSON)"),
        (lambda b: b"\xff\xfe" + b, "not a sealbox keyring file (not JSON)"),
        (
            lambda b: json.dumps({**json.loads(b), "format": "other/1"}).encode(),
            "not a sealbox keyring file: 'format' must be 'sealbox-keyring-sealed/1'",
        ),
        (
            lambda b: json.dumps(
                {k: v for k, v in json.loads(b).items() if k != "cipher"}
            ).encode(),
            "not a sealbox keyring file: it has no 'cipher'",
        ),
        (
            lambda b: json.dumps({k: v for k, v in json.loads(b).items() if k != "data"}).encode(),
            "data must be a base64 string",
        ),
    ],
    ids=["empty", "cut-short", "not-utf8", "other-format", "no-cipher", "no-data"],
)
def test_a_damaged_keyring_names_the_file_and_says_to_restore_it(cli, keyring, damage, said):
    keyring.write_bytes(damage(keyring.read_bytes()))
    before = keyring.read_bytes()
    r = cli(["keyring", "rotate", keyring], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: keyring {keyring}: {said}",
        DAMAGED_HINT.format(path=keyring),
    ]
    assert keyring.read_bytes() == before


def test_a_damaged_age_keyring_names_the_file_and_says_to_restore_it(cli, tmp_path: Path):
    from sealbox import age

    identity = age.X25519Identity.generate()
    (tmp_path / "id.txt").write_text(identity.expose_secret() + "\n")
    path = tmp_path / "age.keyring"
    r = cli(["keyring", "create", path, "-r", str(identity.recipient())])
    assert r.code == 0, r.stderr
    path.write_bytes(path.read_bytes()[:-20])
    r = cli(["keyring", "list", path, "-i", tmp_path / "id.txt"])
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: cannot open keyring {path}: the file was altered or damaged",
        DAMAGED_HINT.format(path=path),
    ]


def test_a_passphrase_file_that_is_not_utf8_says_how_to_fix_it(cli, keyring, tmp_path) -> None:
    pf = tmp_path / "pass.bin"
    pf.write_bytes(b"caf\xe9\n")  # Latin-1
    r = cli(["keyring", "list", keyring, "--passphrase-file", pf])
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: passphrase file {pf} is not UTF-8 text",
        (
            "sealbox: hint: save the passphrase in the file as UTF-8 text, or give it with "
            "$SEALBOX_PASSPHRASE instead of --passphrase-file"
        ),
    ]


def test_a_missing_passphrase_file_says_how_to_fix_it(cli, keyring, tmp_path) -> None:
    pf = tmp_path / "nope"
    r = cli(["keyring", "rotate", keyring, "--passphrase-file", pf])
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: cannot read passphrase file {pf}: no such file or directory",
        (
            "sealbox: hint: check the path given to --passphrase-file, or give the passphrase "
            "with $SEALBOX_PASSPHRASE"
        ),
    ]


def test_disabling_a_disabled_key_again_says_so_and_changes_nothing(cli, keyring, old_key):
    r = cli(["keyring", "disable", keyring, old_key], env=ENV)
    assert (r.code, r.stderr) == (0, f"disabled key {old_key} in {keyring}\n")
    before = keyring.read_bytes()
    r = cli(["keyring", "disable", keyring, old_key], env=ENV)
    assert (r.code, r.stderr, r.out) == (
        0,
        f"key {old_key} in {keyring} was already disabled\n",
        "",
    )
    assert keyring.read_bytes() == before  # not even written again


def test_destroying_a_destroyed_key_again_says_so_and_changes_nothing(cli, keyring, old_key):
    assert cli(["keyring", "disable", keyring, old_key], env=ENV).code == 0
    r = cli(["keyring", "destroy", keyring, old_key, "--yes"], env=ENV)
    assert (r.code, r.stderr) == (0, f"destroyed key {old_key} in {keyring}\n")
    before = keyring.read_bytes()
    # No --yes: nothing is left to erase, so nothing is asked.
    r = cli(["keyring", "destroy", keyring, old_key], env=ENV)
    assert (r.code, r.stderr, r.out) == (
        0,
        f"key {old_key} in {keyring} was already destroyed\n",
        "",
    )
    assert keyring.read_bytes() == before


def test_disabling_a_destroyed_key_is_refused(cli, keyring, old_key) -> None:
    assert cli(["keyring", "disable", keyring, old_key], env=ENV).code == 0
    assert cli(["keyring", "destroy", keyring, old_key, "--yes"], env=ENV).code == 0
    r = cli(["keyring", "disable", keyring, old_key], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: key {old_key} of keyring {keyring} is destroyed: it decrypts "
            "nothing already"
        )
    ]


def test_state_errors_name_the_keyring_file(cli, keyring, old_key) -> None:
    primary = _states(cli, keyring)[1][0]
    r = cli(["keyring", "disable", keyring, primary], env=ENV)
    assert (r.code, r.stderr.splitlines()[0]) == (
        1,
        (
            f"sealbox: error: key {primary} of keyring {keyring} is the primary key and cannot "
            "be disabled"
        ),
    )
    r = cli(["keyring", "destroy", keyring, old_key], env=ENV)
    assert (r.code, r.stderr.splitlines()[0]) == (
        1,
        (
            f"sealbox: error: key {old_key} of keyring {keyring} must be disabled before it is "
            "destroyed"
        ),
    )
    assert cli(["keyring", "disable", keyring, old_key], env=ENV).code == 0
    assert cli(["keyring", "destroy", keyring, old_key, "--yes"], env=ENV).code == 0
    r = cli(["keyring", "enable", keyring, old_key], env=ENV)
    assert (r.code, r.stderr.splitlines()[0]) == (
        1,
        (
            f"sealbox: error: key {old_key} of keyring {keyring} is destroyed and cannot be "
            "enabled again"
        ),
    )


def test_enabling_a_key_that_already_decrypts_says_so_and_changes_nothing(cli, keyring, old_key):
    before = keyring.read_bytes()
    r = cli(["keyring", "enable", keyring, old_key], env=ENV)
    assert (r.code, r.stderr, r.out) == (
        0,
        f"key {old_key} in {keyring} was already decrypt-only\n",
        "",
    )
    assert keyring.read_bytes() == before


def test_disable_of_a_disabled_key_says_another_writer_enabled_it_meanwhile(
    cli, keyring, old_key, monkeypatch
):
    from sealbox.keysets.keyring import Keyring

    assert cli(["keyring", "disable", keyring, old_key], env=ENV).code == 0
    disable = Keyring.disable

    def meanwhile(self, key_id):  # another writer enables it after this run read the file
        other = Keyring.load(keyring, PASS)
        other.enable(key_id)
        other.save(keyring, PASS)
        return disable(self, key_id)

    monkeypatch.setattr(Keyring, "disable", meanwhile)
    r = cli(["keyring", "disable", keyring, old_key], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyring {keyring}: another writer enabled key {old_key} at the same "
            "time, and it stays decrypt-only"
        ),
        (
            f"sealbox: hint: run the command again to disable it: sealbox keyring disable {keyring} "
            f"{old_key}"
        ),
    ]
    monkeypatch.undo()
    assert dict(_states(cli, keyring))[old_key] == "decrypt-only"


def test_an_age_keyring_no_identity_opens_names_the_keyring(cli, tmp_path: Path) -> None:
    from sealbox import age

    owner, stranger = age.X25519Identity.generate(), age.X25519Identity.generate()
    (tmp_path / "stranger.txt").write_text(stranger.expose_secret() + "\n")
    path = tmp_path / "age.keyring"
    assert cli(["keyring", "create", path, "-r", str(owner.recipient())]).code == 0
    r = cli(["keyring", "rotate", path, "-i", tmp_path / "stranger.txt"])
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: cannot open keyring {path}: no identity matched any of the recipients",
        "sealbox: hint: the file is encrypted to: X25519",
    ]


def test_create_in_a_folder_that_does_not_exist_says_to_create_it(cli, tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "app.keyring"
    r = cli(["keyring", "create", path], env=ENV)
    assert (r.code, r.out) == (1, "")
    assert r.stderr.splitlines() == [
        f"sealbox: error: cannot write in {path.parent}: the folder does not exist",
        f"sealbox: hint: create it first (mkdir -p {path.parent}), or give another path",
    ]
    assert not path.parent.exists()
