"""``sealbox key …``: generate key pairs, print public keys and fingerprints, and use key
files directly: RSA-OAEP encryption, RSA-PSS, Ed25519 and ECDSA signatures."""

from __future__ import annotations

import binascii
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from sealbox.cli._dialect import confirm, not_stdout, yes_option
from sealbox.cli._io import (
    CLIError,
    load_key_file,
    passphrase_file_option,
    read_passphrase,
    read_stdin,
    terminal_safe,
    write_stdout,
)
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.exceptions import SealboxError
from sealbox.keys.asymmetric import KeyType, PrivateKey, PublicKey
from sealbox.keys.pair import write_key_pair
from sealbox.secret import Secret
from sealbox.storage import atomic_write, read_limited

_TYPES = {"rsa": KeyType.RSA, "ed25519": KeyType.ED25519, "x25519": KeyType.X25519}
_TYPES["ecdsa"] = KeyType.ECDSA_P256
_FILE = click.argument("file", type=NamedFile(dir_okay=False, path_type=Path))
_FORMAT_HELP = "openssh (default; not for x25519) or pem (PKCS#8, what openssl reads)."


@click.group()
def key() -> None:
    """Generate key pairs, print public keys and fingerprints; encrypt, decrypt, sign
    and verify with key files.

    Private keys are saved encrypted with a passphrase from --passphrase-file,
    $SEALBOX_PASSPHRASE or a prompt: OpenSSH format (bcrypt KDF, what ssh-keygen
    reads) or PKCS#8 PEM (scrypt, what openssl reads).

    encrypt/decrypt are RSA-OAEP (SHA-256, MGF1-SHA-256) for small payloads such as
    keys; sign/verify are RSA-PSS (SHA-256, 32-byte salt), Ed25519 and ECDSA P-256
    with SHA-256 (DER): what openssl pkeyutl does with those settings. Files of any
    size are encrypted to keys with 'sealbox encrypt -R' and signed with 'sealbox sign'.
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
@click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False, path_type=Path),
    required=True,
    callback=not_stdout,
    help="Write FILE (the private key) and FILE.pub.",
)
@click.option("-C", "--comment", default="", help="Comment for the public key line.")
@click.option("--no-passphrase", is_flag=True, help="Save the private key unencrypted.")
@click.option(
    "--force", is_flag=True, help="Replace FILE and FILE.pub if they exist (FILE's key is lost)."
)
@yes_option
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
    yes: bool,
    passphrase_file: Path | None,
) -> None:
    """Generate a key pair: the private key in -o FILE, the public key in FILE.pub."""
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
    if not comment.isprintable():
        # A line break would split the .pub line in two; bytes that are not UTF-8 cannot be
        # written at all (they arrive as lone surrogates).
        raise click.UsageError("-C must be printable UTF-8 text on one line")
    public_path = output.with_name(output.name + ".pub")
    for path in (output, public_path):
        if path.is_dir():
            raise CLIError(f"{path} is a directory", hint="choose another -o FILE")
        if passphrase_file is not None:
            # Even with --force: the new key would be sealed under a passphrase whose
            # only copy it replaced.
            from sealbox.cli._encrypt_decrypt import refuse_read_file

            refuse_read_file(path, [(passphrase_file, "passphrase file")])
        if path.exists() and not force:
            raise CLIError(
                f"{path} already exists",
                hint="choose another name, or use --force to replace it",
            )
    if force and output.exists():
        # As `keyring create --force`: the private key replaced is lost for good (a lone
        # FILE.pub is not: its private key is elsewhere). Asked before the passphrase.
        # Without --force nothing is replaced: a FILE another run made since the check
        # above is refused by the write ("already exists"), never asked about.
        confirm(
            f"Replace {output} and lose its private key?", action=f"replacing {output}", yes=yes
        )
    passphrase: Secret[str] | None = None
    if not no_passphrase:
        passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New key passphrase")
    private = PrivateKey.generate(kind, bits=bits)
    public = PublicKey.from_cryptography(private.public_key.cryptography_key(), comment=comment)
    private_data = private.export_private(passphrase, format=fmt)  # type: ignore[arg-type]
    public_data = public.public_bytes(fmt)  # type: ignore[arg-type]
    # FILE and FILE.pub only: the folder is often ~/.ssh, where no lock file may stay.
    write_key_pair((output, private_data), (public_path, public_data), overwrite=force)
    state = "encrypted" if passphrase is not None else "NOT encrypted"
    click.echo(
        f"generated {private.key_type} key {public.fingerprint()}: "
        f"{output} (private, {state}) and {public_path}"
    )


def _read_public(file: Path, passphrase_file: Path | None) -> PublicKey:
    """A public key from any key file; the comment of FILE.pub if FILE has none."""
    public = load_key_file(lambda ask: PublicKey.load(file, passphrase=ask), passphrase_file)
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
    text = pub.public_bytes(fmt).decode()  # type: ignore[arg-type]
    if sys.stdout.isatty():
        # The comment comes from a file, often someone else's: shown, never acted on.
        # Piped, the line goes out as it is (it is data for authorized_keys and the like).
        text = terminal_safe(text)
    # color=True: click would otherwise strip ANSI sequences from a piped comment.
    click.echo(text, nl=False, color=True)


def _key_facts(public: PublicKey) -> dict[str, Any]:
    """The public facts of a key, as every ``--json`` of ``sealbox key`` names them."""
    return {
        "type": str(public.key_type),
        "bits": public.bits,
        "fingerprint": public.fingerprint(),
        "comment": public.comment,
    }


@key.command()
@_FILE
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts (fields: docs/cli.md)."
)
@passphrase_file_option
def fingerprint(file: Path, as_json: bool, passphrase_file: Path | None) -> None:
    """Print the SHA-256 fingerprint of FILE as ssh-keygen -l does.

    The line is: bits, SHA256:fingerprint, comment, (type). With --json: an object
    with type, bits, fingerprint and comment.
    """
    public = _read_public(file, passphrase_file)
    if as_json:
        click.echo(json.dumps(_key_facts(public), indent=2))
        return
    # The comment comes from a file: escaped, as ssh-keygen -l does, so that it cannot
    # clear the screen or write over the fingerprint.
    click.echo(terminal_safe(public.fingerprint_line()))


# --- encrypt, decrypt, sign, verify with key files -------------------------------------------

# RSA-OAEP payloads and ciphertexts are at most a modulus (8192 bits) long; signed data
# is read whole (Ed25519 signs the message itself), so it is bounded.
_MAX_OAEP_INPUT = 64 * 1024
_MAX_SIGNED = 256 * 1024 * 1024
_MAX_SIGNATURE = 64 * 1024

_KEY = click.option(
    "-k",
    "--key",
    "key_file",
    type=NamedFile(dir_okay=False, path_type=Path),
    required=True,
    help="Key file: OpenSSH or PEM (PKCS#8, SPKI, PKCS#1).",
)
_INPUT = click.argument(
    "file",
    type=FilePath(dir_okay=False, path_type=Path, allow_dash=True),
    default="-",
    required=False,
)
_OUTPUT = click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False, path_type=Path, allow_dash=True),
    help="Write here instead of stdout ('-': stdout).",
)
_FORCE = click.option("--force", is_flag=True, help="Replace the output file if it exists.")
_LABEL = click.option(
    "--label",
    default="",
    help="OAEP label (text), bound to the ciphertext: decrypting needs the same.",
)
_BASE64 = click.option(
    "--base64",
    "use_base64",
    is_flag=True,
    help="Binary data as one line of base64 text.",
)


def _read(file: Path, limit: int, what: str, *, hint: str | None = None) -> bytes:
    if str(file) == "-":
        return read_stdin(limit, what, hint=hint)
    # Refused from its size, with the way out, before a quarter of a GiB is read for nothing.
    with contextlib.suppress(OSError):
        if file.stat().st_size > limit:
            raise CLIError(f"{what} {file} is larger than {limit} bytes", hint=hint)
    return read_limited(file, limit, what)


def _from_base64(data: bytes, what: str) -> bytes:
    try:
        # Line breaks are allowed: openssl base64 wraps at 64 columns.
        return binascii.a2b_base64(b"".join(data.split()), strict_mode=True)
    except (binascii.Error, ValueError):
        raise CLIError(f"the {what} is not valid base64") from None


def _is_std(output: Path | None) -> bool:
    return output is None or str(output) == "-"


def _refuse_binary_terminal(output: Path | None, what: str) -> None:
    """Binary output never goes to a terminal: checked before any key is opened."""
    if _is_std(output) and sys.stdout.isatty():
        raise CLIError(
            f"not writing the binary {what} to a terminal",
            hint="write it to a file with -o FILE, redirect stdout, or use --base64",
        )


def _write(
    data: bytes,
    output: Path | None,
    *,
    force: bool,
    mode: int,
    read: tuple[Path, Path, Path | None],
) -> None:
    """Write ``data`` to OUTPUT or stdout; never over what was ``read`` (FILE, the key
    file, the passphrase file), even with --force."""
    if _is_std(output):
        write_stdout(data)
        return
    assert output is not None
    from sealbox.cli._encrypt_decrypt import check_output

    file, key_file, passphrase_file = read
    also = [(key_file, "key file")]
    if passphrase_file is not None:
        also.append((passphrase_file, "passphrase file"))
    check_output(output, file, force, also)
    atomic_write(output, data, mode=mode, overwrite=force)


def _prints_on_terminal(data: bytes) -> bool:
    """Whether ``data`` is text a terminal shows as it is (UTF-8, no control bytes)."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\n\t\r" for c in text)


