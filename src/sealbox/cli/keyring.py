"""``sealbox keyring …``: create, rotate, list and change the state of keyring keys."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sealbox import age
from sealbox.cli._age_args import identity_option, recipient_options
from sealbox.cli._dialect import confirm, echo_json, json_option, option, yes_option
from sealbox.cli._encrypt_decrypt import (
    load_identity_files,
    load_recipients,
    refuse_read_file,
)
from sealbox.cli._io import (
    PASSPHRASE_ENV,
    CLIError,
    note,
    passphrase_file_option,
    passphrase_source,
    read_passphrase,
)
from sealbox.cli._paths import NamedFile
from sealbox.exceptions import (
    ConcurrentChangeError,
    DecryptionError,
    FormatError,
    KeyNotFoundError,
    KeyStateError,
    NoIdentityMatchError,
    StorageError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat.aead import ALGORITHMS, DEFAULT_ALGORITHM
from sealbox.keysets.keyring import MAX_FILE_SIZE, Keyring, is_age_file
from sealbox.keysets.lifecycle import KeyState
from sealbox.secret import Secret


class KeyIdType(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A keyring key id: 8 hex digits, ``0x`` prefix allowed."""

    name = "key_id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        digits = str(value).lower().removeprefix("0x")
        if len(digits) != 8 or any(c not in "0123456789abcdef" for c in digits):
            self.fail(f"{value!r} is not a key id (8 hex digits, as 'keyring list' shows)")
        return int(digits, 16)


KEY_ID = KeyIdType()

_FILE = click.argument("file", type=NamedFile(dir_okay=False, path_type=Path))
_KEY_ID = click.argument("kid", metavar="KEY_ID", type=KEY_ID)
_ALGORITHM = option(
    "--type",
    "algorithm",
    old=("--algorithm",),
    type=click.Choice(sorted(ALGORITHMS)),
    help=f"The kind (cipher) of the new key (default: {DEFAULT_ALGORITHM}; on rotate, "
    "the primary's).",
)


_RECIPIENTS = recipient_options("the keyring (instead of a passphrase)")
_IDENTITY = identity_option(
    "Identity file that opens a keyring encrypted to age recipients. Repeatable."
)


def _damaged(file: Path) -> str:
    return (
        f"{file} is not a keyring sealbox wrote, or it was damaged (cut short or edited): "
        "give the keyring's own file, or restore it from a backup"
    )


def _load(file: Path, *args: Any, **kwargs: Any) -> Keyring:
    try:
        return Keyring.load(file, *args, **kwargs)
    except (FormatError, UnsupportedAlgorithmError) as exc:
        # The library's parser speaks of "the" keyring; FILE may be one of several.
        raise type(exc)(
            f"keyring {file}: {exc}",
            code=exc.code,
            facts=exc.facts,
            hint=exc.hint or _damaged(file),
        ) from None


def _read_passphrase(passphrase_file: Path | None, **kwargs: Any) -> Secret[str]:
    """:func:`read_passphrase`, with what to do when the passphrase file cannot serve."""
    try:
        return read_passphrase(passphrase_file, **kwargs)
    except CLIError as exc:
        if passphrase_file is None or exc.hint is not None:
            raise
        if passphrase_file.is_file() and os.access(passphrase_file, os.R_OK):
            hint = (
                f"save the passphrase in the file as UTF-8 text, or give it with "
                f"${PASSPHRASE_ENV} instead of --passphrase-file"
            )
        else:
            hint = (
                f"check the path given to --passphrase-file, or give the passphrase with "
                f"${PASSPHRASE_ENV}"
            )
        raise CLIError(str(exc), hint=hint) from None


