"""The account and client commands start without the code they do not run.

``sealbox users …`` and ``sealbox clients …`` read and change the database: they load
no web framework, no JWT code (no token is signed or verified), no x509 parsing (no
certificate is given) and no sign-in machinery. ``sealbox jwt keyset … --data-dir`` and
``sealbox jwt jwks --data-dir`` read and change the sealed keyset file: they load no
database code (SQLAlchemy, alembic, the account store) and no web framework.
``sealbox serve --check`` checks the data folder and its TLS files without loading the
web framework that would serve them.
Scripts and the test suite run these commands by the hundred: each of those imports
costs every run. Each command runs for real, in a process of its own, which reports the
modules it loaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_module

# Runs the command line in this process, then writes the names of the loaded modules.
_REPORT = (
    "import atexit, json, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv = ['sealbox', *sys.argv[2:]]\n"
    "from sealbox.cli import console\n"
    "console()\n"
)
WEB = ("fastapi", "starlette", "uvicorn", "httpx2")
NOT_FOR_ADMINISTRATION = (
    *WEB,
    "sealbox.jwt",
    "sealbox.tls",
    "cryptography.x509",
    "sealbox.accounts.sessions",
    "sealbox.accounts.grants",
    "sealbox.accounts.totp_store",
)
NOT_FOR_THE_KEYSET = (*WEB, "sqlalchemy", "alembic", "sealbox.accounts.store")


def _loaded(tmp_path: Path, *args: object, input: bytes = b"") -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _REPORT, str(out), *map(str, args)],
        input=input,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    return set(json.loads(out.read_text()))


def _found(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in loaded)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the account ``bob`` and the client ``reporting``."""
    require_module("fastapi")
    work = tmp_path_factory.mktemp("admin-imports")
    folder = work / "data"
    _loaded(work, "users", "create", "bob", "--data-dir", folder, input=b"a long passphrase\n")
    _loaded(work, "clients", "create", "reporting", "--data-dir", folder)
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["users", "show", "bob"],
        ["users", "list", "--json"],
        ["users", "grant", "bob", "reports:read"],
        ["clients", "list"],
        ["clients", "show", "reporting"],
    ],
    ids=" ".join,
)
def test_account_and_client_commands_load_no_web_jwt_x509_or_sign_in_code(
    tmp_path: Path, data: Path, args: list[str]
) -> None:
    loaded = _loaded(tmp_path, *args, "--data-dir", data)
    assert "sqlalchemy" in loaded  # the command did reach the database
    assert _found(loaded, NOT_FOR_ADMINISTRATION) == []


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as ``sealbox serve`` provisions it: master key, keyset, database."""
    require_module("fastapi")
    work = tmp_path_factory.mktemp("keyset-imports")
    folder = work / "data"
    _loaded(work, "serve", "--check", "--data-dir", folder)
    return folder


def _kids(folder: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "sealbox", "jwt", "keyset", "list", "--json", "--data-dir", folder],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return {key["kid"] for key in json.loads(done.stdout)}


@pytest.mark.parametrize(
    "args",
    [["jwt", "keyset", "list"], ["jwt", "keyset", "list", "--json"], ["jwt", "jwks"]],
    ids=" ".join,
)
def test_the_keyset_read_commands_load_no_database_code(
    tmp_path: Path, provisioned: Path, args: list[str]
) -> None:
    loaded = _loaded(tmp_path, *args, "--data-dir", provisioned)
    assert "sealbox.service.keyset_admin" in loaded  # the command did read the keyset
    assert _found(loaded, NOT_FOR_THE_KEYSET) == []


def _keyset_change(tmp_path: Path, folder: Path, change: str, *args: str) -> list[str]:
    """What ``sealbox jwt keyset CHANGE --data-dir FOLDER ARGS`` loaded that it may not."""
    loaded = _loaded(tmp_path, "jwt", "keyset", change, "--data-dir", folder, *args)
    assert "sealbox.service.keyset_admin" in loaded  # the change went through the service
    return _found(loaded, NOT_FOR_THE_KEYSET)


def test_the_keyset_changes_load_no_database_code(tmp_path: Path, provisioned: Path) -> None:
    folder = shutil.copytree(provisioned, tmp_path / "data")  # changed here, not for the others
    (old,) = _kids(folder)
    found = {"add": _keyset_change(tmp_path, folder, "add")}
    (new,) = _kids(folder) - {old}
    for change, *args in (
        # A key id may start with '-': after '--', as the docs write them.
        ["set-primary", "--", new],
        ["disable", "--", old],
        ["enable", "--", old],
        ["destroy", "--yes", "--", old],
        ["rotate"],
    ):
        found[change] = _keyset_change(tmp_path, folder, change, *args)
    assert found == {change: [] for change in found}
    assert len(_kids(folder) - {old, new}) == 1  # the rotation's key: every change was made


def test_serve_check_loads_no_web_framework(tmp_path: Path, data: Path) -> None:
    folder = shutil.copytree(data, tmp_path / "data")  # provisioned here, not for the others
    loaded = _loaded(tmp_path, "serve", "--check", "--data-dir", folder)
    assert "sealbox.tls" in loaded  # the TLS files were checked
    assert _found(loaded, WEB) == []


def test_the_names_imported_on_first_use_stay_reachable() -> None:
    # What importing sealbox.accounts made reachable still is, without an import of its own.
    code = (
        "import sealbox.accounts as a\n"
        "from sealbox.accounts import core, database\n"
        "assert {*a.__all__, 'store', 'grants'} <= set(dir(a))\n"
        "for name in a.__all__:\n"
        "    assert getattr(a, name) is getattr(database if name in {'make_engine', 'migrate'}"
        " else core, name)\n"
        "assert a.store.Store and a.grants.is_client_token and a.totp_store.TotpStore\n"
        "from sealbox.integrations.fastapi import PEER_STATE_KEY\n"
        "from sealbox.jwt.keyset import SERVICE_SEALED_FORMAT\n"
        "from sealbox.service import provision, tls_setup\n"
        "assert tls_setup.PEER_STATE_KEY == PEER_STATE_KEY\n"
        "assert provision.KEYSET_FORMAT == SERVICE_SEALED_FORMAT\n"
    )
    require_module("fastapi")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
