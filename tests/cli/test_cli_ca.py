"""``sealbox ca``: transcripts of every sub-command, its errors and its exit codes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from sealbox.tls.ca import CertificateAuthority
from sealbox.tls.certinfo import load_certificates
from sealbox.tls.context import server_context
from sealbox.tls.pinning import pin_from_file
from tests._tls import TLSServer

PASSPHRASE = "ca passphrase for the cli tests"


@pytest.fixture
def ca_dir(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca", "--name", "CLI CA"])
    assert result.code == 0, result.stderr
    return tmp_path / "ca"


def test_init(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca", "--permitted-dns", "corp.test", "--days", "400"])
    assert result.code == 0, result.stderr
    lines = result.out.splitlines()
    assert lines[0].startswith(f"created CA 'sealbox development CA' in {tmp_path / 'ca'}")
    assert f"trust:  {tmp_path / 'ca' / 'ca.crt'}" in result.out
    pin = CertificateAuthority.load(tmp_path / "ca").pin
    assert lines[-1].strip() == f"pin:    {pin}"
    cert = load_certificates(tmp_path / "ca" / "ca.crt")[0]
    nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    assert nc.permitted_subtrees[0] == x509.DNSName("corp.test")
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 400
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600


def test_init_refuses_existing_ca(ca_dir, cli):
    before = (ca_dir / "ca.key").read_bytes()
    result = cli(["ca", "init", ca_dir])
    assert result.code == 1
    assert result.stderr == (
        f"sealbox: error: {ca_dir} already holds a CA (ca.crt exists)\n"
        "sealbox: hint: choose another folder: replacing a CA breaks every certificate it issued\n"
    )
    assert (ca_dir / "ca.key").read_bytes() == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_issuing_with_a_ca_key_others_can_read_warns_with_the_chmod(ca_dir, tmp_path, cli):
    # A CA key copied or unpacked with loose modes signed on without a word.
    (ca_dir / "ca.key").chmod(0o644)
    result = cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "a"])
    assert result.code == 0, result.stderr
    key = ca_dir / "ca.key"
    assert (
        f"sealbox: warning: the CA key {key} can be read or written by other users "
        f"(mode 644): chmod 600 {key}\n"
    ) in result.stderr
    (ca_dir / "ca.key").chmod(0o600)
    result = cli(["ca", "issue", "server", ca_dir, "--san", "b.test", "-o", tmp_path / "b"])
    assert result.code == 0 and "warning" not in result.stderr


def test_init_bad_constraint(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca", "--permitted-ip", "10.0.0.1/8"])
    assert result.code == 1
    assert result.stderr.startswith("sealbox: error: '10.0.0.1/8' is not an IP network")
    assert not (tmp_path / "ca").exists()


def test_encrypted_ca_flow(tmp_path, cli):
    env = {"SEALBOX_PASSPHRASE": PASSPHRASE}
    result = cli(["ca", "init", tmp_path / "ca", "--encrypt-key"], env=env)
    assert result.code == 0, result.stderr
    assert "encrypted" in result.out
    assert (tmp_path / "ca" / "ca.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    # Issuing needs the passphrase: from the environment ...
    ok = cli(
        ["ca", "issue", "client", tmp_path / "ca", "--name", "w", "-o", tmp_path / "w"], env=env
    )
    assert ok.code == 0, ok.stderr
    # ... or a file; a wrong one is refused without echoing it.
    (tmp_path / "pass").write_text("wrong passphrase\n")
    bad = cli(
        ["ca", "issue", "client", tmp_path / "ca", "--name", "x", "-o", tmp_path / "x",
         "--passphrase-file", tmp_path / "pass"]
    )  # fmt: skip
    assert bad.code == 1
    assert "wrong passphrase, or the file is damaged" in bad.stderr
    assert "wrong passphrase\n" not in bad.stderr.replace("wrong passphrase,", "")
    assert not (tmp_path / "x.crt").exists()
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    good = cli(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "a.test", "-o", tmp_path / "a",
         "--passphrase-file", tmp_path / "pass"]
    )  # fmt: skip
    assert good.code == 0, good.stderr
    for r in (result, ok, bad, good):
        assert PASSPHRASE not in r.out + r.stderr


def test_encrypted_ca_without_passphrase_source(tmp_path):
    CertificateAuthority.init(tmp_path / "ca", passphrase=PASSPHRASE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    # A new session has no controlling terminal, so there is nowhere to prompt.
    result = subprocess.run(
        [sys.executable, "-m", "sealbox", "ca", "issue", "client", str(tmp_path / "ca"),
         "--name", "w", "-o", str(tmp_path / "w")],
        capture_output=True, env=env, start_new_session=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "sealbox: error: no passphrase given and no terminal to ask on\n"
        "sealbox: hint: set $SEALBOX_PASSPHRASE or use --passphrase-file\n"
    )
    assert not (tmp_path / "w.crt").exists()


def test_passphrase_file_without_encrypt_is_a_usage_error(tmp_path, cli):
    (tmp_path / "p").write_text("x")
    result = cli(["ca", "init", tmp_path / "ca", "--passphrase-file", tmp_path / "p"])
    assert result.code == 2
    assert "only used with --encrypt-key" in result.stderr
    assert not (tmp_path / "ca").exists()


def test_issue_server(ca_dir, tmp_path, cli):
    prefix = tmp_path / "tls" / "api"
    prefix.parent.mkdir()
    result = cli(
        ["ca", "issue", "server", ca_dir, "--san", "api.test,127.0.0.1", "--san", "::1",
         "--days", "10", "-o", prefix]
    )  # fmt: skip
    assert result.code == 0, result.stderr
    crt, key = tmp_path / "tls" / "api.crt", tmp_path / "tls" / "api.key"
    assert result.out.splitlines()[0].startswith(
        f"issued server certificate for api.test, 127.0.0.1, ::1: {prefix}.crt (valid until "
    )
    assert f"pin:  {pin_from_file(crt)}" in result.out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    chain = load_certificates(crt)
    assert len(chain) == 2
    assert chain[1] == load_certificates(ca_dir / "ca.crt")[0]
    assert (chain[0].not_valid_after_utc - datetime.now(UTC)) < timedelta(days=10, minutes=1)
    server_context(crt, key)  # the pair is usable as is


def test_issue_refuses_to_overwrite_unless_forced(ca_dir, tmp_path, cli):
    args = ["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "a"]
    assert cli(args).code == 0
    before = (tmp_path / "a.crt").read_bytes()
    again = cli(args)
    assert again.code == 1
    assert again.stderr == (
        f"sealbox: error: {tmp_path / 'a'}.crt already exists\n"
        "sealbox: hint: choose another -o PREFIX, or use --force to replace it\n"
    )
    assert (tmp_path / "a.crt").read_bytes() == before
    forced = cli([*args, "--force"])
    assert forced.code == 0
    assert (tmp_path / "a.crt").read_bytes() != before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--san", "a.test", "--days", "91"], 2, "91 is not in the range 1<=x<=90"),
        (["--san", "bad_name"], 1, "'bad_name' is not a valid host name"),
        (["--san", ","], 2, "--san needs at least one"),
        (["--days", "5"], 2, "missing option '--san'"),
        # Meant as addresses; as DNS names they would match no connection.
        (["--san", "127.0.0.1."], 1, "'127.0.0.1.' looks like an IP address but is not one"),
        (["--san", "010.0.0.5"], 1, "looks like an IP address"),
        (["--san", "1.2.3"], 1, "looks like an IP address"),
        # A numeric last label: no URL's host (`example.123`), or an IPv4 address to curl
        # and browsers (`0x7f.0.0.1` is 127.0.0.1).
        (["--san", "example.123"], 1, "its last label '123' is a number"),
        (["--san", "0x7f.0.0.1"], 1, "its last label '1' is a number"),
        (["--san", "api.0x1F"], 1, "its last label '0x1f' is a number"),
        # 16 bytes in the certificate: OpenSSL and Python's ssl match it to no connection
        # to 10.0.0.5.
        (
            ["--san", "::ffff:10.0.0.5"],
            1,
            (
                "::ffff:10.0.0.5 is an IPv4-mapped IPv6 address: a certificate for it is not "
                "valid for connections to 10.0.0.5\nsealbox: hint: write the IPv4 address: "
                "10.0.0.5"
            ),
        ),
    ],
)
def test_issue_server_errors(ca_dir, tmp_path, cli, args, code, message):
    result = cli(["ca", "issue", "server", ca_dir, *args, "-o", tmp_path / "x"])
    assert result.code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.crt").exists()
    assert not (tmp_path / "x.key").exists()


@pytest.mark.parametrize("san", ["", "  "])
def test_issue_client_with_an_empty_san_is_a_usage_error_as_for_a_server(
    ca_dir, tmp_path, cli, san
):
    result = cli(["ca", "issue", "client", ca_dir, "--san", san, "-o", tmp_path / "x"])
    assert result.code == 2
    assert result.stderr == (
        "sealbox: error: --san needs the client's name\n"
        "sealbox: hint: run 'sealbox ca issue client --help' for usage\n"
    )
    assert not (tmp_path / "x.crt").exists()


def test_issue_with_no_ca(tmp_path, cli):
    result = cli(
        ["ca", "issue", "server", tmp_path / "none", "--san", "a.test", "-o", tmp_path / "x"]
    )
    assert result.code == 1
    assert result.stderr == (
        f"sealbox: error: {tmp_path / 'none'} holds no CA (ca.crt is missing)\n"
        "sealbox: hint: give the folder of the CA (its ca.crt and ca.key), or create one "
        f"with 'sealbox ca init {tmp_path / 'none'}'\n"
    )


def test_issue_client(ca_dir, tmp_path, cli):
    result = cli(
        ["ca", "issue", "client", ca_dir, "--name", "alice@corp.test", "-o", tmp_path / "alice"]
    )
    assert result.code == 0, result.stderr
    assert result.out.startswith("issued client certificate for alice@corp.test: ")
    cert = load_certificates(tmp_path / "alice.crt")[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@corp.test"]
    bad = cli(["ca", "issue", "client", ca_dir, "--name", "Alice Smith", "-o", tmp_path / "b"])
    assert bad.code == 1
    assert "must be a host-like name" in bad.stderr
    assert "sealbox: hint: e.g. 'billing-worker'" in bad.stderr


@pytest.mark.parametrize("name", ["10.0.0.5", "worker.123", "alice@corp.0x10"])
def test_a_client_name_ending_in_a_number_is_refused_not_written_as_a_dns_name(
    ca_dir, tmp_path, cli, name
):
    result = cli(["ca", "issue", "client", ca_dir, "--san", name, "-o", tmp_path / "n"])
    assert result.code == 1
    assert "is a number" in result.stderr.splitlines()[0]
    assert not (tmp_path / "n.crt").exists()


@pytest.mark.parametrize("name", ["a@b@c.com", "a<b@c.com", "a,b@c.com", ".a@c.com", "a..b@c.com"])
def test_a_malformed_email_client_name_is_one_clear_error(ca_dir, tmp_path, cli, name):
    result = cli(["ca", "issue", "client", ca_dir, "--name", name, "-o", tmp_path / "m"])
    assert result.code == 1
    assert result.stderr.startswith(
        f"sealbox: error: client name {name!r} is not a valid email address\n"
    )
    assert not (tmp_path / "m.crt").exists()


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_an_address_only_certificate_of_a_constrained_ca_verifies_in_openssl(tmp_path, cli):
    # Its subject names no address: OpenSSL checks a CN as a DNS name against the CA's
    # DNS subtrees when the SAN has none, and refused `CN=127.0.0.1`.
    ca = tmp_path / "ca"
    init = ["ca", "init", ca, "--permitted-dns", "corp.test", "--permitted-ip", "127.0.0.0/8"]
    assert cli(init).code == 0
    out = tmp_path / "lo"
    assert cli(["ca", "issue", "server", ca, "--san", "127.0.0.1", "-o", out]).code == 0
    cert = load_certificates(tmp_path / "lo.crt")[0]
    assert list(cert.subject) == []
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", ca / "ca.crt", "-verify_ip", "127.0.0.1", f"{out}.crt"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_ca_given_only_networks_certifies_no_host_name_or_mailbox(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca", "--permitted-ip", "10.0.0.0/8"]).code == 0
    for kind, option, name in (
        ("server", "--san", "www.bank.test"),
        ("client", "--name", "a@b.test"),
    ):
        result = cli(["ca", "issue", kind, tmp_path / "ca", option, name, "-o", tmp_path / "x"])
        assert result.code == 1
        assert f"sealbox: error: this CA may not certify {name}: it is limited to 10.0.0.0/8" in (
            result.stderr
        )


def test_name_constraint_refusal(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca", "--permitted-dns", "corp.test"]).code == 0
    result = cli(
        ["ca", "issue", "server", tmp_path / "ca", "--san", "evil.test", "-o", tmp_path / "e"]
    )
    assert result.code == 1
    assert "sealbox: error: this CA may not certify evil.test" in result.stderr


def test_renew(ca_dir, tmp_path, cli):
    prefix = tmp_path / "svc"
    assert cli(["ca", "issue", "server", ca_dir, "--san", "svc.test", "-o", prefix]).code == 0
    crt, key = tmp_path / "svc.crt", tmp_path / "svc.key"
    crt_before, key_before = crt.read_bytes(), key.read_bytes()

    not_due = cli(["ca", "renew", ca_dir, prefix])
    assert not_due.code == 0
    assert not_due.out.startswith(f"{prefix}.crt is not due for renewal until ")
    assert "(use --now to renew now)" in not_due.out
    assert crt.read_bytes() == crt_before

    forced = cli(["ca", "renew", ca_dir, prefix, "--now"])
    assert forced.code == 0, forced.stderr
    assert forced.out.startswith(f"renewed: {prefix}.crt (valid until ")
    assert crt.read_bytes() != crt_before
    assert key.read_bytes() == key_before

    rekeyed = cli(["ca", "renew", ca_dir, prefix, "--force", "--new-key"])
    assert rekeyed.code == 0, rekeyed.stderr
    assert rekeyed.out.startswith("renewed with a new key: ")
    assert key.read_bytes() != key_before
    server_context(crt, key)


def test_renew_due_certificate(tmp_path, cli):
    past = datetime.now(UTC) - timedelta(days=25)
    ca = CertificateAuthority.init(tmp_path / "ca", now=past - timedelta(days=1))
    ca.issue_server(["old.test"], days=30, now=past).write(tmp_path / "old")
    result = cli(["ca", "renew", tmp_path / "ca", tmp_path / "old"])
    assert result.code == 0, result.stderr
    assert result.out.startswith("renewed: ")
    leaf = load_certificates(tmp_path / "old.crt")[0]
    assert leaf.not_valid_after_utc > datetime.now(UTC) + timedelta(days=29)


def test_renew_errors(ca_dir, tmp_path, cli):
    missing = cli(["ca", "renew", ca_dir, tmp_path / "nothing"])
    assert missing.code == 1
    assert f"certificate file {tmp_path / 'nothing'}.crt does not exist" in missing.stderr
    other = CertificateAuthority.init(tmp_path / "other")
    other.issue_client("x").write(tmp_path / "x")
    foreign = cli(["ca", "renew", ca_dir, tmp_path / "x", "--force"])
    assert foreign.code == 1
    assert foreign.stderr == (
        "sealbox: error: CN=x was not issued by this CA (CN=CLI CA)\n"
        "sealbox: hint: it was issued by CN=sealbox development CA: renew it with that CA\n"
    )
    assert load_certificates(tmp_path / "x.crt")[0].issuer == other.certificate.subject


def _openssl_signed(ca_dir, tmp_path, name, subject, extensions, *utf8):
    """A leaf that `openssl x509 -req` signed with the CA's key, written as PREFIX.crt/.key."""
    prefix = tmp_path / name
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)  # noqa: E731
    run(
        "openssl",
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        f"{prefix}.key",
    )
    config = tmp_path / "req.cnf"
    config.write_text("[req]\ndistinguished_name=dn\nstring_mask=default\n[dn]\n")
    run(
        "openssl",
        "req",
        "-new",
        "-config",
        config,
        "-key",
        f"{prefix}.key",
        *utf8,
        "-subj",
        subject,
        "-out",
        f"{prefix}.csr",
    )
    extfile = tmp_path / "ext.cnf"
    extfile.write_text(extensions)
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        f"{prefix}.csr",
        "-CA",
        ca_dir / "ca.crt",
        "-CAkey",
        ca_dir / "ca.key",
        "-days",
        "30",
        "-extfile",
        extfile,
        "-out",
        f"{prefix}.crt",
    )
    return prefix


