"""The service's signing keys outside the HTTP API: what ``sealbox jwt keyset … --data-dir``
and ``sealbox jwt jwks --data-dir`` do.

The keyset of a data folder (``jwt-keyset.sealed``, sealed under ``master.key``) is
listed, published, rotated (at once, or staged: a key added that verifies, made primary
later), and its old keys destroyed, disabled or enabled, also while the service runs: each
worker looks at the file once a second and takes the new keys into use
(:class:`~sealbox.jwt.keyset_watch.KeySetWatch`), so a rotation needs no restart.

Every change holds the keyset file's lock from reading it to renaming the new version
(the lock :meth:`SigningKeySet.save <sealbox.jwt.SigningKeySet.save>` takes, which
merges the file if another writer changed it meanwhile), so two rotations at once keep
both keys, and the primary key is refused on the file as it is, not on an older copy.
Each change is written to the service's audit log (``admin.keyset_rotate``,
``admin.keyset_add``, ``admin.keyset_set_primary``, ``admin.keyset_destroy``,
``admin.keyset_disable``, ``admin.keyset_enable``); the log is opened before the change, so
a change that cannot be recorded is not made.

The service's keyset holds public-key keys only: its tokens are verified by others from
its JWKS, so an HMAC key is refused (code ``service_key_symmetric``) whether added, made
primary, or enabled again.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from sealbox.accounts.audit import AuditLog, AuditUnavailableError
from sealbox.exceptions import ConfigError, DecryptionError, FormatError, KeyStateError
from sealbox.jwt import SigningKeyInfo, SigningKeySet
from sealbox.jwt.defaults import is_hmac
from sealbox.service.admin_errors import ChangeNotAuditedError, check_provisioned
from sealbox.service.folder_modes import check_modes
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.storage import locked

__all__ = [
    "add_signing_key",
    "change_signing_key",
    "rotate_signing_key",
    "signing_jwks",
    "signing_keys",
]

KeyChange = Literal["destroy", "disable", "enable", "set_primary"]

# What each change did, for the audit record and the message when it cannot be written.
_DONE: Final = {
    "destroy": "destroyed key {kid} ({alg})",
    "disable": "disabled key {kid} ({alg})",
    "enable": "enabled key {kid} ({alg})",
    "set_primary": "made key {kid} ({alg}) primary",
}


def _folder(settings: ServiceSettings) -> DataDir:
    """The data folder, refused as ``sealbox serve`` refuses it (open to others), and first
    when it is no service's (code ``service_not_provisioned``: see
    :func:`~sealbox.service.admin_errors.check_provisioned`)."""
    data = DataDir(settings.data_dir)
    check_provisioned(data.path, data.master_key_file, "master key")
    check_modes(settings)  # a file given as the folder is refused here, by name
    data.master_key()
    return data


def _load(data: DataDir) -> SigningKeySet:
    """The folder's keyset; a missing, damaged or foreign one named, with what to do (the
    keyset's own errors name neither the folder nor the remedy)."""
    if not data.keyset_file.exists():
        raise ConfigError(
            f"the data folder's signing keyset {data.keyset_file} is missing",
            hint="restore jwt-keyset.sealed from a backup (it is sealed under this "
            "master.key); a new one ends every session the service issued",
            code="keyset_lost",
            facts={"keyset": str(data.keyset_file)},
        )
    restore = (
        "restore master.key and jwt-keyset.sealed from the same backup: the keyset opens "
        "with the master key it was sealed with only"
    )
    try:
        return data.load_keyset()
    except DecryptionError:
        raise DecryptionError(
            f"the master key {data.master_key_file} does not open the signing keyset "
            f"{data.keyset_file}: another folder's key, or either file was altered",
            hint=restore,
            code="master_key_mismatch",
        ) from None
    except FormatError as exc:
        raise FormatError(
            f"the signing keyset {data.keyset_file} is damaged: {exc}",
            hint=restore,
            code=exc.code,
            facts={**exc.facts, "keyset": str(data.keyset_file)},
        ) from None


