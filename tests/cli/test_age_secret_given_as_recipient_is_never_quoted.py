"""A quoted or prefixed secret key given to ``-r`` (or in a recipients or secrets file)
is refused without a character of its key data on the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sealbox import age

ME = age.X25519Identity.generate()
SECRET = ME.expose_secret()
DATA = SECRET.removeprefix("AGE-SECRET-KEY-1")
PQ = age.HybridIdentity.generate().expose_secret()
PQ_DATA = PQ.removeprefix("AGE-SECRET-KEY-PQ-1")


def _leaked(output: str, data: str, size: int = 6) -> list[str]:
    folded = output.casefold()
    windows = {data[i : i + size].casefold() for i in range(len(data) - size + 1)}
    return sorted(w for w in windows if w in folded)


@pytest.mark.parametrize(
    ("value", "data"),
    [(f'"{SECRET}"', DATA), (f"'{SECRET}'", DATA), (f"KEY={SECRET}", DATA), (f'"{PQ}"', PQ_DATA)],
    ids=["double-quoted", "single-quoted", "after-a-name", "pq-quoted"],
)
def test_a_wrapped_identity_given_to_r_is_refused_without_its_key_data(
    cli, tmp_path: Path, value: str, data: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    for argv in (
        ["encrypt", "-r", value, tmp_path / "f"],
        ["secrets", "init", tmp_path / "s.env", "-r", value],
        ["keyring", "create", tmp_path / "k.keyring", "-r", value],
    ):
        r = cli(argv, input=b"x")
        assert r.code == 1, argv
        assert "an age identity (AGE-SECRET-KEY-…) was given as a recipient" in r.stderr
        assert "sealbox keygen -y FILE" in r.stderr
        assert _leaked(r.stderr + r.out, data) == [], argv
    assert not (tmp_path / "s.env").exists() and not (tmp_path / "k.keyring").exists()


def test_a_private_key_on_one_line_given_to_r_is_refused_without_its_body(
    cli, tmp_path: Path
) -> None:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    r = cli(["encrypt", "-r", '"' + " ".join(pem.splitlines())], input=b"x")
    assert r.code == 1
    assert "a private key was given as a recipient" in r.stderr
    assert _leaked(r.stderr + r.out, body) == []


def test_a_quoted_identity_in_a_recipients_file_is_refused_without_its_key_data(
    cli, tmp_path: Path
) -> None:
    path = tmp_path / "recipients.txt"
    path.write_text(f'"{SECRET}"\n')
    r = cli(["encrypt", "-R", path], input=b"x")
    assert r.code == 1
    assert f"recipients file {path} line 1: an age identity" in r.stderr
    assert _leaked(r.stderr + r.out, DATA) == []


def test_a_quoted_identity_on_a_secrets_file_recipient_line_is_refused_without_its_key_data(
    cli, tmp_path: Path
) -> None:
    path = tmp_path / "s.env"
    assert cli(["secrets", "init", path, "-r", str(ME.recipient())]).code == 0
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(1, f'# recipient: "{SECRET}"\n')
    path.write_text("".join(lines))
    r = cli(["secrets", "list", path])
    assert r.code == 1
    assert "bad recipient" in r.stderr
    assert _leaked(r.stderr + r.out, DATA) == []
