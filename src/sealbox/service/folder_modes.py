"""The modes and owners of the data folder and its secret-bearing files, checked before
the service serves (see :mod:`sealbox.service.preflight`).

The data folder and its ``tls/`` folder may not be open to other users (nor writable by
the group), and each secret-bearing file may be read or written by its owner only: one
that is not is refused with the ``chmod`` to run, where closing it is sealbox's to do (a
folder it made). A folder shared with other users (sticky as ``/tmp``, anyone's to write,
another user's) or one of other files is never to be closed: it is refused with code
``data_dir_shared`` and a folder of its own as the hint. A folder or file of another user
is refused with code ``data_dir_owner``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from sealbox.exceptions import ConfigError
from sealbox.service.settings import ServiceSettings, holds_private_key, pem_text

__all__ = ["SECRET_FILES", "START_OVER", "check_modes"]

#: The files that hold secrets, by their place in the data folder.
SECRET_FILES: Final = (
    "master.key",
    "jwt-keyset.sealed",
    "tls/server.key",
    "tls/ca.key",
    "sealbox.db",
    "sealbox.db-wal",
    "sealbox.db-shm",
    "audit.log",
)
#: The hint for a data folder's file lost or damaged: a backup, or starting over knowingly.
START_OVER: Final = (
    "restore it from a backup; to start over on purpose, move the data folder away "
    "(its keys, accounts and transit keys go with it)"
)


def check_modes(settings: ServiceSettings) -> None:
    """Refuse folders open to others, secret-bearing files readable by others, and
    folders or files of another user (code ``data_dir_owner``)."""
    data = Path(settings.data_dir)
    _check_kinds(settings)
    for folder in (data, data / "tls"):
        try:
            info = folder.stat()
        except OSError:
            continue
        refusal = _open_folder(folder, info, ours=folder != data)
        if refusal is not None and refusal.code == "data_dir_shared":
            raise refusal  # before its owner: a `chown -R` of /tmp harms as a chmod does
        _check_owner(folder, info)
        if refusal is not None:
            raise refusal
    files = [data / name for name in SECRET_FILES]
    key = settings.resolved_key()  # a certificate file holding its key too, if so
    if key is not None:
        files.append(key)
    if settings.audit_log is not None:
        files.append(Path(settings.audit_log))
    database = _sqlite_file(settings)
    if database is not None:
        files += [Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm")]
    for path in files:
        try:
            info = path.stat()
        except OSError:
            continue
        if path.is_relative_to(data):  # a given --key or audit log may be shared by design
            _check_owner(path, info)
        _check_file_mode(path, info, is_key=settings.key is not None and path == key)


def _check_file_mode(path: Path, info: os.stat_result, *, is_key: bool) -> None:
    """Refuse a secret-bearing file others may read or write; not a file (a folder named
    as the database) is left to its own checks."""
    if not stat.S_ISREG(info.st_mode):
        return
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 and is_key:
        _refuse_certificate_as_key(path)
    if mode & 0o077:
        raise ConfigError(
            f"{path} can be read or written by other users (mode {mode:o})",
            hint=f"chmod 600 {path}",
        )


# In a data folder: what sealbox alone writes there (so it made the folder), and the rest.
_MADE: Final = {"master.key", "jwt-keyset.sealed", "sealbox.db"}
_OURS: Final = _MADE | {"sealbox.db-wal", "sealbox.db-shm", "audit.log", "tls"}
_OURS_TOO: Final = {"revocations.changed", ".first-start"}  # (and its .lock files)


def _open_folder(folder: Path, info: os.stat_result, *, ours: bool) -> ConfigError | None:
    """The refusal of a folder open to others (``ours``: ``tls/``): ``chmod 700`` for one
    that is sealbox's to close (it made it, or an empty one of this user's); code
    ``data_dir_shared``, a folder of its own, for one shared (sticky as ``/tmp``, anyone's
    to write, another user's) or of other files: closing it would break it for others."""
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o027:
        return None
    names = {p.name for p in folder.iterdir()} if os.access(folder, os.R_OK | os.X_OK) else set()
    geteuid = getattr(os, "geteuid", None)
    shared: str | None = ""  # why it is shared; None: sealbox's to close
    if mode & stat.S_ISVTX:
        shared = "sticky, shared by design"
    elif ours or names & _MADE:
        shared = None
    elif mode & 0o002:
        shared = "writable by anyone"
    elif geteuid is not None and info.st_uid != geteuid():
        shared = f"owned by uid {info.st_uid}"
    elif all(n in _OURS | _OURS_TOO or n.endswith(".lock") for n in names):
        shared = None  # empty, or what a first start left: closing it harms nothing
    if shared is None:
        return ConfigError(
            f"the folder {folder} is open to other users (mode {mode:o})",
            hint=f"chmod 700 {folder}",
        )
    why = f"and shared with them ({shared})" if shared else "and holds files that are not sealbox's"
    return ConfigError(
        f"the folder {folder} is open to other users (mode {mode:o}) {why}: the service's "
        "keys and database cannot be kept there",
        hint=f"give the service a folder of its own, such as {folder / 'sealbox'} or one in "
        f"your home folder (sealbox makes it, mode 700); leave the mode of {folder} as it is",
        code="data_dir_shared",
        facts={"path": str(folder), "mode": f"{mode:o}"},
    )


def _check_kinds(settings: ServiceSettings) -> None:
    """Refuse a data folder that is a file, and a folder where a file is wanted, naming
    the setting: the checks of modes after this one would ask to ``chmod`` them (``chmod
    600`` a shared folder such as ``/tmp`` breaks the machine)."""
    data = Path(settings.data_dir)
    if data.exists() and not data.is_dir():
        raise ConfigError(
            f"the data folder {data} (SEALBOX_DATA_DIR) is a file, not a folder",
            hint="set SEALBOX_DATA_DIR to a folder (made when missing)",
            code="not_a_folder",
            facts={"setting": "SEALBOX_DATA_DIR", "path": str(data)},
        )
    wanted: list[tuple[str, str | None, Path | None]]
    wanted = [("audit log", "SEALBOX_AUDIT_LOG", settings.audit_log)]
    wanted += [("server key", "SEALBOX_KEY", settings.key)]
    wanted += [("file", None, data / name) for name in SECRET_FILES]
    for what, setting, path in wanted:
        if path is None or not Path(path).is_dir():
            continue
        given = f" ({setting})" if setting else ""
        raise ConfigError(
            f"the {what} {path}{given} is a folder, not a file",
            hint=f"set {setting} to a file" if setting else START_OVER,
            code="not_a_file",
            facts={"setting": setting or "", "path": str(path)},
        )


def _sqlite_file(settings: ServiceSettings) -> Path | None:
    """The SQLite file ``SEALBOX_DATABASE_URL`` names: it holds what the data folder's
    ``sealbox.db`` holds (password hashes, sealed keys), so it is held to the same mode.
    None for another database, an in-memory one, or a URL that does not parse (the
    database's own checks name it)."""
    if settings.database_url is None:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.database_url.expose_secret())
    except (ArgumentError, ValueError):
        return None
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):  # SQLite's URI form (uri=true)
        name = name.removeprefix("file:").partition("?")[0]
        if not name or name == ":memory:":
            return None
    return Path(name)


def _refuse_certificate_as_key(path: Path) -> None:
    """A ``--key`` holding a certificate (``--cert`` and ``--key`` swapped) is said to be
    one, rather than a key file to ``chmod``: a certificate is public, its mode is not the
    mistake."""
    text = pem_text(path)
    # A certificate followed by its key in one file is a key file (uvicorn takes those).
    if text.lstrip().startswith(b"-----BEGIN CERTIFICATE-----") and not holds_private_key(text):
        raise ConfigError(
            f"the key file {path} holds a certificate, not a private key",
            hint="give the certificate as the certificate and its private key as the key "
            "(were they swapped?)",
            code="certificate_as_key",
        )


def _check_owner(path: Path, info: os.stat_result) -> None:
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # no POSIX owners (Windows)
        return
    me = geteuid()
    if info.st_uid != me:
        raise ConfigError(
            f"{path} belongs to another user (uid {info.st_uid}), not to the user the "
            f"service runs as (uid {me})",
            hint="run the service as the user that owns the data folder, or give the "
            f"folder to this user (chown -R {me} {path})",
            code="data_dir_owner",
            facts={"path": str(path), "owner": str(info.st_uid), "user": str(me)},
        )
