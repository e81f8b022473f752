"""Password hashing: Argon2id (RFC 9106) with named profiles, rehash on login, legacy upgrade.

:class:`PasswordHasher` makes Argon2id hashes in the PHC string format
(``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``) with the parameters of a named
profile (:mod:`sealbox.passwords.profiles`). :meth:`PasswordHasher.verify` checks a
password against a stored hash and says whether the hash should be replaced:
because its parameters are not the hasher's, or because it is in a legacy
scheme. It verifies, so that a login can upgrade them:

* Argon2id, Argon2i and Argon2d hashes with any parameters up to a ceiling (at most
  2 GiB, and at most the work of one pass over 2 GiB: sealbox's strongest profile),
  including the ``argon2$…`` form Django stores;
* bcrypt ``$2b$`` (and ``$2a$``/``$2y$``), through the ``bcrypt`` package
  (``pip install 'sealbox[bcrypt]'``), used only to verify;
* Django ``pbkdf2_sha256$iterations$salt$hash``, ``pbkdf2_sha1$…``,
  ``bcrypt_sha256$$2b$…`` (bcrypt over the hex SHA-256 of the password) and
  ``bcrypt$$2b$…`` (plain bcrypt);
* passlib ``$pbkdf2-sha256$rounds$salt$hash`` and ``$pbkdf2-sha512$…`` (salt and hash
  in passlib's adapted base64: ``.`` for ``+``, no padding);
* Werkzeug (Flask apps) ``pbkdf2:sha256:iterations$salt$hex`` (also ``sha512``, ``sha1``)
  and ``scrypt:n:r:p$salt$hex``.

Passwords given as ``str`` are normalised to Unicode NFKC and encoded as UTF-8
(NIST SP 800-63B §5.1.1.2), so the same password typed on different systems
gives the same hash; ``bytes`` are used as given. Passwords longer than
:data:`MAX_PASSWORD_LENGTH` characters as given (before normalising) are refused before any
work is done; :func:`check_password_length` is that same check, for a policy to apply first.

The hashing runs in argon2's C code with the GIL released: run it in a thread
pool (``await asyncio.to_thread(hasher.hash, password)``) and several hashes
proceed in parallel.

Example::

    >>> hasher = PasswordHasher("test")          # cheap profile: tests only
    >>> stored = hasher.hash("correct horse battery staple")
    >>> hasher.verify(stored, "correct horse battery staple").needs_rehash
    False

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Final, NoReturn

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw, verify_secret

from sealbox.exceptions import (
    ConfigError,
    FormatError,
    PasswordMismatchError,
    PasswordTooLongError,
)
from sealbox.hazmat import kdf
from sealbox.passwords._foreign import (
    BCRYPT_MAX_COST,
    BCRYPT_PREFIXES,
    COSTLY_HINT,
    DJANGO_BCRYPT,
    DJANGO_BCRYPT_SHA256,
    DJANGO_PBKDF2,
    LEGACY_PREFIXES,
    PASSLIB_PBKDF2,
    PBKDF2_MAX_ITERATIONS,
    PBKDF2_SHA512_MAX_ITERATIONS,
    HashTooCostlyError,
    canonical_b64,
    check_legacy_form,
    scheme_name,
    unknown_scheme,
    verify_bcrypt,
    verify_django_bcrypt,
    verify_django_bcrypt_sha256,
    verify_django_pbkdf2,
    verify_passlib_pbkdf2,
)
from sealbox.passwords._werkzeug import WERKZEUG_PREFIXES, check_werkzeug_form, verify_werkzeug
from sealbox.passwords.profiles import (
    DEFAULT_PROFILE,
    OWASP_MINIMUM,
    PROFILES,
    RFC_9106_LOW_MEMORY,
    get_profile,
    profile_name,
)
from sealbox.secret import Secret

__all__ = [
    "ARGON2_MAX_MEMORY",
    "ARGON2_MAX_WORK",
    "BCRYPT_MAX_COST",
    "MAX_PASSWORD_LENGTH",
    "PBKDF2_MAX_ITERATIONS",
    "PBKDF2_SHA512_MAX_ITERATIONS",
    "HashTooCostlyError",
    "PasswordCheck",
    "PasswordHasher",
    "calibrate",
    "check_password_length",
    "hash_scheme",
]

MAX_PASSWORD_LENGTH: Final = 1024
"""Longest password accepted, in characters as given (in bytes for ``bytes``)."""
# A stored hash is checked at every login attempt, a wrong password included: one that came
# from elsewhere (an import file, an old database) may not ask for more than sealbox's
# strongest profile spends (rfc9106-high-memory: one pass over 2 GiB), or a planted hash
# makes each attempt a denial of service. Files opened with a passphrase (keyrings) have
# their own, per-parameter ceiling: each is opened once, by its owner.
ARGON2_MAX_MEMORY: Final = max(p.memory_cost for p in PROFILES.values())
"""Most memory (KiB) a stored Argon2 hash may ask for: the strongest profile's, 2 GiB."""
ARGON2_MAX_WORK: Final = max(p.memory_cost * p.time_cost for p in PROFILES.values())
"""Most memory times passes (KiB) a stored Argon2 hash may ask for: one pass over 2 GiB."""
MAX_HASH_LENGTH: Final = 512
"""Longest stored hash string accepted."""

