"""The certificate authority: files, profiles, constraints, renewal, and checks by verifiers."""

from __future__ import annotations

import ipaddress
import pickle
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    DNSName,
    IPAddress,
    PolicyBuilder,
    Store,
    VerificationError,
)

from sealbox.exceptions import ConfigError, StorageError, TLSConfigError
from sealbox.tls.ca import (
    BACKDATE,
    CertificateAuthority,
    CertificateKind,
    certificate_kind,
    needs_renewal,
    renewal_time,
)
from sealbox.tls.certinfo import CertificateInfo, load_certificates

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca():
    return CertificateAuthority.generate(name="Unit CA", now=NOW)


def server_verifier(ca, name, when=NOW + timedelta(hours=1)):
    builder = PolicyBuilder().store(Store([ca.certificate])).time(when)
    subject = IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() or ":" in name else None
    return builder.build_server_verifier(subject or DNSName(name))


def client_verifier(ca, when=NOW + timedelta(hours=1)):
    return PolicyBuilder().store(Store([ca.certificate])).time(when).build_client_verifier()


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


# -- the root -------------------------------------------------------------------------


def test_root_profile(ca):
    cert = ca.certificate
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Unit CA"
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca
    assert bc.value.path_length == 0
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign
    assert ku.value.crl_sign
    assert not ku.value.digital_signature
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.not_valid_before_utc == NOW - BACKDATE
    assert cert.not_valid_after_utc == NOW + timedelta(days=3650)
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert certificate_kind(cert) is CertificateKind.CA
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.NameConstraints)
    cert.verify_directly_issued_by(cert)


def test_init_writes_folder_and_load_reads_it(tmp_path):
    folder = tmp_path / "ca"
    made = CertificateAuthority.init(folder, name="Disk CA")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca.crt").stat().st_mode) == 0o644
    assert b"BEGIN PRIVATE KEY" in (folder / "ca.key").read_bytes()
    assert not CertificateAuthority.key_is_encrypted(folder)
    loaded = CertificateAuthority.load(folder)
    assert loaded.certificate == made.certificate
    assert loaded.pin == made.pin
    # The loaded CA signs what the saved certificate verifies.
    loaded.issue_server(["a.test"]).certificate.verify_directly_issued_by(made.certificate)


