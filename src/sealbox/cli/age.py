"""``sealbox keygen|encrypt|decrypt|inspect``: age files, with the flags of ``age``.

Every command pays for its imports on each run: this module loads ``sealbox.age``,
whose names (and recipient types) are imported on first use, and nothing else heavy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sealbox import age
from sealbox.cli._age_args import (
    DECRYPT,
    ENCRYPT,
    INPUT,
    click_option,
    click_options,
    stdin_conflict,
)
from sealbox.cli._encrypt_decrypt import (
    decrypt_files,
    encrypt_files,
    input_stream,
    is_std,
    refuse_plugins,
)
from sealbox.cli._io import CLIError, note, passphrase_file_option, read_passphrase, read_stdin
from sealbox.cli._paths import FilePath


@click.command()
@click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False, path_type=Path),
    help="Write the identity to this new file (mode 0600); with -y, the recipients.",
)
@click.option("--pq", is_flag=True, help="A post-quantum identity (ML-KEM-768 + X25519, age1pq1…).")
@click.option(
    "-y", "convert", is_flag=True, help="Print the recipients of the identity file INPUT."
)
@passphrase_file_option
@click_option(INPUT)
def keygen(
    output: Path | None,
    pq: bool,
    convert: bool,
    passphrase_file: Path | None,
    input_path: Path | None,
) -> None:
    """Generate an age identity, or (-y) print the recipients of one.

    The identity goes to -o FILE (mode 0600) or standard output; its public key
    (recipient) is printed on standard error. With -y, the recipients go to -o FILE
    or standard output, and a passphrase-encrypted identity file asks for its
    passphrase.
    """
    if convert:
        if pq:
            raise click.UsageError("-y and --pq cannot be combined")
        name = "standard input" if is_std(input_path) else str(input_path)  # as decrypt -i

        def passphrase() -> Any:
            return read_passphrase(passphrase_file, prompt=f"Passphrase for {name}")

        if is_std(input_path):
            identities = age.parse_identities(
                read_stdin(age.keys.MAX_KEY_FILE, "the identity file"),
                source="standard input",
                passphrase=passphrase,
            )
        else:
            assert input_path is not None
            identities = age.load_identities(input_path, passphrase=passphrase)
        lines = []
        for each in identities:
            recipient = getattr(each, "recipient", None)
            if recipient is None:
                raise CLIError("this identity has no recipient form")
            lines.append(f"{recipient()}\n")
        if output is None or str(output) == "-":
            click.echo("".join(lines), nl=False)
        else:
            _write_new(output, "".join(lines))
        return
    if input_path is not None:
        raise click.UsageError("INPUT is only read with -y")
    if passphrase_file is not None:
        raise click.UsageError("--passphrase-file is only read with -y")
    identity: age.X25519Identity | age.HybridIdentity = (
        age.HybridIdentity.generate() if pq else age.X25519Identity.generate()
    )
    text = age.identity_file(identity)
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        if not sys.stdout.isatty():
            note(f"Public key: {identity.recipient()}")
        return
    age.save_identity(output, identity)
    note(f"Public key: {identity.recipient()}")


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to the new file ``path`` (mode 0644); an existing file is refused."""
    from sealbox.exceptions import StorageError
    from sealbox.storage import atomic_write

    try:
        atomic_write(path, text.encode(), mode=0o644, overwrite=False)
    except StorageError as exc:
        if exc.code != "file_exists":
            raise
        raise CLIError(f"{path} already exists", hint="write to a new file") from None


@click.command()
@click_options(ENCRYPT)
@click_option(INPUT)
def encrypt(**options: Any) -> None:
    """Encrypt INPUT (default: standard input) to recipients or a passphrase.

    Flag-compatible with `age -e`. The output is written to a temporary file next
    to -o FILE and renamed when complete.
    """
    refuse_plugins(options["plugins"])
    recipients = options["recipients"] or options["recipient_files"] or options["identity_files"]
    if options["use_passphrase"] and recipients:
        raise click.UsageError("-p cannot be combined with -r, -R or -i")
    if not (options["use_passphrase"] or recipients):
        raise click.UsageError("give at least one -r RECIPIENT, -R FILE or -i FILE, or -p")
    _refuse_stdin_twice(options)
    encrypt_files(**options)


@click.command()
@click_options(DECRYPT)
@click_option(INPUT)
def decrypt(**options: Any) -> None:
    """Decrypt the age file INPUT (default: standard input).

    Binary or armored input. Without -i, a passphrase-encrypted file asks for its
    passphrase. With -o, the output appears only once the whole file has
    authenticated; nothing is left behind on failure.
    """
    refuse_plugins(options["plugins"])
    _refuse_stdin_twice(options)
    decrypt_files(**options)


def _refuse_stdin_twice(options: dict[str, Any]) -> None:
    problem = stdin_conflict(options)
    if problem is not None:
        raise click.UsageError(problem)


@click.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts (fields: docs/cli.md)."
)
@click_option(INPUT)
def inspect(as_json: bool, input_path: Path | None) -> None:
    """Describe the age file INPUT (default: standard input) without decrypting it.

    Shows the armor, the recipient types, whether it is post-quantum, and the
    sizes of header, payload and plaintext.
    """
    with input_stream(input_path) as (fin, _):
        info = age.inspect(fin)
    doc = info.to_dict()
    if as_json:
        import json

        click.echo(json.dumps(doc, indent=2))
        return
    types = list(info.recipient_types)
    counts = {t: types.count(t) for t in dict.fromkeys(types)}
    plain = (
        "unknown (the payload is damaged)"
        if info.plaintext_size is None
        else _size(info.plaintext_size)
    )
    rows: list[tuple[str, Any]] = [
        ("format", "age-encryption.org/v1" + (" (armored)" if info.armored else "")),
        ("recipients", ", ".join(f"{n}x {t}" if n > 1 else t for t, n in counts.items())),
        ("post-quantum", "yes" if info.postquantum else "no"),
        ("header", _size(info.header_size)),
        ("payload", _size(info.payload_size)),
        ("plaintext", plain),
    ]
    for key, value in rows:
        click.echo(f"{key + ':':<14}{value}")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({n:,} bytes)"
