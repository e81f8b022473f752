"""``sealbox jwt keyset …``: the keys of a signing keyset FILE, or of the service's (--data-dir).

The group :mod:`sealbox.cli.jwt` adds under ``jwt``; its FILE argument, --data-dir option
and keyset loading serve ``jwt jwks`` and ``jwt issue`` too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from sealbox.cli._dialect import confirm, echo_json, json_option, option, yes_option
from sealbox.cli._io import (
    CLIError,
    note,
    passphrase_file_option,
    read_passphrase,
    terminal_safe,
)
from sealbox.cli._jwt_keyset_errors import (
    file_place,
    keys_of,
    load_keyset,
    new_key_in,
    service_place,
    shown,
)
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.cli.serve import _load_settings, _service
from sealbox.jwt.defaults import DEFAULT_ALGORITHM, SIGNING_ALGORITHMS

if TYPE_CHECKING:
    from sealbox.jwt.keyset import SigningKeySet

__all__ = [
    "FILE",
    "FILE_OR_SERVICE",
    "SERVICE_DIR",
    "keyset",
    "keysets",
    "load_keyset",
    "service_settings",
]


def keysets() -> type[SigningKeySet]:
    # Verifying and inspecting need no keyset: its module (file format, sealing, merging)
    # loads only for the commands that read or write one.
    from sealbox.jwt.keyset import SigningKeySet

    return SigningKeySet


def _say(line: str) -> None:
    # Key ids and file names are printed as given: one with a control character must not
    # act on the terminal.
    click.echo(terminal_safe(line))


FILE = click.argument("file", type=NamedFile(dir_okay=False, path_type=Path))
_ALG = option(
    "--type",
    "alg",
    old=("--alg",),
    type=click.Choice(SIGNING_ALGORITHMS),
    help=f"The kind (signing algorithm) of the new key (default: {DEFAULT_ALGORITHM}; on rotate "
    "and add, the primary's). HS256 in a keyset FILE only: the service's keyset (--data-dir) "
    "publishes its keys in a JWKS, so it takes public-key types.",
)


@click.group()
def keyset() -> None:
    """Create, rotate, list, disable and destroy the keys of a signing keyset.

    The primary key is active (it signs); older keys are decrypt-only (they verify
    what they signed and are published in the JWKS) until disabled or destroyed.
    Staged rotation: 'add' publishes a new key that does not sign yet, 'set-primary'
    makes it sign once the relying parties' JWKS caches have it.
    --data-dir DIR instead of FILE: the keyset of a 'sealbox serve' data folder, sealed
    under its master key; the running service takes a change within seconds.
    """


@keyset.command()
@FILE
@_ALG
@click.option("--force", is_flag=True, help="Replace FILE if it exists (its keys are lost).")
@yes_option
@json_option
@passphrase_file_option
def create(  # noqa: PLR0917 - click passes every option positionally
    file: Path,
    alg: str | None,
    force: bool,
    yes: bool,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a signing keyset in FILE with one fresh key."""
    if file.exists() and not force:
        raise CLIError(
            f"{file} already exists",
            hint="choose another name, or use --force to replace it and lose its keys",
        )
    if file.exists():
        confirm(f"Replace {file} and lose its keys?", action=f"replacing {file}", yes=yes)
    passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New keyset passphrase")
    keys = keysets().generate(alg or DEFAULT_ALGORITHM)
    keys.save(file, passphrase, overwrite=force, merge=False)
    info = keys.primary
    if as_json:
        echo_json(_key_record(info.to_dict()))
        return
    _say(f"created {file} with signing key {info.kid} ({info.alg})")


# The service's keyset instead of a FILE: the same commands on the data folder's keyset,
# sealed under its master key (no passphrase), changed while the service runs.
FILE_OR_SERVICE = click.argument(
    "file", required=False, type=NamedFile(dir_okay=False, path_type=Path)
)
SERVICE_DIR = click.option(
    "--data-dir",
    type=FilePath(file_okay=False, path_type=Path),
    help="The signing keyset of the service's data folder (sealed under its master key) "
    "instead of FILE; a running service takes the change within seconds.",
)