def test_init_refuses_an_existing_ca_and_changes_nothing(tmp_path):
    folder = tmp_path / "ca"
    CertificateAuthority.init(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(StorageError, match="already holds a CA"):
        CertificateAuthority.init(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_encrypted_ca_key(tmp_path):
    folder = tmp_path / "ca"
    passphrase = "correct horse battery staple"
    made = CertificateAuthority.init(folder, passphrase=passphrase)
    data = (folder / "ca.key").read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert CertificateAuthority.key_is_encrypted(folder)
    with pytest.raises(TLSConfigError, match="encrypted and no passphrase was given"):
        CertificateAuthority.load(folder)
    with pytest.raises(TLSConfigError, match="wrong passphrase") as info:
        CertificateAuthority.load(folder, passphrase="wrong horse")
    assert "wrong horse" not in str(info.value)
    assert passphrase not in str(info.value)
    assert CertificateAuthority.load(folder, passphrase=passphrase).pin == made.pin
    assert CertificateAuthority.load(folder, passphrase=passphrase.encode()).pin == made.pin


def test_load_errors(tmp_path):
    with pytest.raises(TLSConfigError, match="holds no CA") as info:
        CertificateAuthority.load(tmp_path / "nowhere")
    assert info.value.code == "ca_missing"
    assert info.value.facts == {"folder": str(tmp_path / "nowhere")}
    a, b = tmp_path / "a", tmp_path / "b"
    CertificateAuthority.init(a)
    CertificateAuthority.init(b)
    (a / "ca.key").write_bytes((b / "ca.key").read_bytes())
    with pytest.raises(TLSConfigError, match="is not the key of"):
        CertificateAuthority.load(a)
    (a / "ca.key").unlink()
    with pytest.raises(TLSConfigError, match="does not exist"):
        CertificateAuthority.load(a)
    (b / "ca.crt").write_text("garbage")
    with pytest.raises(TLSConfigError, match="not a PEM or DER certificate"):
        CertificateAuthority.load(b)


def test_constructor_checks(ca):
    leaf = ca.issue_server(["a.test"], now=NOW)
    with pytest.raises(TLSConfigError, match="not a CA"):
        CertificateAuthority(leaf.certificate, leaf.private_key)
    with pytest.raises(TLSConfigError, match="does not match"):
        CertificateAuthority(ca.certificate, leaf.private_key)


@pytest.mark.parametrize("days", [0, -1, 36501])
def test_ca_days_out_of_range(days):
    with pytest.raises(ConfigError, match="lifetime of a CA"):
        CertificateAuthority.generate(days=days)


def test_now_must_be_aware():
    with pytest.raises(ConfigError, match="timezone-aware"):
        CertificateAuthority.generate(now=datetime(2030, 1, 1))


# -- server certificates --------------------------------------------------------------


def test_server_profile(ca):
    issued = ca.issue_server(["API.test", "*.api.test", "10.1.2.3", "::1", "api.test"], now=NOW)
    cert = issued.certificate
    assert cert.subject.rfc4514_string() == "CN=api.test"
    assert cert.issuer == ca.certificate.subject
    san = ext(cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["api.test", "*.api.test"]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("::1"),
    ]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert not bc.value.ca
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert not ku.value.key_cert_sign
    assert cert.not_valid_after_utc - NOW == timedelta(days=30)
    assert cert.serial_number.bit_length() <= 159
    assert issued.chain == (ca.certificate,)
    assert certificate_kind(cert) is CertificateKind.SERVER
    assert (
        ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
        == ext(ca.certificate, x509.SubjectKeyIdentifier).value.digest
    )


@pytest.mark.parametrize("name", ["api.test", "www.api.test", "10.1.2.3", "::1"])
def test_server_chain_verifies_with_cryptography(ca, name):
    issued = ca.issue_server(["api.test", "*.api.test", "10.1.2.3", "::1"], now=NOW)
    chain = server_verifier(ca, name).verify(issued.certificate, list(issued.chain))
    assert chain[0] == issued.certificate
    assert chain[-1] == ca.certificate


def test_server_certificate_is_refused_for_other_names_and_as_client(ca):
    issued = ca.issue_server(["api.test"], now=NOW)
    with pytest.raises(VerificationError):
        server_verifier(ca, "other.test").verify(issued.certificate, [])
    with pytest.raises(VerificationError, match="EKU"):
        client_verifier(ca).verify(issued.certificate, [])
    # Outside its validity period.
    with pytest.raises(VerificationError):
        server_verifier(ca, "api.test", NOW + timedelta(days=31)).verify(issued.certificate, [])


def test_server_certificate_from_another_ca_is_refused(ca):
    other = CertificateAuthority.generate(now=NOW)
    issued = other.issue_server(["api.test"], now=NOW)
    with pytest.raises(VerificationError):
        server_verifier(ca, "api.test").verify(issued.certificate, [])


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "at least one"),
        (["bad_name.test"], "not a valid host name"),
        (["-bad.test"], "not a valid host name"),
        (["a..test"], "not a valid host name"),
        (["a\n.test"], "not a valid host name"),  # "$" alone would let a final newline by
        (["exämple.test"], "not ASCII"),
        (["*.test"], "at least two labels"),
        (["a.*.test"], "not a valid host name"),
        (["x" * 64 + ".test"], "not a valid host name"),
        (["a." * 127 + "test"], "longer than 253"),
    ],
)
def test_server_name_errors(ca, names, message):
    with pytest.raises(ConfigError, match=message):
        ca.issue_server(names, now=NOW)


@pytest.mark.parametrize("days", [0, 91])
def test_server_lifetime_is_capped(ca, days):
    with pytest.raises(ConfigError, match="1 to 90 days"):
        ca.issue_server(["a.test"], days=days, now=NOW)


def test_server_max_lifetime(ca):
    cert = ca.issue_server(["a.test"], days=90, now=NOW).certificate
    assert cert.not_valid_after_utc - NOW == timedelta(days=90)