def _openssl_shows(cert):
    return subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            cert,
            "-noout",
            "-subject",
            "-nameopt",
            "multiline,show_type",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


CLIENT_EXTENSIONS = """\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=DNS:ossl-worker,email:worker@acme.test,URI:spiffe://acme.test/worker
"""


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_renewing_an_openssl_client_certificate_keeps_subject_sans_and_usage(ca_dir, tmp_path, cli):
    # It came back as CN=ossl-worker with DNS:ossl-worker only.
    prefix = _openssl_signed(
        ca_dir, tmp_path, "w", "/CN=ossl-worker/O=Acme/C=DE", CLIENT_EXTENSIONS
    )
    before = _openssl_shows(f"{prefix}.crt")
    assert "organizationName          = PRINTABLESTRING:Acme" in before
    assert "URI:spiffe://acme.test/worker" in before
    old_serial = load_certificates(f"{prefix}.crt")[0].serial_number
    result = cli(["ca", "renew", ca_dir, prefix, "--now"])
    assert result.code == 0, result.stderr
    assert load_certificates(f"{prefix}.crt")[0].serial_number != old_serial
    assert _openssl_shows(f"{prefix}.crt") == before
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            ca_dir / "ca.crt",
            "-purpose",
            "sslclient",
            f"{prefix}.crt",
        ],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_renewing_what_cannot_be_copied_exactly_is_refused_with_the_files_untouched(
    ca_dir, tmp_path, cli
):
    both = _openssl_signed(
        ca_dir,
        tmp_path,
        "both",
        "/CN=svc/O=Acme",
        CLIENT_EXTENSIONS.replace("=clientAuth", "=serverAuth,clientAuth"),
    )
    # "Jürgen" as a T61String of Latin-1 bytes: a subject pyca cannot read (it crashed).
    t61 = _openssl_signed(
        ca_dir, tmp_path, "t61", "/CN=J\u00fcrgen/O=Acme", CLIENT_EXTENSIONS, "-utf8"
    )
    for prefix, message in (
        (both, "it has the extended key usages serverAuth, clientAuth"),
        (t61, "its subject uses an encoding that cannot be read here"),
    ):
        crt_before = Path(f"{prefix}.crt").read_bytes()
        result = cli(["ca", "renew", ca_dir, prefix, "--now"])
        assert result.code == 1
        assert result.stderr.startswith("sealbox: error: cannot renew ")
        assert message in result.stderr
        assert "sealbox: hint: issue a new certificate ('sealbox ca issue" in result.stderr
        assert "Traceback" not in result.stderr
        assert Path(f"{prefix}.crt").read_bytes() == crt_before


