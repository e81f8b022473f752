"""The SSHSIG namespace rule: a non-empty line of printable text, for signing and verifying.

ssh-keygen -Y signs for any non-empty namespace (PROTOCOL.sshsig section 2 asks only
that), a line break included; but such a namespace cannot be listed in an
allowed-signers file's ``namespaces="…"`` (one line per signer), and printed in a
message it would start a line of its own. sealbox refuses it, in the library and on
the command line, when signing and when verifying alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey

BAD = [
    "a\nb",
    "file\r",
    "tab\there",
    "esc\x1b[2J",
    "del\x7f",
    "c1\x85",
    "rtl\u202eelif",
    "nbsp\xa0",
]


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return PrivateKey.generate("ed25519")


@pytest.mark.parametrize("namespace", BAD)
def test_library_refuses_to_sign_for_a_namespace_that_is_not_one_printable_line(
    key: PrivateKey, namespace: str
) -> None:
    with pytest.raises(ConfigError) as info:
        sshsig.sign(key, b"data", namespace=namespace)
    assert info.value.code == "bad_namespace"
    assert info.value.facts == {"namespace": ascii(namespace)[1:-1]}
    assert namespace not in str(info.value)  # shown escaped, never as it is
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("namespace", BAD)
def test_library_refuses_to_verify_for_a_namespace_that_is_not_one_printable_line(
    key: PrivateKey, namespace: str
) -> None:
    sig = sshsig.sign(key, b"data", namespace="file")
    with pytest.raises(ConfigError) as info:
        sshsig.verify(sig, b"data", namespace=namespace, public_key=key.public_key)
    assert info.value.code == "bad_namespace"
    signers = sshsig.AllowedSigners.parse(f"me {key.public_key.openssh()}\n")
    with pytest.raises(ConfigError):
        signers.check("me", key.public_key, namespace)


@pytest.mark.parametrize("namespace", ["file", "git", "a b", "x@example.com", "é,*?!\"'="])
def test_library_signs_for_any_other_non_empty_namespace_as_ssh_keygen_does(
    key: PrivateKey, namespace: str
) -> None:
    sig = sshsig.sign(key, b"data", namespace=namespace)
    assert sshsig.verify(sig, b"data", namespace=namespace, public_key=key.public_key)


def test_library_refuses_an_empty_namespace_with_a_code(key: PrivateKey) -> None:
    with pytest.raises(ConfigError) as info:
        sshsig.sign(key, b"data", namespace="")
    assert info.value.code == "bad_namespace"
    assert info.value.facts == {"namespace": ""}


@pytest.fixture
def key_file(tmp_path: Path, key: PrivateKey) -> Path:
    path = tmp_path / "id"
    path.write_bytes(key.export_private(None))
    return path


@pytest.mark.parametrize("namespace", ["a\nb", "esc\x1b]0;x\x07", "", "rtl\u202eelif"])
def test_cli_sign_refuses_a_bad_namespace_as_a_usage_error(
    tmp_path: Path, cli, key_file: Path, namespace: str
) -> None:
    data = tmp_path / "f.txt"
    data.write_text("x\n")
    r = cli(["sign", "-k", key_file, "-n", namespace, data])
    assert r.code == 2, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("sealbox: error: ")
    assert "namespace" in lines[0]
    assert lines[1].startswith("sealbox: hint: ")
    assert "\x1b" not in r.stderr and "\u202e" not in r.stderr
    assert len(lines) == 2  # the line break did not start a line of its own
    assert not (tmp_path / "f.txt.sig").exists()


@pytest.mark.parametrize("namespace", ["a\nb", ""])
def test_cli_verify_refuses_a_bad_namespace_as_a_usage_error(
    tmp_path: Path, cli, key_file: Path, namespace: str
) -> None:
    data = tmp_path / "f.txt"
    data.write_text("x\n")
    assert cli(["sign", "-k", key_file, data]).code == 0
    r = cli(["verify", "-k", key_file, "-n", namespace, data])
    assert r.code == 2, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("sealbox: error: ")
    assert "namespace" in lines[0]
    assert len(lines) == 2