def test_long_first_name_goes_to_san_only(ca):
    long_name = ("a" * 60) + ".example.test"
    cert = ca.issue_server([long_name], now=NOW).certificate
    assert len(cert.subject) == 0
    san = ext(cert, x509.SubjectAlternativeName)
    assert san.critical  # RFC 5280 4.2.1.6: empty subject -> critical SAN
    server_verifier(ca, long_name).verify(cert, [])


# -- client certificates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "san"),
    [
        ("billing-worker", x509.DNSName("billing-worker")),
        ("Worker.Corp.Test", x509.DNSName("worker.corp.test")),
        ("worker.corp.test.", x509.DNSName("worker.corp.test")),
        ("XN--BCHER-KVA.example", x509.DNSName("xn--bcher-kva.example")),
        ("alice@corp.test", x509.RFC822Name("alice@corp.test")),
        # The local part is the mailbox owner's (RFC 5321 section 2.4): kept as typed.
        ("Alice.Smith@Corp.Test.", x509.RFC822Name("Alice.Smith@corp.test")),
    ],
)
def test_client_profile_names_the_client_in_its_subject_as_in_its_san(ca, name, san):
    issued = ca.issue_client(name, now=NOW)
    cert = issued.certificate
    # One name, one spelling: a server authorising by subject and one authorising by
    # subjectAltName see the same string.
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == san.value
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert list(ext(cert, x509.SubjectAlternativeName).value) == [san]
    assert cert.not_valid_after_utc - NOW == timedelta(days=90)
    assert certificate_kind(cert) is CertificateKind.CLIENT
    verified = client_verifier(ca).verify(cert, list(issued.chain))
    assert verified.subjects == [san]
    with pytest.raises(VerificationError):
        server_verifier(ca, "billing-worker").verify(cert, [])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("Alice Smith", "host-like name"),
        ("x" * 65, "longer than 64"),
        ("@corp.test", "not a valid email"),
        ("bob@bad_domain", "not a valid host name"),
        ("tab\there", "control characters"),
    ],
)
def test_client_name_errors(ca, name, message):
    with pytest.raises(ConfigError, match=message):
        ca.issue_client(name, now=NOW)


@pytest.mark.parametrize("days", [0, 366])
def test_client_lifetime_is_capped(ca, days):
    with pytest.raises(ConfigError, match="1 to 365 days"):
        ca.issue_client("c", days=days, now=NOW)


# -- name constraints -----------------------------------------------------------------


def test_name_constrained_ca():
    ca = CertificateAuthority.generate(permitted_dns=["Corp.Test"], now=NOW)
    nc = ext(ca.certificate, x509.NameConstraints)
    assert nc.critical
    # The domain, and mailboxes at it and under it.
    assert nc.value.permitted_subtrees == [
        x509.DNSName("corp.test"),
        x509.RFC822Name("corp.test"),
        x509.RFC822Name(".corp.test"),
    ]
    # Only DNS names permitted: every IP address is excluded.
    assert {str(t.value) for t in nc.value.excluded_subtrees} == {"0.0.0.0/0", "::/0"}
    ok = ca.issue_server(["corp.test", "api.corp.test", "*.corp.test"], now=NOW)
    server_verifier(ca, "api.corp.test").verify(ok.certificate, [])
    ca.issue_client("worker.corp.test", now=NOW)
    ca.issue_client("alice@corp.test", now=NOW)
    ca.issue_client("bob@mail.corp.test", now=NOW)
    with pytest.raises(ConfigError, match=r"may not certify alice@example\.test"):
        ca.issue_client("alice@example.test", now=NOW)  # a mailbox elsewhere
    for names in (["api.other.test"], ["evilcorp.test"], ["10.0.0.1"], ["api.corp.test", "x.y"]):
        with pytest.raises(ConfigError, match="may not certify"):
            ca.issue_server(names, now=NOW)
    with pytest.raises(ConfigError, match="may not certify"):
        ca.issue_client("billing-worker", now=NOW)