def test_inspect_text(ca_dir, tmp_path, cli):
    cli(["ca", "issue", "server", ca_dir, "--san", "api.test,10.0.0.1", "-o", tmp_path / "api"])
    result = cli(["ca", "inspect", tmp_path / "api.crt"])
    assert result.code == 0, result.stderr
    fields = {}
    for line in result.out.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key, value.strip())
    assert fields["subject"] == "CN=api.test"
    assert fields["issuer"] == "CN=CLI CA"
    assert fields["kind"] == "server"
    assert fields["names"] == "DNS:api.test, IP:10.0.0.1"
    assert fields["key"] == "ECDSA P-256"
    assert fields["pin"] == pin_from_file(tmp_path / "api.crt")
    assert "days left" in fields["not after"]
    assert fields["chain"] == "CN=CLI CA"


def test_inspect_json(ca_dir, tmp_path, cli):
    cli(["ca", "issue", "client", ca_dir, "--name", "worker", "-o", tmp_path / "w"])
    result = cli(["ca", "inspect", tmp_path / "w.crt", "--json"])
    assert result.code == 0, result.stderr
    doc = json.loads(result.out)
    assert doc["kind"] == "client"
    assert doc["dns_names"] == ["worker"]
    assert doc["pin"] == pin_from_file(tmp_path / "w.crt")
    assert doc["expired"] is False
    assert len(doc["fingerprints"]["sha256"].split(":")) == 32
    assert [c["kind"] for c in doc["chain"]] == ["ca"]
    assert doc["not_after"].endswith("Z")


