"""A change whose audit record cannot be written: not made (an account's change, and a
client's creation, change of scopes, enabling or rotation, whose record is written in
its transaction), undone (an import), or said to be made (a service key rotated).

The audit log is on a real full disk: a small tmpfs mounted for the test (root only), its
log file made beforehand, the rest of its room taken by another file.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = b"a long enough password"


@pytest.fixture
def full(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The settings of an audit log that opens and cannot take a line (ENOSPC)."""
    yield from _full_disk(tmp_path)


@pytest.fixture
def full_after_one(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The settings of an audit log with room for one more record of an import, not two."""
    yield from _full_disk(tmp_path, room=200)


def _full_disk(tmp_path: Path, room: int = 0) -> Iterator[dict[str, str]]:
    # The log's last page (tmpfs hands out whole pages) keeps `room` bytes free.
    disk = tmp_path / "full"
    disk.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        log = disk / "audit.log"
        log.touch(mode=0o600)
        if room:
            log.write_bytes(b"{}\n" * ((4096 - room) // 3))
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        if not room:
            with pytest.raises(OSError):  # the disk is full indeed
                fd = os.open(log, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, b"x\n")
                finally:
                    os.close(fd)
        yield {"SEALBOX_AUDIT_LOG": str(log)}
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _users(cli, data: Path, *args: object, env: dict[str, str] | None = None, input=b""):
    return cli(["users", *args, "--data-dir", data], input=input, env=env)


def _stored_names(cli, data: Path) -> list[str]:
    listed = _users(cli, data, "list", "--json")
    assert listed.code == 0, listed.stderr
    return [a["name"] for a in json.loads(listed.out)]


def test_users_disable_on_a_full_audit_disk_disables_nothing_and_says_so(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "alice", input=PASSWORD).code == 0
    r = _users(cli, data, "disable", "ALICE", env=full)
    assert r.code == 1
    assert r.out == ""
    assert r.stderr == (
        "sealbox: error: did not disable 'alice': the audit log cannot be written "
        "(no space left on device)\n"
        "sealbox: hint: make the audit log writable again (free room on its disk), then retry\n"
    )
    shown = json.loads(_users(cli, data, "show", "alice", "--json").out)
    assert shown["disabled"] is False


def test_users_delete_on_a_full_audit_disk_deletes_nothing_and_says_so(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "alice", input=PASSWORD).code == 0
    r = _users(cli, data, "delete", "alice", "--yes", env=full)
    assert r.code == 1
    assert "sealbox: error: did not delete 'alice': the audit log cannot be written" in r.stderr
    assert _stored_names(cli, data) == ["alice"]


def test_users_create_on_a_full_audit_disk_creates_nothing_and_leaves_the_name_free(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "root", input=PASSWORD).code == 0
    r = _users(cli, data, "create", "alice", "--scope", "users:admin", env=full, input=PASSWORD)
    assert r.code == 1
    assert "sealbox: error: did not create the account 'alice'" in r.stderr
    assert _stored_names(cli, data) == ["root"]
    again = _users(cli, data, "create", "alice", input=PASSWORD)
    assert again.code == 0, again.stderr


def test_clients_create_on_a_full_audit_disk_leaves_no_client_and_the_name_free(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    r = cli(["clients", "create", "billing", "--data-dir", data], env=full)
    assert r.code == 1
    assert r.out == ""
    assert "sealbox: error: did not create client 'billing'" in r.stderr
    listed = cli(["clients", "list", "--data-dir", data])
    assert listed.code == 0 and listed.out == ""
    again = cli(["clients", "create", "billing", "--data-dir", data])
    assert again.code == 0, again.stderr
    assert "client_secret: sbs_" in again.out


def _show(cli, data: Path, name: str) -> dict[str, object]:
    shown = cli(["clients", "show", name, "--json", "--data-dir", data])
    assert shown.code == 0, shown.stderr
    return json.loads(shown.out)


def test_clients_rotate_on_a_full_audit_disk_rotates_nothing_and_shows_no_secret(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(["clients", "create", "billing", "--json", "--data-dir", data]).out)
    before = _show(cli, data, "billing")
    r = cli(["clients", "rotate-secret", "billing", "--json", "--data-dir", data], env=full)
    assert r.code == 1
    # Not rotated: the secret made keeps working, and no new one exists to be shown.
    assert r.out == ""
    assert r.stderr == (
        "sealbox: error: did not rotate the secret of client 'billing': the audit log "
        "cannot be written (no space left on device)\n"
        "sealbox: hint: make the audit log writable again (free room on its disk), then retry\n"
    )
    assert _show(cli, data, "billing") == before
    assert made["client_secret"] not in r.stderr
    assert Path(full["SEALBOX_AUDIT_LOG"]).read_text() == ""


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["grant", "billing", "transit:admin"], "grant scopes to"),
        (["revoke", "billing", "transit:encrypt:orders"], "take scopes back from"),
        (["enable", "billing"], "enable"),
    ],
)
def test_clients_changes_on_a_full_audit_disk_change_nothing_and_say_so(
    cli, tmp_path: Path, full: dict[str, str], command: list[str], said: str
) -> None:
    data = tmp_path / "data"
    made = cli(
        ["clients", "create", "billing", "--scope", "transit:encrypt:orders", "--data-dir", data]
    )
    assert made.code == 0, made.stderr
    assert cli(["clients", "disable", "billing", "--data-dir", data]).code == 0
    before = _show(cli, data, "billing")
    r = cli(["clients", *command, "--data-dir", data], env=full)
    assert r.code == 1
    assert r.out == ""
    assert r.stderr.startswith(
        f"sealbox: error: did not {said} client 'billing': the audit log cannot be written "
        "(no space left on device)\n"
    )
    assert _show(cli, data, "billing") == before


def test_a_change_redis_did_not_hear_of_is_still_written_to_the_audit_log(
    cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "alice", input=PASSWORD).code == 0
    # Nothing listens on port 1: Redis does not answer, after the database changed.
    r = _users(cli, data, "disable", "alice", env={"SEALBOX_REDIS_URL": "redis://127.0.0.1:1"})
    assert r.code == 1
    assert "Redis did not answer" in r.stderr
    assert json.loads(_users(cli, data, "show", "alice", "--json").out)["disabled"] is True
    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    assert [(e["event"], e["user"]) for e in records][-1] == ("admin.disable", "alice")
    assert "Redis did not answer" in records[-1]["detail"]


def _import_lines(*names: str) -> bytes:
    # Argon2id hashes of sealbox's own profile: no rehash needed, the file stays small.
    from sealbox.passwords import PasswordHasher

    hashed = PasswordHasher("test").hash(PASSWORD.decode())
    return b"".join(
        json.dumps({"username": n, "password_hash": hashed}).encode() + b"\n" for n in names
    )


def test_users_import_on_a_full_audit_disk_imports_nothing_and_leaves_the_names_free(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    # As `users create` and `clients create`: no account is made unrecorded.
    data = tmp_path / "data"
    assert _users(cli, data, "create", "root", input=PASSWORD).code == 0
    lines = tmp_path / "accounts.jsonl"
    lines.write_bytes(_import_lines("alice", "bob"))
    r = _users(cli, data, "import", lines, "--json", env=full)
    assert r.code == 1
    assert r.out == ""
    assert (
        "sealbox: error: did not import the accounts 'alice', 'bob': the audit log cannot be "
        "written (no space left on device)\n" in r.stderr
    )
    assert _stored_names(cli, data) == ["root"]
    again = _users(cli, data, "import", lines)
    assert again.code == 0, again.stderr
    assert _stored_names(cli, data) == ["alice", "bob", "root"]


def test_users_import_whose_audit_disk_fills_midway_keeps_only_the_recorded_accounts(
    cli, tmp_path: Path, full_after_one: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "root", input=PASSWORD).code == 0
    lines = tmp_path / "accounts.jsonl"
    lines.write_bytes(_import_lines("alice", "bob", "carol"))
    r = _users(cli, data, "import", lines, env=full_after_one)
    assert r.code == 1
    assert (
        "sealbox: error: did not import the accounts 'bob', 'carol': the audit log cannot be "
        "written (no space left on device); imported (and recorded) 'alice' before\n"
    ) in r.stderr
    # Every account there is recorded, and every record names an account that is there.
    assert _stored_names(cli, data) == ["alice", "root"]
    log = Path(full_after_one["SEALBOX_AUDIT_LOG"]).read_text().splitlines()
    records = [json.loads(line) for line in log if line != "{}"]
    assert [(e["event"], e["user"]) for e in records] == [("admin.import", "alice")]


def test_a_service_key_rotation_on_a_full_audit_disk_says_the_key_signs_unrecorded(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert cli(["serve", "--data-dir", data, "--port", "0", "--check"]).code == 0
    r = cli(["jwt", "keyset", "rotate", "--data-dir", data], env=full)
    assert r.code == 1
    assert r.out == ""
    assert r.stderr.startswith("sealbox: error: rotated to key ")
    assert "but the audit log cannot be written" in r.stderr
    # The change stands: the new key signs, the old one verifies.
    listed = json.loads(cli(["jwt", "keyset", "list", "--data-dir", data, "--json"]).out)
    assert [k["state"] for k in listed] == ["decrypt-only", "active"]
    assert listed[1]["id"] in r.stderr


def test_users_import_whose_refused_lines_cannot_be_recorded_imports_nothing(
    cli, tmp_path: Path, full: dict[str, str]
) -> None:
    data = tmp_path / "data"
    assert _users(cli, data, "create", "root", input=PASSWORD).code == 0
    lines = tmp_path / "accounts.jsonl"
    lines.write_bytes(_import_lines("alice") + b"{not json\n")
    r = _users(cli, data, "import", lines, "--skip-invalid", env=full)
    assert r.code == 1
    assert (
        "sealbox: error: did not import the account 'alice': the audit log cannot be "
        "written (no space left on device)\n" in r.stderr
    ), r.stderr
    # Refused as a whole, nothing to undo: the lost refusal is still an error, not silence.
    r = _users(cli, data, "import", lines, env=full)
    assert r.code == 1
    assert (
        "sealbox: error: did not import any account: the audit log cannot be "
        "written (no space left on device)\n" in r.stderr
    ), r.stderr
    assert _stored_names(cli, data) == ["root"]
