"""A small certificate authority for development and operations.

:class:`CertificateAuthority` is an ECDSA P-256 root (RFC 5480) that issues short-lived
server and client certificates following the profile of RFC 5280:

- the root has ``basicConstraints`` CA with path length 0 (it signs leaves only),
  ``keyUsage`` keyCertSign and cRLSign, subject and authority key identifiers, and
  optionally ``nameConstraints`` (section 4.2.1.10) limiting the DNS names and IP
  addresses it may certify;
- a server certificate has ``extendedKeyUsage`` serverAuth and its DNS names and IP
  addresses in ``subjectAltName`` (section 4.2.1.6; RFC 6125 matches on these only);
- a client certificate has ``extendedKeyUsage`` clientAuth and the client's name
  as subject common name and in ``subjectAltName`` (a DNS name or an email address);
- leaves are not CAs, have ``keyUsage`` digitalSignature only, a random 159-bit
  serial number (section 4.1.2.2), their own fresh P-256 key, and short lifetimes:
  servers 30 days by default and 90 at most, clients 90 days by default and 365 at most.

On disk a CA is a folder: ``ca.crt`` (the certificate that clients and servers
trust) and ``ca.key`` (mode 0600, PKCS#8, optionally encrypted with a passphrase;
see :mod:`sealbox.keys.pkcs8`). Issued certificates are written as ``PREFIX.crt``
(the leaf, then the CA certificate) and ``PREFIX.key`` (mode 0600).

Example::

    ca = CertificateAuthority.init("ca", name="Team CA", permitted_dns=["corp.internal"])
    ca.issue_server(["api.corp.internal", "10.0.0.5"]).write("tls/api")
    ca.issue_client("billing-worker").write("tls/billing-worker")
    ...
    ca = CertificateAuthority.load("ca")
    ca.renew_files("tls/api")      # None until two thirds of the lifetime have passed

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealbox._util.files import atomic_write
from sealbox._util.locks import locked
from sealbox.exceptions import ConfigError, TLSConfigError
from sealbox.hazmat.kdf import ScryptParams
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.tls import _ca_folder, _load, _names, _profile, _renewal
from sealbox.tls._ca_folder import CA_CERT_FILE, CA_KEY_FILE
from sealbox.tls._load import Password
from sealbox.tls._profile import BACKDATE
from sealbox.tls.issued import (
    RENEW_FRACTION,
    CertificateKind,
    IssuedCertificate,
    certificate_kind,
    needs_renewal,
    now_utc,
    prefix_paths,
    renewal_time,
)
from sealbox.tls.pinning import spki_pin

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "DEFAULT_CA_DAYS",
    "DEFAULT_CA_NAME",
    "DEFAULT_CLIENT_DAYS",
    "DEFAULT_SERVER_DAYS",
    "MAX_CA_DAYS",
    "MAX_CLIENT_DAYS",
    "MAX_SERVER_DAYS",
    "RENEW_FRACTION",
    "CertificateAuthority",
    "CertificateKind",
    "IssuedCertificate",
    "certificate_kind",
    "needs_renewal",
    "renewal_time",
]

DEFAULT_CA_NAME: Final = "sealbox development CA"
DEFAULT_CA_DAYS: Final = 3650
MAX_CA_DAYS: Final = 36500
DEFAULT_SERVER_DAYS: Final = 30
MAX_SERVER_DAYS: Final = 90
DEFAULT_CLIENT_DAYS: Final = 90
MAX_CLIENT_DAYS: Final = 365


class CertificateAuthority:
    """An ECDSA P-256 root CA that issues server and client certificates.

    Build one with :meth:`generate` (in memory), :meth:`init` (generate and save to
    a folder) or :meth:`load`. Every ``now`` argument sets the issuing time (tests);
    it defaults to the current time.
    """

    __slots__ = ("_certificate", "_key")

    def __init__(
        self, certificate: x509.Certificate, private_key: ec.EllipticCurvePrivateKey
    ) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise TLSConfigError("the CA key is not an ECDSA key")
        if certificate.public_key() != private_key.public_key():
            raise TLSConfigError("the CA key does not match the CA certificate")
        problem = _profile.ca_problem(certificate)
        if problem is not None:
            raise TLSConfigError(f"{certificate.subject.rfc4514_string()} {problem}")
        self._certificate = certificate
        self._key = private_key

    def __repr__(self) -> str:
        return (
            f"CertificateAuthority(subject={self._certificate.subject.rfc4514_string()!r}, "
            f"pin={self.pin!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("CertificateAuthority holds a private key and cannot be pickled")

    # -- creating, saving, loading -----------------------------------------------------

    @classmethod
    def generate(
        cls,
        *,
        name: str = DEFAULT_CA_NAME,
        days: int = DEFAULT_CA_DAYS,
        permitted_dns: Iterable[str] = (),
        permitted_ips: Iterable[str] = (),
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """Create a new root CA in memory.

        Args:
            name: the CA's subject common name.
            days: its lifetime.
            permitted_dns: DNS subtrees the CA may certify (``corp.internal`` allows
                ``corp.internal`` and every name under it). With any of these and no
                ``permitted_ips``, the CA may certify no IP address at all.
            permitted_ips: IP networks (CIDR) the CA may certify.
            now: the issuing time.

        Raises:
            ConfigError: a bad name, lifetime, domain or network.
        """
        moment = now_utc(now)
        _profile.check_days(days, MAX_CA_DAYS, "a CA")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _names.common_name(name))])
        constraints = _names.name_constraints(permitted_dns, permitted_ips)
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(_profile.root_certificate(subject, key, moment, days, constraints), key)

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        *,
        name: str = DEFAULT_CA_NAME,
        days: int = DEFAULT_CA_DAYS,
        permitted_dns: Iterable[str] = (),
        permitted_ips: Iterable[str] = (),
        passphrase: Password | None = None,
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """Create a new CA and save it in ``directory`` (created if missing).

        Args:
            directory: where ``ca.crt`` and ``ca.key`` go; must not hold a CA yet.
            passphrase: encrypt ``ca.key`` with it (PKCS#8 PBES2: scrypt, AES-256-CBC).
            name, days, permitted_dns, permitted_ips, now: as for :meth:`generate`.

        Raises:
            StorageError: ``directory`` already holds a CA, or cannot be written.
            ConfigError: as for :meth:`generate`.
        """
        ca = cls.generate(
            name=name,
            days=days,
            permitted_dns=permitted_dns,
            permitted_ips=permitted_ips,
            now=now,
        )
        ca.save(directory, passphrase=passphrase)
        return ca

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        passphrase: Password | None = None,
        kdf: ScryptParams = _pkcs8.SCRYPT_DEFAULT,
    ) -> None:
        """Write ``ca.key`` (mode 0600) and ``ca.crt`` into ``directory``, as a pair.

        Both are written and flushed before either is renamed into place, under the
        pair's lock: a failure (a full disk) or a second writer leaves no key
        without its certificate.

        Raises:
            StorageError: ``directory`` already holds a CA, or its key alone (code
                ``ca_incomplete``, see :meth:`check_free`), or cannot be written.
        """
        _ca_folder.write(Path(directory), self._key, self.certificate_pem(), passphrase, kdf)

    @staticmethod
    def check_free(directory: str | os.PathLike[str]) -> None:
        """Refuse a folder :meth:`init` would refuse, before anything is asked or made.

        A ``ca.key`` without ``ca.crt`` is what a creation killed between its two
        renames leaves (SIGKILL, a power cut), or a CA whose certificate was deleted:
        it is named (code ``ca_incomplete``), never removed nor replaced.

        Raises:
            StorageError: ``directory`` holds a CA, or a CA key alone (``ca_incomplete``).

        .. versionadded:: 0.1.0
        """
        _ca_folder.check_free(Path(directory))

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, passphrase: Password | None = None
    ) -> CertificateAuthority:
        """Load the CA saved in ``directory``.

        Raises:
            TLSConfigError: no CA there (code ``ca_missing``; ``ca_incomplete`` for a key
                without its certificate), a damaged file, the key is encrypted and no
                (or a wrong) passphrase was given, or key and certificate differ.
        """
        return cls(*_ca_folder.read(Path(directory), passphrase))

    @staticmethod
    def check_issued_by(directory: str | os.PathLike[str], certificate: x509.Certificate) -> None:
        """Refuse a certificate the CA in ``directory`` did not issue, reading ``ca.crt``
        only: before a passphrase for the CA key is asked for.

        Raises:
            TLSConfigError: it was not issued by this CA (code ``wrong_ca``, see
                :meth:`renew`), or there is no CA there (as for :meth:`load`).

        .. versionadded:: 0.1.0
        """
        _renewal.check_issued(certificate, _ca_folder.read_certificate(Path(directory)))

    @staticmethod
    def key_is_encrypted(directory: str | os.PathLike[str]) -> bool:
        """Whether the CA key in ``directory`` needs a passphrase (False if there is none)."""
        try:
            data = _load.read_file(Path(directory) / CA_KEY_FILE, "CA key")
        except TLSConfigError:
            return False
        return _load.is_encrypted_pem(data)

    # -- what the CA is ---------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        """The CA certificate (what clients and servers trust)."""
        return self._certificate

    @property
    def pin(self) -> str:
        """The SPKI pin of the CA key."""
        return spki_pin(self._certificate)

    def certificate_pem(self) -> bytes:
        """The CA certificate, PEM."""
        return self._certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def name_constraints(self) -> x509.NameConstraints | None:
        """The CA's name constraints, if it has any."""
        try:
            return self._certificate.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            return None

    # -- issuing ----------------------------------------------------------------------

    def issue_server(
        self,
        names: Iterable[str | _names.IPAddress],
        *,
        days: int = DEFAULT_SERVER_DAYS,
        key: ec.EllipticCurvePrivateKey | None = None,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """Issue a server certificate for DNS names and IP addresses.

        Args:
            names: host names (``api.corp.internal``, ``*.corp.internal``) and IP
                addresses (``10.0.0.5``, ``::1``); at least one.
            days: lifetime, 1 to 90 days.
            key: reuse this P-256 key (renewal keeping a pinned key); default: a new one.
            now: the issuing time.

        Raises:
            ConfigError: a bad name or lifetime, or a name outside the CA's constraints.
        """
        sans: list[x509.GeneralName] = []
        for item in _names.name_list(names, "names"):
            san = _names.parse_san(item)
            if san not in sans:
                sans.append(san)
        if not sans:
            raise ConfigError("a server certificate needs at least one DNS name or IP address")
        _profile.check_days(days, MAX_SERVER_DAYS, "a server certificate")
        self._check_constraints(sans)
        # The CN repeats the first DNS name, never an address: a verifier that finds no DNS
        # name in the SAN checks the CN as one against the CA's DNS constraints (OpenSSL),
        # and `CN=127.0.0.1` under `--permitted-dns` would fail everywhere.
        first = next((str(n.value) for n in sans if isinstance(n, x509.DNSName)), "")
        common = first if 0 < len(first) <= _names.MAX_COMMON_NAME else None
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common)] if common is not None else []
        )
        return self._issue(
            subject,
            ExtendedKeyUsageOID.SERVER_AUTH,
            days,
            key,
            now,
            # RFC 5280 section 4.2.1.6: critical when the subject is empty.
            san=(x509.SubjectAlternativeName(sans), common is None),
        )

    def issue_client(
        self,
        name: str,
        *,
        days: int = DEFAULT_CLIENT_DAYS,
        key: ec.EllipticCurvePrivateKey | None = None,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """Issue a client certificate named ``name`` in its subject and subjectAltName.

        The name goes into ``subjectAltName``, where verifiers look for it: as an
        email address (``rfc822Name``) if it has an ``@``, else as a DNS name. Both
        hold it in its normal form, the one spelling verifiers compare: a host name
        (or an email address's domain) in lowercase without a final dot; an email
        address's local part as given (its owner's, RFC 5321 section 2.4). The
        subject common name repeats that same string, so a server that authorizes
        by subject and one that authorizes by subjectAltName see the same name.

        Args:
            name: the client's name: a host-like name (``billing-worker``,
                ``worker.corp.internal``) or an email address; 1 to 64 characters.
            days: lifetime, 1 to 365 days.
            key: reuse this P-256 key; default: a new one.
            now: the issuing time.

        Raises:
            ConfigError: a bad name or lifetime, or a name outside the CA's constraints.
        """
        san = _names.client_san(_names.common_name(name))
        _profile.check_days(days, MAX_CLIENT_DAYS, "a client certificate")
        self._check_constraints([san])
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(san.value))])
        return self._issue(
            subject,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            days,
            key,
            now,
            san=(x509.SubjectAlternativeName([san]), False),
        )

    # -- renewing ---------------------------------------------------------------------

    def renew(
        self,
        certificate: x509.Certificate,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """Issue a fresh certificate like ``certificate``: same kind, identity and lifetime.

        The renewed certificate keeps the subject exactly (every attribute, in order,
        with its string type), the ``subjectAltName`` extension entry for entry (DNS
        names, IP addresses, URIs such as SPIFFE IDs, email addresses) and the
        extended key usage, so that peers that match on any of them (an OAuth client
        registered for ``tls_client_auth`` with its subject DN) accept it as before.
        Everything else follows sealbox's profile (``keyUsage`` digitalSignature, key
        identifiers, a new serial number); the lifetime is capped at the kind's maximum.

        Args:
            certificate: a server or client certificate this CA issued.
            key: keep this key (it must be the certificate's); default: a new key.
            now: the issuing time.

        Raises:
            TLSConfigError: the certificate was not issued by this CA (code
                ``wrong_ca``, facts ``issuer`` and ``ca``), is not a server or client
                certificate, ``key`` is not its key, or it has
                something a renewal cannot carry over (more than one extended key
                usage, or an extension outside sealbox's profile); code
                ``renewal_unsupported`` for the last; code ``ca_expires_first``: the
                CA expires before the renewed certificate would.
            ConfigError: one of its names is outside the CA's name constraints.
        """
        self._check_issued(certificate)
        if key is not None and key.public_key() != certificate.public_key():
            raise TLSConfigError("the key given is not the key of the certificate to renew")
        subject = _renewal.readable_subject(certificate)
        kind = certificate_kind(certificate)
        if kind is CertificateKind.SERVER:
            maximum, purpose = MAX_SERVER_DAYS, ExtendedKeyUsageOID.SERVER_AUTH
        elif kind is CertificateKind.CLIENT:
            maximum, purpose = MAX_CLIENT_DAYS, ExtendedKeyUsageOID.CLIENT_AUTH
        else:
            raise TLSConfigError(
                f"{subject.rfc4514_string()} is not a server or client certificate"
            )
        _renewal.check_renewable(certificate, purpose)
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc - BACKDATE
        days = min(max(1, round(lifetime / timedelta(days=1))), maximum)
        _renewal.check_within_ca(self._certificate, now_utc(now), days)
        try:
            san_ext = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            san = None
        else:
            self._check_constraints(list(san_ext.value))
            san = (san_ext.value, san_ext.critical)
        issued = self._issue(subject, purpose, days, key, now, san=san)
        _renewal.check_same_identity(certificate, issued.certificate)
        return issued

    def renew_files(
        self,
        prefix: str | os.PathLike[str],
        *,
        force: bool = False,
        new_key: bool = False,
        now: datetime | None = None,
    ) -> IssuedCertificate | None:
        """Renew ``PREFIX.crt`` in place once it is due (see :func:`needs_renewal`).

        The key in ``PREFIX.key`` is kept, so pins of it stay valid, and only
        ``PREFIX.crt`` is replaced (atomically). With ``new_key`` both files are
        replaced, the key first.

        Args:
            prefix: the prefix the certificate was written with.
            force: renew even if it is not due.
            new_key: give the certificate a new key (update pins first).
            now: the current time.

        Returns:
            The new certificate, or ``None`` if it was not due.

        Raises:
            TLSConfigError: a missing or damaged file, a certificate from another CA
                (code ``wrong_ca``, see :meth:`renew`), or a key that does not match
                (code ``renewal_key_mismatch``, fact ``prefix``: renewing with
                ``new_key`` replaces both), or a key other than ECDSA P-256 (code
                ``renewal_key_type``: renew with ``new_key``).
        """
        cert_path, key_path = prefix_paths(prefix)
        # Held from reading the certificate to writing the renewal (write() takes the
        # same lock again, at no cost).
        with locked(cert_path):
            leaf = _load.load_certificates(cert_path, "certificate file")[0]
            self._check_issued(leaf)
            if not force and not needs_renewal(leaf, now=now):
                return None
            if new_key:
                issued = self.renew(leaf, now=now)
                issued.write(prefix, overwrite=True)
                return issued
            key = _load.load_private_key(key_path, None, "key file")
            # A new key beside its old certificate: a replacement of both killed between
            # its renames (SIGKILL), which a renewal with a new key repairs.
            _load.check_key_matches(
                leaf,
                key,
                f"certificate file {cert_path}",
                f"key file {key_path}",
                code="renewal_key_mismatch",
                hint="if replacing both was interrupted, renew with new_key",
                facts={"prefix": os.fspath(prefix)},
            )
            # A key made elsewhere (openssl x509 -req signed it): sealbox signs for P-256 only.
            key = _renewal.p256_key(key, key_path, prefix)
            issued = self.renew(leaf, key=key, now=now)
            atomic_write(cert_path, issued.certificate_pem(), mode=0o644)
        return issued

    # -- internals --------------------------------------------------------------------

    def _issue(
        self,
        subject: x509.Name,
        purpose: x509.ObjectIdentifier,
        days: int,
        key: ec.EllipticCurvePrivateKey | None,
        now: datetime | None,
        *,
        san: tuple[x509.SubjectAlternativeName, bool] | None,
    ) -> IssuedCertificate:
        moment = now_utc(now)
        not_after = moment + timedelta(days=days)
        ca = self._certificate
        if moment > ca.not_valid_after_utc:
            raise TLSConfigError(
                f"the CA certificate expired on {ca.not_valid_after_utc:%Y-%m-%d}",
                hint="create a new CA and distribute its certificate",
                code="ca_expired",
            )
        if not_after > ca.not_valid_after_utc:
            raise ConfigError(
                f"the CA expires on {ca.not_valid_after_utc:%Y-%m-%d}, "
                "before this certificate would",
                hint="ask for fewer days, or create a new CA",
            )
        if key is None:
            key = ec.generate_private_key(ec.SECP256R1())
        elif not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ConfigError("a reused key must be an ECDSA P-256 key")
        leaf = _profile.leaf_certificate(
            ca,
            self._key,
            key,
            subject=subject,
            purpose=purpose,
            moment=moment,
            not_after=not_after,
            san=san,
        )
        return IssuedCertificate(leaf, (ca,), key)

    def _check_constraints(self, names: Sequence[x509.GeneralName]) -> None:
        constraints = self.name_constraints
        if constraints is None:
            return
        bad = _names.constraint_violations(names, constraints)
        if bad:
            allowed = _names.permitted_names(constraints) or ["no name"]
            raise ConfigError(
                f"this CA may not certify {', '.join(bad)}: it is limited to "
                f"{', '.join(allowed) or 'no names of that type'}",
                hint="use a name inside the CA's permitted names, or another CA",
            )

    def _check_issued(self, certificate: x509.Certificate) -> None:
        _renewal.check_issued(certificate, self._certificate)