def test_inspect_errors(tmp_path, cli):
    (tmp_path / "junk").write_bytes(b"\x00\x01")
    junk = cli(["ca", "inspect", tmp_path / "junk"])
    assert junk.code == 1
    assert (
        junk.stderr
        == f"sealbox: error: certificate file {tmp_path / 'junk'} is not a PEM or DER certificate\n"
    )
    missing = cli(["ca", "inspect", tmp_path / "nope"])
    assert missing.code == 1
    assert "does not exist" in missing.stderr


def test_pin_of_files(ca_dir, tmp_path, cli):
    cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "a"])
    result = cli(["ca", "pin", tmp_path / "a.crt"])
    assert result.code == 0
    assert result.out == pin_from_file(tmp_path / "a.crt") + "\n"
    assert (
        cli(["ca", "pin", ca_dir / "ca.crt"]).out.strip() == CertificateAuthority.load(ca_dir).pin
    )
    key = cli(["ca", "pin", tmp_path / "a.key"])
    assert key.code == 1
    assert "is a private key" in key.stderr
    assert "BEGIN" not in key.stderr


def test_pin_and_inspect_read_stdin_and_name_it_in_their_errors(ca_dir, cli):
    crt = (ca_dir / "ca.crt").read_bytes()
    assert cli(["ca", "pin", "-"], input=crt).out.strip() == CertificateAuthority.load(ca_dir).pin
    assert "CN=CLI CA" in cli(["ca", "inspect", "-"], input=crt).out
    for command in ("pin", "inspect"):
        junk = cli(["ca", command, "-"], input=b"not a certificate")
        assert junk.code == 1
        assert junk.stderr == "sealbox: error: stdin is not a PEM or DER certificate\n"


