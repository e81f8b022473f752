"""The direct path of `sealbox encrypt|decrypt`: which invocations take it, and that
it behaves exactly as the click commands do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealbox import age
from sealbox.cli._direct import _DECRYPT, _ENCRYPT, parse, run_direct

R = "age1qhyddem9hwnnrmes5sxujukj7xdwegeu08z7a7ehl2de9kk7xgxsmpwtyu"

_PIN = "sha256//" + "A" * 43 + "="  # well formed: a malformed one goes to click


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-r", R], {"recipients": [R]}),
        (["--recipient", R, "-r", R], {"recipients": [R, R]}),
        ([f"--recipient={R}", "in"], {"recipients": [R], "input_path": "in"}),
        (["-R", "f", "-i", "k"], {"recipient_files": ["f"], "identity_files": ["k"]}),
        (
            ["-a", "-o", "out", "--force", "-"],
            {"armor": True, "output_path": "out", "force": True, "input_path": "-"},
        ),
        (["--armor", "--output=-"], {"armor": True, "output_path": "-"}),
        ([], {}),
    ],
)
def test_plain_encrypt_arguments_are_read_directly(argv: list[str], expected: dict[str, object]):
    assert parse(argv, _ENCRYPT) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["-p"],  # passphrases and their prompts: click
        ["--passphrase-file", "f"],
        ["-h"],
        ["--help"],
        ["--debug", "-r", R],
        ["-ar", R],  # grouped short flags
        [f"-r={R}"],  # '=' after a short option
        ["-r"],  # a missing value
        ["-r", ""],
        ["-r", "-x"],  # a value that looks like an option
        ["-o", "a", "-o", "b"],  # a single option twice
        ["-a", "-a"],
        ["--armor=yes"],
        ["in1", "in2"],  # two inputs
        ["--", "in"],
        ["--no-such-option"],
    ],
)
def test_anything_else_is_left_to_click(argv: list[str]):
    assert parse(argv, _ENCRYPT) is None


def test_decrypt_takes_only_its_own_options():
    assert parse(["-i", "k", "-o", "out", "in"], _DECRYPT) == {
        "identity_files": ["k"],
        "output_path": "out",
        "input_path": "in",
    }
    assert parse(["-r", R], _DECRYPT) is None
    assert parse(["-a"], _DECRYPT) is None


def test_a_folder_is_left_to_click(tmp_path: Path):
    assert parse(["-r", R, str(tmp_path)], _ENCRYPT) is None
    assert parse(["-r", R, "-o", str(tmp_path)], _ENCRYPT) is None
    assert parse(["-i", str(tmp_path)], _DECRYPT) is None


def test_other_commands_and_encrypt_without_recipients_are_not_direct():
    assert run_direct([]) is None
    assert run_direct(["keygen"]) is None
    assert run_direct(["encrypt"]) is None  # a usage error, which click words
    assert run_direct(["encrypt", "-a", "-o", "x"]) is None


def _both(cli, monkeypatch, tmp_path: Path, args: list[str], input: bytes = b""):
    """Run ``args`` through main (direct) and through the click app; return both results."""
    import sealbox.cli._direct

    direct = cli(args, input=input)
    with monkeypatch.context() as m:
        m.setattr(sealbox.cli._direct, "run_direct", lambda argv, **_: None)
        via_click = cli(args, input=input)
    return direct, via_click


@pytest.fixture
def me() -> age.X25519Identity:
    return age.X25519Identity.generate()


def test_direct_and_click_runs_give_the_same_files(cli, monkeypatch, tmp_path: Path, me):
    src = tmp_path / "p"
    src.write_bytes(os.urandom(70_000))
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    args = ["encrypt", "-r", str(me.recipient()), "-o", tmp_path / "p.age", "--force", src]
    for result in _both(cli, monkeypatch, tmp_path, args):
        assert result.code == 0, result.stderr
        assert result.stderr == ""
        assert age.decrypt((tmp_path / "p.age").read_bytes(), [me]) == src.read_bytes()
    args = ["decrypt", "-i", key, "-o", tmp_path / "out", "--force", tmp_path / "p.age"]
    for result in _both(cli, monkeypatch, tmp_path, args):
        assert result.code == 0, result.stderr
        assert (tmp_path / "out").read_bytes() == src.read_bytes()
        assert (tmp_path / "out").stat().st_mode & 0o777 == 0o600
    armored = _both(cli, monkeypatch, tmp_path, ["encrypt", "-a", "-i", key], input=b"hi")
    for result in armored:
        assert age.decrypt(result.stdout, [me]) == b"hi"


@pytest.mark.parametrize(
    "case",
    ["output exists", "output is input", "missing input", "bad recipient", "wrong identity"],
)
def test_direct_and_click_runs_fail_alike(cli, monkeypatch, tmp_path: Path, me, case: str):
    src = tmp_path / "p"
    src.write_bytes(b"data")
    out = tmp_path / "p.age"
    out.write_bytes(b"keep me")
    other = tmp_path / "other.txt"
    other.write_text(age.identity_file(age.X25519Identity.generate()))
    sealed = tmp_path / "sealed.age"
    sealed.write_bytes(age.encrypt(b"x", [me.recipient()]))
    args = {
        "output exists": ["encrypt", "-r", str(me.recipient()), "-o", out, src],
        "output is input": ["encrypt", "-r", str(me.recipient()), "-o", src, "--force", src],
        "missing input": ["encrypt", "-r", str(me.recipient()), tmp_path / "nope"],
        "bad recipient": ["encrypt", "-r", "age1nonsense", "-o", tmp_path / "n.age", src],
        "wrong identity": ["decrypt", "-i", other, "-o", tmp_path / "n", sealed],
    }[case]
    direct, via_click = _both(cli, monkeypatch, tmp_path, args)
    assert direct.code == via_click.code == 1
    assert direct.stderr == via_click.stderr
    assert direct.stderr.startswith("sealbox: error: ")
    assert out.read_bytes() == b"keep me" and src.read_bytes() == b"data"
    assert not (tmp_path / "n.age").exists() and not (tmp_path / "n").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_debug_from_the_environment_shows_the_traceback(cli, tmp_path: Path, me):
    with pytest.raises(Exception, match="does not exist"):
        cli(
            ["encrypt", "-r", str(me.recipient()), str(tmp_path / "nope")],
            env={"SEALBOX_DEBUG": "1"},
        )


def _console(args: list[str], *, input: bytes = b"", prelude: str = ""):
    """Run ``console()`` (what the ``sealbox`` program runs) in a child process."""
    import subprocess
    import sys

    code = f"{prelude}\nimport sys\nsys.argv = ['sealbox', *{args!r}]\nfrom sealbox.cli import console\nconsole()\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    return subprocess.run(
        [sys.executable, "-c", code], input=input, capture_output=True, env=env, check=False
    )


def test_the_program_flushes_and_runs_atexit_handlers_after_a_direct_run(tmp_path: Path, me):
    plain = os.urandom(300_000)
    # Output through a pipe: whatever sits in stdout's buffer must reach it.
    prelude = "import atexit, sys\natexit.register(lambda: sys.stderr.write('atexit ran\\n'))"
    enc = _console(["encrypt", "-r", str(me.recipient())], input=plain, prelude=prelude)
    assert enc.returncode == 0, enc.stderr
    assert enc.stderr == b"atexit ran\n"
    key = tmp_path / "key.txt"
    key.write_text(age.identity_file(me))
    dec = _console(["decrypt", "-i", str(key)], input=enc.stdout)
    assert dec.returncode == 0 and dec.stdout == plain
    # Errors keep their status and message.
    bad = _console(["encrypt", "-r", str(me.recipient()), str(tmp_path / "nope")])
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("sealbox: error: ") and b"does not exist" in bad.stderr
    # Other commands (and usage errors) exit through click as before.
    usage = _console(["encrypt"])
    assert usage.returncode == 2 and b"sealbox: error:" in usage.stderr
    assert _console(["--version"]).stdout.startswith(b"sealbox ")


def test_the_program_sets_loaded_modules_aside_and_main_leaves_the_collector_alone(
    cli, tmp_path: Path, me
):
    import gc

    frozen = gc.get_freeze_count()
    result = cli(["encrypt", "-r", str(me.recipient()), "-o", tmp_path / "a.age"], input=b"x")
    assert result.code == 0, result.stderr
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    # The program: its collector is on again for the run, and the modules are set aside.
    prelude = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'{gc.isenabled()} {gc.get_freeze_count() > 1000}\\n'))"
    )
    enc = _console(["encrypt", "-r", str(me.recipient())], input=b"x", prelude=prelude)
    assert enc.returncode == 0, enc.stderr
    assert enc.stderr == b"True True\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--jwks", "k.json", "t"], {"jwks": "k.json", "token": "t"}),
        (
            ["--jwks=k.json", "--aud", "a", "--aud", "b", "--type", "JWT", "--leeway", "30", "-"],
            {"jwks": "k.json", "aud": ["a", "b"], "token_type": "JWT", "leeway": 30, "token": "-"},
        ),
        (
            ["--jwks", "https://issuer/jwks", "--ca", "ca.crt", "--pin", _PIN],
            {"jwks": "https://issuer/jwks", "ca": "ca.crt", "pins": [_PIN]},
        ),
    ],
)
def test_plain_jwt_verify_arguments_are_read_directly(argv, expected):
    from sealbox.cli._direct import _jwt_verify_arguments

    assert _jwt_verify_arguments(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["t"],  # no key source: a usage error click words
        ["--keyset", "k.jwt", "t"],  # its passphrase: click
        ["--jwks", "k.json", "--keyset", "k.jwt"],
        ["--jwks", "k.json", "--ca", "ca.crt"],  # --ca without a URL: a usage error
        ["--jwks", "k.json", "--leeway", "301"],
        ["--jwks", "k.json", "--leeway", "-1"],
        ["--jwks", "k.json", "--leeway", "soon"],
        ["--jwks", "k.json", "--leeway", "\u00b2"],  # a digit, but not a number int() reads
        ["--jwks", "k.json", "--help"],
        ["--jwks", "k.json", "--debug", "t"],
        ["--jwks", "k.json", "t1", "t2"],
    ],
)
def test_any_other_jwt_verify_is_left_to_click(argv):
    from sealbox.cli._direct import _jwt_verify_arguments

    assert _jwt_verify_arguments(argv) is None
