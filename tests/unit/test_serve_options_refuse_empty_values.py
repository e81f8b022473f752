"""An option of ``sealbox serve`` given an empty value (an unset shell variable) is a
usage error naming the option (exit 2), as ``--data-dir ''`` is: not an invalid setting
named by its variable, which the operator never set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_sealbox


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_host_option_is_a_usage_error_naming_the_option(
    tmp_path: Path, value: str
) -> None:
    r = run_sealbox(["serve", "--data-dir", tmp_path / "data", "--check", "--host", value])
    assert r.returncode == 2, r.stderr
    err = r.stderr.decode()
    assert err.startswith("sealbox: error: invalid value for '--host': empty")
    assert "SEALBOX_HOST" not in err
    assert not (tmp_path / "data").exists()


def test_no_mtls_turns_off_mutual_tls_set_in_the_environment(cli, tmp_path: Path) -> None:
    # An option wins over the environment: a flag that could only turn mutual TLS on left
    # SEALBOX_MTLS=true in force. With a certificate of one's own and no client CA, mutual
    # TLS is refused, so the outcome shows which one won.
    data = tmp_path / "data"
    assert cli(["serve", "--data-dir", data, "--check"]).code == 0
    env = {
        "SEALBOX_MTLS": "true",
        "SEALBOX_CERT": str(data / "tls" / "server.crt"),
        "SEALBOX_KEY": str(data / "tls" / "server.key"),
    }
    refused = cli(["serve", "--data-dir", data, "--check"], env=env)
    assert refused.code == 1
    assert "needs the CA of the client certificates" in refused.stderr
    r = cli(["serve", "--data-dir", data, "--check", "--no-mtls"], env=env)
    assert r.code == 0, r.stderr
