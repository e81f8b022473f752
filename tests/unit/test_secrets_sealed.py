"""The encrypted secrets file: format, binding of values to names, errors with file:line."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from sealbox import age
from sealbox.exceptions import FormatError, SecretSourceError
from sealbox.secrets import SecretsChain
from sealbox.secrets.sealed import FORMAT_LINE, SealedFile, SealedFileSource
from sealbox.secrets.sealed_format import recipients_digest

CANARY = "canary-sealed-value-3f9d"


@pytest.fixture(scope="module")
def alice() -> age.X25519Identity:
    return age.X25519Identity.generate()


@pytest.fixture(scope="module")
def bob() -> age.X25519Identity:
    return age.X25519Identity.generate()


@pytest.fixture
def path(tmp_path: Path, alice) -> Path:
    p = tmp_path / "secrets.env"
    f = SealedFile.create(p, [str(alice.recipient())])
    f.set("DB_PASSWORD", CANARY)
    f.set("API_TOKEN", "token-1")
    f.save()
    return p


def test_layout_sorted_and_no_plaintext(path: Path, alice) -> None:
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == FORMAT_LINE
    assert lines[1] == f"# recipient: {alice.recipient()}"
    assert [ln.split("=", 1)[0] for ln in lines[2:-1]] == ["API_TOKEN", "DB_PASSWORD"]
    assert lines[-1].startswith("# sealbox-secrets-end: 2 secrets, sha256:")
    assert CANARY not in text and "token-1" not in text
    assert CANARY.encode() not in base64.b64decode(lines[3].split("=", 1)[1])
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_values_are_plain_age_files(path: Path, alice) -> None:
    raw = base64.b64decode(path.read_text().splitlines()[3].split("=", 1)[1])
    assert raw.startswith(b"age-encryption.org/v1\n")
    plain = age.decrypt(raw, [alice])
    first, _, value = plain.partition(b"\n")
    assert (
        first
        == b"sealbox-secret/2 DB_PASSWORD " + recipients_digest([str(alice.recipient())]).encode()
    )
    assert value == CANARY.encode()


def test_set_needs_no_identity_and_other_identity_cannot_read(path: Path, alice, bob) -> None:
    f = SealedFile.load(path)
    f.set("NEW", "added without an identity")
    f.save()
    f = SealedFile.load(path)
    assert f.get("NEW", [alice]).expose_secret() == "added without an identity"
    with pytest.raises(SecretSourceError, match=r"secrets.env:\d+: no identity can decrypt NEW"):
        f.get("NEW", [bob])


def test_rotate_to_new_recipients(path: Path, alice, bob) -> None:
    f = SealedFile.load(path)
    f.rotate([alice], [str(bob.recipient())])
    f.save()
    f = SealedFile.load(path)
    assert f.recipients == [str(bob.recipient())]
    assert f.get("DB_PASSWORD", [bob]).expose_secret() == CANARY
    for name in f.names():
        with pytest.raises(SecretSourceError, match="no identity"):
            f.get(name, [alice])


def test_rotate_with_wrong_identity_changes_nothing(path: Path, bob) -> None:
    before = path.read_bytes()
    f = SealedFile.load(path)
    with pytest.raises(SecretSourceError, match="no identity"):
        f.rotate([bob], [str(bob.recipient())])
    assert path.read_bytes() == before


def test_moved_value_is_refused(path: Path, alice) -> None:
    lines = path.read_text().splitlines()
    api, db = lines[2].split("=", 1)[1], lines[3].split("=", 1)[1]
    lines[2], lines[3] = f"API_TOKEN={db}", f"DB_PASSWORD={api}"
    path.write_text("\n".join(lines) + "\n")
    SealedFile.accept(path)  # a committer can recompute the trailer; the values still hold
    with pytest.raises(
        SecretSourceError, match=r":3: the value of API_TOKEN was sealed for another name"
    ):
        SealedFile.load(path).get("API_TOKEN", [alice])


def test_tampered_value(path: Path, alice) -> None:
    lines = path.read_text().splitlines()
    raw = bytearray(base64.b64decode(lines[3].split("=", 1)[1]))
    raw[-5] ^= 1
    lines[3] = "DB_PASSWORD=" + base64.b64encode(bytes(raw)).decode()
    path.write_text("\n".join(lines) + "\n")
    SealedFile.accept(path)
    with pytest.raises(
        SecretSourceError, match=r":4: DB_PASSWORD cannot be decrypted: the value was altered"
    ):
        SealedFile.load(path).get("DB_PASSWORD", [alice])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda ls: [*ls[:-1], "API_TOKEN=" + ls[2].split("=", 1)[1], ls[-1]],
            r":5: API_TOKEN is already defined on line 3",
        ),
        (lambda ls: [*ls[:2], "not an assignment", *ls[2:]], r":3: expected NAME=VALUE"),
        (lambda ls: [*ls[:-1], "1BAD=abcd", ls[-1]], r":5: invalid secret name"),
        (lambda ls: [*ls[:-1], "X=not base64!", ls[-1]], r":5: the value of X is not base64"),
        (lambda ls: [*ls[:-1], "X=", ls[-1]], r":5: X has an empty value"),
        (
            lambda ls: [*ls[:-1], 'X="-----BEGIN AGE ENCRYPTED FILE-----'],
            r":5: unterminated quoted value",
        ),
        (lambda ls: [*ls[:1], "# recipient: age1bogus", *ls[2:]], r":2: bad recipient"),
        (lambda ls: ls[:1] + ls[2:], r"no '# recipient:' line"),
        (lambda ls: ["# something else", *ls[1:]], r":1: not a sealbox secrets file"),
    ],
)
def test_malformed_files_name_file_and_line(path: Path, mutate, message: str) -> None:
    path.write_text("\n".join(mutate(path.read_text().splitlines())) + "\n")
    with pytest.raises(SecretSourceError, match=message) as info:
        SealedFile.load(path)
    assert str(path) in str(info.value) and CANARY not in str(info.value)


def test_a_line_that_is_no_name_is_not_quoted_back(path: Path) -> None:
    # A hand merge or a pasted .env can leave a line of key material ending in "=" (the
    # last line of a PEM body): its text before "=" is no name, and may be a secret.
    key_line = "MIIEvQIBADAN+BgkqhkiG9w0BAQEFAASC/BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj="
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:-1], key_line, lines[-1]]) + "\n")
    with pytest.raises(SecretSourceError, match=r":5: invalid secret name") as info:
        SealedFile.load(path)
    assert "MIIEvQ" not in str(info.value) and "BgkqhkiG9w0" not in str(info.value)


def test_a_line_that_is_not_utf8_is_named(path: Path) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][:12] + b"\xe9" + lines[3][12:]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SecretSourceError) as info:
        SealedFile.load(path)
    assert str(info.value) == f"{path}:4: not UTF-8 text"


def test_a_file_saved_with_a_byte_order_mark_and_windows_line_ends_is_read(
    path: Path, alice
) -> None:
    # As an editor on Windows saves it; python-dotenv reads such a .env file too.
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    f = SealedFile.load(path)
    assert f.get("DB_PASSWORD", [alice]).expose_secret() == CANARY
    f.set("OTHER", "x")
    f.save()
    assert path.read_bytes().startswith(FORMAT_LINE.encode() + b"\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretSourceError, match="does not exist"):
        SealedFile.load(tmp_path / "nope.env")


def test_armored_values_are_read(path: Path, alice) -> None:
    armored = age.encrypt(b"sealbox-secret/1 ARMORED\nfrom armor", [alice.recipient()], armor=True)
    lines = path.read_text().splitlines()
    lines.insert(-1, 'ARMORED="' + armored.decode().strip() + '"')
    path.write_text("\n".join(lines) + "\n")
    f = SealedFile.accept(path)
    assert f.get("ARMORED", [alice]).expose_secret() == "from armor"
    f = SealedFile.load(path)
    assert f.get("ARMORED", [alice]).expose_secret() == "from armor"
    f.save()  # rewritten as base64, sorted
    assert SealedFile.load(path).get("ARMORED", [alice]).expose_secret() == "from armor"
    assert "BEGIN AGE" not in path.read_text()


def test_replace_values_keeps_unchanged_ciphertexts(path: Path, alice) -> None:
    f = SealedFile.load(path)
    before = path.read_text().splitlines()
    changed = f.replace_values({"DB_PASSWORD": CANARY, "API_TOKEN": "token-2", "NEW": "n"}, [alice])
    f.save()
    after = path.read_text().splitlines()
    assert changed == ["API_TOKEN", "NEW"]
    assert after[3] == before[3]  # DB_PASSWORD line is byte-identical
    assert after[2] != before[2]


def test_create_checks_recipients(tmp_path: Path) -> None:
    with pytest.raises(FormatError):
        SealedFile.create(tmp_path / "x", [])
    with pytest.raises(FormatError):
        SealedFile.create(tmp_path / "x", ["age1notarecipient"])


def test_failed_save_changes_nothing(path: Path, monkeypatch) -> None:
    before = path.read_bytes()
    f = SealedFile.load(path)
    f.set("NEW", "x")

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(Exception, match="no space left"):
        f.save()
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [".secrets.env.lock", "secrets.env"]


def test_source_in_a_chain(path: Path, alice) -> None:
    src = SealedFileSource(path, [alice])
    chain = SecretsChain(src)
    assert chain.get("DB_PASSWORD").expose_secret() == CANARY
    assert chain.names() == ["API_TOKEN", "DB_PASSWORD"]
    assert chain.get("NOPE", None) is None
    for text in (repr(src), repr(chain), repr(SealedFile.load(path)), src.label):
        assert CANARY not in text