class _Opened:
    """A keyring read from FILE, and how to write it back in the same form."""

    def __init__(
        self, file: Path, identity_files: tuple[Path, ...], passphrase_file: Path | None
    ) -> None:
        from sealbox.storage import read_limited

        self.file = file
        self._passphrase: Secret[str] | None = None
        self._identities: list[Any] | None = None
        try:
            self._read = read_limited(file, MAX_FILE_SIZE, "keyring")
        except StorageError as exc:
            if file.exists():
                raise
            raise StorageError(
                str(exc),
                code=exc.code,
                facts=exc.facts,
                hint="check the path, or create a keyring there with "
                f"'sealbox keyring create {shlex.quote(str(file))}'",
            ) from None
        if is_age_file(self._read):
            identities = load_identity_files(identity_files, passphrase_file)
            if not identities:
                raise CLIError(
                    f"keyring {file} is encrypted to age recipients",
                    hint="give the identity file that opens it with -i",
                )
            try:
                self.ring = _load(file, identities=identities)
            except NoIdentityMatchError as exc:
                raise NoIdentityMatchError(
                    f"cannot open keyring {file}: {exc}",
                    stanza_types=exc.stanza_types,
                    hint=exc.hint,
                ) from None
            except DecryptionError as exc:
                if exc.code != DecryptionError.code:
                    raise  # an identity that did not open (a wrong key passphrase)
                raise DecryptionError(
                    f"cannot open keyring {file}: the file was altered or damaged",
                    code=exc.code,
                    hint=_damaged(file),
                ) from None
            self._identities = identities
        else:
            self._passphrase = _read_passphrase(passphrase_file)
            try:
                self.ring = _load(file, self._passphrase)
            except DecryptionError as exc:
                raise DecryptionError(
                    f"cannot open keyring {file}: wrong passphrase, or the file was altered",
                    code=exc.code,
                    hint=f"the passphrase came from {passphrase_source(passphrase_file)}",
                ) from None

    def state(self, kid: int) -> KeyState | None:
        """The state of key KID in the keyring as it is now (None: no such key)."""
        return {k.id: k.state for k in self.ring}.get(kid)

    def unchanged_on_disk(self) -> bool:
        """Whether FILE still holds what was read: a command that found nothing to change
        need not write it, unless another writer changed it meanwhile (then saving merges
        that change in, and the command reports the key as the merge left it)."""
        from sealbox.storage import read_limited

        try:
            return read_limited(self.file, MAX_FILE_SIZE, "keyring") == self._read
        except StorageError:
            return False

    def save(self) -> None:
        if self._passphrase is not None:
            self.ring.save(self.file, self._passphrase)
            return
        if not self.ring.recipients:
            raise CLIError(f"keyring {self.file} does not record the recipients to save it to")
        targets = [age.parse_recipient(r) for r in self.ring.recipients]
        self.ring.save(self.file, recipients=targets, identities=self._identities)


# What a state error adds, by its code, when the command line names the keyring.
_STATE_MORE = {"key_destroyed": {"disable": ": it decrypts nothing already"}}


@contextmanager
def _keys_of(file: Path, command: str = "") -> Iterator[None]:
    """Name FILE in what the keyring says about one of its keys: the library's keyring
    is "this keyring", and a person running commands on several needs to know which."""
    try:
        yield
    except KeyStateError as exc:
        kid = exc.facts.get("key_id")
        text = str(exc)
        if not command or not kid or not text.startswith(f"key {kid} "):
            raise
        more = _STATE_MORE.get(exc.code, {}).get(command, "")
        raise KeyStateError(
            f"key {kid} of keyring {file} {text.removeprefix(f'key {kid} ')}{more}",
            code=exc.code,
            facts=exc.facts,
            hint=exc.hint,
        ) from None
    except KeyNotFoundError as exc:
        raise KeyNotFoundError(
            f"no key {exc.facts.get('key_id', '?')} in keyring {file}",
            code=exc.code,
            facts=exc.facts,
            hint=f"'sealbox keyring list {shlex.quote(str(file))}' shows its keys",
        ) from None


@click.group()
def keyring() -> None:
    """Create, rotate and manage field-encryption keyrings.

    A keyring file is always encrypted: with a passphrase (Argon2id; from
    --passphrase-file, $SEALBOX_PASSPHRASE or a prompt), or to age recipients
    (create with -r/-R, open with -i).
    """


