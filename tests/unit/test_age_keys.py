"""Keys and their encodings: Bech32, recipients and identities, files, canaries."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from sealbox import age
from sealbox.age import bech32, format
from sealbox.exceptions import ConfigError, FormatError, KeyFormatError, UnsupportedAlgorithmError

# The key pair published in the age specification (C2SP age.md) for the post-quantum type.
SPEC_PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_PQ_RECIPIENT_START = "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzd"
# And the X25519 example of the same page.
SPEC_X25519_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_X25519_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def test_spec_key_pairs():
    assert str(age.parse_identity(SPEC_X25519_IDENTITY).recipient()) == SPEC_X25519_RECIPIENT
    pq = age.parse_identity(SPEC_PQ_IDENTITY)
    assert str(pq.recipient()).startswith(SPEC_PQ_RECIPIENT_START)
    assert len(pq.recipient().public_bytes()) == 1216


def test_bech32_round_trip_and_errors():
    data = bytes(range(200))
    text = bech32.encode("age", data)
    assert bech32.decode(text) == ("age", data)
    assert bech32.decode(text.upper()) == ("AGE", data)
    with pytest.raises(KeyFormatError, match="checksum"):
        bech32.decode(text[:-1] + ("q" if text[-1] != "q" else "p"))
    with pytest.raises(KeyFormatError, match="mixes"):
        bech32.decode(text[:5] + text[5:].upper())


def test_a_bech32_string_past_the_longest_age_key_is_refused_by_its_length():
    from sealbox.age.mlkem import HybridIdentity

    longest = str(HybridIdentity.generate().recipient())
    assert len(longest) < bech32.MAX_LENGTH
    assert age.parse_recipient(longest)
    # Refused before the checksum is computed (it costs about half a second a megabyte).
    huge = "age1" + "q" * 10_000_000
    with pytest.raises(KeyFormatError, match="10,000,004 characters long") as info:
        age.parse_recipient(huge)
    assert "qqqq" not in str(info.value)


@pytest.mark.parametrize("kind", [age.X25519Identity, age.HybridIdentity])
def test_identity_round_trip_and_no_leak(kind):
    identity = kind.generate()
    secret = identity.expose_secret()
    again = age.parse_identity(secret)
    assert again.recipient() == identity.recipient()
    assert age.parse_recipient(str(identity.recipient())) == identity.recipient()
    for shown in (repr(identity), str(identity), f"{identity!r}"):
        assert secret not in shown
        assert secret.lower() not in shown
    with pytest.raises(TypeError):
        pickle.dumps(identity)


def test_identity_file_round_trip(tmp_path: Path):
    me = age.X25519Identity.generate()
    path = tmp_path / "key.txt"
    path.write_text(age.identity_file(me))
    text = path.read_text()
    assert text.startswith("# created: ")
    assert f"# public key: {me.recipient()}" in text
    [loaded] = age.load_identities(path)
    assert loaded.recipient() == me.recipient()


def test_bad_identity_line_is_not_quoted(tmp_path: Path):
    secret_like = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    path = tmp_path / "key.txt"
    path.write_text(f"# comment\n\n{secret_like}\n")
    with pytest.raises(KeyFormatError) as info:
        age.load_identities(path)
    assert "line 3" in str(info.value)
    assert secret_like not in str(info.value)


@pytest.mark.parametrize(
    "line",
    [
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB/VCs3LNaRw me@x",
    ],
)
def test_a_recipient_given_as_an_identity_says_so(tmp_path: Path, line: str):
    # `sealbox decrypt -i key.pub`: the public half instead of the private key.
    path = tmp_path / "key.pub"
    path.write_text(f"{line}\n")
    with pytest.raises(KeyFormatError) as info:
        age.load_identities(path)
    assert str(info.value) == (
        f"identity file {path} line 1: a recipient (a public key) was given as an identity"
    )
    assert info.value.hint == "give the private key file it was made from"


def test_a_pem_public_key_given_as_an_identity_is_not_called_a_wrong_passphrase(
    tmp_path: Path,
):
    # No passphrase was asked or used: "wrong passphrase, or damaged" would mislead.
    from sealbox.keys import KeyType, PrivateKey

    key = PrivateKey.generate(KeyType.ED25519)
    for what, data in (
        ("a public key", key.public_key.public_bytes("pem")),
        ("a certificate", b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
    ):
        path = tmp_path / "not-private.pem"
        path.write_bytes(data)
        with pytest.raises(KeyFormatError) as info:
            age.load_identities(path)
        assert str(info.value) == f"identity file {path} holds {what}, not a private key"
        assert info.value.hint == "give the private key file"
    damaged = tmp_path / "damaged.pem"
    damaged.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError) as info:
        age.load_identities(damaged)
    assert str(info.value) == (
        f"identity file {damaged} is damaged: not a private key sealbox can read"
    )


def test_recipients_file(tmp_path: Path):
    a, b = age.X25519Identity.generate(), age.HybridIdentity.generate()
    path = tmp_path / "r.txt"
    path.write_text(f"# team\n{a.recipient()}\n\n  {a.recipient()}  \n")
    assert len(age.load_recipients(path)) == 2
    path.write_text(f"{a.recipient()}\nnot-a-key\n")
    with pytest.raises(KeyFormatError, match="line 2"):
        age.load_recipients(path)
    with pytest.raises(UnsupportedAlgorithmError, match="plugin"):
        age.parse_recipient(bech32.encode("age1yubikey", b"\x01" * 33))
    with pytest.raises(ConfigError, match="post-quantum"):
        age.encrypt(b"x", [a.recipient(), b.recipient()])
    with pytest.raises(ConfigError, match="passphrase"):
        age.encrypt(b"x", [a.recipient(), age.ScryptRecipient("p", work_factor=2)])


def test_pq_round_trip():
    me = age.HybridIdentity.generate()
    sealed = age.encrypt(b"quantum", [me.recipient(), age.HybridIdentity.generate().recipient()])
    assert b"-> mlkem768x25519 " in sealed
    assert age.decrypt(sealed, [me]) == b"quantum"
    info = age.inspect(__import__("io").BytesIO(sealed))
    assert info.postquantum and info.recipient_types == ("mlkem768x25519",) * 2


def test_scrypt_limits_and_laziness():
    sealed = age.encrypt(b"pw", [age.ScryptRecipient("hunter2", work_factor=10)])
    assert age.decrypt(sealed, [age.ScryptIdentity("hunter2")]) == b"pw"
    with pytest.raises(FormatError, match="above the maximum"):
        age.decrypt(sealed, [age.ScryptIdentity("hunter2", max_work_factor=9)])
    asked = []
    other = age.encrypt(b"x", [age.X25519Identity.generate().recipient()])
    lazy = age.ScryptIdentity(lambda: asked.append(1) or "hunter2")
    with pytest.raises(age.files.DecryptionError):
        age.decrypt(other, [lazy])
    assert asked == []
    with pytest.raises(ConfigError):
        age.ScryptRecipient("")


def test_a_work_factor_beyond_the_machines_memory_is_a_config_error_not_a_memory_error():
    # 2^30 is age's own upper bound, and needs 1 TiB: accepted, then refused when used.
    recipient = age.ScryptRecipient("canary-passphrase-43", work_factor=30)
    with pytest.raises(ConfigError) as info:
        age.encrypt(b"x", [recipient])
    assert info.value.code == "scrypt_out_of_memory"
    assert info.value.facts == {"log_n": "30", "memory_mib": str(1 << 20)}
    assert "1048576 MiB" in str(info.value)
    assert "canary" not in str(info.value)


def test_stanza_serialisation_edges():
    for size in (0, 47, 48, 49, 96):
        stanza = format.Stanza("t", ("a",), bytes(size))
        header = format.Header.build([stanza], b"k" * 16)
        parsed, n = format.parse_header(header.to_bytes())
        assert parsed == header and n == len(header.to_bytes())
    with pytest.raises(ValueError):
        format.Stanza("bad arg", (), b"")
    with pytest.raises(FormatError, match="not canonical"):
        format.b64decode("AB")


def test_stanzas_and_headers_are_values():
    a = format.Stanza("X25519", ["share"], b"body")  # args become a tuple
    b = format.Stanza("X25519", ("share",), b"body")
    assert a == b and hash(a) == hash(b) and a.args == ("share",)
    assert a != format.Stanza("X25519", ("share",), b"other") and a != ("X25519",)
    assert repr(a) == "Stanza(type='X25519', args=('share',), body=b'body')"
    header = format.Header.build([a], b"k" * 16)
    assert header == format.Header.build([b], b"k" * 16)
    assert len({header, format.Header.build([b], b"k" * 16)}) == 1
    assert header.verify_mac(b"k" * 16) and not header.verify_mac(b"K" * 16)
    assert header.mac == format.header_mac(b"k" * 16, header.mac_input())
    for obj, name in ((a, "type"), (header, "mac")):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(obj, name, None)
        with pytest.raises(AttributeError, match="immutable"):
            delattr(obj, name)


def test_passphrase_never_in_errors():
    sealed = age.encrypt(b"x", [age.ScryptRecipient("canary-passphrase-41", work_factor=4)])
    with pytest.raises(Exception) as info:
        age.decrypt(sealed, [age.ScryptIdentity("wrong-canary-passphrase-42")])
    text = f"{info.value!r} {info.value} {getattr(info.value, 'hint', '')}"
    assert "canary" not in text
    assert "canary" not in repr(age.ScryptRecipient("canary-passphrase-41"))


def test_a_wrong_passphrase_says_so_and_names_the_stanza_types():
    from sealbox.exceptions import NoIdentityMatchError

    sealed = age.encrypt(b"x", [age.ScryptRecipient("right", work_factor=4)])
    with pytest.raises(NoIdentityMatchError, match=r"^incorrect passphrase$") as info:
        age.decrypt(sealed, [age.ScryptIdentity("wrong")])
    assert info.value.stanza_types == ("scrypt",)
    # An X25519 identity against a passphrase file: no match, not a passphrase verdict.
    with pytest.raises(NoIdentityMatchError, match="no identity matched") as info:
        age.decrypt(sealed, [age.X25519Identity.generate()])
    assert info.value.stanza_types == ("scrypt",)
    assert info.value.hint == "the file is encrypted to: scrypt"


def test_key_files_named_from_the_home_folder_load(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    me = age.X25519Identity.generate()
    (tmp_path / "key.txt").write_text(age.identity_file(me))
    (tmp_path / "recipients.txt").write_text(f"{me.recipient()}\n")
    assert [i.recipient() for i in age.load_identities("~/key.txt")] == [me.recipient()]
    assert [str(r) for r in age.load_recipients("~/recipients.txt")] == [str(me.recipient())]
