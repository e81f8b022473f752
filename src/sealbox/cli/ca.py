"""``sealbox ca …``: a certificate authority for development and operations."""

from __future__ import annotations

import json
import re
import shlex
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from sealbox.cli._dialect import Seconds, echo_json, json_option, not_stdout, option
from sealbox.cli._io import CLIError, passphrase_file_option, read_passphrase, read_stdin, warn
from sealbox.cli._paths import FilePath
from sealbox.secret import Secret
from sealbox.tls.ca import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    DEFAULT_CA_DAYS,
    DEFAULT_CA_NAME,
    DEFAULT_CLIENT_DAYS,
    DEFAULT_SERVER_DAYS,
    MAX_CA_DAYS,
    MAX_CLIENT_DAYS,
    MAX_SERVER_DAYS,
    CertificateAuthority,
    IssuedCertificate,
    needs_renewal,
    renewal_time,
)

_DIR = click.argument("directory", metavar="DIR", type=FilePath(file_okay=False, path_type=Path))
_OUT = click.option(
    "-o",
    "--output",
    "prefix",
    required=True,
    metavar="PREFIX",
    callback=not_stdout,
    help="Write PREFIX.crt (certificate, then CA) and PREFIX.key (mode 0600); the folder "
    "must exist.",
)
_FORCE_OUT = click.option("--force", is_flag=True, help="Replace PREFIX.crt and PREFIX.key.")
# [v6 address]:port, or host:port.
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s/]+)):(?P<port>\d{1,5})$")


@click.group()
def ca() -> None:
    """A certificate authority for development and operations.

    A CA lives in a folder DIR: DIR/ca.crt is what clients and servers trust,
    DIR/ca.key (mode 0600, optionally encrypted) signs. Certificates are ECDSA
    P-256, short-lived, and written as PREFIX.crt and PREFIX.key.
    """


