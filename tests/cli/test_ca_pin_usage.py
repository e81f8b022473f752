"""`sealbox ca pin` names contradictory options as a usage error whatever its target."""

from __future__ import annotations

import pytest


@pytest.fixture
def ca_dir(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca"])
    assert result.code == 0, result.stderr
    return tmp_path / "ca"


@pytest.mark.parametrize("target", ["file", "-", "api.internal:443"])
def test_ca_and_no_verify_together_are_a_usage_error_for_any_target(ca_dir, cli, target):
    given = str(ca_dir / "ca.crt") if target == "file" else target
    result = cli(["ca", "pin", given, "--ca", ca_dir / "ca.crt", "--no-verify"])
    assert result.code == 2, result.stderr
    assert "--ca and --no-verify exclude each other" in result.stderr


def test_an_empty_servername_is_a_usage_error_for_a_file_too(ca_dir, cli):
    result = cli(["ca", "pin", ca_dir / "ca.crt", "--servername", " "])
    assert result.code == 2, result.stderr
    assert "--servername may not be empty" in result.stderr
