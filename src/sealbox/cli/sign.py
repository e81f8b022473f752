"""``sealbox sign`` and ``sealbox verify``: detached SSHSIG file signatures (``ssh-keygen -Y``)."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click

from sealbox.cli._io import (
    CLIError,
    load_key_file,
    passphrase_file_option,
    warn,
    write_stdout,
)
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.exceptions import ConfigError, SignerNotAllowedError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey, PublicKey
from sealbox.storage import atomic_write, os_reason


def _namespace(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """-n is refused before any file is read, as a usage error (the library's rule)."""
    try:
        sshsig.check_namespace(value)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc} ({exc.hint})", ctx=ctx, param=param) from None
    return value


_NAMESPACE = click.option(
    "-n",
    "--namespace",
    default="file",
    show_default=True,
    callback=_namespace,
    help="What the signature is for (ssh-keygen -n): file, git, an application name.",
)
_DATA = click.argument("file", type=FilePath(dir_okay=False, path_type=Path, allow_dash=True))


@contextlib.contextmanager
def _open_data(file: Path) -> Iterator[BinaryIO]:
    if str(file) == "-":
        yield sys.stdin.buffer
        return
    try:
        fh = file.open("rb")
    except FileNotFoundError:
        raise CLIError(f"{file} does not exist") from None
    except OSError as exc:
        raise CLIError(f"cannot read {file}: {os_reason(exc)}") from None
    with fh:
        yield fh


def _check_target(target: Path, force: bool, read: tuple[Path, Path, Path | None]) -> None:
    """FILE.sig never replaces a file the command reads (FILE through a link, the key
    file, the passphrase file), even with --force: the key would be lost for good."""
    from sealbox.cli._encrypt_decrypt import check_output

    file, key_file, passphrase_file = read
    also = [(key_file, "key file")]
    if passphrase_file is not None:
        also.append((passphrase_file, "passphrase file"))
    check_output(target, file, force, also)


@click.command()
@click.option(
    "-k",
    "--key",
    "key_file",
    type=NamedFile(dir_okay=False, path_type=Path),
    required=True,
    help="Private key file (OpenSSH or PEM; ed25519, ecdsa or rsa).",
)
@_NAMESPACE
@click.option("--force", is_flag=True, help="Replace FILE.sig if it exists.")
@passphrase_file_option
@_DATA
def sign(
    key_file: Path, namespace: str, force: bool, passphrase_file: Path | None, file: Path
) -> None:
    """Sign FILE; the signature goes to FILE.sig (FILE '-': stdin to stdout).

    The signature is in OpenSSH's SSHSIG format: `ssh-keygen -Y verify` checks it.
    """
    target = None if str(file) == "-" else file.with_name(file.name + ".sig")
    if target is not None:
        _check_target(target, force, (file, key_file, passphrase_file))
    with _open_data(file) as data:  # a missing FILE is reported before any passphrase prompt
        key = load_key_file(lambda ask: PrivateKey.load(key_file, ask), passphrase_file)
        signature = sshsig.sign(key, data, namespace=namespace)
    armored = signature.armor().encode()
    if target is None:
        write_stdout(armored)
        return
    atomic_write(target, armored, mode=0o644, overwrite=force)
    public = key.public_key
    click.echo(
        f'signed {file} for namespace "{namespace}" with {public.type_label} key '
        f"{public.fingerprint()}: {target}"
    )


@click.command()
@click.option(
    "-k",
    "--key",
    "key_file",
    type=NamedFile(dir_okay=False, path_type=Path),
    help="The public key that must have signed (or a private key file).",
)
@click.option(
    "--allowed-signers",
    type=FilePath(dir_okay=False, path_type=Path),
    help="ssh-keygen allowed-signers file of trusted keys (with -I).",
)
@click.option("-I", "--principal", help="Who must have signed, as listed in --allowed-signers.")
@_NAMESPACE
@click.option(
    "-s",
    "--signature",
    type=FilePath(dir_okay=False, path_type=Path),
    help="The signature file (default: FILE.sig).",
)
@passphrase_file_option
@_DATA
def verify(
    *,
    key_file: Path | None,
    allowed_signers: Path | None,
    principal: str | None,
    namespace: str,
    signature: Path | None,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Check the SSHSIG signature of FILE (FILE '-': stdin); exit 0 only if it is good.

    Trust one key with -k, or an allowed-signers file with --allowed-signers and
    the expected signer with -I, as ssh-keygen -Y verify does.
    """
    if (key_file is None) == (allowed_signers is None):
        raise click.UsageError("give either -k KEY or --allowed-signers FILE with -I PRINCIPAL")
    if allowed_signers is not None and principal is None:
        raise click.UsageError("--allowed-signers needs -I PRINCIPAL, the expected signer")
    if key_file is not None and principal is not None:
        raise click.UsageError("-I applies to --allowed-signers only")
    if signature is None:
        if str(file) == "-":
            raise click.UsageError("reading FILE from stdin needs -s SIGNATURE")
        signature = file.with_name(file.name + ".sig")
    sig = sshsig.SSHSignature.load(signature)
    public_key = None
    signers = None
    if key_file is not None:
        public_key = load_key_file(
            lambda ask: PublicKey.load(key_file, passphrase=ask), passphrase_file
        )
    else:
        assert allowed_signers is not None
        signers = sshsig.AllowedSigners.load(allowed_signers)
        for skipped in signers.skipped:
            warn(f"skipped {skipped}")
    with _open_data(file) as data:
        try:
            result = sshsig.verify(
                sig,
                data,
                namespace=namespace,
                public_key=public_key,
                allowed_signers=signers,
                principal=principal,
            )
        except SignerNotAllowedError as exc:
            raise _wrong_namespace(exc) from None
    by = f"{result.principal} with " if result.principal else ""
    click.echo(
        f'good "{result.namespace}" signature on {file} by {by}'
        f"{result.public_key.type_label} key {result.public_key.fingerprint()}"
    )


def _wrong_namespace(exc: SignerNotAllowedError) -> SignerNotAllowedError | CLIError:
    """``exc``, with a safe hint when it names the namespace of a signature file.

    That namespace was chosen by whoever made the file: the ``-n`` it suggests is quoted
    for the shell, and a namespace that is not one line of text gets no command (its line
    break would start a line of the sender's own on stderr)."""
    namespace = exc.facts.get("namespace")
    if exc.code != "wrong_namespace" or not isinstance(namespace, str):
        return exc
    if not namespace.isprintable():
        return CLIError(
            str(exc), hint="it was signed for another use; do not accept it for this one"
        )
    if shlex.quote(namespace) == namespace:
        return exc
    return CLIError(
        str(exc),
        hint=f"if {namespace!r} is what you expect, verify with -n {shlex.quote(namespace)}",
    )