@ca.command()
@_DIR
@click.option("--name", default=DEFAULT_CA_NAME, show_default=True, help="The CA's common name.")
@click.option(
    "--permitted-dns",
    "permitted_dns",
    multiple=True,
    metavar="DOMAIN",
    help="Only certify DOMAIN and names under it (repeatable). Without --permitted-ip, "
    "no IP address can be certified then.",
)
@click.option(
    "--permitted-ip",
    "permitted_ips",
    multiple=True,
    metavar="CIDR",
    help="Only certify IP addresses in this network (repeatable), e.g. 10.0.0.0/8.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_CA_DAYS),
    default=DEFAULT_CA_DAYS,
    show_default=True,
    help="Lifetime of the CA certificate.",
)
@click.option("--encrypt-key", is_flag=True, help="Encrypt ca.key with a passphrase.")
@passphrase_file_option
def init(
    *,
    directory: Path,
    name: str,
    permitted_dns: tuple[str, ...],
    permitted_ips: tuple[str, ...],
    days: int,
    encrypt_key: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a new CA in DIR (created if missing)."""
    if passphrase_file is not None and not encrypt_key:
        raise click.UsageError("--passphrase-file is only used with --encrypt-key")
    CertificateAuthority.check_free(directory)  # before the passphrase is asked for
    passphrase = (
        read_passphrase(passphrase_file, confirm=True, prompt="New CA key passphrase")
        if encrypt_key
        else None
    )
    authority = CertificateAuthority.init(
        directory,
        name=name,
        days=days,
        permitted_dns=permitted_dns,
        permitted_ips=permitted_ips,
        passphrase=passphrase,
    )
    cert = authority.certificate
    click.echo(
        f"created CA {name!r} in {directory} (valid until {cert.not_valid_after_utc:%Y-%m-%d})"
    )
    click.echo(f"  trust:  {directory / CA_CERT_FILE}")
    protected = "encrypted, mode 0600" if encrypt_key else "mode 0600: keep it secret"
    click.echo(f"  key:    {directory / CA_KEY_FILE} ({protected})")
    click.echo(f"  pin:    {authority.pin}")


@ca.group()
def issue() -> None:
    """Issue a server or client certificate."""


@issue.command()
@_DIR
@click.option(
    "--san",
    "sans",
    multiple=True,
    required=True,
    metavar="NAME_OR_IP",
    help="A DNS name (api.internal, *.api.internal) or IP address; repeatable, or comma-separated.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_SERVER_DAYS),
    default=DEFAULT_SERVER_DAYS,
    show_default=True,
    help=f"Lifetime (at most {MAX_SERVER_DAYS} days).",
)
@_OUT
@_FORCE_OUT
@passphrase_file_option
def server(
    *,
    directory: Path,
    sans: tuple[str, ...],
    days: int,
    prefix: str,
    force: bool,
    passphrase_file: Path | None,
) -> None:
    """Issue a server certificate (serverAuth) for the names given by --san."""
    names = [n.strip() for item in sans for n in item.split(",") if n.strip()]
    if not names:
        raise click.UsageError("--san needs at least one DNS name or IP address")
    _check_outputs(prefix, force)
    authority = _load_ca(directory, passphrase_file)
    issued = authority.issue_server(names, days=days)
    issued.write(prefix, overwrite=force)
    # The names as certified: normalized, each once (`A.test,a.test.` is one name).
    from sealbox.tls.certinfo import CertificateInfo

    info = CertificateInfo.from_certificate(issued.certificate)
    certified = [*info.dns_names, *info.ip_addresses]
    _report(f"issued server certificate for {', '.join(certified)}", issued, prefix)


@issue.command()
@_DIR
@option(
    "--san",
    "name",
    old=("--name",),
    required=True,
    metavar="NAME",
    help="The client's name: a host-like name (billing-worker) or an email address.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_CLIENT_DAYS),
    default=DEFAULT_CLIENT_DAYS,
    show_default=True,
    help=f"Lifetime (at most {MAX_CLIENT_DAYS} days).",
)
@_OUT
@_FORCE_OUT
@passphrase_file_option
def client(
    *,
    directory: Path,
    name: str,
    days: int,
    prefix: str,
    force: bool,
    passphrase_file: Path | None,
) -> None:
    """Issue a client certificate (clientAuth) for mutual TLS."""
    if not name.strip():
        # As `ca issue server --san ''`: a usage error, before the CA is opened.
        raise click.UsageError("--san needs the client's name")
    _check_outputs(prefix, force)
    authority = _load_ca(directory, passphrase_file)
    issued = authority.issue_client(name, days=days)
    issued.write(prefix, overwrite=force)
    # The name as certified, in subject and SAN alike (worker.corp.test for Worker.Corp.Test.).
    from sealbox.tls.certinfo import CertificateInfo

    info = CertificateInfo.from_certificate(issued.certificate)
    _report(f"issued client certificate for {[*info.dns_names, *info.emails][0]}", issued, prefix)


@ca.command()
@_DIR
@click.argument("prefix")
@option("--now", "force", old=("--force",), is_flag=True, help="Renew now, even if not due.")
@click.option(
    "--new-key", is_flag=True, help="Give it a new key too (pins of the old key stop matching)."
)
@passphrase_file_option
def renew(
    directory: Path, prefix: str, force: bool, new_key: bool, passphrase_file: Path | None
) -> None:
    """Renew PREFIX.crt once two thirds of its lifetime have passed.

    The key in PREFIX.key is kept (pins stay valid) unless --new-key is given.
    Safe to run from cron: a certificate that is not due is left alone.
    """
    from sealbox.tls.certinfo import load_certificates

    _check_prefix(prefix, "PREFIX")
    leaf = load_certificates(f"{prefix}.crt")[0]
    if not force and not needs_renewal(leaf):
        click.echo(
            f"{prefix}.crt is not due for renewal until {renewal_time(leaf):%Y-%m-%d %H:%M} UTC "
            "(use --now to renew now)"
        )
        return
    # The wrong CA folder is named before its passphrase is asked for.
    CertificateAuthority.check_issued_by(directory, leaf)
    authority = _load_ca(directory, passphrase_file)
    issued = authority.renew_files(prefix, force=True, new_key=new_key)
    assert issued is not None
    _report("renewed" + (" with a new key" if new_key else ""), issued, prefix)


@ca.command()
@click.argument("cert", metavar="CERT", type=FilePath(dir_okay=False, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts (fields: docs/cli.md)."
)
def inspect(cert: Path, as_json: bool) -> None:
    """Show a certificate: subject, names, validity, fingerprints and pin.

    For a bundle (PREFIX.crt), the first certificate is shown and the chain listed.
    CERT '-' reads the certificate from stdin.
    """
    from sealbox.tls.certinfo import CertificateInfo, certificates_from_bytes, load_certificates

    now = datetime.now(UTC)
    found = (
        certificates_from_bytes(_stdin_certificate(), "stdin")
        if str(cert) == "-"
        else load_certificates(cert)
    )
    infos = [CertificateInfo.from_certificate(c) for c in found]
    if as_json:
        doc = infos[0].to_dict(now)
        doc["chain"] = [i.to_dict(now) for i in infos[1:]]
        click.echo(json.dumps(doc, indent=2))
        return
    leaf = infos[0]
    status = _validity_status(leaf.not_before, leaf.not_after, now)
    names = [f"DNS:{n}" for n in leaf.dns_names]
    names += [f"IP:{n}" for n in leaf.ip_addresses]
    names += [f"email:{n}" for n in leaf.emails]
    names += [f"URI:{n}" for n in leaf.uris]
    rows = [
        ("subject", leaf.subject),
        ("issuer", leaf.issuer),
        ("kind", leaf.kind or "other"),
        ("names", ", ".join(names) or "-"),
        ("not before", f"{leaf.not_before:%Y-%m-%d %H:%M:%S} UTC"),
        ("not after", f"{leaf.not_after:%Y-%m-%d %H:%M:%S} UTC ({status})"),
        ("renew after", f"{leaf.renew_after:%Y-%m-%d %H:%M:%S} UTC"),
        ("key", leaf.key_type),
        ("serial", leaf.serial),
        ("sha256", leaf.sha256),
        ("sha1", leaf.sha1),
        ("pin", leaf.pin),
    ]
    if leaf.permitted_subtrees:
        rows.append(("permitted", ", ".join(leaf.permitted_subtrees)))
    if leaf.excluded_subtrees:
        rows.append(("excluded", ", ".join(leaf.excluded_subtrees)))
    rows += [("chain", info.subject) for info in infos[1:]]
    width = max(len(k) for k, _ in rows) + 1
    for key, value in rows:
        click.echo(f"{key + ':':<{width}} {value}")


@ca.command()
@click.argument("target", metavar="CERT|HOST:PORT")
@click.option(
    "--ca",
    "ca_file",
    type=FilePath(dir_okay=False, path_type=Path),
    help="Verify a server against this CA file (default: the system's trust store).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Read a server's key without verifying its certificate (trust on first use).",
)
@click.option(
    "--servername",
    metavar="NAME",
    help="Name to send (SNI) and check the certificate against, for a server reached by "
    "an address or another name.",
)
@click.option(
    "--timeout",
    type=Seconds(0.1, 3600),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for a server.",
)
@json_option
def pin(  # noqa: PLR0917 - click passes every option positionally
    target: str,
    ca_file: Path | None,
    no_verify: bool,
    servername: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Print the SPKI pin (sha256//BASE64) of a certificate file or a live server.

    The pin is what curl's --pinnedpubkey and sealbox's secure_client(pins=...)
    take. A file may be a certificate (PEM or DER) or a PEM public key; '-' reads
    one from stdin.
    """
    from sealbox.tls.pinning import fetch_certificate, pin_from_bytes, pin_from_file, spki_pin

    # Usage first, whatever the target: contradictory options are a usage error.
    if no_verify and ca_file is not None:
        raise click.UsageError("--ca and --no-verify exclude each other")
    if servername is not None and not servername.strip():
        raise click.UsageError("--servername may not be empty")
    if target == "-" or Path(target).exists():
        pin = (
            pin_from_bytes(_stdin_certificate(), "stdin")
            if target == "-"
            else pin_from_file(target)
        )
        _print_pin(pin, target, verified=None, as_json=as_json)
        return
    match = _HOST_PORT.match(target)
    if match is None:
        raise CLIError(
            f"{target} is neither a file nor HOST:PORT",
            hint="e.g. 'sealbox ca pin tls/server.crt' or 'sealbox ca pin api.internal:443'",
        )
    host = match.group("v6") or match.group("host")
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise CLIError(f"port {port} is out of range")
    context = None
    if ca_file is not None:
        from sealbox.tls.context import client_context

        context = client_context(ca=ca_file)
    cert = fetch_certificate(
        host,
        port,
        context=context,
        verify=not no_verify,
        timeout=timeout,
        server_name=servername,
    )
    if no_verify:
        warn(
            f"the certificate of {target} was not verified: "
            "check this pin against one obtained another way"
        )
    _print_pin(spki_pin(cert), target, verified=not no_verify, as_json=as_json)


def _stdin_certificate() -> bytes:
    """What was piped in for CERT ``-``."""
    if sys.stdin.isatty():
        raise CLIError("no certificate on stdin", hint="pipe one in, or give its file")
    return read_stdin(_MAX_CERTIFICATE_INPUT, "the certificate")


# A certificate, even a bundle of them, is a few KiB.
_MAX_CERTIFICATE_INPUT = 1024 * 1024


def _print_pin(pin: str, target: str, *, verified: bool | None, as_json: bool) -> None:
    """The pin, alone on a line or as ``{"pin", "source", "verified"}``.

    ``verified`` is ``None`` for a file (nothing to verify), else whether the
    server's certificate was verified.
    """
    if as_json:
        echo_json({"pin": pin, "source": target, "verified": verified})
    else:
        click.echo(pin)


def _load_ca(directory: Path, passphrase_file: Path | None) -> CertificateAuthority:
    _warn_if_key_open(directory / "ca.key")
    passphrase: Secret[str] | None = None
    if CertificateAuthority.key_is_encrypted(directory):
        passphrase = read_passphrase(passphrase_file, prompt="CA key passphrase")
    return CertificateAuthority.load(directory, passphrase=passphrase)


def _warn_if_key_open(key: Path) -> None:
    """Say so when the CA key can be read or written by other users (it was made 0600:
    a copy, an archive or a chmod opened it, and it may have been read already)."""
    try:
        mode = stat.S_IMODE(key.stat().st_mode)
    except OSError:
        return  # loading says what is wrong with it
    if sys.platform != "win32" and mode & 0o077:
        warn(
            f"the CA key {key} can be read or written by other users "
            f"(mode {mode:o}): chmod 600 {key}"
        )


def _check_prefix(prefix: str, option: str) -> None:
    """A usage error for a PREFIX given with its ``.crt`` or ``.key``: PREFIX.crt.crt is
    never what was meant (unless such a file is already there)."""
    stem, suffix = prefix[:-4], prefix[-4:]
    if suffix in {".crt", ".key"} and not Path(f"{prefix}.crt").exists():
        raise click.UsageError(f"{option} is the name without .crt or .key: {stem}, not {prefix}")


def _check_outputs(prefix: str, force: bool) -> None:
    _check_prefix(prefix, "-o PREFIX")
    # The folder must be there, as for openssl and age: a mistyped folder made silently
    # would hide the new key where nothing looks for it. Checked before the CA is opened.
    folder = Path(prefix + ".crt").parent
    if not folder.is_dir():
        if folder.exists():
            raise CLIError(
                f"cannot write {prefix}.crt: {folder} is not a folder",
                hint="choose another -o PREFIX",
            )
        raise CLIError(
            f"cannot write in {folder}: the folder does not exist",
            hint=f"create it first (mkdir -p {shlex.quote(str(folder))}), "
            "or choose another -o PREFIX",
        )
    if force:
        return
    for suffix in (".crt", ".key"):
        if Path(prefix + suffix).exists():
            raise CLIError(
                f"{prefix}{suffix} already exists",
                hint="choose another -o PREFIX, or use --force to replace it",
            )


def _span(delta: timedelta) -> str:
    """``3 days``, ``1 day``, ``5 hours``, ``1 minute``: the largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def _validity_status(not_before: datetime, not_after: datetime, now: datetime) -> str:
    if now < not_before:
        return f"NOT VALID YET: valid in {_span(not_before - now)}"
    if now > not_after:
        return f"EXPIRED {_span(now - not_after)} ago"
    return f"{_span(not_after - now)} left"


def _report(what: str, issued: IssuedCertificate, prefix: str) -> None:
    not_after = issued.certificate.not_valid_after_utc
    click.echo(f"{what}: {prefix}.crt (valid until {not_after:%Y-%m-%d %H:%M} UTC)")
    # The mode on disk: a replaced file's group keeps its rights (see docs/concurrency.md).
    mode = stat.S_IMODE(Path(f"{prefix}.key").stat().st_mode)
    click.echo(f"  key:  {prefix}.key (mode {mode:04o})")
    click.echo(f"  pin:  {issued.pin}")
