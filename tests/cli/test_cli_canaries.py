"""A canary secret given to a `sealbox` command never comes back where it should not.

Each case runs the real program with a unique canary as the secret it takes (a
passphrase, a password, a key, a token, a value, a database or Redis URL's password), by
one of the routes the command offers (stdin, the environment, a file, an argument where a
file name goes), on a success or a failure path, with ``--debug`` (tracebacks) and every
Python warning shown. The canary must then be absent from stderr, from stdout unless
printing it is the command's job, and from every file the command wrote.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import run_sealbox, sealbox_on_terminal

PASS = "the-right-passphrase-1"


@dataclass
class Case:
    """One run: its arguments, environment and stdin."""

    args: list[object]
    env: dict[str, str] = field(default_factory=dict)
    input: bytes = b""


@dataclass
class Shared:
    """What the cases work on, made once with the command line itself."""

    root: Path
    identity: str  # an age identity (AGE-SECRET-KEY-1…)
    recipient: str  # its recipient (age1…)

    def path(self, name: str) -> Path:
        return self.root / name


def _ok(result, what: str) -> None:
    assert result.returncode == 0, (what, result.stderr)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Shared:
    root = tmp_path_factory.mktemp("canary-shared")
    env = {"SEALBOX_PASSPHRASE": PASS}
    _ok(run_sealbox(["keyring", "create", root / "k.kr", "--yes"], env=env), "keyring")
    _ok(run_sealbox(["jwt", "keyset", "create", root / "ks.jwt"], env=env), "keyset")
    _ok(run_sealbox(["encrypt", "-p", "-o", root / "p.age"], env=env, input=b"x"), "encrypt")
    _ok(run_sealbox(["key", "generate", "-o", root / "sk", "--yes"], env=env), "key")
    _ok(run_sealbox(["keygen", "-o", root / "id.txt"]), "keygen")
    identity = next(
        line
        for line in (root / "id.txt").read_text().splitlines()
        if line.startswith("AGE-SECRET-KEY-")
    )
    recipient = run_sealbox(["keygen", "-y", root / "id.txt"]).stdout.decode().strip()
    _ok(run_sealbox(["secrets", "init", root / "s.env", "-r", recipient]), "secrets init")
    (root / "f").write_text("a file to sign\n")
    (root / "record.json").write_text('{"iv": "AAAA", "ciphertext": "AAAA", "tag": "AAAA"}')
    return Shared(root, identity, recipient)


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _secrets_copy(tmp: Path, sh: Shared, value: str) -> Path:
    """A copy of the shared secrets file holding ``API_KEY=value``."""
    file = tmp / "s.env"
    shutil.copy(sh.path("s.env"), file)
    _ok(run_sealbox(["secrets", "set", file, "API_KEY"], input=value.encode()), "secrets set")
    return file


def _script(tmp: Path, name: str, body: str) -> Path:
    """A shell script that records its own argv (``/proc/self/cmdline``) in ``name.argv``."""
    path = tmp / name
    path.write_text(f"#!/bin/sh\ntr '\\0' ' ' </proc/self/cmdline >'{tmp}/{name}.argv'\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


Builder = Callable[[Path, Shared, str], Case]

# name -> builds the run for a canary. Each secret goes in where the command takes one.
CASES: dict[str, Builder] = {
    "seal: the value on stdin": lambda t, s, c: Case(
        ["seal", "-K", s.path("k.kr")], {"SEALBOX_PASSPHRASE": PASS}, c.encode()
    ),
    "seal: a wrong passphrase in the environment": lambda t, s, c: Case(
        ["seal", "-K", s.path("k.kr")], {"SEALBOX_PASSPHRASE": c}, b"x"
    ),
    "seal: a wrong passphrase in a file": lambda t, s, c: Case(
        ["seal", "-K", s.path("k.kr"), "--passphrase-file", _file(t, "pf", c)], input=b"x"
    ),
    "seal: a passphrase file that is not UTF-8": lambda t, s, c: Case(
        ["seal", "-K", s.path("k.kr"), "--passphrase-file", _file(t, "pf", c.encode() + b"\xff")]
    ),
    "seal: a passphrase file over the size limit": lambda t, s, c: Case(
        ["seal", "-K", s.path("k.kr"), "--passphrase-file", _file(t, "pf", c * 4000)]
    ),
    "open: a malformed token on stdin": lambda t, s, c: Case(
        ["open", "-K", s.path("k.kr")], {"SEALBOX_PASSPHRASE": PASS}, f"sealbox:v1:{c}".encode()
    ),
    "seal: a keyring file that is not one": lambda t, s, c: Case(
        ["seal", "-K", _file(t, "bad.kr", c)], {"SEALBOX_PASSPHRASE": PASS}, b"x"
    ),
    "encrypt: the passphrase (-p)": lambda t, s, c: Case(
        ["encrypt", "-p", "-o", t / "out.age"], {"SEALBOX_PASSPHRASE": c}, b"data"
    ),
    "encrypt: the plaintext on stdin (armored)": lambda t, s, c: Case(
        ["encrypt", "-p", "-a"], {"SEALBOX_PASSPHRASE": PASS}, c.encode()
    ),
    "decrypt: a wrong passphrase": lambda t, s, c: Case(
        ["decrypt", s.path("p.age")], {"SEALBOX_PASSPHRASE": c}
    ),
    "decrypt: an identity file of garbage": lambda t, s, c: Case(
        ["decrypt", "-i", _file(t, "id", c + "\n"), s.path("p.age")]
    ),
    "decrypt: a malformed age identity": lambda t, s, c: Case(
        ["decrypt", "-i", _file(t, "id", f"AGE-SECRET-KEY-1{c.upper()}\n"), s.path("p.age")]
    ),
    "keygen -y: a malformed age identity": lambda t, s, c: Case(
        ["keygen", "-y", _file(t, "id", f"AGE-SECRET-KEY-1{c.upper()}\n")]
    ),
    "hash-password: the password on stdin": lambda t, s, c: Case(
        ["hash-password", "--profile", "test"], input=c.encode()
    ),
    "verify-password: a wrong password": lambda t, s, c: Case(
        ["verify-password", "--profile", "test", "--hash-file", _file(t, "h", _hash(t))],
        input=c.encode(),
    ),
    "verify-password: a malformed argon2 hash": lambda t, s, c: Case(
        ["verify-password", "--hash-file", _file(t, "h", f"$argon2id$v=19$m=8,t=1,p=1${c}$z")],
        input=b"x",
    ),
    "secrets set: the value on stdin": lambda t, s, c: Case(
        ["secrets", "set", _secrets_copy(t, s, "other"), "API_KEY"], input=c.encode()
    ),
    "secrets get: a name that is missing": lambda t, s, c: Case(
        ["secrets", "get", _secrets_copy(t, s, c), "NOPE", "-i", s.path("id.txt")]
    ),
    "secrets list: a malformed file": lambda t, s, c: Case(
        ["secrets", "list", _file(t, "m.env", f"X={c}\nnot a line {c}\n")]
    ),
    "secrets run: a program that fails": lambda t, s, c: Case(
        [
            *("secrets", "run", _secrets_copy(t, s, c), "-i", s.path("id.txt")),
            *("--", _script(t, "child", "exit 3"), "arg"),
        ]
    ),
    "secrets run: a program that is missing": lambda t, s, c: Case(
        ["secrets", "run", _secrets_copy(t, s, c), "-i", s.path("id.txt"), "--", t / "nope"]
    ),
    "secrets edit: the editor fails": lambda t, s, c: Case(
        ["secrets", "edit", _secrets_copy(t, s, c), "-i", s.path("id.txt")],
        {"EDITOR": str(_script(t, "editor", "exit 1"))},
    ),
    "secrets edit: the edit is malformed": lambda t, s, c: Case(
        ["secrets", "edit", _secrets_copy(t, s, c), "-i", s.path("id.txt")],
        {"EDITOR": str(_script(t, "editor", 'printf "API_KEY=x\\ngarbage line\\n" >>"$1"'))},
    ),
    "secrets edit: the editor is killed": lambda t, s, c: Case(
        ["secrets", "edit", _secrets_copy(t, s, c), "-i", s.path("id.txt")],
        {"EDITOR": str(_script(t, "editor", 'kill -TERM "$PPID"; sleep 1'))},
    ),
    "key generate: the passphrase": lambda t, s, c: Case(
        ["key", "generate", "-o", t / "k", "--yes"], {"SEALBOX_PASSPHRASE": c}
    ),
    "sign: a wrong passphrase": lambda t, s, c: Case(
        ["sign", "-k", s.path("sk"), s.path("f")], {"SEALBOX_PASSPHRASE": c}
    ),
    "sign: a malformed private key": lambda t, s, c: Case(
        ["sign", "-k", _file(t, "sk", _pem(c)), s.path("f")], {"SEALBOX_PASSPHRASE": PASS}
    ),
    "sign: a private key given as its name": lambda t, s, c: Case(
        ["sign", "-k", _pem(c), s.path("f")], {"SEALBOX_PASSPHRASE": PASS}
    ),
    "decrypt: an age identity given as its name": lambda t, s, c: Case(
        ["decrypt", "-i", f"AGE-SECRET-KEY-1{c.upper()}", s.path("p.age")]
    ),
    "legacy decrypt: a hex key given as its name": lambda t, s, c: Case(
        ["legacy", "decrypt", "-k", _hex_key(c), s.path("record.json")]
    ),
    "legacy decrypt: a base64 key given as its name": lambda t, s, c: Case(
        ["legacy", "decrypt", "-k", _b64_key(c), s.path("record.json")]
    ),
    "legacy migrate: a hex key given as its name": lambda t, s, c: Case(
        [
            *("legacy", "migrate", "-k", _hex_key(c), "-o", t / "o.age"),
            *(s.path("record.json"), "-r", s.recipient),
        ]
    ),
    "legacy decrypt: a malformed key file": lambda t, s, c: Case(
        ["legacy", "decrypt", "-k", _file(t, "key", c), s.path("record.json")]
    ),
    "legacy decrypt: a wrong Fernet password": lambda t, s, c: Case(
        ["legacy", "decrypt", _file(t, "rec", "gAAAAA" + "A" * 80)], {"SEALBOX_PASSPHRASE": c}
    ),
    "jwt issue: a wrong passphrase": lambda t, s, c: Case(
        ["jwt", "issue", s.path("ks.jwt"), "--sub", "x"], {"SEALBOX_PASSPHRASE": c}
    ),
    "jwt verify: a malformed token on stdin": lambda t, s, c: Case(
        ["jwt", "verify", "--keyset", s.path("ks.jwt"), "-"],
        {"SEALBOX_PASSPHRASE": PASS},
        c.encode(),
    ),
    "jwt verify: a token with a wrong signature": lambda t, s, c: Case(
        ["jwt", "verify", "--keyset", s.path("ks.jwt"), "-"],
        {"SEALBOX_PASSPHRASE": PASS},
        _jwt_with_signature(c),
    ),
    "jwt inspect: a malformed token on stdin": lambda t, s, c: Case(
        ["jwt", "inspect"], input=c.encode()
    ),
    "users create: the password on stdin": lambda t, s, c: Case(
        ["users", "create", "alice", "--data-dir", t / "data"], input=f"{c}\n{c}\n".encode()
    ),
    "users list: a PostgreSQL URL with a wrong password": lambda t, s, c: Case(
        ["users", "list", "--data-dir", t / "data"],
        {"SEALBOX_DATABASE_URL": f"postgresql+asyncpg://nobody:{c}@127.0.0.1:5432/test"},
    ),
    "users list: a PostgreSQL URL that cannot connect": lambda t, s, c: Case(
        ["users", "list", "--data-dir", t / "data"],
        {"SEALBOX_DATABASE_URL": f"postgresql+asyncpg://u:{c}@127.0.0.1:1/test"},
    ),
    "users list: a malformed database URL": lambda t, s, c: Case(
        ["users", "list", "--data-dir", t / "data"],
        {"SEALBOX_DATABASE_URL": f"postgres://u:{c}@127.0.0.1:abc/test"},
    ),
    "serve --check: a Redis URL with a password": lambda t, s, c: Case(
        ["serve", "--check", "--log-level", "debug", "--data-dir", t / "data"],
        {"SEALBOX_REDIS_URL": f"redis://:{c}@127.0.0.1:1/0"},
    ),
    "serve --check: a malformed Redis URL": lambda t, s, c: Case(
        ["serve", "--check", "--log-level", "debug", "--data-dir", t / "data"],
        {"SEALBOX_REDIS_URL": f"redis://:{c}@127.0.0.1:abc/0"},
    ),
    "serve --check: an unknown setting": lambda t, s, c: Case(
        ["serve", "--check", "--data-dir", t / "data"], {"SEALBOX_TOKEN_SECRET": c}
    ),
    "transit encrypt: the token when the service is down": lambda t, s, c: Case(
        ["transit", "encrypt", "k", "--url", "https://127.0.0.1:1"], {"SEALBOX_TOKEN": c}, b"x"
    ),
    "transit encrypt: a password in the service URL": lambda t, s, c: Case(
        ["transit", "encrypt", "k"], {"SEALBOX_URL": f"https://u:{c}@127.0.0.1:1"}, b"x"
    ),
}


def _hash(tmp: Path) -> str:
    result = run_sealbox(["hash-password", "--profile", "test"], input=b"another password")
    _ok(result, "hash-password")
    return result.stdout.decode()


def _jwt_with_signature(canary: str) -> bytes:
    header = _b64url('{"alg":"HS256","typ":"at+jwt"}')
    claims = _b64url('{"sub":"x"}')
    return f"{header}.{claims}.{_b64url(canary)}".encode()


def _pem(canary: str) -> str:
    body = base64.b64encode(canary.encode()).decode()
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"


def _hex_key(canary: str) -> str:
    """A 32-byte key in hex whose text starts with the canary's hex (found in output)."""
    return (canary.encode().hex() + "0" * 64)[:64]


