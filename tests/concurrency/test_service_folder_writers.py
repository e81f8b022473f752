"""The service's data folder, provisioned by racing processes, and its keyset rotated by several."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from sealbox.service.provision import DataDir
from tests._race import finish, kill_at, race, start_together
from tests.conftest import run_sealbox

WRITERS = 8


def test_eight_services_starting_on_one_new_folder_share_one_set_of_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    results = race([["serve", "--data-dir", data, "--port", "0", "--check"]] * WRITERS)
    assert [r.code for r in results] == [0] * WRITERS, [r.err for r in results if r.code]
    created = [r for r in results if "created master key" in r.err]
    assert len(created) == 1  # one process created, the others found
    folder = DataDir(data)
    keyset = folder.load_keyset()  # opens with the one master key there is
    assert len(keyset) == 1


def test_a_damaged_server_certificate_in_the_data_folder_is_one_clear_error(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"]).returncode == 0
    cert = data / "tls" / "server.crt"
    cert.write_bytes(cert.read_bytes()[:200])  # cut short
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"])
    assert r.returncode == 1
    error, hint = r.stderr.decode().splitlines()
    assert error == (
        f"sealbox: error: certificate file {cert} holds a PEM certificate that cannot be parsed"
    )
    assert hint.startswith("sealbox: hint: ") and f"openssl x509 -in {cert} " in hint


def test_eight_keyset_rotations_of_the_service_folder_keep_every_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"]).returncode == 0
    script = (
        "import sys\nfrom sealbox.service.provision import DataDir\n"
        "folder = DataDir(sys.argv[1]); ks = folder.load_keyset(); ks.rotate(); "
        "folder.save_keyset(ks)\n"
    )
    import subprocess
    import sys
    import time

    t0 = time.time() + 1
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import time; time.sleep(max(0, {t0!r} - time.time()))\n{script}",
                str(data),
            ],
            stderr=subprocess.PIPE,
        )
        for _ in range(WRITERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    assert len(DataDir(data).load_keyset()) == 1 + WRITERS


def test_killed_ca_issuers_leave_a_matching_pair(tmp_path: Path) -> None:
    from tests.concurrency.test_ca_writers import _pair_matches

    ca, prefix = tmp_path / "ca", tmp_path / "server"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    assert (
        run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", prefix]).returncode == 0
    )
    rng = random.Random(7)
    procs = start_together(
        [
            ["ca", "issue", "server", ca, "--san", f"h{i}.test", "-o", prefix, "--force"]
            for i in range(WRITERS)
        ],
        lead=0.5,
    )
    killers = [
        threading.Thread(target=kill_at, args=(p, 0.5 + rng.uniform(0, 0.4)))
        for p in rng.sample(procs, 4)
    ]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    finish(procs)
    assert _pair_matches(prefix)
    assert run_sealbox(["ca", "renew", ca, prefix, "--force"]).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