def service_settings(
    file: Path | None, data_dir: Path | None, passphrase_file: Path | None
) -> Any | None:
    """The service's settings for ``--data-dir``, ``None`` for FILE; usage errors for
    neither, both, or a passphrase for the service's keyset (which has none)."""
    if (file is None) == (data_dir is None):
        raise click.UsageError(
            "give FILE, or --data-dir DIR for the service's keyset (not both)"
            if file is not None
            else "missing FILE, or --data-dir DIR for the service's keyset"
        )
    if data_dir is None:
        return None
    if passphrase_file is not None:
        raise click.UsageError(
            "--passphrase-file is for a keyset FILE: the service's keyset is sealed under "
            "the data folder's master key"
        )
    return _load_settings(data_dir=data_dir)


def _older(keys: Any) -> str:
    older = sum(1 for k in keys if k.state == "decrypt-only")
    return "1 older key still verifies" if older == 1 else f"{older} older keys still verify"


@keyset.command()
@FILE_OR_SERVICE
@_ALG
@json_option
@passphrase_file_option
@SERVICE_DIR
def rotate(
    file: Path | None,
    alg: str | None,
    as_json: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Add a fresh signing key to FILE (or the service's keyset, --data-dir); older keys
    keep verifying until destroyed.

    With --json, the new key as 'list --json' shows it. If another writer rotated FILE
    meanwhile with a newer key, that key stays primary and the new one only verifies.
    With --data-dir, running services sign with the new key within seconds (audited).
    """
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        service = _service()
        with new_key_in(service_place(settings.data_dir)):
            made = service.rotate_signing_key(settings, alg)
        if as_json:
            echo_json(_key_record(made.to_dict()))
            return
        older = _older(service.signing_keys(settings))
        _say(
            f"rotated the service keyset of {settings.data_dir}: new signing key "
            f"{made.kid} ({made.alg}); {older}"
        )
        return
    assert file is not None
    keys, passphrase = load_keyset(file, passphrase_file)
    info = keys.rotate(alg)
    keys.save(file, passphrase)
    if as_json:
        echo_json(_key_record({k.kid: k for k in keys}[info.kid].to_dict()))
        return
    signer = keys.primary
    if signer.kid != info.kid:
        # Another writer rotated meanwhile with a newer key, which the save kept as primary.
        _say(
            f"rotated {file}: added key {info.kid} ({info.alg}), which verifies; another "
            f"writer's newer key {signer.kid} ({signer.alg}) signs"
        )
        return
    _say(f"rotated {file}: new signing key {info.kid} ({info.alg}); {_older(keys)}")


@keyset.command(name="list")
@FILE_OR_SERVICE
@json_option
@passphrase_file_option
@SERVICE_DIR
def list_(
    file: Path | None, as_json: bool, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """List the keys of FILE, or of the service's keyset (--data-dir); never their material."""
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        found = _service().signing_keys(settings)
    else:
        assert file is not None
        found = list(load_keyset(file, passphrase_file)[0])
    infos = [k.to_dict() for k in found]
    if as_json:
        echo_json([_key_record(i) for i in infos])
        return
    headers = ("KID", "ALG", "STATE", "PRIMARY", "CREATED")
    rows = [
        (terminal_safe(i["kid"]), i["alg"], i["state"], "yes" if i["primary"] else "", i["created"])
        for i in infos
    ]
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _key_record(info: dict[str, Any]) -> dict[str, Any]:
    """A key as ``--json`` prints it: ``id`` and ``type`` are the dialect's names
    (docs/cli.md) for what ``kid`` and ``alg``, kept for scripts, say."""
    return {"id": info["kid"], "type": info["alg"], **info}


_KID = click.argument("kid", metavar="KEY_ID", required=False)


class _FileOrKeyId(NamedFile):
    """FILE of the commands that take KEY_ID after it. With --data-dir click gives the one
    argument, KEY_ID, to FILE: an empty one is left as it is (``Path('')`` would be
    ``.``), for :func:`_file_and_kid` to name as KEY_ID or as FILE."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            return value
        return super().convert(value, param, ctx)


_FILE_BEFORE_KID = click.argument(
    "file", required=False, type=_FileOrKeyId(dir_okay=False, path_type=Path)
)
_EMPTY = "(is a shell variable unset?)"


def _file_and_kid(
    file: Path | str | None, kid: str | None, data_dir: Path | None
) -> tuple[Path | None, str]:
    """FILE and KEY_ID as given: with --data-dir, the one argument is KEY_ID (click gives
    the first argument to FILE, which comes first and may be left out)."""
    if data_dir is not None and file is not None:
        if kid is not None:
            # Either FILE KEY_ID beside --data-dir, or KEY_ID and a stray word: both said.
            raise click.UsageError(
                f"got two arguments, {shown(str(file))} and {shown(kid)}: with "
                "--data-dir DIR, KEY_ID comes alone (FILE KEY_ID is for a keyset FILE, "
                "without --data-dir)"
            )
        file, kid = None, str(file)
    if file == "":
        raise click.BadParameter(f"an empty file name {_EMPTY}", param_hint="'[FILE]'")
    if kid is None:
        raise click.UsageError("missing argument 'KEY_ID'")
    if not kid:
        raise click.BadParameter(f"an empty key id {_EMPTY}", param_hint="'KEY_ID'")
    return (None if file is None else Path(file)), kid


@keyset.command()
@_FILE_BEFORE_KID
@_KID
@yes_option
@passphrase_file_option
@SERVICE_DIR
def destroy(
    file: Path | None,
    kid: str | None,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Destroy key KEY_ID: it stops verifying and its material is erased."""
    file, kid = _file_and_kid(file, kid, data_dir)
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, data_dir=data_dir)


@keyset.command(hidden=True)
@_FILE_BEFORE_KID
@_KID
@yes_option
@passphrase_file_option
@SERVICE_DIR
def retire(
    file: Path | None,
    kid: str | None,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Destroy key KEY_ID (the older name of destroy)."""
    file, kid = _file_and_kid(file, kid, data_dir)
    _destroy(file, kid, yes=yes, passphrase_file=passphrase_file, data_dir=data_dir, old_name=True)


def _destroy(
    file: Path | None,
    kid: str,
    *,
    yes: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
    old_name: bool = False,
) -> None:
    command = "retire" if old_name else "destroy"
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        service = _service()
        keys = service.signing_keys(settings)
        _confirm_destroy(keys, kid, yes)
        was = next((k.state for k in keys if k.kid == kid), None)
        with keys_of(service_place(settings.data_dir), kid, command):
            info = service.change_signing_key(settings, kid, "destroy")
        if was == info.state:
            note(f"key {kid} of the service keyset of {settings.data_dir} was destroyed already")
            return
        note(f"destroyed key {kid} of the service keyset of {settings.data_dir}")
        return
    assert file is not None
    keys, passphrase = load_keyset(file, passphrase_file)
    _confirm_destroy(keys, kid, yes)
    with keys_of(file_place(file), kid, command):
        (keys.retire if old_name else keys.destroy)(kid)
    keys.save(file, passphrase)
    note(f"destroyed key {kid} in {file}")


def _confirm_destroy(keys: Any, kid: str, yes: bool) -> None:
    # Only a key that would be erased is asked about: the keyset refuses the primary
    # itself, and an unknown or already destroyed key needs no answer.
    if any(k.kid == kid and not k.primary and k.state != "destroyed" for k in keys):
        confirm(
            terminal_safe(f"Destroy key {kid}? Tokens it signed stop verifying, for good."),
            action=f"destroying key {kid}",
            yes=yes,
        )


@keyset.command()
@_FILE_BEFORE_KID
@_KID
@passphrase_file_option
@SERVICE_DIR
def disable(
    file: Path | None, kid: str | None, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """Stop key KEY_ID from verifying and take it out of the JWKS (reversible with enable)."""
    kid, where, _state = _change_key("disable", file, kid, passphrase_file, data_dir)
    note(f"disabled key {kid} {where}")


@keyset.command()
@_FILE_BEFORE_KID
@_KID
@passphrase_file_option
@SERVICE_DIR
def enable(
    file: Path | None, kid: str | None, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """Let a disabled key KEY_ID verify again (it becomes decrypt-only)."""
    kid, where, state = _change_key("enable", file, kid, passphrase_file, data_dir)
    note(f"key {kid} {where} is {state}")


def _change_key(
    change: Literal["disable", "enable"],
    file: Path | None,
    kid: str | None,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> tuple[str, str, object]:
    """Disable or enable a key of a keyset FILE or of the service's; return its id, where
    it is (for the message) and its state now."""
    file, kid = _file_and_kid(file, kid, data_dir)
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        with keys_of(service_place(settings.data_dir), kid, change):
            info = _service().change_signing_key(settings, kid, change)
        return kid, f"of the service keyset of {settings.data_dir}", info.state
    assert file is not None
    keys, passphrase = load_keyset(file, passphrase_file)
    with keys_of(file_place(file), kid, change):
        getattr(keys, change)(kid)
    keys.save(file, passphrase)
    return kid, f"in {file}", {k.kid: k.state for k in keys}[kid]


@keyset.command()
@FILE_OR_SERVICE
@_ALG
@json_option
@passphrase_file_option
@SERVICE_DIR
def add(
    file: Path | None,
    alg: str | None,
    as_json: bool,
    passphrase_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Add a fresh key that is published and verifies but does not sign yet.

    To FILE, or to the service's keyset with --data-dir. The key is decrypt-only until
    'set-primary' makes it sign: relying parties that cache the JWKS fetch it meanwhile,
    so the first token it signs finds them ready. With --json, the new key as 'list
    --json' shows it.
    """
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        with new_key_in(service_place(settings.data_dir)):
            made = _service().add_signing_key(settings, alg)
        where = f"the service keyset of {settings.data_dir}"
    else:
        assert file is not None
        keys, passphrase = load_keyset(file, passphrase_file)
        added = keys.add_key(alg)
        keys.save(file, passphrase)
        made = {k.kid: k for k in keys}[added.kid]  # as saved, merged with other writers'
        where = str(file)
    if as_json:
        echo_json(_key_record(made.to_dict()))
        return
    _say(
        f"added key {made.kid} ({made.alg}) to {where}: published and verifying, "
        "not signing until set-primary"
    )


@keyset.command(name="set-primary")
@_FILE_BEFORE_KID
@_KID
@passphrase_file_option
@SERVICE_DIR
def set_primary(
    file: Path | None, kid: str | None, passphrase_file: Path | None, data_dir: Path | None
) -> None:
    """Make key KEY_ID sign; the key that signed until now keeps verifying.

    KEY_ID is a key published with 'add', or an older key to roll a rotation back; it
    must be decrypt-only (enable a disabled key first). With --data-dir, running
    services sign with it within seconds (audited).
    """
    file, kid = _file_and_kid(file, kid, data_dir)
    settings = service_settings(file, data_dir, passphrase_file)
    if settings is not None:
        where = f"the service keyset of {settings.data_dir}"
        service = _service()
        with keys_of(service_place(settings.data_dir), kid, "set-primary"):
            was = next((k.primary for k in service.signing_keys(settings) if k.kid == kid), None)
            info = service.change_signing_key(settings, kid, "set_primary")
        if was:
            note(f"key {kid} is already the primary key of {where}")
            return
        older = _older(service.signing_keys(settings))
        note(f"key {info.kid} ({info.alg}) now signs for {where}; {older}")
        return
    assert file is not None
    keys, passphrase = load_keyset(file, passphrase_file)
    with keys_of(file_place(file), kid, "set-primary"):
        if keys.primary.kid == kid:
            note(f"key {kid} is already the primary key of {file}")
            return
        keys.set_primary(kid)
    keys.save(file, passphrase)
    signer = keys.primary
    if signer.kid != kid:
        # The save merged a rotation another writer saved meanwhile; its newer key won.
        raise CLIError(
            f"keyset {file}: another writer made key {signer.kid} primary at the same time, "
            f"so {kid} stays decrypt-only",
            hint="run the command again if it should still be primary",
        )
    note(f"key {kid} ({signer.alg}) now signs for {file}; {_older(keys)}")