def _b64_key(canary: str) -> str:
    return base64.b64encode((canary.encode() + bytes(32))[:32]).decode()


def _forms(canary: str) -> list[bytes]:
    """Every form the canary takes in the cases (as text, hex, base64, upper case)."""
    text = canary.encode()
    return [text, text.upper(), _hex_key(canary)[:32].encode(), _b64_key(canary)[:24].encode()]


def _files_holding(root: Path, forms: list[bytes], given: set[Path]) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path not in given:
            data = path.read_bytes()
            if any(form in data for form in forms):
                found.append(path)
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_a_canary_secret_reaches_no_output_it_should_not(name, shared, tmp_path):
    canary = f"canary-{secrets.token_hex(6)}"
    case = CASES[name](tmp_path, shared, canary)
    given = {p for p in tmp_path.rglob("*") if p.is_file()}
    env = {"SEALBOX_DEBUG": "1", "PYTHONWARNINGS": "always", "HOME": str(tmp_path), **case.env}
    result = run_sealbox(case.args, env=env, input=case.input)
    forms = _forms(canary)
    for form in forms:
        assert form not in result.stderr, (name, result.stderr.decode(errors="replace"))
        assert form not in result.stdout, (name, result.stdout.decode(errors="replace"))
    assert _files_holding(tmp_path, forms, given) == []
    assert _files_holding(shared.root, forms, set()) == []


