"""What `pip install sealbox` with no extra meets: every public module imports, or says
which extra to install (``ExtraNotInstalledError``), never a bare ``ModuleNotFoundError``.

The optional packages are hidden in a child interpreter (``sys.modules[name] = None``, what
Python does for a package that is not there); `make floors` (scripts/floors.sh) checks the
same in a real environment with no extra installed.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

from tests.unit.test_import_rules import packages, rule

SRC = Path(__file__).resolve().parents[2] / "src" / "sealbox"
# What `pip install sealbox` brings: pyproject's [project] dependencies, by import name.
CORE = frozenset({"cryptography", "argon2", "httpx2"})


def _optional_packages() -> list[str]:
    """Every third-party package a sealbox package may import (its ``May import:``
    sentence, held to the code by test_import_rules), but the core dependencies."""
    allowed: set[str] = set()
    for package in packages():
        allowed |= rule(package)[1]
    return sorted(allowed - CORE)


def _public_modules() -> list[str]:
    """Every module of the library a user may import: no part of its path private, no
    migration script (alembic runs those), no command module (reached only through the
    ``sealbox`` program, which names the ``cli`` extra itself)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or "migrations" in parts:
            continue
        if parts[:2] == ("sealbox", "cli") and len(parts) > 2:
            continue
        found.append(".".join(parts))
    return found


_PROBE = """
import importlib, json, sys
hidden, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in hidden:
    sys.modules[name] = None  # as if not installed: importing it raises ModuleNotFoundError
from sealbox.exceptions import ExtraNotInstalledError
seen = {}
for module in modules:
    try:
        importlib.import_module(module)
    except ExtraNotInstalledError as exc:
        seen[module] = exc.hint
    except ImportError as exc:
        seen[module] = f"{type(exc).__name__}: {exc}"
    else:
        seen[module] = None
print(json.dumps(seen))
"""


@functools.cache
def _import_without_extras() -> dict[str, str | None]:
    """Each public module: ``None`` if it imported, else the hint or the bare error."""
    hidden, modules = _optional_packages(), _public_modules()
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(hidden), json.dumps(modules)],
        capture_output=True,
        text=True,
        check=True,
    )
    seen: dict[str, str | None] = json.loads(run.stdout.splitlines()[-1])
    return seen


def test_every_public_module_imports_or_names_its_extra_without_any_extra() -> None:
    seen = _import_without_extras()
    bare = {m: r for m, r in seen.items() if r is not None and not r.startswith("pip install")}
    assert not bare, bare
    # The library itself needs no extra.
    for module in ("sealbox", "sealbox.keysets", "sealbox.age", "sealbox.jwt", "sealbox.tls"):
        assert seen[module] is None, (module, seen[module])


def test_the_upsert_checks_and_the_vault_session_name_the_extra_that_brings_them() -> None:
    seen = _import_without_extras()
    assert seen["sealbox.integrations.sqlalchemy_upsert"] == "pip install 'sealbox[service]'"
    assert seen["sealbox.secrets.vault_http"] == "pip install 'sealbox[vault]'"
