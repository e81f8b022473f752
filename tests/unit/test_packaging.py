"""The sdist and the wheel as built from this checkout: what they carry, and what they say
of their licences (`uv build`, a few seconds)."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import sealbox

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
# Files of others the wheel ships, and the licences (SPDX) they come under.
VENDORED = {
    "sealbox/accounts/data/confusables.txt.gz": {"Unicode-3.0"},
    "sealbox/service/static/swagger-ui/swagger-ui-bundle.js": {"Apache-2.0", "MIT", "BSD-3-Clause"},
}
PACKAGE_DATA = [
    "sealbox/py.typed",
    "sealbox/accounts/migrations/env.py",
    "sealbox/accounts/migrations/script.py.mako",
    "sealbox/accounts/migrations/versions/0001_users_and_sessions.py",
    "sealbox/service/static/swagger-ui/swagger-ui.css",
    "sealbox/service/static/swagger-ui/favicon-32x32.png",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not UV.exists():
        pytest.skip("uv is not installed beside this Python (the dev dependency group has it)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(UV), "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # hatchling's, were it to leave one
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def test_every_licence_and_notice_the_wheel_ships_is_declared(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[1]) as wheel:
        names = wheel.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    shipped = [
        n
        for n in names
        if n.startswith("sealbox/")
        and (Path(n).name.startswith(("LICENSE", "NOTICE")) or n.endswith(".LICENSE.txt"))
    ]
    declared = {f"src/{n}" for n in shipped}
    assert declared <= set(metadata.get_all("License-File") or []), metadata.get_all("License-File")
    for n in declared:
        assert f"{info}/licenses/{n}" in names
    expression = metadata["License-Expression"]
    for path, licences in VENDORED.items():
        assert path in names
        assert all(spdx in expression.split() for spdx in licences), (path, expression)


def test_the_wheel_carries_the_package_and_its_data_only(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[1]) as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = wheel.read(entry_points).decode()
        metadata = email.message_from_bytes(
            wheel.read(entry_points.replace("entry_points.txt", "METADATA"))
        )
    assert {n.split("/")[0] for n in names} == {
        "sealbox",
        f"sealbox-{sealbox.__version__}.dist-info",
    }
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert set(PACKAGE_DATA) <= set(names)
    assert metadata["Version"] == sealbox.__version__
    assert "sealbox = sealbox.cli:console" in scripts


def test_the_sdist_holds_what_its_tests_read(built: tuple[Path, Path]) -> None:
    with tarfile.open(built[0]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    # tests/service/test_fastapi_example*.py run examples/; test_bench_suites_import, bench/.
    assert {"examples/fastapi_app.py", "bench/__init__.py", "bench/suite_age.py"} <= names
    assert {"LICENSE", "README.md", "pyproject.toml", "tests/conftest.py"} <= names
    tops = {n.split("/")[0] for n in names}
    assert tops <= {
        "src",
        "tests",
        "docs",
        "examples",
        "bench",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",
    }, tops
