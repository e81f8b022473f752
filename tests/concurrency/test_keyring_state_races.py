"""A `sealbox keyring` process that changes a key's state while another writer changes the
same key: the merge refuses, and the message says what the other writer did.

The race is made certain rather than hoped for: the test holds the keyring's lock, starts
the real `sealbox` program (which reads the file, then waits for the lock to save), makes
the other change with the library while the program waits, then lets it go on.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sealbox._util.locks import locked
from sealbox.keysets.keyring import Keyring, KeyState
from tests._race import clean_env

PASS = "racing state passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS}


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[Path, int]:
    """A keyring whose first key is decrypt-only after a rotation: (file, that key's id)."""
    path = tmp_path / "app.keyring"
    ring = Keyring.generate()
    old = ring.primary_id
    ring.rotate()
    ring.save(path, PASS)
    return path, old


def _run_while_another_writer_changes(
    path: Path, args: list[str], meanwhile: Callable[[Keyring], None]
) -> tuple[int, str, list[str]]:
    """Run ``sealbox ARGS`` so that ``meanwhile`` is saved to PATH between its read and its
    save; return its exit status, stdout and the lines of stderr but its notes."""
    with locked(path):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sealbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(ENV),
        )
        assert proc.stderr is not None
        # Said once it has read the file and waits for the lock to save it.
        assert proc.stderr.readline().decode().startswith("sealbox: note: waiting for")
        other = Keyring.load(path, PASS)
        meanwhile(other)
        other.save(path, PASS)  # this thread holds the lock: it saves at once
    out, err = proc.communicate(timeout=120)
    said = [line for line in err.decode().splitlines() if not line.startswith("sealbox: note:")]
    return proc.returncode, out.decode(), said


def _states(path: Path) -> tuple[int, dict[int, KeyState]]:
    ring = Keyring.load(path, PASS)
    return ring.primary_id, {k.id: k.state for k in ring}


def test_disable_says_another_writer_made_the_key_primary_meanwhile(rotated) -> None:
    path, old = rotated
    code, out, err = _run_while_another_writer_changes(
        path, ["keyring", "disable", str(path), f"{old:08x}"], lambda r: r.set_primary(old)
    )
    assert (code, out) == (1, "")
    assert err == [
        (
            f"sealbox: error: keyring {path}: another writer made key {old:08x} primary at the "
            "same time, and the primary key cannot be disabled"
        ),
        (
            f"sealbox: hint: make another key primary first ('sealbox keyring rotate {path}' or "
            f"'sealbox keyring set-primary {path} KEY_ID'), then disable {old:08x} again"
        ),
    ]
    # Nothing was written by the refused run: the other writer's change stands.
    primary, states = _states(path)
    assert (primary, states[old]) == (old, KeyState.ACTIVE)


def test_destroy_says_another_writer_made_the_key_primary_meanwhile(rotated) -> None:
    path, old = rotated
    ring = Keyring.load(path, PASS)
    ring.disable(old)
    ring.save(path, PASS)

    def enable_and_make_primary(other: Keyring) -> None:
        other.enable(old)
        other.set_primary(old)

    code, out, err = _run_while_another_writer_changes(
        path, ["keyring", "destroy", str(path), f"{old:08x}", "--yes"], enable_and_make_primary
    )
    assert (code, out) == (1, "")
    assert err == [
        (
            f"sealbox: error: keyring {path}: another writer made key {old:08x} primary at the "
            "same time, and the primary key cannot be destroyed"
        ),
        (
            f"sealbox: hint: make another key primary first ('sealbox keyring rotate {path}' or "
            f"'sealbox keyring set-primary {path} KEY_ID'), then disable and destroy {old:08x} "
            "again"
        ),
    ]
    primary, states = _states(path)
    assert (primary, states[old]) == (old, KeyState.ACTIVE)  # its material is still there


def test_set_primary_says_another_writer_disabled_the_key_meanwhile(rotated) -> None:
    path, old = rotated
    code, out, err = _run_while_another_writer_changes(
        path, ["keyring", "set-primary", str(path), f"{old:08x}"], lambda r: r.disable(old)
    )
    assert (code, out) == (1, "")
    assert err == [
        f"sealbox: error: keyring {path}: the primary key {old:08x} was disabled by another writer",
        "sealbox: hint: load the keyring again and repeat the change",
    ]
    primary, states = _states(path)
    assert primary != old and states[old] is KeyState.DISABLED


def test_the_library_error_names_the_key_and_says_which_side_changed_what(rotated) -> None:
    from sealbox.exceptions import ConcurrentChangeError

    path, old = rotated
    mine = Keyring.load(path, PASS)
    mine.disable(old)
    other = Keyring.load(path, PASS)
    other.set_primary(old)
    other.save(path, PASS)
    with pytest.raises(ConcurrentChangeError) as info:
        mine.save(path, PASS)
    assert info.value.names == (f"{old:08x}",)
    assert info.value.facts == {"key_id": f"{old:08x}", "state": "disabled"}
    assert str(info.value).endswith(
        f"another writer made key {old:08x} primary at the same time, and the primary key "
        "cannot be disabled"
    )
    assert info.value.hint == (
        f"load the keyring again: key {old:08x} is primary now; make another key primary "
        "first (rotate, or set another key primary), then disable it"
    )
