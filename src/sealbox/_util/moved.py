"""Module paths that moved when the tree was arranged by concept, kept importable.

``import sealbox.keyring`` still gives the keyring module, now
:mod:`sealbox.keysets.keyring`: a finder at the front of ``sys.meta_path`` hands out the
module under its new name (it answers only for the old names, so other imports pass
straight on). First, because a submodule of a moved package (``sealbox.envelope.cipher``)
would otherwise be found again in the package's folder and run a second time. The moves
are listed in CHANGELOG.md.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

TYPE_CHECKING = False  # spelled out: `import sealbox` stays cheap
if TYPE_CHECKING:
    from typing import Final

__all__ = ["MOVED", "install"]

MOVED: Final[dict[str, str]] = {
    "sealbox.aead": "sealbox.hazmat.aead",
    "sealbox.kdf": "sealbox.hazmat.kdf",
    "sealbox.asymmetric": "sealbox.keys",
    "sealbox.sshsig": "sealbox.keys.sshsig",
    "sealbox.keyring": "sealbox.keysets.keyring",
    "sealbox.fields": "sealbox.keysets.fields",
    "sealbox.legacy": "sealbox.keysets.legacy",
    "sealbox.envelope": "sealbox.keysets.envelope",
    "sealbox.profiles": "sealbox.passwords.profiles",
    "sealbox.service.transit_keys": "sealbox.transit",
    "sealbox.service.server": "sealbox.service.tls_setup",
    "sealbox.service.tls_session": "sealbox.tls.server_session",
}


def _target(fullname: str) -> str | None:
    if not fullname.startswith("sealbox."):
        return None  # every other import of the process passes here: return at once
    if fullname in MOVED:
        return MOVED[fullname]
    for old, new in MOVED.items():
        if fullname.startswith(old + "."):
            return new + fullname[len(old) :]
    return None


class _MovedFinder:
    # A meta path finder and loader (importlib.abc is not imported: it pulls in
    # importlib.resources and tempfile, milliseconds of every command's start-up).
    def __init__(self) -> None:
        self._specs: dict[str, ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if _target(fullname) is None:
            return None
        return ModuleSpec(fullname, self)  # type: ignore[arg-type]

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        new = _target(spec.name)
        assert new is not None
        module = importlib.import_module(new)
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Already executed under its new name. The import system has just set the old
        # name's spec on it: give the module its own back.
        alias = module.__spec__.name if module.__spec__ is not None else ""
        if alias in self._specs:
            module.__spec__ = self._specs.pop(alias)


def install() -> None:
    """Add the finder once (``import sealbox`` does it)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