def signing_keys(settings: ServiceSettings) -> list[SigningKeyInfo]:
    """The keys of the data folder's signing keyset, oldest first (never their material).

    Raises:
        ConfigError: ``service_not_provisioned``; ``keyset_lost``, the folder has no
            keyset; a malformed master key.
        DecryptionError: code ``master_key_mismatch``, the master key does not open the
            keyset.
        FormatError: a damaged keyset file (fact ``keyset``).
    """
    return _load(_folder(settings)).keys()


def signing_jwks(settings: ServiceSettings) -> dict[str, Any]:
    """The public JWK Set of the data folder's signing keyset: what the service's
    ``/.well-known/jwks.json`` publishes once its workers have read the file. Only public
    keys: an HMAC key is never in it.

    Raises:
        ConfigError: ``service_not_provisioned``; ``keyset_lost``, the folder has no
            keyset; a malformed master key.
        DecryptionError: code ``master_key_mismatch``, the master key does not open the
            keyset.
        FormatError: a damaged keyset file (fact ``keyset``).
    """
    return _load(_folder(settings)).public_jwks()


def rotate_signing_key(settings: ServiceSettings, alg: str | None = None) -> SigningKeyInfo:
    """Add a fresh key to the data folder's keyset and make it sign; return it.

    The key that signed until now becomes decrypt-only: it keeps verifying the tokens it
    signed, and stays in the JWKS, until destroyed or disabled. Running workers take the
    new key within a second or two.

    Args:
        alg: the new key's algorithm (the current primary's by default).

    Raises:
        ConfigError: ``service_not_provisioned``; ``keyset_lost``.
        DecryptionError, FormatError: as :func:`signing_keys`.
        UnsupportedAlgorithmError: an algorithm a keyset cannot sign with.
        KeyStateError: code ``service_key_symmetric``, an HMAC algorithm (the service's
            tokens are verified from its JWKS, which has public keys only).
        StorageError: the audit log cannot be opened (nothing changed).
        ChangeNotAuditedError: the key was added, its record could not be written.
    """

    def rotate(keyset: SigningKeySet) -> tuple[SigningKeyInfo, str]:
        _refuse_shared_secret(alg or keyset.primary.alg, None, "rotate")
        info = keyset.rotate(alg)
        return info, f"rotated to key {info.kid} ({info.alg})"

    return _change(settings, "admin.keyset_rotate", rotate)


def add_signing_key(settings: ServiceSettings, alg: str | None = None) -> SigningKeyInfo:
    """Add a fresh key to the data folder's keyset that verifies but does not sign yet; return it.

    The first half of a staged rotation: running workers publish it in the JWKS within a
    second or two and keep signing with the primary key, so relying parties that cache
    the JWKS can fetch it before any token carries its ``kid``. Make it sign with
    ``change_signing_key(settings, kid, "set_primary")``.

    Args:
        alg: the new key's algorithm (the current primary's by default).

    Raises:
        ConfigError: ``service_not_provisioned``; ``keyset_lost``.
        DecryptionError, FormatError: as :func:`signing_keys`.
        UnsupportedAlgorithmError: an algorithm a keyset cannot sign with.
        KeyStateError: code ``service_key_symmetric``, an HMAC algorithm (the service
            would verify tokens under it that no relying party could: its JWKS has public
            keys only).
        StorageError: the audit log cannot be opened (nothing changed; code
            ``audit_log_not_writable`` when this user may not write it).
        ChangeNotAuditedError: the key was added, its record could not be written.
    """

    def add(keyset: SigningKeySet) -> tuple[SigningKeyInfo, str]:
        _refuse_shared_secret(alg or keyset.primary.alg, None, "add")
        info = keyset.add_key(alg)
        return info, f"added key {info.kid} ({info.alg}), not signing yet"

    return _change(settings, "admin.keyset_add", add)