_ARGON2_PREFIXES: Final = {"$argon2id$": Type.ID, "$argon2i$": Type.I, "$argon2d$": Type.D}
_ARGON2_NAMES: Final = {Type.ID: "argon2id", Type.I: "argon2i", Type.D: "argon2d"}
_DJANGO_ARGON2: Final = "argon2$argon2"
# What argon2's C decoder reads (argon2-cffi's extract_parameters is more lenient): the
# version may be left out, numbers have no leading zeros, nothing else is allowed.
_NUMBER: Final = r"(?:0|[1-9][0-9]{0,9})"
_ARGON2_RE: Final = re.compile(
    rf"\$argon2(?:id|i|d)(?:\$v={_NUMBER})?\$m={_NUMBER},t={_NUMBER},p={_NUMBER}"
    r"\$[^$]*\$[^$]*"  # the salt and the hash: checked below, with their own message
)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """The outcome of a successful :meth:`PasswordHasher.verify`.

    Attributes:
        scheme: the stored hash's scheme: ``argon2id``, ``argon2i``, ``argon2d``,
            ``bcrypt`` (also Django's ``bcrypt$`` form), ``pbkdf2_sha256``,
            ``pbkdf2_sha1`` or ``bcrypt_sha256`` (Django), ``passlib_pbkdf2_sha256`` or
            ``passlib_pbkdf2_sha512``.
        needs_rehash: the stored hash should be replaced by ``hasher.hash(password)``
            now that the password is known: its parameters are not the hasher's,
            or it is a legacy scheme.
    """

    scheme: str
    needs_rehash: bool


