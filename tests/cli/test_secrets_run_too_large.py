"""`sealbox secrets run` with values the kernel will not pass in an environment.

Linux takes at most 128 KiB for one ``NAME=value`` string, and a few MiB for the
arguments and environment together; past either, exec fails with "argument list too
long", which would blame the command's arguments. sealbox names the value instead (its
size, never its text).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sealbox import age
from sealbox.secrets.sealed import SealedFile
from tests.conftest import run_sealbox

CANARY = "canary-run-too-large-4f1c"


def _sealed(tmp_path: Path, values: dict[str, str]) -> tuple[Path, Path]:
    ident = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(ident))
    path = tmp_path / "secrets.env"
    sealed = SealedFile.create(path, [str(ident.recipient())])
    for name, value in values.items():
        sealed.set(name, value)
    sealed.save()
    return path, key


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's per-string limit")
def test_run_of_a_value_too_large_for_one_variable_names_it_not_the_arguments(
    tmp_path: Path,
) -> None:
    big = CANARY + "x" * 200_000
    path, key = _sealed(tmp_path, {"SMALL": "ok", "BIG": big})
    p = run_sealbox(["secrets", "run", path, "-i", key, "--", "true"])
    assert p.returncode == 126
    err = p.stderr.decode()
    assert "BIG's value (200030 bytes) is over one variable's limit (131072)" in err
    assert "argument list too long" not in err
    assert "hint: keep a large value in a file of its own" in err
    assert CANARY not in err and p.stdout == b""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's exec limits")
def test_run_of_values_too_large_together_names_the_largest(tmp_path: Path) -> None:
    # Each fits in one variable; together they pass what exec takes (ARG_MAX).
    values = {f"PART_{i:02d}": CANARY + "y" * 120_000 for i in range(40)}
    values["PART_07"] += "z" * 1_000
    path, key = _sealed(tmp_path, values)
    p = run_sealbox(["secrets", "run", path, "-i", key, "--", "true"])
    assert p.returncode == 126
    err = p.stderr.decode()
    assert "the environment is too large (the largest value: PART_07, 121034 bytes)" in err
    assert CANARY not in err and p.stdout == b""
