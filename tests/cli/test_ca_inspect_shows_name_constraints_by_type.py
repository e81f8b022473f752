"""``sealbox ca inspect`` of a name-constrained CA names each subtree with its type, as
``openssl x509 -text`` does, and shows the excluded ones: a DNS domain and the mailbox
subtrees derived from it are told apart, and a CA given only domains says it may certify
no IP address."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import require_tool


def inspect_rows(cli, cert) -> dict[str, str]:
    result = cli(["ca", "inspect", cert])
    assert result.code == 0, result.stderr
    rows = {}
    for line in result.out.splitlines():
        key, _, value = line.partition(":")
        rows.setdefault(key, value.strip())
    return rows


def test_a_ca_given_domains_and_networks_shows_each_subtree_with_its_type(tmp_path, cli):
    init = ["ca", "init", tmp_path / "ca", "--permitted-dns", "corp.test"]
    assert cli([*init, "--permitted-ip", "10.0.0.0/8"]).code == 0
    rows = inspect_rows(cli, tmp_path / "ca" / "ca.crt")
    assert rows["permitted"] == "DNS:corp.test, IP:10.0.0.0/8, email:corp.test, email:.corp.test"
    assert "excluded" not in rows


def test_a_ca_given_only_domains_shows_every_address_excluded(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca", "--permitted-dns", "corp.test"]).code == 0
    rows = inspect_rows(cli, tmp_path / "ca" / "ca.crt")
    assert rows["permitted"] == "DNS:corp.test, email:corp.test, email:.corp.test"
    assert rows["excluded"] == "IP:0.0.0.0/0, IP:::/0"


def test_a_ca_given_only_networks_shows_the_closed_dns_subtree_as_a_dns_name(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca", "--permitted-ip", "fd00::/8"]).code == 0
    rows = inspect_rows(cli, tmp_path / "ca" / "ca.crt")
    assert rows["permitted"] == "DNS:invalid, IP:fd00::/8, email:invalid, email:.invalid"


@pytest.mark.interop
def test_the_subtrees_shown_are_the_ones_openssl_reads(tmp_path, cli):
    require_tool("openssl")
    init = ["ca", "init", tmp_path / "ca", "--permitted-dns", "corp.test"]
    assert cli([*init, "--permitted-dns", "b.test"]).code == 0
    cert = tmp_path / "ca" / "ca.crt"
    rows = inspect_rows(cli, cert)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-ext", "nameConstraints"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    permitted = text.split("Permitted:")[1].split("Excluded:")[0].split()
    assert rows["permitted"].split(", ") == permitted
    excluded = text.split("Excluded:")[1].split()
    # OpenSSL prints a network as address/mask.
    assert excluded == ["IP:0.0.0.0/0.0.0.0", "IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0"]
    assert rows["excluded"] == "IP:0.0.0.0/0, IP:::/0"


def test_an_unconstrained_ca_shows_no_constraint_rows(tmp_path, cli):
    assert cli(["ca", "init", tmp_path / "ca"]).code == 0
    rows = inspect_rows(cli, tmp_path / "ca" / "ca.crt")
    assert "permitted" not in rows
    assert "excluded" not in rows
