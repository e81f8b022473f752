"""The CA folder under racing writers: every key ends up beside its own certificate."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests._race import race
from tests.conftest import run_sealbox

WRITERS = 8


def _pair_matches(prefix: Path) -> bool:
    cert = x509.load_pem_x509_certificate(prefix.with_suffix(".crt").read_bytes())
    key = serialization.load_pem_private_key(prefix.with_suffix(".key").read_bytes(), None)
    return cert.public_key() == key.public_key()


def test_eight_concurrent_issues_to_one_prefix_leave_a_matching_pair(tmp_path: Path) -> None:
    ca, prefix = tmp_path / "ca", tmp_path / "server"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    results = race(
        [
            ["ca", "issue", "server", ca, "--san", f"host{i}.test", "-o", prefix, "--force"]
            for i in range(WRITERS)
        ]
    )
    assert [r.code for r in results] == [0] * WRITERS, [r.err for r in results]
    assert _pair_matches(prefix)


def test_eight_concurrent_renewals_with_new_keys_leave_a_matching_pair(tmp_path: Path) -> None:
    ca, prefix = tmp_path / "ca", tmp_path / "client"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    assert run_sealbox(["ca", "issue", "client", ca, "--name", "svc", "-o", prefix]).returncode == 0
    results = race([["ca", "renew", ca, prefix, "--force", "--new-key"]] * WRITERS)
    assert [r.code for r in results] == [0] * WRITERS, [r.err for r in results]
    assert _pair_matches(prefix)


def test_eight_concurrent_inits_of_one_folder_make_one_whole_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    results = race([["ca", "init", ca]] * WRITERS)
    made = [r for r in results if r.code == 0]
    assert len(made) == 1, [r.err for r in results]
    for r in results:
        if r.code:
            assert r.code == 1
            # The group is renamed into place key first: a loser may see either file.
            assert r.err.splitlines()[0] in {
                f"sealbox: error: {ca} already holds a CA ({name} exists)"
                for name in ("ca.crt", "ca.key")
            }
    assert _pair_matches(ca / "ca")
    assert sorted(p.name for p in ca.iterdir() if not p.name.endswith(".lock")) == [
        "ca.crt",
        "ca.key",
    ]
    assert (
        run_sealbox(
            ["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / "s"]
        ).returncode
        == 0
    )


@pytest.mark.parametrize("line", [3, 5, 8])
def test_a_damaged_ca_certificate_is_one_clear_error(tmp_path: Path, line: int) -> None:
    ca = tmp_path / "ca"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    lines = (ca / "ca.crt").read_text().splitlines()
    lines[line] = lines[line][:10] + "AAAA" + lines[line][14:]
    (ca / "ca.crt").write_text("\n".join(lines) + "\n")
    r = run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / "s"])
    assert r.returncode == 1
    error, hint = r.stderr.decode().splitlines()
    assert error.startswith(f"sealbox: error: CA certificate {ca / 'ca.crt'}")
    assert hint.startswith("sealbox: hint: ") and f"openssl x509 -in {ca / 'ca.crt'} " in hint
    assert not (tmp_path / "s.key").exists()


def test_a_ca_key_of_another_ca_is_one_clear_error(tmp_path: Path) -> None:
    for name in ("ca", "other"):
        assert run_sealbox(["ca", "init", tmp_path / name]).returncode == 0
    (tmp_path / "ca" / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
    r = run_sealbox(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "a.test", "-o", tmp_path / "s"]
    )
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"sealbox: error: {tmp_path / 'ca' / 'ca.key'} is not the key of {tmp_path / 'ca' / 'ca.crt'}\n"
    )
