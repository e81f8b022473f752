"""What a CA folder holds: the refusal of a folder that holds a CA, or part of one.

A CA is written as a pair, ``ca.key`` renamed into place first, then ``ca.crt``; Ctrl-C
and SIGTERM wait until both are in place, but a process killed otherwise between the
two renames (SIGKILL, a power cut) leaves the key alone. Such a folder is named as what
it is (code ``ca_incomplete``), never taken for a CA nor for an empty folder: the key
may also be one whose certificate was deleted, and sealbox never removes a key that
may have signed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, TypeVar

from sealbox._util.locks import locked
from sealbox.exceptions import SealboxError, StorageError

__all__ = ["CA_CERT_FILE", "CA_KEY_FILE", "check_free", "lone_key"]

CA_CERT_FILE: Final = "ca.crt"
CA_KEY_FILE: Final = "ca.key"

_E = TypeVar("_E", bound=SealboxError)


def check_free(folder: Path) -> None:
    """Refuse a folder that holds a CA (``ca.crt``), or a CA key without its certificate.

    Raises:
        StorageError: ``ca.crt`` exists; code ``ca_incomplete``: ``ca.key`` alone.
    """
    error = lone_key(folder, StorageError)
    if error is not None:
        raise error
    for path in (folder / CA_CERT_FILE, folder / CA_KEY_FILE):
        if path.exists():
            raise StorageError(
                f"{folder} already holds a CA ({path.name} exists)",
                hint="choose another folder: replacing a CA breaks every certificate it issued",
            )


def lone_key(folder: Path, error: type[_E]) -> _E | None:
    """The error for ``ca.key`` without ``ca.crt`` beside it, or None.

    A creation in progress holds the pair's lock between its two renames: the key is
    called alone only once the lock is free and the certificate still missing.
    """
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_path.exists() or not key_path.exists():
        return None
    with locked(cert_path):
        if cert_path.exists():
            return None
    return error(
        f"{folder} holds a CA key without its certificate ({CA_CERT_FILE} is missing)",
        hint=f"if creating the CA was interrupted, no certificate was issued with the key: "
        f"delete {key_path} and create the CA again; if {CA_CERT_FILE} was deleted, put it "
        "back (it is the last certificate of every certificate file the CA wrote)",
        code="ca_incomplete",
        facts={"folder": str(folder), "key": str(key_path)},
    )