@keyring.command()
@_FILE
@_ALGORITHM
@click.option("--force", is_flag=True, help="Replace FILE if it exists (its keys are lost).")
@yes_option
@_RECIPIENTS
@json_option
@passphrase_file_option
def create(  # noqa: PLR0917 - click passes every option positionally
    file: Path,
    algorithm: str | None,
    force: bool,
    yes: bool,
    recipients: tuple[str, ...],
    recipient_files: tuple[Path, ...],
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a new keyring in FILE with one fresh key."""
    if passphrase_file is not None and (recipients or recipient_files):
        # A keyring sealed to recipients takes no passphrase: one given was meant for
        # something, and would be dropped without a word.
        raise click.UsageError("--passphrase-file cannot be combined with -r or -R")
    # Even with --force: the new keyring would be sealed under a passphrase (or to
    # recipients) whose only copy it replaced.
    read = [(path, "recipients file") for path in recipient_files]
    if passphrase_file is not None:
        read.append((passphrase_file, "passphrase file"))
    refuse_read_file(file, read, hint="write the keyring to another file")
    folder = file.parent
    if not folder.exists():
        # Said before the passphrase is asked for twice, and in the keyring's words (the
        # save would fail on the lock file beside it).
        raise CLIError(
            f"cannot write in {folder}: the folder does not exist",
            hint=f"create it first (mkdir -p {shlex.quote(str(folder))}), or give another path",
        )
    exists = CLIError(
        f"{file} already exists",
        hint="choose another name, or use --force to replace it and lose its keys",
    )
    if file.exists() and not force:
        raise exists
    if file.exists():
        confirm(f"Replace {file} and lose its keys?", action=f"replacing {file}", yes=yes)
    ring = Keyring.generate(algorithm or DEFAULT_ALGORITHM)
    try:
        if recipients or recipient_files:
            targets = load_recipients(recipients, recipient_files)
            ring.save(file, recipients=targets, overwrite=force, merge=False)
        else:
            passphrase = _read_passphrase(
                passphrase_file, confirm=True, prompt="New keyring passphrase"
            )
            ring.save(file, passphrase, overwrite=force, merge=False)
    except StorageError as exc:
        if exc.code != "file_exists":
            raise
        raise exists from None  # another writer created FILE meanwhile
    info = ring.keys()[0]
    if as_json:
        echo_json(_key_record(info.to_dict()))
        return
    click.echo(f"created {file} with primary key {info.hex_id} ({info.algorithm})")


@keyring.command()
@_FILE
@_ALGORITHM
@_IDENTITY
@json_option
@passphrase_file_option
def rotate(
    file: Path,
    algorithm: str | None,
    identity_files: tuple[Path, ...],
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Add a fresh primary key to FILE; older keys keep decrypting.

    With --json, the new key as 'list --json' shows it ("primary" is false when
    another rotation saved at the same time won).
    """
    opened = _Opened(file, identity_files, passphrase_file)
    info = opened.ring.rotate(algorithm)
    opened.save()
    if as_json:
        echo_json(_key_record({k.id: k for k in opened.ring}[info.id].to_dict()))
        return
    if opened.ring.primary_id == info.id:
        click.echo(f"rotated {file}: new primary key {info.hex_id} ({info.algorithm})")
    else:
        click.echo(
            f"rotated {file}: added key {info.hex_id} ({info.algorithm}); another rotation "
            f"saved at the same time made {opened.ring.primary_id:08x} primary"
        )


def _key_record(info: dict[str, Any]) -> dict[str, Any]:
    """A key as ``--json`` prints it: ``type`` is the dialect's name (docs/cli.md) for
    what ``algorithm``, kept for scripts, says."""
    return {"id": info["id"], "type": info["algorithm"], **info}


@keyring.command(name="list")
@_FILE
@json_option
@_IDENTITY
@passphrase_file_option
def list_(
    file: Path, as_json: bool, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """List the keys of FILE (never their material)."""
    ring = _Opened(file, identity_files, passphrase_file).ring
    infos = [info.to_dict() for info in ring]
    if as_json:
        echo_json([_key_record(i) for i in infos])
        return
    headers = ("ID", "ALGORITHM", "STATE", "PRIMARY", "CREATED")
    rows = [
        (i["id"], i["algorithm"], i["state"], "yes" if i["primary"] else "", i["created"])
        for i in infos
    ]
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@keyring.command()
@_FILE
@_KEY_ID
@_IDENTITY
@passphrase_file_option
def disable(
    file: Path, kid: int, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """Stop key KEY_ID from decrypting (reversible with enable).

    A key already disabled is left as it is (exit 0).
    """
    opened = _Opened(file, identity_files, passphrase_file)
    before = opened.state(kid)
    with _keys_of(file, "disable"):
        opened.ring.disable(kid)
    if before is KeyState.DISABLED and opened.unchanged_on_disk():
        note(f"key {kid:08x} in {file} was already disabled")
        return
    with _made_primary_meanwhile(file, kid, "disable"):
        opened.save()
    state = opened.state(kid)
    if state is not None and state.usable:
        # It was disabled when read: another writer enabled it meanwhile, and the save
        # merged that in (a change on one side only stands).
        raise CLIError(
            f"keyring {file}: another writer enabled key {kid:08x} at the same time, and it "
            f"stays {state}",
            hint=f"run the command again to disable it: sealbox keyring disable "
            f"{shlex.quote(str(file))} {kid:08x}",
        )
    note(f"disabled key {kid:08x} in {file}")


@contextmanager
def _made_primary_meanwhile(file: Path, kid: int, verb: str) -> Iterator[None]:
    """Say what to do when another writer made key KID primary while this command was
    changing its state (the merge refuses a disabled or destroyed primary key)."""
    try:
        yield
    except ConcurrentChangeError as exc:
        if exc.facts.get("key_id") != f"{kid:08x}":
            raise
        f = shlex.quote(str(file))
        exc.hint = (
            f"make another key primary first ('sealbox keyring rotate {f}' or 'sealbox "
            f"keyring set-primary {f} KEY_ID'), then {verb} {kid:08x} again"
        )
        raise


@keyring.command()
@_FILE
@_KEY_ID
@_IDENTITY
@passphrase_file_option
def enable(
    file: Path, kid: int, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """Let a disabled key KEY_ID decrypt again (it becomes decrypt-only)."""
    opened = _Opened(file, identity_files, passphrase_file)
    before = opened.state(kid)
    with _keys_of(file, "enable"):
        opened.ring.enable(kid)
    if before is not None and before.usable and opened.unchanged_on_disk():
        note(f"key {kid:08x} in {file} was already {before}")
        return
    opened.save()
    state = {k.id: k.state for k in opened.ring}[kid]
    if not state.usable:
        # The save merged what another writer saved meanwhile: its disable (of a key this
        # run found enabled) or destroy (which goes furthest, so it wins) stands.
        raise CLIError(
            f"keyring {file}: another writer {state} key {kid:08x} at the same time, and it "
            f"stays {state}",
            hint=f"run the command again to enable it: sealbox keyring enable "
            f"{shlex.quote(str(file))} {kid:08x}"
            if state is KeyState.DISABLED
            else "a destroyed key is gone for good: tokens it sealed can never be opened",
        )
    note(f"key {kid:08x} in {file} is {state}")


@keyring.command()
@_FILE
@_KEY_ID
@yes_option
@_IDENTITY
@passphrase_file_option
def destroy(
    file: Path, kid: int, yes: bool, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """Erase the material of disabled key KEY_ID for good."""
    opened = _Opened(file, identity_files, passphrase_file)
    before = opened.state(kid)
    if before is KeyState.DESTROYED:
        # Nothing is left to erase, and nothing can undo a destroy: no question, no write.
        note(f"key {kid:08x} in {file} was already destroyed")
        return
    # Only a key that would be erased is asked about: the keyring refuses one that is not
    # disabled, and an unknown key needs no answer.
    if before is KeyState.DISABLED:
        confirm(
            f"Destroy key {kid:08x}? Tokens it sealed can never be opened again.",
            action=f"destroying key {kid:08x}",
            yes=yes,
        )
    with _keys_of(file, "destroy"):
        opened.ring.destroy(kid)
    with _made_primary_meanwhile(file, kid, "disable and destroy"):
        opened.save()
    note(f"destroyed key {kid:08x} in {file}")


@keyring.command(name="set-primary")
@_FILE
@_KEY_ID
@_IDENTITY
@passphrase_file_option
def set_primary(
    file: Path, kid: int, identity_files: tuple[Path, ...], passphrase_file: Path | None
) -> None:
    """Make key KEY_ID the one that encrypts, e.g. to roll back a rotation.

    KEY_ID must be decrypt-only (enable a disabled key first); the primary key
    becomes decrypt-only, and both keep decrypting.
    """
    opened = _Opened(file, identity_files, passphrase_file)
    if opened.ring.primary_id == kid:
        note(f"key {kid:08x} is already the primary key of {file}")
        return
    with _keys_of(file):
        try:
            opened.ring.set_primary(kid)
        except KeyStateError as exc:
            raise KeyStateError(
                f"key {kid:08x} is {exc.facts.get('state', 'not usable')} in keyring {file}; "
                "only a decrypt-only key can become primary",
                code=exc.code,
                facts=exc.facts,
                hint=f"enable it first: sealbox keyring enable {shlex.quote(str(file))} {kid:08x}"
                if exc.facts.get("state") == KeyState.DISABLED.value
                else f"a destroyed key is gone for good; for a new primary key: sealbox "
                f"keyring rotate {shlex.quote(str(file))}",
            ) from None
    opened.save()
    if opened.ring.primary_id != kid:
        # The save merged a rotation another writer saved meanwhile; its newer key won.
        raise CLIError(
            f"keyring {file}: another writer made key {opened.ring.primary_id:08x} primary "
            f"at the same time, so {kid:08x} stays decrypt-only",
            hint="run the command again if it should still be primary",
        )
    note(f"key {kid:08x} is now the primary key of {file}")
