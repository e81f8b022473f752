"""`secrets accept` racing `secrets set` on one file, in real processes, some killed."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from sealbox import age
from sealbox.secrets.sealed import SealedFile
from tests._race import finish, kill_at, start_together
from tests.conftest import run_sealbox

SETTERS = 12
ACCEPTERS = 8
# Names there before the race: a larger file keeps each accept between its read and
# its rename for longer.
EARLIER = 200


def _file(tmp_path: Path) -> tuple[Path, age.X25519Identity]:
    ident = age.X25519Identity.generate()
    path = tmp_path / "secrets.env"
    sealed = SealedFile.create(path, [str(ident.recipient())])
    for i in range(EARLIER):
        sealed.set(f"EARLIER_{i}", f"earlier {i}")
    sealed.save()
    return path, ident


def _race(path: Path, *, kills: int, seed: int) -> tuple[list[str], list[int]]:
    """Run the setters and accepters together (``kills`` of them SIGKILLed); return the
    names set and the exit status of each setter."""
    names = [f"NAME_{i}" for i in range(SETTERS)]
    commands = [["secrets", "set", path, n] for n in names]
    commands += [["secrets", "accept", path]] * ACCEPTERS
    inputs = [f"value {n}".encode() for n in names] + [b""] * ACCEPTERS
    procs = start_together(commands, inputs=inputs, lead=0.5)
    rng = random.Random(seed)
    killers = [
        threading.Thread(target=kill_at, args=(p, 0.5 + rng.uniform(0, 0.6)))
        for p in rng.sample(procs, kills)
    ]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    results = finish(procs)
    return names, [r.code for r in results[:SETTERS]]


def _check_whole(path: Path, ident: age.X25519Identity, acknowledged: list[str]) -> None:
    sealed = SealedFile.load(path)  # parses, and its trailer matches
    assert set(acknowledged) <= set(sealed.names())
    assert {f"EARLIER_{i}" for i in range(EARLIER)} <= set(sealed.names())
    for name in acknowledged:
        assert sealed.get(name, [ident]).expose_secret() == f"value {name}"


def test_accepts_racing_sets_keep_every_value_set(tmp_path: Path) -> None:
    path, ident = _file(tmp_path)
    names, codes = _race(path, kills=0, seed=1)
    assert codes == [0] * SETTERS
    _check_whole(path, ident, names)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_killed_accepts_and_sets_leave_a_whole_file_and_no_temporary(tmp_path: Path) -> None:
    path, ident = _file(tmp_path)
    names, codes = _race(path, kills=8, seed=7)
    acknowledged = [n for n, code in zip(names, codes, strict=True) if code == 0]
    _check_whole(path, ident, acknowledged)
    # The next writer clears what the killed ones left; the file is accepted as it is.
    done = run_sealbox(["secrets", "accept", path])
    assert done.returncode == 0, done.stderr
    _check_whole(path, ident, acknowledged)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
