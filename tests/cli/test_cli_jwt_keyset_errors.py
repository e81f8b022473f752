"""What ``sealbox jwt keyset …``, ``jwt jwks`` and ``jwt issue`` say when they cannot do it.

Each refusal is one ``sealbox: error:`` line naming the keyset (FILE, or the service
keyset of --data-dir) and one ``sealbox: hint:`` line, exit status 1, nothing on
stdout (with --json too), and the keyset file as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sealbox import age
from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from tests.conftest import run_sealbox

PASS = "keyset passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}
SERVICE_ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}
KID_COMMANDS = ("destroy", "retire", "disable", "enable", "set-primary")


@pytest.fixture
def keyset_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.jwt"
    SigningKeySet.generate().save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("service") / "data"
    r = run_sealbox(["serve", "--data-dir", folder, "--port", "0", "--check"], env=SERVICE_ENV)
    assert r.returncode == 0, r.stderr.decode()
    return folder


def _with_kid(command: str, kid: str) -> list[str]:
    return [*(["--yes"] if command in {"destroy", "retire"} else []), "--", kid]


def _primary(path: Path) -> str:
    return SigningKeySet.load(path, PASS).primary.kid


# -- a key id the keyset does not have, or whose state forbids the change ----------------


@pytest.mark.parametrize("command", KID_COMMANDS)
def test_an_unknown_key_id_names_the_keyset_file_and_the_list_command(
    cli, keyset_file: Path, command: str
) -> None:
    before = keyset_file.read_bytes()
    r = cli(["jwt", "keyset", command, keyset_file, *_with_kid(command, "no-such-kid")], env=ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        f"sealbox: error: no key no-such-kid in keyset {keyset_file}",
        f"sealbox: hint: 'sealbox jwt keyset list {keyset_file}' shows its keys",
    ]
    assert keyset_file.read_bytes() == before


def test_an_unknown_key_id_names_the_service_keyset_for_every_command(cli, data: Path) -> None:
    saved = (data / "jwt-keyset.sealed").read_bytes()
    for command in KID_COMMANDS:
        r = cli(
            ["jwt", "keyset", command, "--data-dir", data, *_with_kid(command, "no-such-kid")],
            env=SERVICE_ENV,
        )
        assert (r.code, r.stdout) == (1, b""), command
        assert r.stderr.splitlines() == [
            f"sealbox: error: no key no-such-kid in the service keyset of {data}",
            f"sealbox: hint: 'sealbox jwt keyset list --data-dir {data}' shows its keys",
        ], command
    assert (data / "jwt-keyset.sealed").read_bytes() == saved


@pytest.mark.parametrize(
    ("kid", "shown"),
    [
        ("a b", "'a b'"),
        ("\x1b[2J\u202eevil", "'\\x1b[2J\\u202eevil'"),
        ("-leading-dash", "-leading-dash"),
        ("clé", "clé"),
    ],
)
def test_an_odd_unknown_key_id_is_quoted_and_printed_terminal_safe(
    cli, keyset_file: Path, kid: str, shown: str
) -> None:
    r = cli(["jwt", "keyset", "disable", keyset_file, "--", kid], env=ENV)
    assert r.code == 1
    assert r.stderr.splitlines()[0] == f"sealbox: error: no key {shown} in keyset {keyset_file}"


@pytest.mark.parametrize(("command", "done"), [("destroy", "destroyed"), ("disable", "disabled")])
def test_the_primary_key_even_the_last_that_verifies_is_refused_naming_rotate(
    cli, keyset_file: Path, command: str, done: str
) -> None:
    kid = _primary(keyset_file)  # the keyset's only key: the last one that verifies
    before = keyset_file.read_bytes()
    r = cli(["jwt", "keyset", command, keyset_file, *_with_kid(command, kid)], env=ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: key {kid} of keyset {keyset_file} is the primary key (it signs) "
            f"and cannot be {done}"
        ),
        (
            f"sealbox: hint: make another key sign first: 'sealbox jwt keyset rotate "
            f"{keyset_file}' (or 'add', then 'set-primary')"
        ),
    ]
    assert keyset_file.read_bytes() == before


def test_the_service_keysets_primary_key_is_refused_naming_rotate(data: Path) -> None:
    listed = run_sealbox(["jwt", "keyset", "list", "--data-dir", data, "--json"], env=SERVICE_ENV)
    kid = next(k["id"] for k in json.loads(listed.stdout) if k["primary"])
    r = run_sealbox(
        ["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", kid], env=SERVICE_ENV
    )
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: key {kid} of the service keyset of {data} is the primary key "
            "(it signs) and cannot be destroyed"
        ),
        (
            f"sealbox: hint: make another key sign first: 'sealbox jwt keyset rotate --data-dir "
            f"{data}' (or 'add', then 'set-primary')"
        ),
    ]


@pytest.mark.parametrize(
    ("command", "message", "hint"),
    [
        (
            "enable",
            "key {kid} of keyset {file} is destroyed and cannot be enabled again",
            (
                "a destroyed key is gone for good; publish a fresh one with "
                "'sealbox jwt keyset add {file}'"
            ),
        ),
        (
            "disable",
            "key {kid} of keyset {file} is destroyed: it verifies nothing already",
            "'sealbox jwt keyset list {file}' shows its keys",
        ),
    ],
)
def test_a_destroyed_key_cannot_be_enabled_or_disabled_and_the_keyset_is_named(
    cli, keyset_file: Path, command: str, message: str, hint: str
) -> None:
    keys = SigningKeySet.load(keyset_file, PASS)
    kid = keys.add_key().kid
    keys.destroy(kid)
    keys.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)
    before = keyset_file.read_bytes()
    r = cli(["jwt", "keyset", command, keyset_file, "--", kid], env=ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        "sealbox: error: " + message.format(kid=kid, file=keyset_file),
        "sealbox: hint: " + hint.format(kid=kid, file=keyset_file),
    ]
    assert keyset_file.read_bytes() == before


# -- a keyset that cannot be opened ------------------------------------------------------

# Every command that opens a keyset FILE, with --json where it takes it (stdout stays empty).
OPENING = [
    ["keyset", "list", "{file}", "--json"],
    ["keyset", "rotate", "{file}", "--json"],
    ["keyset", "add", "{file}", "--json"],
    ["keyset", "destroy", "{file}", "--yes", "--", "kid"],
    ["keyset", "disable", "{file}", "--", "kid"],
    ["keyset", "enable", "{file}", "--", "kid"],
    ["keyset", "set-primary", "{file}", "--", "kid"],
    ["jwks", "{file}", "--json"],
    ["issue", "{file}", "--sub", "alice"],
    ["verify", "--keyset", "{file}", "--json", "-"],
]


def _run(cli, args: list[str], file: Path, env: dict[str, str]):
    # A token on stdin for verify, which reads it before the keyset.
    return cli(["jwt", *(a.format(file=file) for a in args)], env=env, input=b"a.b.c")


@pytest.mark.parametrize("args", OPENING, ids=lambda a: "-".join(a[:2]))
def test_a_wrong_passphrase_names_the_keyset_and_where_the_passphrase_came_from(
    cli, keyset_file: Path, args: list[str]
) -> None:
    before = keyset_file.read_bytes()
    r = _run(cli, args, keyset_file, {"SEALBOX_PASSPHRASE": "not it"})
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: cannot open keyset {keyset_file}: wrong passphrase, or the file "
            "was altered"
        ),
        "sealbox: hint: the passphrase came from $SEALBOX_PASSPHRASE",
    ]
    assert keyset_file.read_bytes() == before


@pytest.mark.parametrize("args", OPENING, ids=lambda a: "-".join(a[:2]))
def test_a_missing_keyset_file_hints_create_before_a_passphrase_is_asked_for(
    cli, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "keys.jwt"
    r = _run(cli, args, missing, {})  # no passphrase, no terminal: it is not needed
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        f"sealbox: error: keyset {missing} does not exist",
        f"sealbox: hint: create one with 'sealbox jwt keyset create {missing}'",
    ]
    assert not missing.exists()


def _pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


NOT_A_KEYSET = {
    "pem-key": (_pem, "not a sealbox keyset file (not JSON)"),
    "age-file": (
        lambda: age.encrypt(b"x", [age.X25519Identity.generate().recipient()]),
        "not a sealbox keyset file (not JSON)",
    ),
    "empty": (lambda: b"", "not a sealbox keyset file (not JSON)"),
    "keyring": (
        lambda: b'{"format": "sealbox-keyring-sealed/1"}',
        "not a sealbox keyset file: 'format' must be 'sealbox-jwt-keyset-sealed/1'",
    ),
}
CREATE_HINT = "a signing keyset is the file 'sealbox jwt keyset create' writes"


@pytest.mark.parametrize("kind", sorted(NOT_A_KEYSET))
@pytest.mark.parametrize("args", OPENING, ids=lambda a: "-".join(a[:2]))
def test_a_file_that_is_not_a_keyset_is_named_with_a_hint(
    cli, tmp_path: Path, args: list[str], kind: str
) -> None:
    make, reason = NOT_A_KEYSET[kind]
    path = tmp_path / "keys.jwt"
    path.write_bytes(make())
    before = path.read_bytes()
    r = _run(cli, args, path, ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        f"sealbox: error: keyset {path}: {reason}",
        f"sealbox: hint: {CREATE_HINT}",
    ]
    assert path.read_bytes() == before


@pytest.mark.parametrize("args", OPENING, ids=lambda a: "-".join(a[:2]))
def test_a_jwks_given_as_the_keyset_is_told_apart(
    cli, keyset_file: Path, tmp_path: Path, args: list[str]
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(SigningKeySet.load(keyset_file, PASS).public_jwks()))
    r = _run(cli, args, jwks, ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyset {jwks}: not a sealbox keyset file: 'format' must be "
            "'sealbox-jwt-keyset-sealed/1'"
        ),
        (
            f"sealbox: hint: it is a JWKS (public keys only): verify tokens with it, "
            f"'sealbox jwt verify --jwks {jwks}'; {CREATE_HINT}"
        ),
    ]


def test_the_service_keyset_file_given_as_file_hints_data_dir(cli, data: Path) -> None:
    sealed = data / "jwt-keyset.sealed"
    r = cli(["jwt", "keyset", "list", sealed, "--json"], env=ENV)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyset {sealed}: not a sealbox keyset file: 'format' must be "
            "'sealbox-jwt-keyset-sealed/1'"
        ),
        (
            f"sealbox: hint: it is the signing keyset of a service's data folder, sealed under "
            f"its master key: give --data-dir {data} instead of FILE"
        ),
    ]


@pytest.mark.parametrize("args", OPENING, ids=lambda a: "-".join(a[:2]))
def test_a_service_keyset_or_a_jwks_as_file_is_told_apart_before_a_passphrase_is_asked_for(
    cli, data: Path, tmp_path: Path, args: list[str]
) -> None:
    # No passphrase opens either: without one, and no terminal, the command says what the
    # file is, not "no passphrase given".
    sealed = data / "jwt-keyset.sealed"
    r = _run(cli, args, sealed, {})
    assert (r.code, r.stdout) == (1, b"")
    takes_data_dir = args[0] == "keyset" or args[0] == "jwks"
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: keyset {sealed}: not a sealbox keyset file: 'format' must be "
            "'sealbox-jwt-keyset-sealed/1'"
        ),
        f"sealbox: hint: it is the signing keyset of a service's data folder, sealed under "
        f"its master key: give --data-dir {data} instead of FILE"
        if takes_data_dir
        else f"sealbox: hint: {CREATE_HINT}",
    ]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    r = _run(cli, args, jwks, {})
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.splitlines()[1].startswith("sealbox: hint: it is a JWKS (public keys only)")


# -- what is printed of a key id the keyset holds ----------------------------------------


def test_list_and_changes_print_a_stored_key_id_terminal_safe(cli, keyset_file: Path) -> None:
    # A key id is any string a keyset was given (an imported HMAC key's): one with a
    # bell and a right-to-left override must not act on the terminal that lists it.
    kid = "bell\x07\u202eevil"
    keys = SigningKeySet.load(keyset_file, PASS)
    keys.import_hmac_secret(b"k" * 32, kid=kid)
    keys.save(keyset_file, PASS, kdf_params=kdf.ARGON2ID_TEST)
    shown = "bell\\x07\\u202eevil"
    listed = cli(["jwt", "keyset", "list", keyset_file], env=ENV)
    assert listed.code == 0, listed.stderr
    assert kid not in listed.out
    assert any(line.startswith(shown + " ") for line in listed.out.splitlines())
    r = cli(["jwt", "keyset", "disable", keyset_file, "--", kid], env=ENV)
    assert r.code == 0, r.stderr
    assert (r.out, r.stderr) == ("", f"disabled key {shown} in {keyset_file}\n")
    assert (
        json.loads(cli(["jwt", "keyset", "list", keyset_file, "--json"], env=ENV).out)[1]["id"]
        == kid
    )  # JSON keeps the key id as it is (escaped by JSON itself)


# -- a keyset on a read-only file system -------------------------------------------------


@contextmanager
def _read_only_mount(where: Path) -> Iterator[Path]:
    """A small tmpfs at ``where``, remounted read-only once the block has filled it."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root to mount")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", where], check=True)


def test_a_change_to_a_keyset_on_a_read_only_file_system_is_one_error_with_a_hint(
    cli, tmp_path: Path
) -> None:
    with _read_only_mount(tmp_path / "ro") as ro:
        path = ro / "keys.jwt"
        SigningKeySet.generate().save(path, PASS, kdf_params=kdf.ARGON2ID_TEST)
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        before = path.read_bytes()
        for args in (["rotate", path, "--json"], ["add", path], ["create", ro / "new.jwt"]):
            r = cli(["jwt", "keyset", *args], env=ENV)
            assert (r.code, r.stdout) == (1, b""), args
            target = args[1]
            assert r.stderr.splitlines() == [
                (
                    f"sealbox: error: cannot lock {target}: read-only file system "
                    f"({ro}/.{Path(target).name}.lock)"
                ),
                (
                    f"sealbox: hint: the file system that holds {ro} is mounted read-only: a "
                    "writer puts its lock file and the new version beside the file"
                ),
            ], args
        assert path.read_bytes() == before
        # Reading needs no lock.
        assert cli(["jwt", "keyset", "list", path], env=ENV).code == 0