class PasswordHasher:
    """Hash and verify passwords with Argon2id, and upgrade old hashes on login.

    Args:
        profile: a profile name from :data:`sealbox.passwords.profiles.PROFILES`
            (``"rfc9106-low-memory"`` by default) or :class:`argon2.Parameters`,
            e.g. from :func:`calibrate`.
        max_length: longest password accepted, in characters.

    Raises:
        ConfigError: an unknown profile name, parameters that are not Argon2id,
            or a ``max_length`` below 1.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_argon2", "_dummy", "_lock", "_max_length", "_params")

    def __init__(
        self,
        profile: str | argon2.Parameters = DEFAULT_PROFILE,
        *,
        max_length: int = MAX_PASSWORD_LENGTH,
    ) -> None:
        params = get_profile(profile) if isinstance(profile, str) else profile
        if not isinstance(params, argon2.Parameters):
            raise TypeError("profile must be a profile name or argon2.Parameters")
        if params.type is not Type.ID:
            raise ConfigError("new hashes are Argon2id only: use Type.ID parameters")
        if max_length < 1:
            raise ConfigError("max_length must be at least 1")
        self._params = params
        self._max_length = max_length
        self._argon2 = argon2.PasswordHasher.from_parameters(params)
        self._dummy: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        p = self._params
        name = profile_name(p)
        label = f"profile={name!r}" if name else "profile=None"
        return f"PasswordHasher({label}, t={p.time_cost}, m={p.memory_cost}KiB, p={p.parallelism})"

    @property
    def parameters(self) -> argon2.Parameters:
        """The Argon2id parameters new hashes are made with."""
        return self._params

    @property
    def profile(self) -> str | None:
        """The name of the profile in use, or ``None`` for custom parameters."""
        return profile_name(self._params)

    @property
    def max_length(self) -> int:
        """The longest password accepted, in characters."""
        return self._max_length

    # -- hashing --------------------------------------------------------------------

    def hash(self, password: str | bytes | Secret[Any]) -> str:
        """Hash a password with a fresh random salt.

        Returns:
            the PHC string, e.g. ``$argon2id$v=19$m=65536,t=3,p=4$…$…``.

        Raises:
            PasswordTooLongError: the password is longer than :attr:`max_length`.
            TypeError: the password is not ``str``, ``bytes`` or :class:`Secret`.
        """
        return self._argon2.hash(self._encode(password)[0])

    def verify(self, hash: str | bytes, password: str | bytes | Secret[Any]) -> PasswordCheck:  # noqa: A002 - argon2-cffi's name
        """Check a password against a stored hash.

        A ``str`` password is tried in its NFKC form first; if that fails and the
        password has another form as typed, that form is tried too (hashes made
        by other systems did not normalise), and a match asks for a rehash.

        A wrong password against a hash of other costs than the hasher's (a legacy
        scheme, another profile's Argon2) costs that hash's check and then
        :meth:`verify_dummy`'s: a cheap imported hash answers no faster than an unknown
        name (a costlier one still answers more slowly, until a login upgrades it).

        Returns:
            the scheme and whether the hash should be replaced (see :class:`PasswordCheck`).

        Raises:
            PasswordMismatchError: the password does not match (the message never
                says more).
            PasswordTooLongError: the password is longer than :attr:`max_length`.
            FormatError: the stored hash is malformed, or (Django) has another key
                length than Django writes.
            HashTooCostlyError: the stored hash asks for costs above the accepted
                ceiling (a :class:`FormatError`, code ``hash_too_costly``); an Argon2
                hash with exactly this hasher's parameters is never refused so.
            UnsupportedAlgorithmError: the stored hash is in a scheme sealbox does
                not verify.
            ExtraNotInstalledError: a bcrypt hash and no ``bcrypt`` package.
        """
        candidates = self._encode(password)
        text = _hash_text(hash)
        django_form = text.startswith(_DJANGO_ARGON2)
        if django_form:
            # Django stores "argon2" + the PHC string; the plain form replaces it.
            text = text[len("argon2") :]
        for prefix, kind in _ARGON2_PREFIXES.items():
            if text.startswith(prefix):
                check = self._verify_argon2(text, kind, candidates)
                return replace(check, needs_rehash=True) if django_form else check
        try:
            return _verify_legacy(text, candidates)
        except PasswordMismatchError:
            self._spend_dummy(candidates)
            raise

    def verify_and_update(
        self,
        hash: str | bytes,  # noqa: A002 - argon2-cffi's name
        password: str | bytes | Secret[Any],
    ) -> str | None:
        """Verify a password and, if the stored hash is out of date, return its replacement.

        The login flow in one call::

            new_hash = hasher.verify_and_update(user.password_hash, password)
            if new_hash is not None:
                user.password_hash = new_hash

        Returns:
            a new hash to store, or ``None`` when the stored one is current.

        Raises:
            PasswordMismatchError: as :meth:`verify`, and its other errors.
        """
        check = self.verify(hash, password)
        return self.hash(password) if check.needs_rehash else None

    def needs_rehash(self, hash: str | bytes) -> bool:  # noqa: A002 - argon2-cffi's name
        """Whether a stored hash is not an Argon2id hash with this hasher's parameters.

        It checks the hash whole, as :meth:`verify` would before any work: what an
        import of accounts runs on each line.

        Raises:
            FormatError: the hash is malformed.
            HashTooCostlyError: the hash asks for costs above the accepted ceiling.
            UnsupportedAlgorithmError: the hash is in a scheme sealbox does not verify.
        """
        text = _hash_text(hash)
        if text.startswith(_DJANGO_ARGON2):
            _argon2_parameters(text[len("argon2") :], self._params)  # the PHC string it holds
            return True
        if any(text.startswith(p) for p in _ARGON2_PREFIXES):
            return _argon2_parameters(text, self._params) != self._params
        if text.startswith(LEGACY_PREFIXES):
            check_legacy_form(text)
            return True
        if text.startswith(WERKZEUG_PREFIXES):
            check_werkzeug_form(text)
            return True
        raise unknown_scheme(text)

    def verify_dummy(self, password: str | bytes | Secret[Any]) -> NoReturn:
        """Spend the time of a real verification, then raise :class:`PasswordMismatchError`.

        Call it when a login names an unknown user, so that the response time
        does not tell which user names exist.
        """
        self._spend_dummy(self._encode(password))
        raise PasswordMismatchError

    # -- internals ------------------------------------------------------------------

    def _spend_dummy(self, candidates: tuple[bytes, ...]) -> None:
        with self._lock:
            if self._dummy is None:
                self._dummy = self._argon2.hash(os.urandom(16)).encode()
            dummy = self._dummy
        # As many checks as verify() makes for a wrong password (the NFKC form, then the
        # form as typed when it differs): else such a password would tell known names.
        for candidate in candidates:
            with contextlib.suppress(VerificationError):
                verify_secret(dummy, candidate, Type.ID)

    def _encode(self, password: str | bytes | Secret[Any]) -> tuple[bytes, ...]:
        if isinstance(password, Secret):
            password = password.expose_secret()
        if isinstance(password, str):
            check_password_length(password, self._max_length)
            try:
                normalised = unicodedata.normalize("NFKC", password).encode()
                as_typed = password.encode()
            except UnicodeEncodeError:
                raise ConfigError("the password is not valid Unicode text") from None
            return (normalised,) if as_typed == normalised else (normalised, as_typed)
        if isinstance(password, bytes | bytearray):
            check_password_length(password, self._max_length)
            return (bytes(password),)
        raise TypeError("password must be str, bytes or Secret")

    def _verify_argon2(self, text: str, kind: Type, candidates: tuple[bytes, ...]) -> PasswordCheck:
        params = _argon2_parameters(text, self._params)
        encoded = text.encode("ascii")
        for index, candidate in enumerate(candidates):
            try:
                verify_secret(encoded, candidate, kind)
            except VerifyMismatchError:
                continue
            except VerificationError:
                raise FormatError("the stored argon2 hash is malformed") from None
            return PasswordCheck(
                _ARGON2_NAMES[kind], needs_rehash=index > 0 or params != self._params
            )
        own = self._params
        if (params.time_cost, params.memory_cost, params.parallelism) != (
            own.time_cost,
            own.memory_cost,
            own.parallelism,
        ):
            # Another profile's hash (an import, an older profile): the unknown name's work
            # too, so that a cheap one does not answer faster than a name that is not there.
            self._spend_dummy(candidates)
        raise PasswordMismatchError


def _verify_legacy(text: str, candidates: tuple[bytes, ...]) -> PasswordCheck:
    if text.startswith(BCRYPT_PREFIXES):
        verify_bcrypt(text, candidates)
        return PasswordCheck("bcrypt", needs_rehash=True)
    if text.startswith(DJANGO_BCRYPT_SHA256):
        verify_django_bcrypt_sha256(text, candidates)
        return PasswordCheck("bcrypt_sha256", needs_rehash=True)
    if text.startswith(DJANGO_BCRYPT):
        verify_django_bcrypt(text, candidates)
        return PasswordCheck("bcrypt", needs_rehash=True)
    if text.startswith(tuple(DJANGO_PBKDF2)):
        digest = verify_django_pbkdf2(text, candidates)
        return PasswordCheck(f"pbkdf2_{digest}", needs_rehash=True)
    if text.startswith(tuple(PASSLIB_PBKDF2)):
        digest = verify_passlib_pbkdf2(text, candidates)
        return PasswordCheck(f"passlib_pbkdf2_{digest}", needs_rehash=True)
    if text.startswith(WERKZEUG_PREFIXES):
        return PasswordCheck(verify_werkzeug(text, candidates), needs_rehash=True)
    raise unknown_scheme(text)


def check_password_length(
    password: str | bytes | bytearray, max_length: int = MAX_PASSWORD_LENGTH
) -> None:
    """Refuse a password longer than ``max_length``, as :class:`PasswordHasher` measures it.

    Characters as given, before NFKC normalisation (bytes for ``bytes``): normalising
    megabytes is the attack the limit guards against, and NFKC can make a text shorter
    ("e" + combining accent becomes "é") or longer. A password policy that checks the
    length first calls this, so that what it accepts the hasher accepts too.

    Raises:
        PasswordTooLongError: the password is longer than ``max_length``.
    """
    if len(password) > max_length:
        raise PasswordTooLongError(max_length)


def hash_scheme(hash: str | bytes) -> str:  # noqa: A002 - as verify's argument
    """The scheme a stored hash is in, named as :attr:`PasswordCheck.scheme` names it, for
    a log or an audit record: never more of the hash than that name.

    It reads the prefix only (the hash may be malformed or above the ceiling): a scheme
    sealbox refuses by name is that name (``$6$``), any other text ``unknown``.
    """
    if isinstance(hash, bytes | bytearray):
        hash = bytes(hash).decode("ascii", "replace")  # noqa: A001
    text = hash.strip() if isinstance(hash, str) else ""
    if text.startswith(_DJANGO_ARGON2):
        text = text[len("argon2") :]
    for prefix, kind in _ARGON2_PREFIXES.items():
        if text.startswith(prefix):
            return _ARGON2_NAMES[kind]
    return scheme_name(text) or "unknown"


def _hash_text(hash_: str | bytes) -> str:
    if isinstance(hash_, bytes | bytearray):
        try:
            hash_ = bytes(hash_).decode("ascii")
        except UnicodeDecodeError:
            raise FormatError("a password hash must be ASCII text") from None
    if not isinstance(hash_, str):
        raise TypeError("hash must be str or bytes")
    if len(hash_) > MAX_HASH_LENGTH:
        raise FormatError(f"the password hash is longer than {MAX_HASH_LENGTH} characters")
    if not hash_.isascii():
        raise FormatError("a password hash must be ASCII text")
    return hash_.strip()


def _argon2_parameters(text: str, own: argon2.Parameters) -> argon2.Parameters:
    if not _ARGON2_RE.fullmatch(text):
        raise FormatError("the stored argon2 hash is malformed")
    try:
        params = argon2.extract_parameters(text)
    except (InvalidHashError, ValueError):
        raise FormatError("the stored argon2 hash is malformed") from None
    # extract_parameters reads the parameters only: a salt or hash that is not canonical
    # unpadded base64 of at least 8 and 4 bytes would be refused by every verification.
    *_, salt, digest = text.split("$")
    if not (canonical_b64(salt) and canonical_b64(digest)):
        raise FormatError("the stored argon2 hash's salt or hash is not unpadded base64")
    if len(salt) * 3 // 4 < 8 or len(digest) * 3 // 4 < 4:
        raise FormatError("the stored argon2 hash's salt or hash is too short")
    # The least Argon2 computes (RFC 9106 §3.1); below it no verification can succeed, so
    # an imported account holding such a hash could never log in. A hash without "v="
    # is Argon2 1.0 (argon2-cffi reads it as v=18).
    if (
        params.time_cost < 1
        or params.parallelism < 1
        or params.memory_cost < 8 * params.parallelism
        or ("$v=" in text and params.version not in (0x10, 0x13))
    ):
        raise FormatError(
            f"the stored argon2 hash asks for v={params.version} t={params.time_cost} "
            f"m={params.memory_cost}KiB p={params.parallelism}, which Argon2 does not allow "
            "(t >= 1, p >= 1, m >= 8p KiB, version 16 or 19)"
        )
    costs = (params.time_cost, params.memory_cost, params.parallelism)
    if costs == (own.time_cost, own.memory_cost, own.parallelism):
        # The hasher's own parameters cost what its every login costs: a deployment that
        # chose more than the ceiling (calibrate) still verifies its own hashes.
        return params
    # Passes and lanes keep the keyring files' ceiling (t <= 16, p <= 16); memory, and
    # memory times passes, are held to the strongest profile's.
    ceiling = kdf.ARGON2ID_CEILING
    memory = min(ceiling.memory_cost, ARGON2_MAX_MEMORY)
    if (
        params.time_cost > ceiling.time_cost
        or params.memory_cost > memory
        or params.parallelism > ceiling.parallelism
        or params.memory_cost * params.time_cost > ARGON2_MAX_WORK
    ):
        raise HashTooCostlyError(
            f"the stored argon2 hash asks for t={params.time_cost} m={params.memory_cost}KiB "
            f"p={params.parallelism}, above the accepted maximum: t <= {ceiling.time_cost}, "
            f"p <= {ceiling.parallelism}, m <= {memory}KiB and m*t <= {ARGON2_MAX_WORK}KiB "
            "(one pass over 2 GiB, the work of sealbox's strongest profile)",
            hint=COSTLY_HINT,
            facts={
                "scheme": _ARGON2_NAMES[params.type],
                "time_cost": str(params.time_cost),
                "memory_cost": str(params.memory_cost),
                "parallelism": str(params.parallelism),
            },
        )
    return params


def calibrate(
    target_ms: float,
    *,
    memory_cost: int = RFC_9106_LOW_MEMORY.memory_cost,
    parallelism: int = RFC_9106_LOW_MEMORY.parallelism,
    min_memory_cost: int = OWASP_MINIMUM.memory_cost,
    max_time_cost: int = 16,
) -> argon2.Parameters:
    """Choose Argon2id parameters that take about ``target_ms`` on this machine.

    Follows RFC 9106 §4: fix the lanes and the most memory you can afford, then
    raise the number of passes until a hash takes the time you can spend. If one
    pass over ``memory_cost`` already takes too long, memory is halved, but never
    below ``min_memory_cost`` (the OWASP minimum, 19 MiB, by default): the result
    is then one pass at that floor, slower than the target.

    Args:
        target_ms: how long one hash (and one verification) may take, in ms.
        memory_cost: the most memory to use, in KiB.
        parallelism: lanes (p).
        min_memory_cost: the least memory to fall back to, in KiB.
        max_time_cost: the most passes to choose.

    Returns:
        parameters for :class:`PasswordHasher`.

    Raises:
        ConfigError: a target or cost out of range.
    """
    if not 0 < target_ms <= 60_000:
        raise ConfigError("target_ms must be more than 0 and at most 60000")
    if parallelism < 1 or max_time_cost < 1:
        raise ConfigError("parallelism and max_time_cost must be at least 1")
    floor = max(min_memory_cost, 8 * parallelism)
    if memory_cost < floor:
        raise ConfigError(f"memory_cost must be at least {floor} KiB")
    target = target_ms / 1000
    base = replace(OWASP_MINIMUM, time_cost=1, memory_cost=memory_cost, parallelism=parallelism)
    one_pass = _seconds(base)
    while one_pass > target and base.memory_cost // 2 >= floor:
        base = replace(base, memory_cost=base.memory_cost // 2)
        one_pass = _seconds(base)
    time_cost = max(1, min(max_time_cost, int(target / one_pass)))
    params = replace(base, time_cost=time_cost)
    while params.time_cost > 1 and _seconds(params) > target * 1.1:
        params = replace(params, time_cost=params.time_cost - 1)
    return params


def _seconds(params: argon2.Parameters) -> float:
    # The best of two runs: the first may pay for page faults on fresh memory.
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        hash_secret_raw(
            b"calibration password",
            os.urandom(params.salt_len),
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            type=params.type,
        )
        best = min(best, time.perf_counter() - start)
    return best