def test_a_secret_handed_to_a_child_is_in_its_environment_never_its_argv(shared, tmp_path):
    canary = f"canary-{secrets.token_hex(6)}"
    file = _secrets_copy(tmp_path, shared, canary)
    child = _script(tmp_path, "child", f'printf %s "$API_KEY" >"{tmp_path}/child.env"')
    result = run_sealbox(["secrets", "run", file, "-i", shared.path("id.txt"), "--", child, "a"])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "child.env").read_text() == canary
    assert canary not in (tmp_path / "child.argv").read_text()
    editor = _script(tmp_path, "editor", "true")
    result = run_sealbox(
        ["secrets", "edit", file, "-i", shared.path("id.txt")], env={"EDITOR": str(editor)}
    )
    assert result.returncode == 0, result.stderr
    assert canary not in (tmp_path / "editor.argv").read_text()


@pytest.mark.parametrize(
    ("args", "prompts"),
    [
        (["keyring", "list"], ["Passphrase"]),
        (["jwt", "issue", "--sub", "x"], ["Passphrase"]),
    ],
    ids=["keyring", "jwt keyset"],
)
def test_a_wrong_passphrase_typed_at_the_prompt_is_never_shown(args, prompts, shared):
    canary = f"canary-{secrets.token_hex(6)}"
    file = shared.path("k.kr" if args[0] == "keyring" else "ks.jwt")
    full = [*args[:2], file, *args[2:]]
    status, after = sealbox_on_terminal(full, [(p, canary) for p in prompts])
    assert status == 1
    assert canary.encode() not in after


def test_a_password_typed_at_the_prompt_is_never_echoed(tmp_path):
    canary = f"canary-{secrets.token_hex(6)}"
    status, after = sealbox_on_terminal(
        ["users", "create", "alice", "--data-dir", tmp_path / "data"],
        [("assword", canary), ("assword", canary + "-other")],
    )
    assert status == 1
    assert canary.encode() not in after
    assert _files_holding(tmp_path, [canary.encode()], set()) == []


def test_a_passphrase_interrupted_at_the_prompt_is_never_shown(shared):
    pexpect = pytest.importorskip("pexpect")
    canary = f"canary-{secrets.token_hex(6)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sealbox", "keyring", "list", str(shared.path("k.kr"))],
        env=env,
        timeout=60,
    )
    child.expect("Passphrase")
    child.send(canary)  # typed, not yet entered
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.wait()
    assert canary.encode() not in child.before
