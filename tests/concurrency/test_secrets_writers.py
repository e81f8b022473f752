"""Secrets files written by racing and dying processes."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from sealbox import age
from sealbox.secrets.sealed import SealedFile
from tests._race import finish, kill_at, race, start_together
from tests.conftest import run_sealbox

WRITERS = 20


def _file(tmp_path: Path) -> tuple[Path, age.X25519Identity]:
    ident = age.X25519Identity.generate()
    path = tmp_path / "secrets.env"
    r = run_sealbox(["secrets", "init", path, "-r", str(ident.recipient())])
    assert r.returncode == 0, r.stderr
    return path, ident


def test_twenty_concurrent_sets_of_different_names_keep_every_name(tmp_path: Path) -> None:
    path, ident = _file(tmp_path)
    names = [f"NAME_{i}" for i in range(WRITERS)]
    results = race(
        [["secrets", "set", path, n] for n in names],
        inputs=[f"value {n}".encode() for n in names],
    )
    assert [r.code for r in results] == [0] * WRITERS, [r.err for r in results if r.code]
    sealed = SealedFile.load(path)
    assert sealed.names() == sorted(names)
    for n in names:
        assert sealed.get(n, [ident]).expose_secret() == f"value {n}"


def test_killed_setters_leave_a_whole_file_and_lose_no_acknowledged_name(tmp_path: Path) -> None:
    path, _ident = _file(tmp_path)
    rng = random.Random(4)
    names = [f"K_{i}" for i in range(8)]
    procs = start_together(
        [["secrets", "set", path, n] for n in names], inputs=[b"v"] * 8, lead=0.5
    )
    killers = [
        threading.Thread(target=kill_at, args=(p, 0.5 + rng.uniform(0, 0.5)))
        for p in rng.sample(procs, 4)
    ]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    results = finish(procs)
    sealed = SealedFile.load(path)  # parses, trailer and all
    acknowledged = {n for n, r in zip(names, results, strict=True) if r.code == 0}
    assert acknowledged <= set(sealed.names())
    assert run_sealbox(["secrets", "set", path, "AFTER"], input=b"x").returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
