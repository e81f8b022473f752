"""The TOTP second factor as a library: codes, skew, replay, recovery codes, sealing, states.

The store runs on a real SQLite database migrated by the service's migrations; the
clock is injected, so steps are driven without sleeping.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sealbox.accounts.store import Store
from sealbox.accounts.totp import (
    PERIOD,
    Enrolment,
    TotpError,
    TotpSecretSealer,
    decode_secret,
    encode_secret,
    hash_recovery_code,
    hotp,
    match_step,
    new_recovery_codes,
    new_secret,
    otpauth_uri,
    totp,
)
from sealbox.accounts.totp_store import TotpStore
from sealbox.exceptions import DecryptionError, UnsupportedAlgorithmError
from sealbox.service.db import make_engine, migrate, sessionmaker

MASTER = bytes(range(32))
T0 = 1_800_000_000.0  # a step boundary: 1_800_000_000 / 30 = 60_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- codes --------------------------------------------------------------------------------


def test_match_step_accepts_one_step_either_side_and_refuses_two() -> None:
    key = new_secret()
    step = int(T0 // PERIOD)
    for offset in (-1, 0, 1):
        assert match_step(key, totp(key, T0 + offset * PERIOD), T0) == step + offset
    for offset in (-2, 2):
        assert match_step(key, totp(key, T0 + offset * PERIOD), T0) is None


def test_match_step_refuses_steps_up_to_the_last_accepted_one() -> None:
    key = new_secret()
    step = int(T0 // PERIOD)
    code = totp(key, T0)
    assert match_step(key, code, T0, after=step - 1) == step
    assert match_step(key, code, T0, after=step) is None
    assert match_step(key, totp(key, T0 - PERIOD), T0, after=step) is None


def test_match_step_near_the_epoch_answers_instead_of_raising() -> None:
    # A host whose clock fell back to 1970 (no RTC) asks for the step before step 0.
    key = b"12345678901234567890"  # RFC 4226 Appendix D: step 0 is 755224, step 1 287082
    assert match_step(key, "755224", 10) == 0
    assert match_step(key, "287082", 10) == 1
    assert match_step(key, "000000", 10) is None


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "abcdef"])
def test_match_step_refuses_what_is_not_six_ascii_digits(bad: str) -> None:
    assert match_step(new_secret(), bad, T0) is None


def test_hotp_refuses_what_rfc_4226_does_not_define() -> None:
    key = new_secret()
    with pytest.raises(ValueError, match="digits"):
        hotp(key, 1, digits=5)
    with pytest.raises(ValueError, match="8 bytes"):
        hotp(key, 2**64)
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        hotp(key, 1, algorithm="md5")


def test_a_code_typed_with_a_space_matches() -> None:
    key = new_secret()
    code = totp(key, T0)
    assert match_step(key, f"{code[:3]} {code[3:]}", T0) is not None


def test_secrets_are_160_bits_in_unpadded_base32() -> None:
    key = new_secret()
    text = encode_secret(key)
    assert len(key) == 20 and len(text) == 32 and "=" not in text
    assert decode_secret(text.lower()) == key
    with pytest.raises(ValueError, match="base32"):
        decode_secret("not base32!")


def test_otpauth_uri_follows_the_key_uri_format() -> None:
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", "o'brien@example", "sealbox test")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/sealbox test:o'brien@example"
    assert " " not in uri
    query = parse_qs(parts.query)
    # algorithm, digits and period are left out at their defaults (SHA1, 6, 30).
    assert query == {"secret": ["JBSWY3DPEHPK3PXP"], "issuer": ["sealbox test"]}


def test_otpauth_uri_names_algorithm_digits_and_period_only_when_not_the_defaults() -> None:
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", "a", "b", algorithm="sha256", digits=8, period=60)
    query = parse_qs(urlsplit(uri).query)
    assert query["algorithm"] == ["SHA256"] and query["digits"] == ["8"]
    assert query["period"] == ["60"]
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", "a", "b", digits=8)
    assert sorted(parse_qs(urlsplit(uri).query)) == ["digits", "issuer", "secret"]


def test_recovery_codes_are_ten_distinct_80_bit_codes_hashed_however_typed() -> None:
    codes = new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert len(code) == 19 and code.count("-") == 3
        assert hash_recovery_code(code) == hash_recovery_code(code.upper().replace("-", " "))
        assert len(hash_recovery_code(code)) == 32


def test_sealed_secret_opens_only_for_its_account_and_master_key() -> None:
    key = new_secret()
    sealer = TotpSecretSealer(MASTER)
    sealed = sealer.seal(7, key)
    assert key not in sealed and encode_secret(key).encode() not in sealed
    assert sealer.open(7, sealed) == key
    with pytest.raises(DecryptionError):
        sealer.open(8, sealed)
    with pytest.raises(DecryptionError):
        TotpSecretSealer(bytes(32)).open(7, sealed)


def test_an_enrolment_shows_no_secret_and_cannot_be_pickled() -> None:
    enrolment = Enrolment("JBSWY3DPEHPK3PXP", "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in repr(enrolment)
    assert "JBSWY3DPEHPK3PXP" not in repr(TotpSecretSealer(MASTER))
    with pytest.raises(TypeError):
        pickle.dumps(enrolment)


# -- the store ----------------------------------------------------------------------------


class Harness:
    """A migrated SQLite database, one account, a TotpStore with a settable clock."""

    def __init__(self, path: Path) -> None:
        self.clock = Clock(T0)
        self.loop = asyncio.new_event_loop()
        self.engine = make_engine(f"sqlite+aiosqlite:///{path}")
        self.run(migrate(self.engine))
        sessions = sessionmaker(self.engine)
        self.user_id = self.run(Store(sessions, 3600).create_user("alice", "x", [])).id
        self.store = TotpStore(sessions, TotpSecretSealer(MASTER), clock=self.clock)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def code(self, key: bytes, steps: int = 0) -> str:
        return totp(key, self.clock.now + steps * PERIOD)

    def enrol(self) -> tuple[bytes, list[str]]:
        enrolment = self.run(self.store.begin(self.user_id, "alice"))
        key = decode_secret(enrolment.secret)
        codes = self.run(self.store.confirm(self.user_id, self.code(key)))
        self.clock.now += 5 * PERIOD  # well past the confirming code's step
        return key, codes

    def login(self, otp: str | None) -> str:
        try:
            self.run(self.store.check_login(self.user_id, otp))
        except TotpError as exc:
            return exc.code
        return "ok"

    def close(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "totp.db")
    yield harness
    harness.close()


def test_enrolment_is_pending_until_confirmed_with_a_current_code(db: Harness) -> None:
    assert db.run(db.store.state(db.user_id)) is None
    enrolment = db.run(db.store.begin(db.user_id, "alice"))
    assert enrolment.otpauth_uri.startswith("otpauth://totp/sealbox:alice?secret=")
    assert db.run(db.store.state(db.user_id)) == "pending"
    assert db.login(None) == "ok"  # a pending factor is not asked for at login
    key = decode_secret(enrolment.secret)
    with pytest.raises(TotpError) as wrong:
        db.run(db.store.confirm(db.user_id, db.code(key, 2)))
    assert wrong.value.code == "totp_code_invalid"
    codes = db.run(db.store.confirm(db.user_id, db.code(key)))
    assert len(codes) >= 8
    assert db.run(db.store.state(db.user_id)) == "confirmed"
    assert db.run(db.store.recovery_codes_left(db.user_id)) == len(codes)


def test_a_new_enrolment_replaces_the_pending_secret(db: Harness) -> None:
    first = db.run(db.store.begin(db.user_id, "alice"))
    second = db.run(db.store.begin(db.user_id, "alice"))
    assert first.secret != second.secret
    with pytest.raises(TotpError):
        db.run(db.store.confirm(db.user_id, db.code(decode_secret(first.secret))))
    db.run(db.store.confirm(db.user_id, db.code(decode_secret(second.secret))))


def test_enrolment_is_refused_while_a_factor_is_confirmed(db: Harness) -> None:
    db.enrol()
    with pytest.raises(TotpError) as refused:
        db.run(db.store.begin(db.user_id, "alice"))
    assert refused.value.code == "totp_already_enabled"
    with pytest.raises(TotpError) as again:
        db.run(db.store.confirm(db.user_id, "123456"))
    assert again.value.code == "totp_already_enabled"


def test_confirming_without_an_enrolment_is_refused(db: Harness) -> None:
    with pytest.raises(TotpError) as refused:
        db.run(db.store.confirm(db.user_id, "123456"))
    assert refused.value.code == "totp_not_pending"


def test_login_needs_a_code_once_confirmed_and_accepts_each_code_once(db: Harness) -> None:
    key, _ = db.enrol()
    assert db.login(None) == "mfa_required"
    assert db.login("") == "mfa_required"
    code = db.code(key)
    assert db.login(code) == "ok"
    assert db.login(code) == "totp_code_invalid"  # replay
    assert db.login(db.code(key, -1)) == "totp_code_invalid"  # an earlier step after a later
    db.clock.now += PERIOD
    assert db.login(db.code(key)) == "ok"


def test_login_accepts_one_step_of_skew_either_way_and_refuses_two(db: Harness) -> None:
    key, _ = db.enrol()
    assert db.login(db.code(key, -2)) == "totp_code_invalid"
    assert db.login(db.code(key, 2)) == "totp_code_invalid"
    assert db.login(db.code(key, -1)) == "ok"
    db.clock.now += 10 * PERIOD
    assert db.login(db.code(key, 1)) == "ok"


def test_a_clock_set_back_refuses_codes_up_to_the_last_accepted_step_until_it_passes_it(
    db: Harness,
) -> None:
    key, codes = db.enrol()
    assert db.login(db.code(key)) == "ok"
    accepted = db.clock.now
    db.clock.now -= 3 * PERIOD  # NTP steps the clock back: the service's "now" repeats
    assert db.login(db.code(key)) == "totp_code_invalid"
    assert db.login(db.code(key, 1)) == "totp_code_invalid"
    assert db.login(codes[0]) == "ok"  # the recovery codes still log in meanwhile
    db.clock.now = accepted + PERIOD
    assert db.login(db.code(key)) == "ok"


def test_the_confirming_code_cannot_log_in(db: Harness) -> None:
    enrolment = db.run(db.store.begin(db.user_id, "alice"))
    key = decode_secret(enrolment.secret)
    code = db.code(key)
    db.run(db.store.confirm(db.user_id, code))
    assert db.login(code) == "totp_code_invalid"


def test_a_recovery_code_logs_in_once(db: Harness) -> None:
    _, codes = db.enrol()
    assert db.login(codes[0].upper()) == "ok"
    assert db.login(codes[0]) == "totp_code_invalid"
    assert db.login("aaaa-bbbb-cccc-dddd") == "totp_code_invalid"
    assert db.run(db.store.recovery_codes_left(db.user_id)) == len(codes) - 1


def test_concurrent_uses_of_one_code_are_accepted_once(db: Harness) -> None:
    key, codes = db.enrol()
    code = db.code(key)

    async def many(otp: str) -> list[str]:
        async def one() -> str:
            try:
                await db.store.check_login(db.user_id, otp)
            except TotpError as exc:
                return exc.code
            return "ok"

        return list(await asyncio.gather(*(one() for _ in range(8))))

    assert sorted(db.run(many(code))) == ["ok"] + ["totp_code_invalid"] * 7
    assert sorted(db.run(many(codes[1]))) == ["ok"] + ["totp_code_invalid"] * 7


def test_disable_needs_a_current_unused_code(db: Harness) -> None:
    key, codes = db.enrol()
    code = db.code(key)
    assert db.login(code) == "ok"
    for wrong in (code, db.code(key, 2), codes[0], ""):
        with pytest.raises(TotpError) as refused:
            db.run(db.store.disable(db.user_id, wrong))
        assert refused.value.code == "totp_code_invalid"
    db.clock.now += PERIOD
    db.run(db.store.disable(db.user_id, db.code(key)))
    assert db.run(db.store.state(db.user_id)) is None
    assert db.login(None) == "ok"
    assert db.run(db.store.recovery_codes_left(db.user_id)) == 0
    with pytest.raises(TotpError) as gone:
        db.run(db.store.disable(db.user_id, db.code(key)))
    assert gone.value.code == "totp_not_enabled"


def test_reset_removes_the_factor_and_its_recovery_codes(db: Harness) -> None:
    db.enrol()
    assert db.run(db.store.reset(db.user_id)) is True
    assert db.run(db.store.reset(db.user_id)) is False
    assert db.login(None) == "ok"
    db.run(db.store.begin(db.user_id, "alice"))  # a new enrolment can start


def test_the_secret_is_stored_sealed(db: Harness, tmp_path: Path) -> None:
    enrolment = db.run(db.store.begin(db.user_id, "alice"))
    db.run(db.engine.dispose())
    raw = (tmp_path / "totp.db").read_bytes()
    wal = tmp_path / "totp.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    key = decode_secret(enrolment.secret)
    assert key not in raw and enrolment.secret.encode() not in raw
    assert b"sealbox-totp-secret/1" in raw


def test_recovery_codes_are_stored_as_their_hashes_only(db: Harness, tmp_path: Path) -> None:
    _, codes = db.enrol()
    db.run(db.engine.dispose())
    raw = (tmp_path / "totp.db").read_bytes()
    wal = tmp_path / "totp.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    for code in codes:
        plain = code.replace("-", "")
        assert code.encode() not in raw and plain.encode() not in raw
        assert plain.upper().encode() not in raw
        assert hash_recovery_code(code) in raw