def test_name_constraints_with_networks():
    ca = CertificateAuthority.generate(
        permitted_dns=["corp.test"], permitted_ips=["10.0.0.0/8", "fd00::/8"], now=NOW
    )
    nc = ext(ca.certificate, x509.NameConstraints).value
    assert nc.excluded_subtrees is None
    issued = ca.issue_server(["api.corp.test", "10.9.8.7", "fd00::1"], now=NOW)
    server_verifier(ca, "10.9.8.7").verify(issued.certificate, [])
    with pytest.raises(ConfigError, match=r"may not certify 192\.168\.1\.1"):
        ca.issue_server(["192.168.1.1"], now=NOW)
    # Only networks permitted: no host name (the one DNS subtree is the TLD `invalid`).
    ip_only = CertificateAuthority.generate(permitted_ips=["127.0.0.0/8"], now=NOW)
    issued = ip_only.issue_server(["127.0.0.1"], now=NOW)
    server_verifier(ip_only, "127.0.0.1").verify(issued.certificate, [])
    with pytest.raises(ConfigError, match=r"may not certify anything\.test: it is limited to 127"):
        ip_only.issue_server(["127.0.0.1", "anything.test"], now=NOW)
    with pytest.raises(ConfigError, match=r"may not certify alice@corp\.test"):
        ip_only.issue_client("alice@corp.test", now=NOW)


@pytest.mark.parametrize(
    ("dns", "ips", "message"),
    [
        (["*.corp.test"], [], "wildcard is not allowed"),
        (["bad_domain"], [], "not a valid host name"),
        ([], ["10.0.0.1/8"], "not an IP network"),
        ([], ["nonsense"], "not an IP network"),
    ],
)
def test_name_constraint_input_errors(dns, ips, message):
    with pytest.raises(ConfigError, match=message):
        CertificateAuthority.generate(permitted_dns=dns, permitted_ips=ips)


def test_constraints_are_enforced_by_verifiers_not_just_by_issue():
    ca = CertificateAuthority.generate(permitted_dns=["corp.test"], now=NOW)
    # Bypass the issuing check to get a certificate outside the constraints.
    forged = ca._issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil.test")]),
        ExtendedKeyUsageOID.SERVER_AUTH,
        10,
        None,
        NOW,
        san=(x509.SubjectAlternativeName([x509.DNSName("evil.test")]), False),
    )
    with pytest.raises(VerificationError, match="name constraint"):
        server_verifier(ca, "evil.test").verify(forged.certificate, [])


# -- lifetimes, expiry, writing -------------------------------------------------------


def test_issue_after_ca_expiry_or_beyond_it():
    ca = CertificateAuthority.generate(days=40, now=NOW)
    with pytest.raises(ConfigError, match="before this certificate would"):
        ca.issue_server(["a.test"], days=60, now=NOW)
    with pytest.raises(TLSConfigError, match="CA certificate expired"):
        ca.issue_server(["a.test"], now=NOW + timedelta(days=41))


def test_reused_key_must_be_p256(ca):
    with pytest.raises(ConfigError, match="P-256"):
        ca.issue_server(["a.test"], key=ec.generate_private_key(ec.SECP384R1()), now=NOW)


def test_write_files(tmp_path, ca):
    issued = ca.issue_server(["a.test"], now=NOW)
    cert_path, key_path = issued.write(tmp_path / "srv")
    assert (cert_path.name, key_path.name) == ("srv.crt", "srv.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert load_certificates(cert_path) == [issued.certificate, ca.certificate]
    assert key_path.read_bytes() == issued.private_key_pem()
    other = ca.issue_server(["b.test"], now=NOW)
    with pytest.raises(StorageError, match="already exists"):
        other.write(tmp_path / "srv")
    assert load_certificates(cert_path)[0] == issued.certificate
    other.write(tmp_path / "srv", overwrite=True)
    assert load_certificates(cert_path)[0] == other.certificate
    with pytest.raises(ConfigError, match="must name a file"):
        other.write(str(tmp_path) + "/")


def test_write_creates_missing_folders_private(tmp_path, ca):
    issued = ca.issue_server(["a.test"], now=NOW)
    _, key_path = issued.write(tmp_path / "tls" / "deep" / "srv")
    assert key_path.read_bytes() == issued.private_key_pem()
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) & 0o077 == 0
    (tmp_path / "plain").write_text("a file, not a folder")
    with pytest.raises(StorageError, match="a file of that name exists") as info:
        issued.write(tmp_path / "plain" / "srv")
    assert info.value.code == "not_a_folder"


