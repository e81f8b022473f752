"""``tls_client_auth`` subjects compared as names (RFC 8705 §2.1.2, RFC 4514, RFC 5280 §7.1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from sealbox.accounts.clients import ClientStore
from sealbox.accounts.subject_dn import subject_dn_key
from sealbox.exceptions import ConfigError

# As the TLS layer prints the certificate's subject (cryptography's rfc4514_string).
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme, Inc."),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Billing+Ops"),
        x509.NameAttribute(NameOID.COMMON_NAME, "billing worker"),
    ]
).rfc4514_string()


def test_the_certificate_subject_is_printed_as_expected() -> None:
    assert SUBJECT == r"CN=billing worker,OU=Billing\+Ops,O=Acme\, Inc.,C=DE"


@pytest.mark.parametrize(
    "written",
    [
        r"CN=billing worker,OU=Billing\+Ops,O=Acme\, Inc.,C=DE",
        r"cn=billing worker,ou=Billing\+Ops,o=Acme\, Inc.,c=DE",  # type names' case
        r"CN=billing worker,OU=Billing\2BOps,O=Acme\2C Inc.,C=DE",  # hex escapes
        r'CN=billing worker,OU=Billing\+Ops,O="Acme, Inc.",C=DE',  # RFC 2253 quoting
        r"CN=billing worker, OU=Billing\+Ops, O=Acme\, Inc., C=de",  # spaces, value case
        r"CN=Billing  Worker,OU=billing\+ops,O=ACME\, INC.,C=DE",  # caseIgnoreMatch
        r"2.5.4.3=billing worker,OU=Billing\+Ops,O=Acme\, Inc.,C=DE",  # a dotted OID
        r"CN=billing worker;OU=Billing\+Ops;O=Acme\, Inc.;C=DE",  # RFC 2253 semicolons
    ],
)
def test_equal_names_written_differently_have_one_key(written: str) -> None:
    assert subject_dn_key(written) == subject_dn_key(SUBJECT)


@pytest.mark.parametrize(
    "other",
    [
        r"C=DE,O=Acme\, Inc.,OU=Billing\+Ops,CN=billing worker",  # RDNs the other way round
        r"CN=billing worker+OU=Billing\+Ops,O=Acme\, Inc.,C=DE",  # one RDN less
        r"CN=billing worker,OU=Billing\+Op,O=Acme\, Inc.,C=DE",
        r"CN=billing worker,OU=Billing\+Ops,O=Acme\, Inc.",  # an RDN missing
        r"CN=billing workers,OU=Billing\+Ops,O=Acme\, Inc.,C=DE",
        r"SN=billing worker,OU=Billing\+Ops,O=Acme\, Inc.,C=DE",  # surname, not CN
    ],
)
def test_other_names_have_other_keys(other: str) -> None:
    assert subject_dn_key(other) != subject_dn_key(SUBJECT)


def test_the_attributes_of_a_multi_valued_rdn_compare_in_any_order() -> None:
    assert subject_dn_key("CN=a+UID=b,O=x") == subject_dn_key("UID=b + CN=a,O=x")
    assert subject_dn_key("CN=a+UID=b") != subject_dn_key(r"CN=a\+UID=b")


@pytest.mark.parametrize(
    "value",
    ["é t", " lead", "trail ", "#hash", 'q"uote', "a<b>c", "semi;colon", "back\\slash", "x=y"],
)
def test_every_subject_cryptography_prints_parses_back_to_its_own_key(value: str) -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, value),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@example.com"),
            x509.NameAttribute(NameOID.COMMON_NAME, "w"),
        ]
    )
    printed = name.rfc4514_string()
    assert subject_dn_key(printed) == subject_dn_key(
        f"CN=w,emailAddress=ops@example.com,O={printed.split(',O=')[1]}"
    )


@pytest.mark.parametrize(
    "text",
    ["", "   ", "not a dn at all", "CN=x,", "CN=x+", 'O="a"b', "XX=y", r"CN=\zz", r"CN=\C3"],
)
def test_a_string_that_is_no_name_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="distinguished name"):
        subject_dn_key(text)


def _store(tmp_path: Path) -> tuple[ClientStore, object]:
    from sealbox.service.db import make_engine, sessionmaker

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    return ClientStore(sessionmaker(engine)), engine


def test_a_client_registered_with_another_spelling_authenticates_by_its_certificate(
    tmp_path: Path,
) -> None:
    from sealbox.service.db import migrate

    async def run() -> None:
        store, engine = _store(tmp_path)
        await migrate(engine)  # type: ignore[arg-type]
        written = r'cn=Billing Worker, ou=Billing\2BOps, o="Acme, Inc.", c=DE'
        made = await store.create("billing", ["users:me"], subject_dn=written, with_secret=False)
        cid = made.client.client_id
        assert (await store.authenticate_certificate(cid, SUBJECT)) is not None
        assert (await store.authenticate_certificate(cid, "CN=billing worker,O=Acme")) is None
        await engine.dispose()  # type: ignore[attr-defined]

    asyncio.run(run())


@pytest.mark.parametrize("subject", ["", "  ", "not a dn at all", "CN=x,"])
def test_a_subject_no_certificate_could_have_is_refused_at_registration(
    tmp_path: Path, subject: str
) -> None:
    from sealbox.service.db import migrate

    async def run() -> None:
        store, engine = _store(tmp_path)
        await migrate(engine)  # type: ignore[arg-type]
        try:
            with pytest.raises(ConfigError) as info:
                await store.create("c", ["users:me"], subject_dn=subject, with_secret=True)
            assert info.value.code == "bad_subject_dn"
            assert await store.list() == []
        finally:
            await engine.dispose()  # type: ignore[attr-defined]

    asyncio.run(run())
