"""An end-to-end tour of sealbox, run by `make demo`: real commands, real output.

Everything happens in a temporary folder that is removed at the end. The
passphrase is a throwaway value set in the environment of each command.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""


def step(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}")


def sh(command: str, *, cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> str:
    """Run one sealbox command line, print it and its output, return stdout."""
    print(f"{DIM}${RESET} {command}")
    args = shlex.split(command)
    args[0] = str(Path(sys.executable).with_name("sealbox"))
    proc = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, check=False)
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    for line in out.splitlines():
        print(f"  {line}")
    for line in err.splitlines():
        print(f"  {DIM}{line}{RESET}")
    if proc.returncode:
        print(f"  {DIM}(exit status {proc.returncode}){RESET}")
    return out


def main() -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["SEALBOX_PASSPHRASE"] = "demo passphrase, not for real data"
    with tempfile.TemporaryDirectory(prefix="sealbox-demo-") as tmp:
        cwd = Path(tmp)
        print(f"{BOLD}sealbox demo{RESET} (in {cwd}, removed afterwards)")

        step("A keyring for field encryption (stored encrypted with Argon2id, mode 0600)")
        sh("sealbox keyring create app.keyring", cwd=cwd, env=env)
        sh("sealbox keyring list app.keyring", cwd=cwd, env=env)

        step("Seal a value bound to its row; open it again")
        token = sh(
            "sealbox seal -K app.keyring --aad users.card:42", cwd=cwd, env=env, stdin=b"4111 1111"
        ).strip()
        sh(
            "sealbox open -K app.keyring --aad users.card:42",
            cwd=cwd,
            env=env,
            stdin=token.encode(),
        )

        step("The same token under another row's associated data is refused")
        sh(
            "sealbox open -K app.keyring --aad users.card:43",
            cwd=cwd,
            env=env,
            stdin=token.encode(),
        )

        step("Rotate: a new primary key seals, the old one still opens")
        sh("sealbox keyring rotate app.keyring", cwd=cwd, env=env)
        sh(
            "sealbox open -K app.keyring --aad users.card:42",
            cwd=cwd,
            env=env,
            stdin=token.encode(),
        )

        step("Disable the old key: its tokens no longer open")
        old = token_key(token)
        sh(f"sealbox keyring disable app.keyring {old}", cwd=cwd, env=env)
        sh(
            "sealbox open -K app.keyring --aad users.card:42",
            cwd=cwd,
            env=env,
            stdin=token.encode(),
        )
        sh("sealbox keyring list app.keyring", cwd=cwd, env=env)

        step("A wrong passphrase changes nothing")
        bad = {**env, "SEALBOX_PASSPHRASE": "wrong"}
        sh("sealbox keyring rotate app.keyring", cwd=cwd, env=bad)

        step("What is on disk: JSON with Argon2id parameters and ciphertext, no key material")
        text = (cwd / "app.keyring").read_text()
        print("  " + "\n  ".join(text.splitlines()[:9]) + "\n  ...")
        print(f"  mode: {oct((cwd / 'app.keyring').stat().st_mode & 0o777)}")
    print(f"\n{BOLD}done.{RESET} Next: `make test` runs every check; docs/ has the guides.")
    return 0


def token_key(token: str) -> str:
    """The key id a text token names (bytes 1-4 of the binary token)."""
    import base64

    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:5].hex()


if __name__ == "__main__":
    sys.exit(main())