def test_secrets_stay_out_of_repr_and_pickle(ca):
    issued = ca.issue_client("c", now=NOW)
    pem = issued.private_key_pem().decode()
    body = "".join(pem.splitlines()[1:-1])
    for text in (repr(issued), str(issued), repr(ca), str(ca)):
        assert "PRIVATE" not in text
        assert body[:20] not in text
    assert "pin=" in repr(issued)
    assert "CN=c" in repr(issued)
    for obj in (issued, ca):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)


# -- renewal --------------------------------------------------------------------------


def test_renewal_time_is_two_thirds_of_the_lifetime(ca):
    cert = ca.issue_server(["a.test"], days=30, now=NOW).certificate
    due = renewal_time(cert)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert due == cert.not_valid_before_utc + lifetime * 2 / 3
    assert not needs_renewal(cert, now=due - timedelta(seconds=1))
    assert needs_renewal(cert, now=due)
    assert needs_renewal(cert, now=NOW + timedelta(days=400))


def test_renew_keeps_kind_names_lifetime(ca):
    first = ca.issue_server(["a.test", "10.0.0.1"], days=45, now=NOW)
    later = NOW + timedelta(days=40)
    renewed = ca.renew(first.certificate, now=later)
    cert = renewed.certificate
    assert certificate_kind(cert) is CertificateKind.SERVER
    assert (
        ext(cert, x509.SubjectAlternativeName).value
        == ext(first.certificate, x509.SubjectAlternativeName).value
    )
    assert cert.not_valid_after_utc - later == timedelta(days=45)
    assert renewed.pin != first.pin  # a new key unless one is given
    client = ca.issue_client("worker", days=200, now=NOW)
    again = ca.renew(client.certificate, key=client.private_key, now=later)
    assert again.pin == client.pin
    assert again.certificate.subject == client.certificate.subject
    assert again.certificate.not_valid_after_utc - later == timedelta(days=200)


def test_renew_refuses_foreign_and_mismatched(ca):
    other = CertificateAuthority.generate(now=NOW)
    foreign = other.issue_server(["a.test"], now=NOW)
    with pytest.raises(TLSConfigError, match="was not issued by this CA"):
        ca.renew(foreign.certificate)
    mine = ca.issue_server(["a.test"], now=NOW)
    with pytest.raises(TLSConfigError, match="not the key"):
        ca.renew(mine.certificate, key=foreign.private_key)
    with pytest.raises(TLSConfigError, match="not a server or client"):
        other.renew(other.certificate)