@pytest.mark.parametrize("target", ["nowhere", "host:port", "host:99999", "a:b:c"])
def test_pin_bad_targets(cli, target):
    result = cli(["ca", "pin", target])
    assert result.code == 1
    assert "sealbox: error:" in result.stderr


def test_pin_of_a_live_server(ca_dir, tmp_path, cli):
    cli(["ca", "issue", "server", ca_dir, "--san", "localhost,127.0.0.1,::1", "-o", tmp_path / "s"])
    expected = pin_from_file(tmp_path / "s.crt")
    with TLSServer(server_context(tmp_path / "s.crt", tmp_path / "s.key")) as srv:
        verified = cli(["ca", "pin", f"127.0.0.1:{srv.port}", "--ca", ca_dir / "ca.crt"])
        named = cli(["ca", "pin", f"localhost:{srv.port}", "--ca", ca_dir / "ca.crt"])
        unverified = cli(["ca", "pin", f"localhost:{srv.port}", "--no-verify"])
        refused = cli(["ca", "pin", f"localhost:{srv.port}"])  # the system store knows no such CA
        conflict = cli(
            ["ca", "pin", f"localhost:{srv.port}", "--no-verify", "--ca", ca_dir / "ca.crt"]
        )
    assert verified.code == 0, verified.stderr
    assert verified.out.strip() == expected
    assert named.out.strip() == expected
    assert unverified.out.strip() == expected
    assert "was not verified" in unverified.stderr
    assert refused.code == 1
    assert "certificate verification failed" in refused.stderr
    assert "--no-verify" in refused.stderr
    assert conflict.code == 2
    closed = cli(
        ["ca", "pin", f"127.0.0.1:{srv.port}", "--ca", ca_dir / "ca.crt", "--timeout", "2"]
    )
    assert closed.code == 1
    assert "cannot fetch the certificate" in closed.stderr


