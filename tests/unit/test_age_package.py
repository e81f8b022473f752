"""sealbox.age imports each recipient type when it is first used, and the CLI only what it needs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox import age

OPTIONAL = ["sealbox.age.ssh", "sealbox.age.mlkem", "sealbox.age.scrypt", "sealbox.hazmat.kdf"]


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    code += "\nimport sys; print(sorted(sys.modules))"  # json would count as loaded
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, text=True, env=env
    ).stdout
    return set(ast.literal_eval(out.splitlines()[-1]))


def test_importing_the_package_loads_no_recipient_type():
    loaded = _modules_after("import sealbox.age")
    assert not [m for m in [*OPTIONAL, "sealbox.age.x25519", "sealbox.age.files"] if m in loaded]
    assert "cryptography" not in loaded


def test_an_x25519_recipient_loads_only_its_own_type():
    loaded = _modules_after(
        "from sealbox import age\n"
        f"age.parse_recipient({str(age.X25519Identity.generate().recipient())!r})"
    )
    assert "sealbox.age.x25519" in loaded
    assert not [m for m in OPTIONAL if m in loaded]


def test_the_public_names():
    assert age.__all__ == sorted(age.__all__)
    for name in age.__all__:
        assert getattr(age, name) is not None, name
    assert set(dir(age)) >= {*age.__all__, "keys", "stream", "files"}
    assert age.keys.MAX_KEY_FILE > 0  # submodules as attributes
    assert age.X25519Identity is age.x25519.X25519Identity
    with pytest.raises(AttributeError, match="NoSuchThing"):
        age.NoSuchThing  # noqa: B018


def _cli_modules(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['sealbox', *{args!r}]\n"
        "from sealbox.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
    )
    return _modules_after(code, env)


def test_the_command_line_loads_only_what_a_run_needs(tmp_path: Path):
    me = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    (tmp_path / "p").write_bytes(b"plain")
    sealed, out = str(tmp_path / "p.age"), str(tmp_path / "out")
    enc = _cli_modules(["encrypt", "-r", str(me.recipient()), "-o", sealed, str(tmp_path / "p")])
    dec = _cli_modules(["decrypt", "-i", str(key), "-o", out, sealed])
    assert Path(out).read_bytes() == b"plain"
    for loaded in (enc, dec):
        assert "sealbox.age.x25519" in loaded
        unneeded = [
            *OPTIONAL,
            "tempfile",
            "json",
            "rich",
            "sealbox.keysets.keyring",
            "sealbox.keysets.legacy",
        ]
        assert not [m for m in unneeded if m in loaded]
        # A plain encrypt/decrypt goes around click, and the age code loads none of
        # these (each costs milliseconds at every run).
        heavy = ["click", "pathlib", "logging", "dataclasses", "inspect", "concurrent.futures"]
        heavy += ["hmac", "datetime", "sealbox.secret", "sealbox.age.info"]
        # A small file to a file runs on one thread: no second worker, no queue.
        heavy += ["threading", "queue"]
        assert not [m for m in heavy if m in loaded]


def test_a_small_input_through_a_stream_starts_no_second_thread(tmp_path: Path):
    # Written to a device, not a regular file: the stream path, not the in-place one.
    me = age.X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    (tmp_path / "p").write_bytes(b"plain")
    (tmp_path / "p.age").write_bytes(age.encrypt(b"plain", [me.recipient()]))
    enc = _cli_modules(
        ["encrypt", "-r", str(me.recipient()), "-o", "/dev/null", str(tmp_path / "p")]
    )
    dec = _cli_modules(["decrypt", "-i", str(key), "-o", "/dev/null", str(tmp_path / "p.age")])
    for loaded in (enc, dec):
        assert "sealbox.age.stream" in loaded
        assert not [m for m in ("threading", "queue") if m in loaded]


def test_a_usage_error_still_goes_through_click(tmp_path: Path):
    code = (
        "import sys\n"
        "sys.argv = ['sealbox', 'encrypt', '--no-such-option']\n"
        "from sealbox.cli import main\n"
        "assert main() == 2"
    )
    assert "click" in _modules_after(code)


def test_a_passphrase_run_loads_scrypt(tmp_path: Path):
    sealed = age.encrypt(b"x", [age.ScryptRecipient("pw", work_factor=10)])
    (tmp_path / "p.age").write_bytes(sealed)
    env = {"SEALBOX_PASSPHRASE": "pw", "PATH": "/usr/bin:/bin"}
    loaded = _cli_modules(["decrypt", "-o", str(tmp_path / "out"), str(tmp_path / "p.age")], env)
    assert "sealbox.age.scrypt" in loaded
    assert (tmp_path / "out").read_bytes() == b"x"


def test_save_identity_writes_a_private_file_and_never_replaces_one(tmp_path) -> None:
    from sealbox.exceptions import StorageError

    me = age.X25519Identity.generate()
    path = tmp_path / "key.txt"
    age.save_identity(path, me)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [str(i.recipient()) for i in age.load_identities(path)] == [str(me.recipient())]
    with pytest.raises(StorageError) as info:
        age.save_identity(path, age.X25519Identity.generate())
    assert info.value.code == "identity_exists"
    assert info.value.facts == {"path": str(path)}
    assert [str(i.recipient()) for i in age.load_identities(path)] == [str(me.recipient())]
