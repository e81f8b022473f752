"""Following a signing keyset file that another process changes (a rotation while serving).

A service loads its keyset once; :class:`KeySetWatch` lets it take a rotation, or a
key destroyed or disabled, without a restart. The file's identity (inode, modification
time in nanoseconds, size) is looked at, one ``stat``, no more often than
:data:`CHECK_INTERVAL`; when it differs from the copy in use, the file is loaded again
and the new keyset handed over. A file that does not load (a damaged or half-copied
one, a wrong key) is logged, without any key material, and skipped: the keys in use
stay in use, and the file is tried again once it changes again.

Every writer of a keyset file renames a complete new file over it, so a new identity
is a new inode and a reader never sees half a file. The identity is taken *before* the
file is read: a change that lands in between makes the next look load it again,
never go unseen.

A watch whose keyset signed with a public key when :meth:`KeySetWatch.load` loaded it does
not take a file whose primary key is an HMAC key (a shared secret, never in a JWKS: no
relying party could verify what it signs): the keys in use stay, and a warning, once for
that key, says to rotate to a public-key key and destroy the HMAC one. A keyset that signs
with HMAC from the start, or a watch made with ``allow_hmac_primary=True``, takes any.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   A watch that started on a public-key primary key refuses an HMAC primary key.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from sealbox.exceptions import SealboxError
from sealbox.jwt.defaults import is_hmac

if TYPE_CHECKING:
    from sealbox.jwt.keyset import SigningKeySet

__all__ = ["CHECK_INTERVAL", "KeySetWatch"]

log = logging.getLogger("sealbox.jwt")

#: Seconds between two looks at the file (one ``stat`` each, off the request path).
CHECK_INTERVAL: Final = 1.0

Stamp = tuple[int, int, int] | None
"""A file's (inode, mtime in ns, size), or ``None`` when it cannot be looked at."""


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)  # noqa: PTH116 - a str path, looked at once a second
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class KeySetWatch:
    """Load a keyset file again when it changes.

    Args:
        path: the keyset file.
        load: opens it (``lambda: SigningKeySet.load(path, sealer=…)``): the passphrase
            or sealer stays with the caller.
        interval: seconds between looks when :meth:`run` watches.
        allow_hmac_primary: whether a reloaded keyset whose primary key is an HMAC key is
            taken. ``None`` (the default): unless the keyset :meth:`load` returned
            signed with a public key, so a watch of a keyset whose tokens others verify from
            its JWKS (the service's) never starts signing with a shared secret.

    Example::

        watch = KeySetWatch(path, lambda: SigningKeySet.load(path, sealer=sealer))
        keyset = watch.load()                      # the copy in use, and its identity
        ...
        task = asyncio.create_task(watch.run(lambda new: swap_in(new)))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        load: Callable[[], SigningKeySet],
        *,
        interval: float = CHECK_INTERVAL,
        allow_hmac_primary: bool | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._load = load
        self.interval = interval
        self.allow_hmac_primary = allow_hmac_primary
        # The HMAC primary key last refused: told once, not at each change of the file.
        self._refused: str | None = None
        # Unknown until load(): a keyset loaded elsewhere is replaced at the first look.
        self._loaded: Stamp | tuple[()] = ()
        self._failed: Stamp | tuple[()] = ()
        #: How many times a changed file was loaded and handed over.
        self.reloads = 0

    def __repr__(self) -> str:
        return f"KeySetWatch({self.path!r})"

    def load(self) -> SigningKeySet:
        """Load the file now and remember its identity as the one in use.

        Raises:
            whatever ``load`` raises (nothing is remembered then).
        """
        stamp = _stamp(self.path)
        keyset = self._load()
        self._loaded, self._failed = stamp, ()
        if self.allow_hmac_primary is None:
            self.allow_hmac_primary = is_hmac(keyset.primary.alg)
        return keyset

    def due(self) -> bool:
        """Whether the file changed since the copy in use was loaded, and is not as it
        was when loading it last failed (one ``stat``)."""
        stamp = _stamp(self.path)
        return stamp not in (self._loaded, self._failed)

    def reload(self) -> SigningKeySet | None:
        """Load the file again; ``None`` when it does not load, or its primary key is an
        HMAC key this watch does not take (logged, and skipped until the file changes
        again: the keys in use stay)."""
        stamp = _stamp(self.path)
        try:
            keyset = self._load()
        except Exception as exc:  # noqa: BLE001 - whatever the file holds, serving goes on
            if stamp != self._failed:
                # The message of a sealbox error never holds key material; of anything
                # else only the kind is told.
                why = str(exc) if isinstance(exc, SealboxError) else type(exc).__name__
                log.warning(
                    "the signing keyset %s changed but does not load: %s (the keys in use "
                    "stay in use; the file is tried again when it changes)",
                    self.path,
                    why,
                )
            self._failed = stamp
            return None
        primary = keyset.primary
        if is_hmac(primary.alg) and self.allow_hmac_primary is False:
            if primary.kid != self._refused:
                log.warning(
                    "the signing keyset %s changed but its primary key %s is an HMAC key "
                    "(%s), which this process does not sign with: the keys in use stay in "
                    "use; make a public-key key (EdDSA) primary with a rotation, then "
                    "destroy the HMAC key, a shared secret no relying party can verify with",
                    self.path,
                    primary.kid,
                    primary.alg,
                )
            self._refused, self._failed = primary.kid, stamp
            return None
        self._loaded, self._failed, self._refused = stamp, (), None
        self.reloads += 1
        log.info("signing keyset reloaded from %s (primary key %s)", self.path, keyset.primary.kid)
        return keyset

    async def run(self, apply: Callable[[SigningKeySet], None]) -> None:
        """Look every :attr:`interval` seconds until cancelled; hand each new keyset to
        ``apply`` (on the event loop; the file is read and opened on a thread)."""
        while True:
            await asyncio.sleep(self.interval)
            if self.due():
                keyset = await asyncio.to_thread(self.reload)
                if keyset is not None:
                    try:
                        apply(keyset)
                    except Exception as exc:  # noqa: BLE001 - the watch outlives one bad turn
                        log.error(  # noqa: TRY400 - no traceback: it could show values
                            "the signing keyset %s was reloaded but not taken into use: %s",
                            self.path,
                            type(exc).__name__,
                        )