def test_pin_of_a_server_reached_by_address_under_its_certificate_name(ca_dir, tmp_path, cli):
    # The certificate names only api.internal; the server is reached as 127.0.0.1.
    cli(["ca", "issue", "server", ca_dir, "--san", "api.internal", "-o", tmp_path / "s"])
    expected = pin_from_file(tmp_path / "s.crt")
    context = server_context(tmp_path / "s.crt", tmp_path / "s.key")
    sni: list[str | None] = []
    context.sni_callback = lambda _obj, name, _ctx: sni.append(name)
    with TLSServer(context) as srv:
        target = f"127.0.0.1:{srv.port}"
        ca_args = ["--ca", ca_dir / "ca.crt"]
        by_address = cli(["ca", "pin", target, *ca_args])
        by_name = cli(["ca", "pin", target, *ca_args, "--servername", "api.internal"])
        wrong_name = cli(["ca", "pin", target, *ca_args, "--servername", "other.internal"])
        empty = cli(["ca", "pin", target, *ca_args, "--servername", " "])
    assert by_address.code == 1
    assert "certificate verification failed" in by_address.stderr
    # Another CA would not help: the hint names the option that does.
    assert "--servername" in by_address.stderr and "--ca" not in by_address.stderr
    assert by_name.code == 0, by_name.stderr
    assert by_name.out.strip() == expected
    assert "api.internal" in sni  # sent as SNI, not only checked
    assert wrong_name.code == 1
    assert "other.internal" in wrong_name.stderr
    assert empty.code == 2


def test_help_lists_ca(cli):
    result = cli(["--help"])
    assert "ca " in result.out
    sub = cli(["ca", "--help"])
    for name in ("init", "issue", "renew", "inspect", "pin"):
        assert name in sub.out


def test_ca_key_never_printed(ca_dir, tmp_path, cli):
    key_body = "".join((ca_dir / "ca.key").read_text().splitlines()[1:-1])
    outputs = [
        cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "a"]),
        cli(["ca", "inspect", ca_dir / "ca.crt", "--json"]),
        cli(["ca", "renew", ca_dir, tmp_path / "a", "--force"]),
        cli(["ca", "inspect", ca_dir / "ca.key"]),
    ]
    for r in outputs:
        assert key_body[:24] not in r.out + r.stderr


