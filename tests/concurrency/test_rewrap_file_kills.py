"""``EnvelopeCipher.rewrap_file`` in real processes racing on one file, some killed.

The file is the only copy of its data: whatever writer dies, and wherever, the file
still opens to the data it held, and the next writer removes what the dead ones left.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider
from sealbox.keysets.keyring import Keyring
from tests._race import clean_env, kill_at

WRITERS = 6
PASSPHRASE = "racing rewrap passphrase"
_REWRAP = (
    "import os, sys, time\n"
    "from sealbox.keysets.envelope import EnvelopeCipher, KeyringProvider\n"
    "from sealbox.keysets.keyring import Keyring\n"
    "ring = Keyring.load(sys.argv[1], passphrase=os.environ['RING_PASSPHRASE'])\n"
    "time.sleep(max(0.0, float(sys.argv[3]) - time.time()))\n"
    "EnvelopeCipher(KeyringProvider(ring)).rewrap_file(sys.argv[2], force=True)\n"
)


def test_rewrappers_killed_at_random_points_leave_the_file_whole(tmp_path: Path) -> None:
    import time

    ring_file, target = tmp_path / "ring.json", tmp_path / "data.sbe"
    ring = Keyring.generate()
    ring.save(ring_file, passphrase=PASSPHRASE)
    cipher = EnvelopeCipher(KeyringProvider(ring))
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(24 * 1024 * 1024))  # long enough to be killed mid-copy
    cipher.encrypt_file(plain, target, b"ad")
    target.chmod(0o640)
    start = repr(time.time() + 1.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REWRAP, str(ring_file), str(target), start],
            env=clean_env({"RING_PASSPHRASE": PASSPHRASE}),
        )
        for _ in range(WRITERS)
    ]
    rng = random.Random(20261207)
    killers = [
        threading.Thread(target=kill_at, args=(p, 1.0 + rng.uniform(0.0, 1.5)))
        for p in rng.sample(procs, 3)
    ]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    codes = [p.wait(timeout=120) for p in procs]
    assert all(code in {0, -9} for code in codes), codes
    out = tmp_path / "out"
    cipher.decrypt_file(target, out, b"ad")
    assert out.read_bytes() == plain.read_bytes()
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert cipher.rewrap_file(target, force=True) is True  # the next writer cleans up
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
