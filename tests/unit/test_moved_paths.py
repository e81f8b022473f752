"""Module paths from before the tree was arranged by concept still import, as the same modules."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from sealbox._util.moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_imports_the_module_under_its_new_name(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    assert importlib.import_module(new).__spec__.name == new  # its own spec, untouched


def test_submodules_and_from_imports_of_old_paths() -> None:
    code = (
        "import sealbox.envelope.cipher as c\n"
        "from sealbox.keyring import Keyring\n"
        "from sealbox.asymmetric import PrivateKey\n"
        "from sealbox import aead, kdf\n"
        "assert c.__name__ == 'sealbox.keysets.envelope.cipher'\n"
        "assert Keyring.__module__ == 'sealbox.keysets.keyring'\n"
        "assert PrivateKey.__module__ == 'sealbox.keys.asymmetric'\n"
        "assert aead.__name__ == 'sealbox.hazmat.aead'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_name_that_never_existed_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sealbox.no_such_module")