def test_issue_reports_the_key_mode_on_disk(ca_dir, tmp_path, cli):
    for suffix in (".crt", ".key"):
        (tmp_path / f"api{suffix}").write_text("old\n")
        (tmp_path / f"api{suffix}").chmod(0o644)
    args = ["ca", "issue", "server", ca_dir, "--san", "api.test", "-o", tmp_path / "api"]
    result = cli([*args, "--force"])
    assert result.code == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "api.key").stat().st_mode) == 0o640  # never for others
    assert f"  key:  {tmp_path / 'api'}.key (mode 0640)" in result.out
    fresh = cli(["ca", "issue", "server", ca_dir, "--san", "api.test", "-o", tmp_path / "new"])
    assert f"  key:  {tmp_path / 'new'}.key (mode 0600)" in fresh.out


def test_inspect_says_how_long_in_the_largest_whole_unit_and_warns_before_validity():
    from sealbox.cli.ca import _validity_status

    start = datetime(2030, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    assert _validity_status(start, end, start + timedelta(days=29)) == "1 day left"
    assert _validity_status(start, end, end - timedelta(hours=5)) == "5 hours left"
    assert _validity_status(start, end, end + timedelta(hours=1)) == "EXPIRED 1 hour ago"
    assert _validity_status(start, end, end + timedelta(days=3)) == "EXPIRED 3 days ago"
    assert _validity_status(start, end, start - timedelta(days=34)) == (
        "NOT VALID YET: valid in 34 days"
    )


def test_renewing_with_an_encrypted_key_points_at_new_key_not_the_python_api(ca_dir, tmp_path, cli):
    from cryptography.hazmat.primitives import serialization

    assert cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "a"]).code == 0
    key_file = tmp_path / "a.key"
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    result = cli(["ca", "renew", ca_dir, tmp_path / "a", "--now"])
    assert result.code == 1
    assert "password=" not in result.stderr
    assert "--new-key' writes a new key" in result.stderr


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_inspect_shows_a_certificate_whose_subject_sealbox_cannot_read(tmp_path, cli) -> None:
    # OpenSSL's string_mask=default writes "Jürgen" as a T61String of Latin-1 bytes,
    # which pyca does not decode: the rest of the certificate is still shown.
    config = tmp_path / "req.cnf"
    config.write_bytes(
        b"[req]\ndistinguished_name=dn\nprompt=no\nstring_mask=default\n[dn]\nCN=J\xfcrgen\n"
    )
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:P-256", "-nodes", "-keyout", tmp_path / "k.pem"),
            *("-out", tmp_path / "c.pem", "-config", config, "-days", "10"),
        ],
        check=True,
        capture_output=True,
    )
    r = cli(["ca", "inspect", tmp_path / "c.pem", "--json"])
    assert r.code == 0, r.stderr
    shown = json.loads(r.out)
    assert shown["subject"] == "(a name in an encoding sealbox cannot read, such as T61String)"
    assert shown["pin"].startswith("sha256//")


def test_renew_given_the_certificate_file_rather_than_its_prefix_says_which_to_give(
    ca_dir, tmp_path, cli
):
    prefix = tmp_path / "api"
    assert cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", prefix]).code == 0
    for given in (f"{prefix}.crt", f"{prefix}.key"):
        result = cli(["ca", "renew", ca_dir, given])
        assert result.code == 2
        assert result.stderr == (
            f"sealbox: error: PREFIX is the name without .crt or .key: {prefix}, not {given}\n"
            "sealbox: hint: run 'sealbox ca renew --help' for usage\n"
        )


@pytest.mark.parametrize("kind", ["server", "client"])
def test_issue_given_an_output_with_its_suffix_says_which_prefix_to_give(
    ca_dir, tmp_path, cli, kind
):
    # -o api.crt wrote api.crt.crt and api.crt.key without a word.
    given = tmp_path / "api.crt"
    result = cli(["ca", "issue", kind, ca_dir, "--san", "a.test", "-o", given])
    assert result.code == 2
    assert f"-o PREFIX is the name without .crt or .key: {tmp_path / 'api'}, not {given}" in (
        result.stderr
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("api")) == []


def test_init_with_a_lifetime_past_the_maximum_is_a_usage_error_as_for_issue(tmp_path, cli):
    result = cli(["ca", "init", tmp_path / "ca", "--days", "36501"])
    assert result.code == 2
    assert "invalid value for '--days': 36501 is not in the range 1<=x<=36500" in result.stderr
    assert not (tmp_path / "ca").exists()


