"""``sealbox jwt keyset … --data-dir`` on folders that are not what the command needs: no
service's data folder at all, one without its keyset or with another's master key, or one
whose audit log this user may not write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_sealbox

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as a first ``serve --check`` leaves it, never used itself."""
    folder = tmp_path_factory.mktemp("provisioned") / "data"
    r = run_sealbox(["serve", "--data-dir", folder, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    return folder


@pytest.fixture
def data(provisioned: Path, tmp_path: Path) -> Path:
    # A copy of one provisioned folder (copy2 keeps the modes the checks look at): each
    # test breaks a folder of its own without paying for a first start of its own. The
    # copies share one master key; a test that needs another folder's provisions it.
    return Path(shutil.copytree(provisioned, tmp_path / "data"))


def _other_folders(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    others = tmp_path / "others"
    others.mkdir(mode=0o755)
    (others / "notes.txt").write_text("not a service's\n")
    shared = tmp_path / "shared"  # as /tmp is
    shared.mkdir()
    for folder, mode in ((empty, 0o755), (others, 0o755), (shared, 0o1777)):
        folder.chmod(mode)
    return {"empty": empty, "others": others, "shared": shared}


@pytest.mark.parametrize("kind", ["empty", "others", "shared"])
@pytest.mark.parametrize("command", [["list"], ["rotate"], ["add"], ["disable", "--", "kid"]])
def test_a_folder_that_is_no_service_s_is_told_so_before_its_mode(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    folder = _other_folders(tmp_path)[kind]
    before = sorted(p.name for p in folder.iterdir())
    args = [command[0], "--data-dir", folder, *command[1:]]
    r = run_sealbox(["jwt", "keyset", *args], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: {folder} is not a service's data folder: it holds no master key "
            "(master.key)"
        ),
        "sealbox: hint: run 'sealbox serve' once to provision the data folder",
    ]
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing made there


def test_the_library_says_a_folder_is_no_service_s_with_a_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service import load_settings, signing_keys

    monkeypatch.setenv("SEALBOX_PASSWORD_PROFILE", "test")
    folder = _other_folders(tmp_path)["shared"]
    with pytest.raises(ConfigError) as info:
        signing_keys(load_settings(data_dir=folder))
    assert info.value.code == "service_not_provisioned"
    assert info.value.facts == {"path": str(folder / "master.key")}


def test_a_service_s_folder_open_to_others_is_still_refused_for_its_mode(data: Path) -> None:
    data.chmod(0o755)
    r = run_sealbox(["jwt", "keyset", "list", "--data-dir", data], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: the folder {data} is open to other users (mode 755)",
        f"sealbox: hint: chmod 700 {data}",
    ]


def _audit_not_writable(data: Path, stderr: str, problem: str) -> None:
    log = data / "audit.log"
    assert stderr.splitlines() == [
        f"sealbox: error: cannot open the audit log {log}: {problem}",
        (
            "sealbox: hint: nothing was changed (a change is made only once its record can be "
            f"written): let this user write {log} (on a read-only file system, mount it "
            "read-write), then run the command again"
        ),
    ]


def _read_only(data: Path, args: list[object]) -> subprocess.CompletedProcess[bytes]:
    """Run sealbox with ``data`` bind-mounted read-only over itself, in a mount namespace
    of its own (the machine's mounts are never changed): a real read-only file system."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) for a read-only mount")
    ns = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
    script = (
        'mount --make-rprivate / && mount --bind "$1" "$1" && '
        'mount -o remount,bind,ro "$1" "$1" || exit 99; shift; exec "$@"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | ENV
    command = [sys.executable, "-m", "sealbox", *map(str, args)]
    r = subprocess.run(
        [unshare, *ns, "sh", "-c", script, "sh", str(data), *command],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    if r.returncode == 99:
        pytest.skip(f"this user cannot mount a folder read-only: {r.stderr.decode().strip()}")
    return r


@pytest.mark.parametrize(
    "command",
    [["rotate"], ["add"], ["disable", "--", "{old}"], ["destroy", "--yes", "--", "{old}"]],
)
def test_a_read_only_data_folder_changes_nothing_and_says_why_with_a_hint(
    data: Path, command: list[str]
) -> None:
    r = run_sealbox(["jwt", "keyset", "add", "--data-dir", data, "--json"], env=ENV)
    old = json.loads(r.stdout)["id"]  # a key that may be disabled or destroyed
    saved = (data / "jwt-keyset.sealed").read_bytes()
    args = [command[0], "--data-dir", data, *(a.format(old=old) for a in command[1:])]
    r = _read_only(data, ["jwt", "keyset", *args])
    assert r.returncode == 1
    _audit_not_writable(data, r.stderr.decode(), "read-only file system")
    assert (data / "jwt-keyset.sealed").read_bytes() == saved


def test_an_audit_log_this_user_may_not_write_changes_nothing_and_says_why(data: Path) -> None:
    log = data / "audit.log"
    saved = (data / "jwt-keyset.sealed").read_bytes()
    # A mode stops any user but root; the immutable flag stops root too.
    if os.geteuid() != 0:
        log.chmod(0o400)
        problem = "permission denied"
    elif subprocess.run(["chattr", "+i", log], capture_output=True, check=False).returncode:
        pytest.skip("root, on a file system without the immutable flag (chattr +i)")
    else:
        problem = "operation not permitted"
    try:
        r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data], env=ENV)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", log], check=True)
    assert r.returncode == 1
    _audit_not_writable(data, r.stderr.decode(), problem)
    assert (data / "jwt-keyset.sealed").read_bytes() == saved


def test_the_library_names_an_unwritable_audit_log_by_code_and_facts(data: Path) -> None:
    from sealbox.accounts.audit import AuditLog
    from sealbox.exceptions import StorageError

    log = data / "audit.log"
    if os.geteuid() != 0:
        log.chmod(0o400)
    elif subprocess.run(["chattr", "+i", log], capture_output=True, check=False).returncode:
        pytest.skip("root, on a file system without the immutable flag (chattr +i)")
    try:
        with pytest.raises(StorageError) as info:
            AuditLog(log)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", log], check=True)
    assert info.value.code == "audit_log_not_writable"
    problem = "permission denied" if os.geteuid() else "operation not permitted"
    assert info.value.facts == {"path": str(log), "problem": problem}


RESTORE = (
    "sealbox: hint: restore master.key and jwt-keyset.sealed from the same backup: the "
    "keyset opens with the master key it was sealed with only"
)


@pytest.mark.parametrize("command", [["list"], ["rotate"], ["add"], ["set-primary", "--", "k"]])
def test_a_data_folder_without_its_keyset_says_it_is_lost_not_that_a_file_is_missing(
    data: Path, command: list[str]
) -> None:
    (data / "jwt-keyset.sealed").unlink()
    r = run_sealbox(["jwt", "keyset", command[0], "--data-dir", data, *command[1:]], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: the data folder's signing keyset {data / 'jwt-keyset.sealed'} is missing",
        (
            "sealbox: hint: restore jwt-keyset.sealed from a backup (it is sealed under this "
            "master.key); to start a new signing keyset on purpose, ending every session, run "
            "'sealbox serve --new-signing-keyset' once"
        ),
    ]
    assert not (data / "jwt-keyset.sealed").exists()


def test_another_folder_s_master_key_is_named_with_both_files(data: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    r = run_sealbox(["serve", "--data-dir", other, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    (data / "master.key").write_bytes((other / "master.key").read_bytes())
    for command in (["jwt", "keyset", "rotate"], ["jwt", "jwks"]):
        r = run_sealbox([*command, "--data-dir", data], env=ENV)
        assert r.returncode == 1
        assert r.stderr.decode().splitlines() == [
            (
                f"sealbox: error: the master key {data / 'master.key'} does not open the signing "
                f"keyset {data / 'jwt-keyset.sealed'}: another folder's key, or either file was "
                "altered"
            ),
            RESTORE,
        ]


def test_a_damaged_service_keyset_is_named(data: Path) -> None:
    sealed = data / "jwt-keyset.sealed"
    sealed.write_text("garbage\n")
    r = run_sealbox(["jwt", "keyset", "add", "--data-dir", data], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: the signing keyset {sealed} is damaged: not a sealed service "
            "document (not JSON)"
        ),
        RESTORE,
    ]
    assert sealed.read_text() == "garbage\n"


def test_the_library_gives_those_folders_codes(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.exceptions import ConfigError, DecryptionError
    from sealbox.service import load_settings, rotate_signing_key, signing_jwks

    monkeypatch.setenv("SEALBOX_PASSWORD_PROFILE", "test")
    settings = load_settings(data_dir=data)
    (data / "master.key").write_text("sealbox-master-key/1 " + "A" * 43 + "\n")
    with pytest.raises(DecryptionError) as mismatch:
        signing_jwks(settings)
    assert mismatch.value.code == "master_key_mismatch"
    (data / "jwt-keyset.sealed").unlink()
    with pytest.raises(ConfigError) as lost:
        rotate_signing_key(settings)
    assert lost.value.code == "keyset_lost"
    assert lost.value.facts == {"keyset": str(data / "jwt-keyset.sealed")}


KID_COMMANDS = (["destroy", "--yes"], ["retire", "--yes"], ["disable"], ["enable"], ["set-primary"])


@pytest.mark.parametrize("command", KID_COMMANDS, ids=lambda c: c[0])
def test_an_empty_key_id_is_named_as_the_key_id_not_as_a_file(
    data: Path, command: list[str]
) -> None:
    for args in (["--data-dir", data, "--", ""], ["", "--data-dir", data]):
        r = run_sealbox(["jwt", "keyset", *command, *args], env=ENV)
        assert r.returncode == 2
        assert r.stderr.decode().splitlines() == [
            (
                "sealbox: error: invalid value for 'KEY_ID': an empty key id (is a shell "
                "variable unset?)"
            ),
            f"sealbox: hint: run 'sealbox jwt keyset {command[0]} --help' for usage",
        ]


def test_an_empty_key_id_after_a_file_is_named_as_the_key_id_and_an_empty_file_as_a_file(
    tmp_path: Path,
) -> None:
    r = run_sealbox(["jwt", "keyset", "disable", "--", tmp_path / "keys.jwt", ""], env=ENV)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines()[0] == (
        "sealbox: error: invalid value for 'KEY_ID': an empty key id (is a shell variable unset?)"
    )
    r = run_sealbox(["jwt", "keyset", "disable", "--", "", "kid"], env=ENV)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines()[0] == (
        "sealbox: error: invalid value for '[FILE]': an empty file name (is a shell variable "
        "unset?)"
    )


@pytest.mark.parametrize("command", KID_COMMANDS, ids=lambda c: c[0])
def test_two_arguments_with_data_dir_say_key_id_comes_alone(data: Path, command: list[str]) -> None:
    r = run_sealbox(["jwt", "keyset", *command, "--data-dir", data, "--", "kid", "extra"], env=ENV)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines()[0] == (
        "sealbox: error: got two arguments, kid and extra: with --data-dir DIR, KEY_ID comes "
        "alone (FILE KEY_ID is for a keyset FILE, without --data-dir)"
    )


def test_a_huge_key_id_is_echoed_cut_with_its_length(data: Path) -> None:
    kid = "k" * 100_000
    r = run_sealbox(["jwt", "keyset", "disable", "--data-dir", data, "--", kid], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines()[0] == (
        f"sealbox: error: no key {'k' * 64}… (100000 characters) in the service keyset of {data}"
    )
    odd = "a b" * 40_000
    r = run_sealbox(["jwt", "keyset", "enable", "--data-dir", data, "--", odd], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines()[0] == (
        f"sealbox: error: no key {odd[:64]!r}… (120000 characters) in the service keyset of {data}"
    )
