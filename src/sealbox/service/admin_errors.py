"""What the data-folder commands share that needs no database: the refusal of a folder
that is no service's data folder (:func:`check_provisioned`), and the error of a change
made whose audit record could not be written (:class:`ChangeNotAuditedError`), with its
hint of what makes the audit log writable again (:func:`make_writable`).

``sealbox jwt keyset … --data-dir`` (:mod:`sealbox.service.keyset_admin`) raises both
without loading the account store and SQLAlchemy, which :mod:`sealbox.service.admin`
loads; that module re-exports both names.

May import: the standard library, :mod:`sealbox.exceptions` and, for a type only,
:mod:`sealbox.accounts.audit`; never SQLAlchemy, nor a module that loads it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sealbox.exceptions import ConfigError, StorageError

if TYPE_CHECKING:
    from sealbox.accounts.audit import AuditUnavailableError

__all__ = ["ChangeNotAuditedError", "check_provisioned", "make_writable"]


def make_writable(problem: str) -> str:
    """What lets the audit log take records again, by why it did not (``problem``, as the
    system said it): it opened, so it was writable then; a full disk, or a log that became
    unwritable since (a file system remounted read-only, a mode, owner or immutable flag
    changed, a rotation that left a file this user may not write)."""
    reason = problem.rsplit(": ", 1)[-1]  # after the path, when the log was opened again
    if "no space" in reason or "quota" in reason:
        return "free room on its disk"
    if "read-only" in reason:
        return "mount its file system read-write again"
    return (
        "let this user write it (its mode, owner or immutable flag may have changed since "
        "it was opened), or free room on its disk"
    )


class ChangeNotAuditedError(StorageError):
    """A change was made, but its audit record could not be written (a full disk, or a log
    that became unwritable after it was opened: a read-only file system, its mode).

    The message says what was changed; the change stands (a creation is undone instead,
    and says so with code ``audit_unavailable``). ``facts["problem"]``: why the record
    could not be written; the hint says what to do about it.

    Attributes:
        result: what the operation returned, e.g. a client's new secret, which must
            still be shown once (its ``repr`` never shows it).
    """

    code = "audit_incomplete"

    def __init__(self, done: str, cause: AuditUnavailableError, result: object = None) -> None:
        problem = cause.facts.get("problem", "")
        super().__init__(
            f"{done}, but the audit log cannot be written ({problem}): it holds no record of this",
            hint="the change stands and needs no retry; make the audit log writable again "
            f"so that the next changes are recorded: {make_writable(problem)}",
            facts={"problem": problem},
        )
        self.result = result


def check_provisioned(folder: Path, marker: Path, what: str) -> None:
    """Refuse a folder that is no service's data folder: missing, or without ``marker``
    (its ``what``, e.g. its master key).

    Said before the folder's modes are checked: a folder that is no service's (a mistyped
    path, ``/tmp``, a folder of other files) would otherwise be told to be ``chmod``-ed,
    which helps nothing and may harm. A file given as the folder passes here, for
    :func:`~sealbox.service.folder_modes.check_modes` to name.

    Raises:
        ConfigError: code ``service_not_provisioned`` (fact ``path``: ``marker``).
    """
    if folder.exists() and (not folder.is_dir() or marker.exists()):
        return
    why = f"it holds no {what} ({marker.name})" if folder.exists() else "it does not exist"
    raise ConfigError(
        f"{folder} is not a service's data folder: {why}",
        hint="check the path; a service's data folder is provisioned when the service first starts",
        code="service_not_provisioned",
        facts={"path": str(marker)},
    )
