"""The public surface of the package and what importing it costs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sealbox
from sealbox import exceptions

HEAVY = ["fastapi", "click", "typer", "uvicorn", "sqlalchemy", "rich", "pydantic_settings", "hvac"]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_sealbox_pulls_in_no_shell_library() -> None:
    loaded = _modules_after("import sealbox")
    assert not [m for m in HEAVY if m in loaded]
    # Not even the crypto backend until a feature is used.
    assert "cryptography" not in loaded


def test_using_the_keyring_still_pulls_in_no_shell_library() -> None:
    loaded = _modules_after("import sealbox; sealbox.Keyring.generate().seal(b'x')")
    assert not [m for m in HEAVY if m in loaded]


def test_cli_help_does_not_load_commands() -> None:
    code = "import sys; sys.argv=['sealbox','--help']\nfrom sealbox.cli import main\ntry:\n main()\nexcept SystemExit: pass"
    loaded = _modules_after(code)
    assert "sealbox.keysets.keyring" not in loaded and "cryptography" not in loaded


def test_exported_members() -> None:
    assert sealbox.__all__ == sorted(sealbox.__all__)
    for name in sealbox.__all__:
        assert getattr(sealbox, name) is not None
    assert set(dir(sealbox)) >= set(sealbox.__all__)
    with pytest.raises(AttributeError):
        sealbox.NoSuchThing  # noqa: B018


def test_exception_tree() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, exceptions.SealboxError), name
        assert name in exceptions.__doc__, f"{name} missing from the drawn tree"
    assert issubclass(exceptions.FormatError, ValueError)
    assert issubclass(exceptions.KeyNotFoundError, LookupError)
    assert issubclass(exceptions.NoIdentityMatchError, exceptions.DecryptionError)
    assert issubclass(exceptions.PinMismatchError, exceptions.TLSError)
    e = exceptions.ExtraNotInstalledError("vault", "hvac")
    assert isinstance(e, ImportError) and e.hint == "pip install 'sealbox[vault]'"
    assert str(exceptions.KeyNotFoundError("no key 1")) == "no key 1"
    assert str(exceptions.DecryptionError()) == "decryption failed"
    assert exceptions.PinMismatchError("sha256//abc").seen == "sha256//abc"
    assert exceptions.NoIdentityMatchError(errors=[ValueError()]).errors[0].__class__ is ValueError


def test_python_dash_m() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "sealbox", "--version"], capture_output=True, text=True
    )
    assert p.returncode == 0 and p.stdout.strip() == f"sealbox {sealbox.__version__}"


def test_passwords_and_jwt_load_only_what_they_need() -> None:
    loaded = _modules_after("import sealbox; sealbox.PasswordHasher('test').hash('x')")
    assert not {"jwt", "httpx2", *HEAVY} & loaded
    loaded = _modules_after("import sealbox; sealbox.SigningKeySet.generate().issue('u')")
    assert "sealbox.jwt._algorithms" in loaded
    # No PyJWT (sealbox signs on pyca directly), no x509, no HTTP client.
    assert not {"jwt", "httpx2", "cryptography.x509", "urllib.request", *HEAVY} & loaded
