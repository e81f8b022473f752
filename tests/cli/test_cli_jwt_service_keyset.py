"""``sealbox jwt keyset … --data-dir``: the service's signing keyset, from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Result, run_cli, run_sealbox

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


def sealbox(*args: object) -> Result:
    """``sealbox ARGS`` run in this process: the sequences of changes below make a dozen
    runs each, and a program's start (its imports) was most of each run's time. Each test
    still runs the real program where the process itself matters (a prompt without a
    terminal, a first change and its record)."""
    with pytest.MonkeyPatch.context() as patch:
        return run_cli([str(a) for a in args], env=ENV, monkeypatch=patch)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as a first ``serve --check`` leaves it, never used itself."""
    folder = tmp_path_factory.mktemp("provisioned") / "data"
    r = run_sealbox(["serve", "--data-dir", folder, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    return folder


@pytest.fixture(scope="module")
def data(provisioned: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of ``provisioned`` that the tests before ``fresh`` change in turn."""
    return Path(shutil.copytree(provisioned, tmp_path_factory.mktemp("service") / "data"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list"], "missing FILE, or --data-dir DIR for the service's keyset"),
        (["list", "keys.sealed", "--data-dir", "{data}"], "give FILE, or --data-dir DIR"),
        (
            ["rotate", "--data-dir", "{data}", "--passphrase-file", "pw"],
            "--passphrase-file is for a keyset FILE",
        ),
        (["destroy", "--data-dir", "{data}"], "missing argument 'KEY_ID'"),
    ],
)
def test_the_service_keyset_or_a_file_exactly_one_is_a_usage_rule(
    data: Path, args: list[str], message: str
) -> None:
    r = run_sealbox(["jwt", "keyset", *(a.format(data=data) for a in args)], env=ENV)
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"sealbox: error: {message}")


def test_a_folder_without_a_service_is_one_error_with_a_hint(tmp_path: Path) -> None:
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", tmp_path / "none"], env=ENV)
    assert r.returncode == 1
    err = r.stderr.decode().splitlines()
    assert err[0] == (
        f"sealbox: error: {tmp_path / 'none'} is not a service's data folder: it does not exist"
    )
    assert err[1].startswith("sealbox: hint: ")
    assert not (tmp_path / "none").exists()  # nothing made


def test_list_rotate_disable_enable_destroy_on_the_service_keyset(data: Path) -> None:
    def keys() -> list[dict[str, object]]:
        r = sealbox("jwt", "keyset", "list", "--data-dir", data, "--json")
        assert r.code == 0, r.stderr
        return list(json.loads(r.stdout))

    (first,) = keys()
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    now = next(k for k in keys() if k["primary"])
    assert r.stdout.decode() == (
        f"rotated the service keyset of {data}: new signing key {now['id']} (EdDSA); "
        "1 older key still verifies\n"
    )
    old = str(first["id"])
    for verb, state in (("disable", "disabled"), ("enable", "decrypt-only")):
        r = sealbox("jwt", "keyset", verb, "--data-dir", data, "--", old)
        assert r.code == 0, r.stderr
        assert {k["id"]: k["state"] for k in keys()}[old] == state
    # Destroying asks first; without a terminal, --yes.
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--", old], env=ENV)
    assert r.returncode == 1
    assert b"pass --yes" in r.stderr
    r = sealbox("jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", old)
    assert r.code == 0, r.stderr
    assert {k["id"]: k["state"] for k in keys()}[old] == "destroyed"
    # Destroyed twice: said so, and neither saved nor recorded again.
    saved = (data / "jwt-keyset.sealed").read_bytes()
    r = sealbox("jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", old)
    assert r.code == 0, r.stderr
    assert r.stderr == f"key {old} of the service keyset of {data} was destroyed already\n"
    assert (data / "jwt-keyset.sealed").read_bytes() == saved
    events = [json.loads(line)["event"] for line in (data / "audit.log").read_text().splitlines()]
    assert events[-4:] == [
        "admin.keyset_rotate",
        "admin.keyset_disable",
        "admin.keyset_enable",
        "admin.keyset_destroy",
    ]


def test_a_change_whose_audit_log_cannot_be_opened_is_not_made(data: Path, tmp_path: Path) -> None:
    before = (data / "jwt-keyset.sealed").read_bytes()
    blocked = tmp_path / "file"
    blocked.write_text("")
    env = {**ENV, "SEALBOX_AUDIT_LOG": str(blocked / "audit.log")}  # a file as its folder
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data], env=env)
    assert r.returncode == 1
    assert r.stderr.decode().startswith("sealbox: error: cannot open the audit log")
    assert (data / "jwt-keyset.sealed").read_bytes() == before


@pytest.fixture
def fresh(provisioned: Path, tmp_path: Path) -> Path:
    # A copy of one provisioned folder (modes kept): each test changes a folder of its
    # own, without paying for a first start of its own.
    return Path(shutil.copytree(provisioned, tmp_path / "data"))


def sealbox_ok(*args: object) -> str:
    r = sealbox("jwt", *args)
    assert r.code == 0, r.stderr
    return r.out


def states(data: Path) -> dict[str, tuple[str, bool]]:
    listed = json.loads(sealbox_ok("keyset", "list", "--data-dir", data, "--json"))
    return {k["id"]: (k["state"], k["primary"]) for k in listed}


def jwks_kids(data: Path) -> list[str]:
    return [k["kid"] for k in json.loads(sealbox_ok("jwks", "--data-dir", data))["keys"]]


def audit(data: Path) -> list[tuple[str, str]]:
    records = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    return [(r["event"], r["detail"]) for r in records if r["event"].startswith("admin.")]


def test_add_then_set_primary_on_the_service_keyset_is_a_staged_rotation(fresh: Path) -> None:
    (old,) = states(fresh)
    out = sealbox_ok("keyset", "add", "--data-dir", fresh)
    (new,) = set(states(fresh)) - {old}
    assert out == (
        f"added key {new} (EdDSA) to the service keyset of {fresh}: published and verifying, "
        "not signing until set-primary\n"
    )
    assert states(fresh) == {old: ("active", True), new: ("decrypt-only", False)}
    assert jwks_kids(fresh) == [old, new]

    r = run_sealbox(["jwt", "keyset", "set-primary", "--data-dir", fresh, "--", new], env=ENV)
    assert (r.returncode, r.stdout) == (0, b""), r.stderr.decode()
    assert r.stderr.decode() == (
        f"key {new} (EdDSA) now signs for the service keyset of {fresh}; "
        "1 older key still verifies\n"
    )
    assert states(fresh) == {old: ("decrypt-only", False), new: ("active", True)}
    assert jwks_kids(fresh) == [new, old]

    # Made primary twice: said so, neither saved nor recorded again.
    saved = (fresh / "jwt-keyset.sealed").read_bytes()
    r = sealbox("jwt", "keyset", "set-primary", "--data-dir", fresh, "--", new)
    assert (r.code, r.stdout) == (0, b""), r.stderr
    assert r.stderr == (f"key {new} is already the primary key of the service keyset of {fresh}\n")
    assert (fresh / "jwt-keyset.sealed").read_bytes() == saved
    assert audit(fresh) == [
        ("admin.keyset_add", f"added key {new} (EdDSA), not signing yet; command line"),
        ("admin.keyset_set_primary", f"made key {new} (EdDSA) primary; command line"),
    ]


def test_set_primary_of_an_unknown_disabled_or_destroyed_service_key_is_refused_with_a_hint(
    fresh: Path,
) -> None:
    added = [
        json.loads(sealbox_ok("keyset", "add", "--data-dir", fresh, "--json"))["id"]
        for _ in range(2)
    ]
    sealbox_ok("keyset", "disable", "--data-dir", fresh, "--", added[0])
    sealbox_ok("keyset", "destroy", "--data-dir", fresh, "--yes", "--", added[1])
    saved = (fresh / "jwt-keyset.sealed").read_bytes()
    recorded = audit(fresh)
    where = f"the service keyset of {fresh}"
    only = "only a decrypt-only key can become primary"
    expected = {
        "no-such-kid": (
            f"no key no-such-kid in {where}",
            f"'sealbox jwt keyset list --data-dir {fresh}' shows its keys",
        ),
        added[0]: (
            f"key {added[0]} of {where} is disabled; {only}",
            f"enable it first: sealbox jwt keyset enable --data-dir {fresh} -- {added[0]}",
        ),
        added[1]: (
            f"key {added[1]} of {where} is destroyed; {only}",
            (
                "a destroyed key is gone for good; publish a fresh one with 'sealbox jwt "
                f"keyset add --data-dir {fresh}' and make it primary later"
            ),
        ),
    }
    for kid, (message, hint) in expected.items():
        r = sealbox("jwt", "keyset", "set-primary", "--data-dir", fresh, "--", kid)
        assert r.code == 1
        assert r.stderr.splitlines() == [
            f"sealbox: error: {message}",
            f"sealbox: hint: {hint}",
        ]
    assert (fresh / "jwt-keyset.sealed").read_bytes() == saved
    assert audit(fresh) == recorded


def test_set_primary_refusals_carry_stable_codes(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.exceptions import KeyNotFoundError, KeyStateError
    from sealbox.service import add_signing_key, change_signing_key, load_settings

    monkeypatch.setenv("SEALBOX_PASSWORD_PROFILE", "test")
    settings = load_settings(data_dir=fresh)
    kid = add_signing_key(settings).kid
    change_signing_key(settings, kid, "disable")
    with pytest.raises(KeyStateError) as refused:
        change_signing_key(settings, kid, "set_primary")
    assert refused.value.code == "key_not_usable"
    assert refused.value.facts == {"key_id": kid, "state": "disabled"}
    with pytest.raises(KeyNotFoundError) as unknown:
        change_signing_key(settings, "no-such-kid", "set_primary")
    assert unknown.value.code == "key_not_found"


def test_jwks_of_the_service_keyset_prints_no_private_material(fresh: Path) -> None:
    from sealbox.service import DataDir

    for alg in ("ES256", "RS256"):
        sealbox_ok("keyset", "add", "--data-dir", fresh, "--type", alg)
    hmac_key_from_before(fresh)
    document = json.loads(DataDir(fresh).load_keyset().serialize_unencrypted())
    canaries = {
        str(jwk[m])
        for key in document["keys"]
        for jwk in [key["jwk"]]
        for m in ("d", "p", "q", "dp", "dq", "qi", "k")
        if m in jwk
    }
    assert len(canaries) == 1 + 1 + 6 + 1  # EdDSA d, ES256 d, RSA's six, the HMAC secret
    canaries.add((fresh / "master.key").read_text().split()[1])
    r = run_sealbox(["jwt", "jwks", "--data-dir", fresh], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    printed = r.stdout.decode() + r.stderr.decode()
    assert [c for c in canaries if c in printed] == []
    published = json.loads(r.stdout)["keys"]
    assert [k["kty"] for k in published] == ["OKP", "EC", "RSA"]  # never the HMAC key


def hmac_key_from_before(folder: Path) -> str:
    """Put an HMAC key in the service keyset of ``folder``, as ``jwt keyset add --type
    HS256 --data-dir`` did before it refused one; return its id."""
    from sealbox.service import DataDir

    data = DataDir(folder)
    keyset = data.load_keyset()
    kid = keyset.add_key("HS256").kid
    data.save_keyset(keyset)
    return kid


@pytest.mark.parametrize("command", ["add", "rotate"])
def test_an_hmac_key_never_enters_the_service_keyset_its_jwks_could_not_verify_it(
    fresh: Path, command: str
) -> None:
    saved = (fresh / "jwt-keyset.sealed").read_bytes()
    r = run_sealbox(["jwt", "keyset", command, "--data-dir", fresh, "--type", "HS256"], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: the service keyset of {fresh} takes no HS256 key: the service's "
            "JWKS publishes public keys only, so no relying party could verify the tokens it "
            "signed"
        ),
        (
            "sealbox: hint: give a public-key type: --type EdDSA, ES256 or RS256 (an HMAC key "
            "belongs in a keyset FILE)"
        ),
    ]
    assert (fresh / "jwt-keyset.sealed").read_bytes() == saved
    assert audit(fresh) == []


def test_an_hmac_key_from_before_can_neither_sign_nor_verify_again_only_go(fresh: Path) -> None:
    hmac = hmac_key_from_before(fresh)
    where = f"the service keyset of {fresh}"
    destroy = f"'sealbox jwt keyset destroy --data-dir {fresh} -- {hmac}'"
    why = "the service's JWKS publishes public keys only, so no relying party could verify"
    r = run_sealbox(["jwt", "keyset", "set-primary", "--data-dir", fresh, "--", hmac], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: key {hmac} of {where} is an HS256 key and cannot sign: {why} its tokens",
        (
            f"sealbox: hint: publish a public-key one ('sealbox jwt keyset add --data-dir {fresh} "
            f"--type EdDSA') and make that one primary; to be rid of this one, {destroy}"
        ),
    ]
    assert states(fresh)[hmac] == ("decrypt-only", False)

    # Disabled, it verifies nothing; enabled again it would.
    sealbox_ok("keyset", "disable", "--data-dir", fresh, "--", hmac)
    r = sealbox("jwt", "keyset", "enable", "--data-dir", fresh, "--", hmac)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: key {hmac} of {where} is an HS256 key and cannot verify again: "
            f"{why} its tokens"
        ),
        f"sealbox: hint: it stays disabled; to be rid of it, {destroy}",
    ]
    assert states(fresh)[hmac] == ("disabled", False)
    sealbox_ok("keyset", "destroy", "--data-dir", fresh, "--yes", "--", hmac)
    assert states(fresh)[hmac] == ("destroyed", False)
    assert [event for event, _ in audit(fresh)] == ["admin.keyset_disable", "admin.keyset_destroy"]


def test_a_keyset_file_still_takes_an_hmac_key(tmp_path: Path) -> None:
    keys = tmp_path / "team.keyset"
    (tmp_path / "pw").write_text("a passphrase for the test\n")
    pw = ["--passphrase-file", tmp_path / "pw"]
    for command in (["create", keys, "--type", "EdDSA"], ["add", keys, "--type", "HS256"]):
        sealbox_ok("keyset", *command, *pw)
    listed = json.loads(sealbox_ok("keyset", "list", keys, "--json", *pw))
    assert [k["type"] for k in listed] == ["EdDSA", "HS256"]


def test_an_hmac_service_key_refusal_carries_its_code(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.exceptions import KeyStateError
    from sealbox.service import (
        add_signing_key,
        change_signing_key,
        load_settings,
        rotate_signing_key,
    )

    monkeypatch.setenv("SEALBOX_PASSWORD_PROFILE", "test")
    settings = load_settings(data_dir=fresh)
    saved = (fresh / "jwt-keyset.sealed").read_bytes()
    for make in (rotate_signing_key, add_signing_key):
        with pytest.raises(KeyStateError) as refused:
            make(settings, "HS256")
        assert refused.value.code == "service_key_symmetric"
        assert refused.value.facts == {"algorithm": "HS256"}
    assert (fresh / "jwt-keyset.sealed").read_bytes() == saved
    kid = hmac_key_from_before(fresh)
    with pytest.raises(KeyStateError) as promoted:
        change_signing_key(settings, kid, "set_primary")
    assert promoted.value.code == "service_key_symmetric"
    assert promoted.value.facts == {"algorithm": "HS256", "key_id": kid}
    change_signing_key(settings, kid, "disable")
    with pytest.raises(KeyStateError) as enabled:
        change_signing_key(settings, kid, "enable")
    assert enabled.value.code == "service_key_symmetric"
    assert enabled.value.facts == {"algorithm": "HS256", "key_id": kid}