@pytest.mark.parametrize("kind", ["server", "client"])
def test_issue_into_a_folder_that_does_not_exist_is_refused_and_creates_nothing(
    ca_dir, tmp_path, cli, kind
):
    # As openssl and age: -o names a file in a folder that must be there (a mistyped
    # folder made silently hides the key where nothing looks for it).
    missing = tmp_path / "missing" / "dir"
    result = cli(["ca", "issue", kind, ca_dir, "--san", "a.test", "-o", missing / "x"])
    assert result.code == 1
    assert result.stderr == (
        f"sealbox: error: cannot write in {missing}: the folder does not exist\n"
        f"sealbox: hint: create it first (mkdir -p {missing}), or choose another -o PREFIX\n"
    )
    assert not (tmp_path / "missing").exists()


def test_issue_into_a_file_taken_for_a_folder_is_refused(ca_dir, tmp_path, cli):
    (tmp_path / "plain").write_text("a file")
    result = cli(["ca", "issue", "server", ca_dir, "--san", "a.test", "-o", tmp_path / "plain/x"])
    assert result.code == 1
    assert result.stderr.splitlines()[0] == (
        f"sealbox: error: cannot write {tmp_path / 'plain' / 'x'}.crt: {tmp_path / 'plain'} "
        "is not a folder"
    )
    assert (tmp_path / "plain").read_text() == "a file"


SERVER_EXTENSIONS = """\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=DNS:other-key.test
"""


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
@pytest.mark.parametrize(
    ("algorithm", "options", "described"),
    [
        ("RSA", ["-pkeyopt", "rsa_keygen_bits:2048"], "an RSA 2048-bit key"),
        ("EC", ["-pkeyopt", "ec_paramgen_curve:P-384"], "an ECDSA P-384 key"),
        ("ED25519", [], "an Ed25519 key"),
    ],
)
def test_renewing_a_certificate_whose_key_is_not_p256_says_to_give_it_a_new_key(
    ca_dir, tmp_path, cli, algorithm, options, described
):
    # `openssl x509 -req -CA ca/ca.crt` signed it for a key sealbox does not sign for: the
    # renewal said "renew with new_key" (a Python argument), or nothing at all (P-384).
    prefix = tmp_path / "other"
    key = tmp_path / "other.key"
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)  # noqa: E731
    run("openssl", "genpkey", "-algorithm", algorithm, *options, "-out", key)
    run("openssl", "req", "-new", "-key", key, "-subj", "/CN=other-key.test", "-out",
        tmp_path / "other.csr")  # fmt: skip
    (tmp_path / "ext.cnf").write_text(SERVER_EXTENSIONS)
    run("openssl", "x509", "-req", "-in", tmp_path / "other.csr", "-CA", ca_dir / "ca.crt",
        "-CAkey", ca_dir / "ca.key", "-days", "30", "-extfile", tmp_path / "ext.cnf",
        "-out", f"{prefix}.crt")  # fmt: skip
    before = (f"{prefix}.crt", (tmp_path / "other.crt").read_bytes(), key.read_bytes())
    result = cli(["ca", "renew", ca_dir, prefix, "--now"])
    assert result.code == 1
    assert result.stderr == (
        f"sealbox: error: {key} is {described}: sealbox renews certificates of ECDSA P-256 "
        "keys only\n"
        f"sealbox: hint: give the certificate a new P-256 key: 'sealbox ca renew DIR {prefix} "
        "--now --new-key' (its pin changes)\n"
    )
    assert ((tmp_path / "other.crt").read_bytes(), key.read_bytes()) == before[1:]
    rekeyed = cli(["ca", "renew", ca_dir, prefix, "--now", "--new-key"])
    assert rekeyed.code == 0, rekeyed.stderr
    server_context(f"{prefix}.crt", key)


def test_renewing_with_the_wrong_encrypted_ca_says_so_before_asking_its_passphrase(tmp_path):
    # A cron job given the wrong CA folder failed on a missing passphrase, or asked a
    # person for it, before saying the CA was the wrong one.
    CertificateAuthority.init(tmp_path / "ca", name="Locked CA", passphrase=PASSPHRASE)
    other = CertificateAuthority.init(tmp_path / "other", name="Other CA")
    other.issue_client("x").write(tmp_path / "x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    result = subprocess.run(
        [sys.executable, "-m", "sealbox", "ca", "renew", str(tmp_path / "ca"),
         str(tmp_path / "x"), "--now"],
        capture_output=True, env=env, start_new_session=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "sealbox: error: CN=x was not issued by this CA (CN=Locked CA)\n"
        "sealbox: hint: it was issued by CN=Other CA: renew it with that CA\n"
    )