def change_signing_key(settings: ServiceSettings, kid: str, change: KeyChange) -> SigningKeyInfo:
    """Destroy, disable, enable key ``kid`` of the data folder's keyset, or make it primary;
    return it.

    A destroyed or disabled key stops verifying: running workers refuse the tokens it
    signed within a second or two, and take it out of the JWKS. Destroying erases its
    material for good (destroying it twice changes nothing); disabling keeps it, for
    ``enable``. ``set_primary`` makes a decrypt-only key sign (the second half of a staged
    rotation, or a rotation rolled back): running workers sign with it within a second or
    two, and the key that signed until now keeps verifying; making the primary key primary
    changes nothing.

    Raises:
        ConfigError, DecryptionError, FormatError: as :func:`signing_keys`.
        KeyNotFoundError: no key ``kid``.
        KeyStateError: code ``primary_key``, the key that signs (rotate first); a
            destroyed key cannot be disabled or enabled; code ``key_not_usable``, a
            disabled or destroyed key cannot be made primary; code
            ``service_key_symmetric``, an HMAC key cannot be made primary nor enabled
            again (the service's tokens are verified from its JWKS, which has public keys
            only).
        StorageError: the audit log cannot be opened (nothing changed; code
            ``audit_log_not_writable`` when this user may not write it).
        ChangeNotAuditedError: the change was made, its record could not be written.
    """

    def apply(keyset: SigningKeySet) -> tuple[SigningKeyInfo, str | None]:
        key = next((k for k in keyset if k.kid == kid), None)
        before = key.state if key is not None else None
        if change == "set_primary" and key is not None and not key.primary:
            _refuse_shared_secret(key.alg, kid, change)
        if change == "enable" and key is not None and key.state == "disabled":
            _refuse_shared_secret(key.alg, kid, change)
        getattr(keyset, change)(kid)
        info = next(k for k in keyset if k.kid == kid)
        if info.state == before:
            # Destroyed twice, disabled twice, primary already: nothing to save or record.
            return info, None
        return info, _DONE[change].format(kid=info.kid, alg=info.alg)

    return _change(settings, f"admin.keyset_{change}", apply)


# What the service's keyset would do with an HMAC key, as its refusal says.
_HMAC_REFUSED: Final = {
    "rotate": "an {alg} key cannot sign for the service",
    "set_primary": "an {alg} key cannot sign for the service",
    "add": "an {alg} key cannot be added to the service's signing keyset",
    "enable": "an {alg} key cannot verify for the service again",
}


def _refuse_shared_secret(alg: str, kid: str | None, change: str) -> None:
    """Refuse an HMAC key in the service's keyset: made to sign, added, or enabled again.

    The service's tokens are verified by others from its JWKS, which publishes public keys
    only: tokens an HMAC key signed would verify nowhere but in the service itself. One
    added that never signs would still have the service accept tokens under it that no
    relying party could check (it is never in the JWKS), so it is refused as well, and
    enabled again (one added before this rule). A keyset FILE may hold HMAC keys: the
    rule is the service's.
    """
    if is_hmac(alg):
        facts = {"algorithm": alg} | ({"key_id": kid} if kid is not None else {})
        raise KeyStateError(
            _HMAC_REFUSED[change].format(alg=alg) + ": its tokens are verified from its "
            "JWKS, which holds public keys only",
            hint="use a public-key type (EdDSA, ES256, RS256, ...)",
            code="service_key_symmetric",
            facts=facts,
        )


def _change(
    settings: ServiceSettings,
    event: str,
    change: Callable[[SigningKeySet], tuple[SigningKeyInfo, str | None]],
) -> SigningKeyInfo:
    data = _folder(settings)
    # Opened first, as `sealbox users` does: a change whose record cannot be written is
    # not made (fail-closed).
    log = AuditLog(settings.resolved_audit_log())
    try:
        # Held from the read to the rename (save takes the same lock again, at once):
        # the change is decided on the file as it is, and no other writer slips between.
        with locked(data.keyset_file):
            keyset = _load(data)
            info, done = change(keyset)
            if done is None:
                return info
            data.save_keyset(keyset)
        try:
            log.record(event, outcome="success", detail=f"{done}; command line")
        except AuditUnavailableError as exc:
            raise ChangeNotAuditedError(done, exc, info) from None
        return info
    finally:
        log.close()
