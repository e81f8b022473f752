"""Key files that cannot be made again: racing and killed writers of real processes.

An age identity or a private key written to a new file is the only copy of that key:
of writers racing to one name, exactly one may say it succeeded, and the file holds
its key. A signing keyset rewritten by writers killed at any moment stays whole and
keeps every key whose writer said it was saved.
"""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

from sealbox.jwt import SigningKeySet
from tests._race import finish, kill_at, race, start_together
from tests.conftest import run_sealbox

WRITERS = 8
PASS = {"SEALBOX_PASSPHRASE": "racing key files passphrase"}


def test_racing_keygens_to_one_file_leave_exactly_one_identity_and_its_owner_knows(
    tmp_path: Path,
) -> None:
    file = tmp_path / "id.txt"
    results = race([["keygen", "-o", file]] * WRITERS)
    winners = [r for r in results if r.code == 0]
    assert len(winners) == 1, results
    for r in results:
        if r.code != 0:
            assert r.code == 1
            assert f"{file} already exists" in r.err
    printed = re.search(r"age1[0-9a-z]+", winners[0].err)
    assert printed is not None
    recipient = run_sealbox(["keygen", "-y", file]).stdout.decode().strip()
    assert recipient == printed.group(0)  # the file holds the winner's identity
    assert [p.name for p in tmp_path.iterdir()] == ["id.txt"]  # no temporary file


def test_racing_key_generates_to_one_name_leave_exactly_one_matching_pair(
    tmp_path: Path,
) -> None:
    file = tmp_path / "id_ed25519"
    results = race([["key", "generate", "-o", file, "--no-passphrase", "--yes"]] * WRITERS)
    winners = [r for r in results if r.code == 0]
    assert len(winners) == 1, results
    assert all("already exists" in r.err for r in results if r.code != 0), results
    derived = run_sealbox(["key", "public", file]).stdout.decode().split()[:2]
    assert (tmp_path / "id_ed25519.pub").read_text().split()[:2] == derived
    fingerprint = run_sealbox(["key", "fingerprint", file]).stdout.decode().split()[1]
    assert fingerprint in winners[0].out + winners[0].err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id_ed25519", "id_ed25519.pub"]


def test_keyset_writers_killed_at_random_points_lose_no_saved_key_and_leave_it_whole(
    tmp_path: Path,
) -> None:
    file = tmp_path / "keyset.sealed"
    assert run_sealbox(["jwt", "keyset", "create", file], env=PASS).returncode == 0
    rng = random.Random(20261207)
    procs = start_together([["jwt", "keyset", "rotate", file]] * WRITERS, env=PASS, lead=0.5)
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
    assert succeeded + sum(r.code == -9 for r in results) == WRITERS, results
    keys = SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"])  # whole, never partial
    assert 1 + succeeded <= len(keys) <= 1 + WRITERS
    # The next writer removes what the killed ones left.
    assert run_sealbox(["jwt", "keyset", "rotate", file], env=PASS).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