def _public(key_file: Path, passphrase_file: Path | None) -> PublicKey:
    return load_key_file(lambda ask: PublicKey.load(key_file, passphrase=ask), passphrase_file)


def _private(key_file: Path, passphrase_file: Path | None) -> PrivateKey:
    return load_key_file(lambda ask: PrivateKey.load(key_file, ask), passphrase_file)


@key.command()
@_KEY
@_OUTPUT
@_FORCE
@_LABEL
@_BASE64
@passphrase_file_option
@_INPUT
def encrypt(
    *,
    key_file: Path,
    output: Path | None,
    force: bool,
    label: str,
    use_base64: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Encrypt FILE (default: stdin) to an RSA key with RSA-OAEP (SHA-256).

    The key is a public key file, or a private key file (its public half). The
    payload is small: at most 190 bytes for a 2048-bit key, 318 for 3072 bits.
    openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt
    rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 opens the result.
    """
    if not use_base64:
        _refuse_binary_terminal(output, "ciphertext")
    plaintext = _read(file, _MAX_OAEP_INPUT, "the plaintext")
    ciphertext = _public(key_file, passphrase_file).encrypt(plaintext, label=label.encode())
    if use_base64:
        ciphertext = binascii.b2a_base64(ciphertext)
    _write(ciphertext, output, force=force, mode=0o644, read=(file, key_file, passphrase_file))


@key.command()
@_KEY
@_OUTPUT
@_FORCE
@_LABEL
@_BASE64
@passphrase_file_option
@_INPUT
def decrypt(
    *,
    key_file: Path,
    output: Path | None,
    force: bool,
    label: str,
    use_base64: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Decrypt an RSA-OAEP (SHA-256) ciphertext FILE (default: stdin) with a private key.

    With --base64 the ciphertext is read as base64 text. The plaintext is written to
    -o FILE (mode 0600) or stdout; to a terminal only if it is printable text.
    """
    data = _read(file, _MAX_OAEP_INPUT, "the ciphertext")
    if use_base64:
        data = _from_base64(data, "ciphertext")
    private = _private(key_file, passphrase_file)
    plaintext = private.decrypt(data, label=label.encode())
    if _is_std(output) and sys.stdout.isatty() and not _prints_on_terminal(plaintext):
        raise CLIError(
            "not writing the binary plaintext to a terminal",
            hint="write it to a file with -o FILE, or redirect stdout",
        )
    _write(plaintext, output, force=force, mode=0o600, read=(file, key_file, passphrase_file))


@key.command()
@_KEY
@_OUTPUT
@_FORCE
@_BASE64
@passphrase_file_option
@_INPUT
def sign(
    *,
    key_file: Path,
    output: Path | None,
    force: bool,
    use_base64: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Sign FILE (default: stdin) with a private key; the raw signature to -o FILE or stdout.

    RSA: RSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt. Ed25519: Ed25519 over the data.
    ECDSA P-256: SHA-256, DER. openssl pkeyutl -verify -rawin checks it (with
    -digest sha256 for RSA and ECDSA). For SSH-style file signatures: sealbox sign.
    """
    if not use_base64:
        _refuse_binary_terminal(output, "signature")
    data = _read(file, _MAX_SIGNED, "the data to sign", hint="sign large files with 'sealbox sign'")
    signature = _private(key_file, passphrase_file).sign(data)
    if use_base64:
        signature = binascii.b2a_base64(signature)
    _write(signature, output, force=force, mode=0o644, read=(file, key_file, passphrase_file))


@key.command()
@_KEY
@click.option(
    "-s",
    "--signature",
    type=FilePath(dir_okay=False, path_type=Path, allow_dash=True),
    required=True,
    help="The signature file ('-': stdin).",
)
@click.option(
    "--pss-salt-length",
    type=click.IntRange(0, 1024),
    help="RSA: the PSS salt length the signature used (default 32, the digest size).",
)
@_BASE64
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON for scripts (fields: docs/cli.md) when it verifies.",
)
@passphrase_file_option
@_INPUT
def verify(
    *,
    key_file: Path,
    signature: Path,
    pss_salt_length: int | None,
    use_base64: bool,
    as_json: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Check the signature of FILE (default: stdin); exit 0 only if it is good.

    The key is a public key file, or a private key file (its public half). With
    --base64 the signature is read as base64 text. A bad signature is an error
    (exit 1) whatever the output format.
    """
    if str(signature) == "-" and str(file) == "-":
        raise click.UsageError("the data and the signature cannot both come from stdin")
    sig = _read(signature, _MAX_SIGNATURE, "the signature")
    if use_base64:
        sig = _from_base64(sig, "signature")
    data = _read(
        file, _MAX_SIGNED, "the signed data", hint="files this large are signed with 'sealbox sign'"
    )
    public = _public(key_file, passphrase_file)
    if pss_salt_length is not None and public.key_type is not KeyType.RSA:
        raise click.UsageError("--pss-salt-length applies to RSA keys only")
    public.verify(sig, data, pss_salt_length=pss_salt_length)
    if as_json:
        click.echo(json.dumps({"valid": True, **_key_facts(public)}, indent=2))
        return
    click.echo(f"good signature by {public.type_label} key {public.fingerprint()}")
