"""A user's code type-checks under ``mypy --strict`` against sealbox's public API.

tests/typing/public_api.py calls the main entry points the way the docs do: it must
check without an error, and each call marked ``# R:`` must have a precise type, not
``Any``. Names a package does not export must be errors for the user's type checker
too, though the packages import them lazily (a module ``__getattr__`` seen by mypy
would make every misspelt name ``Any``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from mypy import api

# One cold mypy run over sealbox and the libraries it imports: some seconds.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
USER_MODULE = ROOT / "tests" / "typing" / "public_api.py"

# One misspelt name per package that imports its names on first use.
MISSPELT = {
    "sealbox": "Keyrnig",
    "sealbox.accounts": "Acounts",
    "sealbox.age": "encrpyt",
    "sealbox.jwt": "SigningKeySt",
    "sealbox.secrets": "SecretChain",
    "sealbox.service": "serv",
    "sealbox.storage": "Stroage",
    "sealbox.tls": "secure_clinet",
    "sealbox.transit": "TransitClinet",
}
_NOTE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, Path]:
    """One mypy run over the user module and a module of misspelt imports."""
    work = tmp_path_factory.mktemp("public-typing")
    misspelt = work / "misspelt_names.py"
    misspelt.write_text(
        "".join(f"from {package} import {name}\n" for package, name in MISSPELT.items())
    )
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--python-version=3.11",
            "--follow-imports=silent",
            "--no-error-summary",
            "--show-error-codes",
            # Nothing reads a cache of this one run: writing one cost a tenth of its time.
            f"--cache-dir={os.devnull}",
            "--config-file=",  # the user's settings, not the project's
            str(USER_MODULE),
            str(misspelt),
        ]
    )
    assert stderr == ""
    return stdout, status, misspelt


def _lines(stdout: str, path: Path, kind: str) -> dict[int, str]:
    found = {}
    for line in stdout.splitlines():
        match = _NOTE.match(line)
        if match and Path(match["file"]).name == path.name and match["kind"] == kind:
            found[int(match["line"])] = match["text"]
    return found


def test_user_code_calling_the_public_api_passes_mypy_strict(checked):
    stdout, _, _ = checked
    assert _lines(stdout, USER_MODULE, "error") == {}


def test_main_entry_points_have_precise_types_not_any(checked):
    stdout, _, _ = checked
    revealed = _lines(stdout, USER_MODULE, "note")
    marked = {
        number: line.split("# R:")[1].strip()
        for number, line in enumerate(USER_MODULE.read_text().splitlines(), start=1)
        if "# R:" in line
    }
    assert set(revealed) == set(marked)
    for number, text in revealed.items():
        shown = text.removeprefix("Revealed type is ").strip('"')
        assert shown != "Any", marked[number]
        assert "-> Any" not in shown, (marked[number], shown)
        assert "Coroutine[Any, Any, Any]" not in shown, (marked[number], shown)


def test_a_name_a_package_does_not_export_is_a_type_error(checked):
    stdout, status, misspelt = checked
    errors = _lines(stdout, misspelt, "error")
    assert status == 1
    for number, (package, name) in enumerate(MISSPELT.items(), start=1):
        error = errors.get(number, "")
        assert error.startswith(f'Module "{package}" has no attribute "{name}"'), package
        assert error.endswith("[attr-defined]"), error
