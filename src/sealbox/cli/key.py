"""``sealbox key …``: generate key pairs, print public keys and fingerprints."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from sealbox.cli._io import CLIError, passphrase_file_option, read_passphrase
from sealbox.exceptions import SealboxError
from sealbox.keys.asymmetric import KeyType, PrivateKey, PublicKey
from sealbox.secret import Secret

_TYPES = {"rsa": KeyType.RSA, "ed25519": KeyType.ED25519, "x25519": KeyType.X25519}
_TYPES["ecdsa"] = KeyType.ECDSA_P256
_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
_FORMAT_HELP = "openssh (default; not for x25519) or pem (PKCS#8, what openssl reads)."


@click.group()
def key() -> None:
    """Generate key pairs, print public keys and fingerprints.

    Private keys are saved encrypted with a passphrase from --passphrase-file,
    $SEALBOX_PASSPHRASE or a prompt: OpenSSH format (bcrypt KDF, what ssh-keygen
    reads) or PKCS#8 PEM (scrypt, what openssl reads).
    """


@key.command()
@click.option(
    "--type",
    "key_type",
    type=click.Choice(sorted(_TYPES)),
    default="ed25519",
    show_default=True,
    help="Key type (ecdsa is ECDSA on NIST P-256).",
)
@click.option("--bits", type=int, help="RSA modulus size, 2048 to 8192 (default 3072).")
@click.option("--format", "fmt", type=click.Choice(["openssh", "pem"]), help=_FORMAT_HELP)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("-C", "--comment", default="", help="Comment for the public key line.")
@click.option("--no-passphrase", is_flag=True, help="Save the private key unencrypted.")
@click.option("--force", is_flag=True, help="Replace FILE and FILE.pub if they exist.")
@passphrase_file_option
def generate(
    *,
    key_type: str,
    bits: int | None,
    fmt: str | None,
    output: Path,
    comment: str,
    no_passphrase: bool,
    force: bool,
    passphrase_file: Path | None,
) -> None:
    """Generate a key pair: the private key in OUTPUT, the public key in OUTPUT.pub."""
    kind = _TYPES[key_type]
    if bits is not None and kind is not KeyType.RSA:
        raise click.UsageError("--bits applies to --type rsa only")
    if fmt is None:
        fmt = "pem" if kind is KeyType.X25519 else "openssh"
    if fmt == "openssh" and kind is KeyType.X25519:
        raise click.UsageError("x25519 keys have no OpenSSH format: use --format pem")
    if comment and fmt == "pem":
        raise click.UsageError("-C applies to the openssh format: PEM public keys have no comment")
    if no_passphrase and passphrase_file is not None:
        raise click.UsageError("--no-passphrase and --passphrase-file exclude each other")
    public_path = output.with_name(output.name + ".pub")
    for path in (output, public_path):
        if path.exists() and not force:
            raise CLIError(
                f"{path} already exists",
                hint="choose another name, or use --force to replace it",
            )
    passphrase: Secret[str] | None = None
    if not no_passphrase:
        passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New key passphrase")
    private = PrivateKey.generate(kind, bits=bits)
    public = PublicKey.from_cryptography(private.public_key.cryptography_key(), comment=comment)
    existed = output.exists()
    private.save(output, passphrase, format=fmt, overwrite=force)  # type: ignore[arg-type]
    try:
        public.save(public_path, format=fmt, overwrite=force)  # type: ignore[arg-type]
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):
                output.unlink()
        raise
    state = "encrypted" if passphrase is not None else "NOT encrypted"
    click.echo(
        f"generated {private.key_type} key {public.fingerprint()}: "
        f"{output} (private, {state}) and {public_path}"
    )


def _read_public(file: Path, passphrase_file: Path | None) -> PublicKey:
    """A public key from any key file; the comment of FILE.pub if FILE has none."""
    public = PublicKey.load(file, passphrase=lambda: read_passphrase(passphrase_file))
    sibling = file.with_name(file.name + ".pub")
    if not public.comment and sibling.is_file():
        with contextlib.suppress(SealboxError):
            other = PublicKey.load(sibling)
            if other == public:
                return other
    return public


@key.command()
@_FILE
@click.option("--format", "fmt", type=click.Choice(["openssh", "pem"]), help=_FORMAT_HELP)
@passphrase_file_option
def public(file: Path, fmt: str | None, passphrase_file: Path | None) -> None:
    """Print the public key of FILE (a private or public key file).

    An OpenSSH private key gives its public key without the passphrase; an
    encrypted PEM private key needs it.
    """
    pub = _read_public(file, passphrase_file)
    if fmt is None:
        fmt = "pem" if pub.key_type is KeyType.X25519 else "openssh"
    click.echo(pub.public_bytes(fmt).decode(), nl=False)  # type: ignore[arg-type]


@key.command()
@_FILE
@passphrase_file_option
def fingerprint(file: Path, passphrase_file: Path | None) -> None:
    """Print the SHA-256 fingerprint of FILE as ssh-keygen -l does.

    The line is: bits, SHA256:fingerprint, comment, (type).
    """
    click.echo(_read_public(file, passphrase_file).fingerprint_line())
