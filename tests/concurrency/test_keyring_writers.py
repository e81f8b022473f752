"""Keyrings written by racing and dying processes: no key is ever lost, no file half-written."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from sealbox.keysets.keyring import Keyring
from tests._race import clean_env, finish, kill_at, race, start_together
from tests.conftest import run_sealbox

PASS = {"SEALBOX_PASSPHRASE": "racing keyring passphrase"}
WRITERS = 8


def make_keyring(path: Path) -> None:
    r = run_sealbox(["keyring", "create", path], env=PASS)
    assert r.returncode == 0, r.stderr


def test_eight_concurrent_cli_rotations_keep_every_key(tmp_path: Path) -> None:
    ring_file = tmp_path / "app.keyring"
    make_keyring(ring_file)
    results = race([["keyring", "rotate", ring_file]] * WRITERS, env=PASS)
    assert [r.code for r in results] == [0] * WRITERS, results
    ring = Keyring.load(ring_file, PASS["SEALBOX_PASSPHRASE"])
    assert len(ring) == 1 + WRITERS
    assert sum(k.state.value == "active" for k in ring) == 1
    assert sum(k.state.value == "decrypt-only" for k in ring) == WRITERS


# Each writer: load, rotate, seal a value under its new key, save, print the token.
_LIBRARY_WRITER = """
import sys
from sealbox.keysets.keyring import Keyring
path, passphrase = sys.argv[1], sys.argv[2]
ring = Keyring.load(path, passphrase)
ring.rotate()
token = ring.seal_text(b"value of " + sys.argv[3].encode())
ring.save(path, passphrase)
print(token)
"""


def test_values_sealed_by_eight_racing_library_writers_all_open(tmp_path: Path) -> None:
    ring_file = tmp_path / "lib.keyring"
    make_keyring(ring_file)
    passphrase = PASS["SEALBOX_PASSPHRASE"]
    t0 = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import time; time.sleep(max(0, {t0!r} - time.time()))\n" + _LIBRARY_WRITER,
                str(ring_file),
                passphrase,
                str(i),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        for i in range(WRITERS)
    ]
    tokens = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        tokens.append(out.decode().strip())
    ring = Keyring.load(ring_file, passphrase)
    assert len(ring) == 1 + WRITERS
    for i, token in enumerate(tokens):
        assert ring.open_text(token) == f"value of {i}".encode()


def test_a_long_lived_keyring_object_never_overwrites_a_newer_file(tmp_path: Path) -> None:
    ring_file = tmp_path / "svc.keyring"
    make_keyring(ring_file)
    passphrase = PASS["SEALBOX_PASSPHRASE"]
    held = Keyring.load(ring_file, passphrase)  # a service loaded it at start
    mine = held.rotate()
    token = held.seal(b"sealed by the service")
    # Meanwhile an operator rotates and disables the first key with the CLI.
    first = held.keys()[0].hex_id
    assert run_sealbox(["keyring", "rotate", ring_file], env=PASS).returncode == 0
    held.save(ring_file, passphrase)
    ring = Keyring.load(ring_file, passphrase)
    assert len(ring) == 3
    assert ring.open(token) == b"sealed by the service"
    assert mine.id in ring
    assert first in {k.hex_id for k in ring}


def test_writers_killed_at_random_points_lose_nothing_and_leave_no_partial_file(
    tmp_path: Path,
) -> None:
    ring_file = tmp_path / "k.keyring"
    make_keyring(ring_file)
    rng = random.Random(20261204)
    procs = start_together([["keyring", "rotate", ring_file]] * WRITERS, env=PASS, lead=0.5)
    victims = rng.sample(procs, 4)
    killers = [
        threading.Thread(target=kill_at, args=(p, 0.5 + rng.uniform(0.0, 0.6))) for p in victims
    ]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    results = finish(procs)
    succeeded = sum(r.code == 0 for r in results)
    killed = sum(r.code == -9 for r in results)
    assert succeeded + killed == WRITERS, results
    ring = Keyring.load(ring_file, PASS["SEALBOX_PASSPHRASE"])  # whole, never partial
    # Every writer that said it succeeded kept its key; a killed one may have saved or not.
    assert 1 + succeeded <= len(ring) <= 1 + WRITERS
    # The next writer into the folder removes what the dead ones left.
    assert run_sealbox(["keyring", "rotate", ring_file], env=PASS).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_waiting_writer_says_so_and_gives_up_after_the_timeout(tmp_path: Path) -> None:
    from sealbox._util.locks import locked

    ring_file = tmp_path / "held.keyring"
    make_keyring(ring_file)
    before = ring_file.read_bytes()
    with locked(ring_file):  # another writer holds it
        r = run_sealbox(["keyring", "rotate", ring_file], env={**PASS, "SEALBOX_LOCK_TIMEOUT": "2"})
    err = r.stderr.decode()
    assert r.returncode == 1
    assert f"sealbox: note: waiting for another writer of {ring_file}" in err
    assert f"sealbox: error: gave up after 2 s waiting for another writer of {ring_file}" in err
    assert "SEALBOX_LOCK_TIMEOUT" in err  # the hint
    assert ring_file.read_bytes() == before


def test_a_bad_lock_timeout_setting_is_a_clear_error(tmp_path: Path) -> None:
    ring_file = tmp_path / "k.keyring"
    make_keyring(ring_file)
    r = run_sealbox(["keyring", "rotate", ring_file], env={**PASS, "SEALBOX_LOCK_TIMEOUT": "soon"})
    assert r.returncode == 1
    assert "SEALBOX_LOCK_TIMEOUT must be a number of seconds" in r.stderr.decode()
