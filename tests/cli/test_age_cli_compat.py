"""`sealbox encrypt|decrypt` read as an `age` user writes them: age's explicit mode flags,
its plugin flag, and the scrypt work factors a hostile or damaged file may carry."""

from __future__ import annotations

import base64
import os

import pytest

from sealbox import age
from sealbox.age.format import Header, Stanza
from sealbox.exceptions import FormatError

ME = age.X25519Identity.generate()


@pytest.mark.parametrize("click", [False, True], ids=["direct", "click"])
def test_encrypt_takes_age_e_and_decrypt_takes_age_d(cli, tmp_path, click):
    # `age -e …` and `age -d …` name their mode; the same flags on the command of that
    # mode were "unknown option".
    plain, sealed, key = tmp_path / "plain", tmp_path / "plain.age", tmp_path / "key.txt"
    plain.write_bytes(b"attack at dawn")
    key.write_text(age.identity_file(ME))
    tail = ["--"] if click else []
    r = cli(["encrypt", "-e", "-r", ME.recipient(), "-o", sealed, *tail, plain])
    assert r.code == 0, r.stderr
    r = cli(["decrypt", "--decrypt", "-i", key, *tail, sealed])
    assert (r.code, r.stdout) == (0, b"attack at dawn"), r.stderr
    r = cli(["encrypt", "--encrypt", "-a", "-r", ME.recipient(), *tail, plain])
    assert r.code == 0, r.stderr
    assert age.decrypt(r.stdout, [ME]) == b"attack at dawn"


@pytest.mark.parametrize(
    "argv",
    [
        ["encrypt", "-j", "yubikey", "plain"],
        ["encrypt", "-r", ME.recipient(), "-j", "yubikey", "plain"],
        ["decrypt", "-j", "yubikey", "plain.age"],
        ["decrypt", "-j", "yubikey", "-j", "tpm", "-i", "key.txt", "plain.age"],
    ],
)
def test_age_j_plugin_is_refused_as_unsupported_before_anything_is_read(cli, tmp_path, argv):
    # It was "unknown option (not shown: it may be a secret)", as for a typing error.
    os.chdir(tmp_path)  # the named files do not exist: nothing is read before the refusal
    r = cli(argv)
    assert r.code == 1, r.stderr
    assert r.stderr.startswith("sealbox: error: age plugins (-j) are not supported\n")
    assert "hint: " in r.stderr
    assert r.stdout == b""
    assert not list(tmp_path.iterdir())


def _scrypt_file(work_factor: str) -> bytes:
    file_key = os.urandom(16)
    salt = base64.b64encode(os.urandom(16)).decode().rstrip("=")
    stanza = Stanza("scrypt", [salt, work_factor], os.urandom(32))
    return Header.build([stanza], file_key).to_bytes() + os.urandom(16 + 17)


@pytest.mark.parametrize("work_factor", ["0", "018", "-1", "1e3"])
def test_a_scrypt_work_factor_that_is_not_one_age_writes_is_named_so(work_factor):
    # "the scrypt work factor '0' is not a number": 0 is a number; age wants 1 and up, in
    # decimal without leading zeros.
    asked = []
    with pytest.raises(FormatError) as err:
        age.decrypt(_scrypt_file(work_factor), [age.ScryptIdentity(lambda: asked.append(1))])
    assert str(err.value) == (
        f"the scrypt work factor {work_factor!r} is not a whole number from 1 up "
        "(decimal, without leading zeros)"
    )
    assert asked == []


@pytest.mark.parametrize("work_factor", ["41", "64", "99", "123456789"])
def test_a_scrypt_work_factor_beyond_any_scrypt_is_refused_as_damage_not_as_too_costly(
    cli, tmp_path, work_factor
):
    # The hint said "a file from a trusted source opens with the library:
    # ScryptIdentity(passphrase, max_work_factor=64)", which only failed again
    # ("scrypt parameters out of range"): no scrypt runs with N = 2^64.
    shown = work_factor if len(work_factor) <= 3 else "999"
    data = _scrypt_file(work_factor)
    for maximum in (22, 40, 64, 1000):
        with pytest.raises(FormatError) as err:
            age.decrypt(data, [age.ScryptIdentity("pw", max_work_factor=maximum)])
        assert err.value.code == "bad_format"
        assert str(err.value) == (
            f"the scrypt work factor 2^{shown} is beyond any scrypt (at most 2^40): "
            "the file is damaged, or made to exhaust memory"
        )
    sealed = tmp_path / "f.age"
    sealed.write_bytes(data)
    r = cli(["decrypt", sealed], env={"SEALBOX_PASSPHRASE": "pw"})
    assert r.code == 1
    assert r.stderr == (
        f"sealbox: error: the scrypt work factor 2^{shown} is beyond any scrypt (at most "
        "2^40): the file is damaged, or made to exhaust memory\n"
    )


def test_a_scrypt_work_factor_scrypt_can_run_keeps_the_trusted_source_hint(cli, tmp_path):
    sealed = tmp_path / "f.age"
    sealed.write_bytes(_scrypt_file("40"))
    r = cli(["decrypt", sealed], env={"SEALBOX_PASSPHRASE": "pw"})
    assert r.code == 1
    assert "the scrypt work factor 2^40 is above the maximum 2^22" in r.stderr
    assert "max_work_factor=40" in r.stderr


@pytest.mark.parametrize("after", ["-> X25519 abc", "--- " + "A" * 43])
def test_a_full_body_line_followed_by_the_next_stanza_or_the_mac_is_named_so(after):
    # The next line was blamed instead: "stanza body line is not unpadded base64: '---…'".
    data = b"age-encryption.org/v1\n-> unknown\n" + b"A" * 64 + f"\n{after}\n".encode()
    with pytest.raises(FormatError) as err:
        age.decrypt(data, [ME])
    assert str(err.value) == (
        "a stanza body ends without a short line: its last line is 64 columns, so an empty "
        "line must follow it"
    )


@pytest.mark.parametrize("click", [False, True], ids=["direct", "click"])
def test_a_recipient_value_of_several_lines_is_named_so_without_quoting_it(cli, tmp_path, click):
    # -r "$(cat recipients.txt)" was "-r 'age1…': invalid character in Bech32 string".
    plain = tmp_path / "plain"
    plain.write_bytes(b"attack at dawn")
    other = age.X25519Identity.generate()
    value = f"# the team\n{ME.recipient()}\n\n{other.recipient()}\n"
    r = cli(["encrypt", "-r", value, "-o", tmp_path / "f.age", *(["--"] if click else []), plain])
    assert r.code == 1
    assert r.stderr == (
        "sealbox: error: -r takes one recipient, and this value has 3 lines\n"
        "sealbox: hint: give each recipient with its own -r, or the file of them with -R FILE\n"
    )
    assert not (tmp_path / "f.age").exists()
    # A recipient with whitespace around it (a trailing newline from $(…) or a paste) is
    # still one recipient.
    r = cli(["encrypt", "-r", f"\t{ME.recipient()} \r\n", "-o", tmp_path / "f.age", plain])
    assert r.code == 0, r.stderr
    assert age.decrypt((tmp_path / "f.age").read_bytes(), [ME]) == b"attack at dawn"