def _signed_elsewhere(tmp_path, subject, sans, usages, *, extra=()):
    """A CA saved to disk, and a leaf its key signed through another tool's builder
    (as `openssl x509 -req -CA ca.crt -CAkey ca.key` would), with ``subject`` as given."""
    authority = CertificateAuthority.init(tmp_path / "ca", now=NOW)
    ca_key = serialization.load_pem_private_key((tmp_path / "ca" / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ext(authority.certificate, x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return authority, builder.sign(ca_key, hashes.SHA256()), key


ACME_WORKER = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "ossl-worker"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
    ]
)
WORKER_SANS = [
    x509.DNSName("ossl-worker"),
    x509.RFC822Name("worker@acme.test"),
    x509.UniformResourceIdentifier("spiffe://acme.test/worker"),
]


def test_renewing_a_client_certificate_keeps_its_whole_subject_and_every_san(tmp_path):
    # It came back as CN=ossl-worker with DNS:ossl-worker only: a tls_client_auth client
    # registered with the full subject, and SPIFFE peers, no longer recognised it.
    authority, first, key = _signed_elsewhere(
        tmp_path, ACME_WORKER, WORKER_SANS, [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    later = NOW + timedelta(days=25)
    for given in (key, None):
        cert = authority.renew(first, key=given, now=later).certificate
        assert cert.subject.public_bytes() == first.subject.public_bytes()
        assert cert.subject.rfc4514_string() == "C=DE,O=Acme,CN=ossl-worker"
        assert list(ext(cert, x509.SubjectAlternativeName).value) == WORKER_SANS
        assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
        assert cert.not_valid_after_utc - later == timedelta(days=30)
        client_verifier(authority, later + timedelta(hours=1)).verify(cert, [])


def test_renewing_a_server_certificate_keeps_its_subject_and_every_san(tmp_path):
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
                ]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.COMMON_NAME, "api.acme.test")]
            ),
        ]
    )
    sans = [
        x509.DNSName("api.acme.test"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.5")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.UniformResourceIdentifier("spiffe://acme.test/api"),
        x509.RFC822Name("ops@acme.test"),
    ]
    authority, first, _ = _signed_elsewhere(
        tmp_path, subject, sans, [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    cert = authority.renew(first, now=NOW + timedelta(days=25)).certificate
    assert cert.subject.public_bytes() == first.subject.public_bytes()
    san = ext(cert, x509.SubjectAlternativeName)
    assert list(san.value) == sans
    assert not san.critical
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    when = NOW + timedelta(days=25, hours=1)
    server_verifier(authority, "api.acme.test", when).verify(cert, [])
    server_verifier(authority, "10.0.0.5", when).verify(cert, [])
    # An address-only certificate has an empty subject and so a critical SAN: kept too.
    bare = authority.issue_server(["10.0.0.7"], now=NOW).certificate
    again = authority.renew(bare, now=NOW + timedelta(days=25)).certificate
    assert again.subject == x509.Name([])
    assert ext(again, x509.SubjectAlternativeName).critical
    server_verifier(authority, "10.0.0.7", when).verify(again, [])


@pytest.mark.parametrize(
    ("usages", "extra", "message"),
    [
        (
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            (),
            "usages serverAuth, clientAuth, and a sealbox renewal carries only serverAuth",
        ),
        (
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier("http://crl.acme.test/ca.crl")],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
            ),
            "would drop its cRLDistributionPoints extension",
        ),
    ],
)
def test_a_certificate_a_renewal_cannot_copy_is_refused_and_left_alone(
    tmp_path, usages, extra, message
):
    authority, first, key = _signed_elsewhere(
        tmp_path, ACME_WORKER, WORKER_SANS, usages, extra=extra
    )
    with pytest.raises(TLSConfigError, match=message) as info:
        authority.renew(first, now=NOW + timedelta(days=25))
    assert info.value.code == "renewal_unsupported"
    assert info.value.hint
    crt, pem = tmp_path / "w.crt", first.public_bytes(serialization.Encoding.PEM)
    crt.write_bytes(pem)
    (tmp_path / "w.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(TLSConfigError, match=message):
        authority.renew_files(tmp_path / "w", force=True, now=NOW + timedelta(days=25))
    assert crt.read_bytes() == pem


def test_renew_files(tmp_path, ca):
    prefix = tmp_path / "svc"
    first = ca.issue_server(["svc.test"], days=30, now=NOW)
    first.write(prefix)
    crt, key = tmp_path / "svc.crt", tmp_path / "svc.key"
    key_before = key.read_bytes()
    crt_before = crt.read_bytes()

    assert ca.renew_files(prefix, now=NOW + timedelta(days=10)) is None
    assert crt.read_bytes() == crt_before

    due = NOW + timedelta(days=21)
    renewed = ca.renew_files(prefix, now=due)
    assert renewed is not None
    assert renewed.pin == first.pin
    assert key.read_bytes() == key_before  # the key file is not touched
    assert load_certificates(crt) == [renewed.certificate, ca.certificate]
    assert renewed.certificate.not_valid_after_utc == due + timedelta(days=30)

    forced = ca.renew_files(prefix, force=True, now=due)
    assert forced is not None
    assert forced.certificate != renewed.certificate

    rekeyed = ca.renew_files(prefix, force=True, new_key=True, now=due)
    assert rekeyed is not None
    assert rekeyed.pin != first.pin
    assert key.read_bytes() == rekeyed.private_key_pem()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_renewing_past_the_end_of_its_ca_is_refused_with_a_code_not_told_to_ask_fewer_days(
    tmp_path,
):
    # A renewal has no lifetime to ask for: "ask for fewer days" sent cron users nowhere.
    ca = CertificateAuthority.init(tmp_path / "ca", days=50, now=NOW)
    ca.issue_server(["a.test"], days=30, now=NOW).write(tmp_path / "a")
    before = (tmp_path / "a.crt").read_bytes()
    with pytest.raises(TLSConfigError, match="the CA expires on 2030-02-20") as caught:
        ca.renew_files(tmp_path / "a", now=NOW + timedelta(days=25))
    assert caught.value.code == "ca_expires_first"
    assert caught.value.facts == {"ca_not_after": "2030-02-20T00:00:00Z", "days": "30"}
    assert caught.value.hint == (
        "create a new CA, have clients and servers trust its certificate, and issue this "
        "certificate with it"
    )
    assert (tmp_path / "a.crt").read_bytes() == before


def test_renewing_with_another_ca_names_the_issuer_with_a_code_and_what_to_do(ca):
    other = CertificateAuthority.generate(name="Other CA", now=NOW)
    foreign = other.issue_client("x", now=NOW).certificate
    with pytest.raises(TLSConfigError, match="was not issued by this CA") as caught:
        ca.renew(foreign)
    assert caught.value.code == "wrong_ca"
    assert caught.value.facts == {"issuer": "CN=Other CA", "ca": "CN=Unit CA"}
    assert caught.value.hint == "it was issued by CN=Other CA: renew it with that CA"


def test_renewing_with_a_ca_created_again_under_the_same_name_says_the_key_differs():
    # `ca init` run again (another folder, the default name): the names match, the keys not.
    first, again = CertificateAuthority.generate(now=NOW), CertificateAuthority.generate(now=NOW)
    mine = first.issue_server(["a.test"], now=NOW).certificate
    with pytest.raises(TLSConfigError, match="was not issued by this CA") as caught:
        again.renew(mine)
    assert caught.value.code == "wrong_ca"
    assert caught.value.hint == (
        "it was issued by another CA of the same name (CN=sealbox development CA; a CA "
        "created again has a new key): renew it with the CA that issued it, or issue a new "
        "certificate with this one"
    )


def test_renew_files_errors(tmp_path, ca):
    with pytest.raises(TLSConfigError, match="does not exist"):
        ca.renew_files(tmp_path / "nothing")
    other = CertificateAuthority.generate(now=NOW)
    other.issue_client("x", now=NOW).write(tmp_path / "foreign")
    with pytest.raises(TLSConfigError, match="not issued by this CA"):
        ca.renew_files(tmp_path / "foreign", force=True)
    ca.issue_client("a", now=NOW).write(tmp_path / "a")
    ca.issue_client("b", now=NOW).write(tmp_path / "b")
    (tmp_path / "a.key").write_bytes((tmp_path / "b.key").read_bytes())
    before = (tmp_path / "a.crt").read_bytes()
    with pytest.raises(TLSConfigError, match="does not match"):
        ca.renew_files(tmp_path / "a", force=True)
    assert (tmp_path / "a.crt").read_bytes() == before


# -- certificate info -----------------------------------------------------------------


def test_certificate_info(ca):
    issued = ca.issue_server(["api.test", "10.0.0.1"], now=NOW)
    info = CertificateInfo.from_certificate(issued.certificate)
    assert info.kind == "server"
    assert info.dns_names == ("api.test",)
    assert info.ip_addresses == ("10.0.0.1",)
    assert info.key_type == "ECDSA P-256"
    assert info.pin == issued.pin
    assert len(info.sha256.split(":")) == 32
    assert len(info.sha1.split(":")) == 20
    assert info.expired(NOW + timedelta(days=31))
    doc = info.to_dict(NOW)
    assert doc["not_after"] == "2030-01-31T00:00:00Z"
    assert doc["expired"] is False
    assert doc["fingerprints"]["sha256"] == info.sha256
    ca_info = CertificateInfo.from_certificate(
        CertificateAuthority.generate(permitted_dns=["corp.test"], now=NOW).certificate
    )
    assert ca_info.kind == "ca"
    assert ca_info.permitted_names == ("corp.test", "corp.test", ".corp.test")
