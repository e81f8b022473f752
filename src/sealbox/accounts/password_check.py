"""The check of a password against an account's stored hash, for every sign-in decision
(:mod:`sealbox.accounts.sessions`: log in, change a password; the service's TOTP
enrolment).

The check runs off the event loop (:meth:`Accounts.run_hasher
<sealbox.accounts.core.Accounts.run_hasher>`) and upgrades a stored hash that is due for it
(a legacy scheme, other Argon2 parameters). No answer tells an unknown name, a wrong
password and a stored hash that cannot be checked apart, nor does their timing: each costs
one Argon2 verification of the hasher's own parameters at the least (a wrong password
against a stored hash of other costs pays that one as well as its own; an imported hash
costlier than the profile answers more slowly until a login upgrades it). Nor does a
disabled account's right password, which :mod:`sealbox.accounts.sessions` refuses with a
wrong password's answer: its hash is not upgraded, and the hasher's own check is spent
where a wrong password against that hash would spend it. An unusable hash is told to the
operator instead: a warning logged on ``sealbox.accounts`` with the account id, the hash's
scheme and what is wrong with it, and the audit detail :func:`checked_password` returns
(``stored hash unusable: <scheme> (<code>)``). Never the hash.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.core import Accounts
from sealbox.accounts.models import User
from sealbox.exceptions import (
    ExtraNotInstalledError,
    FormatError,
    PasswordMismatchError,
    SealboxError,
    UnsupportedAlgorithmError,
)
from sealbox.passwords import hash_scheme

__all__ = ["check_password", "checked_password"]

log = logging.getLogger("sealbox.accounts")

# What a stored hash that cannot be checked raises (above the cost ceiling, malformed, a
# scheme not verified, the bcrypt extra missing). The password's own problems (too long for
# the hasher, not Unicode) are a ConfigError, raised before the hash is read.
_UNUSABLE_HASH: Final = (FormatError, UnsupportedAlgorithmError, ExtraNotInstalledError)


async def check_password(
    accounts: Accounts, user: User | None, password: str, address: str | None = None
) -> bool:
    """Verify off the event loop; upgrade the stored hash when it is due (audited as
    ``rehash``, with ``address``, the client's).

    A stored hash that cannot be checked is ``False``, after the work of a wrong password;
    a warning names the account id and the problem (never the hash).
    """
    right, _unusable = await checked_password(accounts, user, password, address)
    return right


async def checked_password(
    accounts: Accounts, user: User | None, password: str, address: str | None
) -> tuple[bool, str | None]:
    """Whether the password is right, and, when the stored hash cannot be checked, the
    audit detail that says why."""
    hasher = accounts.hasher
    if user is None:
        # Same work as a real check, same answer: no oracle for unknown names.
        with contextlib.suppress(SealboxError):
            await accounts.run_hasher(hasher.verify_dummy, password)
        return False, None
    try:
        check = await accounts.run_hasher(hasher.verify, user.password_hash, password)
    except PasswordMismatchError:
        return False, None
    except _UNUSABLE_HASH as exc:
        # Refused before any work: the client gets a wrong password's time and answer, the
        # operator the reason (the account cannot log in until its password is reset).
        with contextlib.suppress(SealboxError):
            await accounts.run_hasher(hasher.verify_dummy, password)
        scheme = hash_scheme(user.password_hash)
        log.warning(
            "account %s: its stored password hash (%s) cannot be checked, so every login "
            "is refused until the password is reset: %s (%s)",
            user.id,
            scheme,
            exc,
            exc.code,
        )
        return False, f"stored hash unusable: {scheme} ({exc.code})"
    except SealboxError:
        # The password itself (too long for the hasher, not Unicode): a failed login.
        return False, None
    if check.needs_rehash and user.disabled:
        # A disabled account's hash is left as it is: its right password gets a wrong
        # one's answer, and so the work of one. A wrong password against a hash of other
        # costs (a legacy scheme, another profile's Argon2) spends the hasher's own check
        # after that hash's, so the right one spends it too, in place of the upgrade.
        with contextlib.suppress(SealboxError):
            await accounts.run_hasher(hasher.verify_dummy, password)
    elif check.needs_rehash:
        new_hash = await accounts.run_hasher(hasher.hash, password)
        # Only over the hash that was checked: a password changed or reset meanwhile
        # stays changed (the login then finds the account's sessions ended).
        # Recorded before the upgrade commits: a record refused leaves the old hash.
        record = ChangeRecord(accounts.audit, "rehash", user=user.username, address=address)
        with record:
            await accounts.store.set_password_hash(
                user.id,
                new_hash,
                replacing=user.password_hash,
                before_commit=lambda: record.write(detail=check.scheme),
            )
    return True, None
