"""The client's address behind a reverse proxy (``SEALBOX_TRUSTED_PROXIES``), through the
real ``sealbox serve`` over HTTPS on 127.0.0.1.

The test client plays the proxy: it connects from 127.0.0.1 and sends the
``X-Forwarded-For`` a proxy would. Each server allows 2 failed logins per address, so the
third from one address is a 429: which address a login counts against shows in whether
it is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.app import ServiceApp, app_from_env, create_app
from sealbox.service.forwarded import TrustedProxies, behind_proxies
from sealbox.service.serve import check, load_settings
from tests.service.conftest import ServeProcess, make_settings, run_service, serve_process

ENV = {
    "SEALBOX_PASSWORD_PROFILE": "test",
    "SEALBOX_THROTTLE_ADDRESS_ATTEMPTS": "2",
    "SEALBOX_THROTTLE_USER_ATTEMPTS": "1000",
}


def failed_login(c: httpx2.Client, forwarded_for: str | None = None) -> int:
    """A wrong login (an unknown user: 400 ``invalid_grant``), sent with ``forwarded_for``;
    its status (429 once its address is throttled)."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    data = {"grant_type": "password", "username": "nobody", "password": "wrong-password-4b1d"}
    return c.post("/auth/token", data=data, headers=headers).status_code


def login_addresses(srv: ServeProcess) -> list[str]:
    """The ``address`` of each login record of the audit log, in order."""
    lines = (srv.data_dir / "audit.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [r["address"] for r in records if r["event"] == "login"]


def test_without_trusted_proxies_a_forwarded_address_changes_nothing(tmp_path: Path) -> None:
    with serve_process(tmp_path, env=ENV, data_dir=tmp_path / "d") as srv, srv.client() as c:
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.2") == 400
        # Counted against the peer, 127.0.0.1, whatever the header says.
        assert failed_login(c, "203.0.113.3") == 429
        assert login_addresses(srv) == ["127.0.0.1"] * 3
        assert (
            "strict-transport-security"
            in c.get("/health", headers={"X-Forwarded-Proto": "http"}).headers
        )


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_count_and_log_lines(
    tmp_path: Path,
) -> None:
    with (
        serve_process(
            tmp_path,
            "--trusted-proxies",
            "127.0.0.1",
            "--log-level",
            "info",
            env=ENV,
            data_dir=tmp_path / "d",
            capture_stdout=True,
        ) as srv,
        srv.client() as c,
    ):
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.1") == 429
        # Another client behind the same proxy is not locked out with the first.
        assert failed_login(c, "198.51.100.2") == 400
        assert failed_login(c, "198.51.100.2") == 400
        assert login_addresses(srv) == ["203.0.113.1"] * 3 + ["198.51.100.2"] * 2
        # The scheme the proxy says the client used: no HSTS over plain HTTP.
        plain = c.get("/health", headers={"X-Forwarded-Proto": "http"})
        assert "strict-transport-security" not in plain.headers
        assert "strict-transport-security" in c.get("/health").headers
    assert '203.0.113.1:0 - "POST /auth/token HTTP/1.1" 429' in srv.stdout, srv.stdout
    assert '198.51.100.2:0 - "POST /auth/token HTTP/1.1" 400' in srv.stdout, srv.stdout


def test_an_app_from_create_app_served_by_its_own_uvicorn_believes_its_trusted_proxies(
    tmp_path: Path,
) -> None:
    # A program serving create_app(settings) itself, as run_service does (uvicorn, TLS):
    # the same client addresses as under `sealbox serve`, with no wrapping of its own.
    settings = make_settings(
        tmp_path / "d",
        trusted_proxies="127.0.0.1",
        throttle_address_attempts=2,
        throttle_user_attempts=1000,
    )
    with run_service(settings) as svc, svc.client() as c:
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.1") == 429
        assert failed_login(c, "198.51.100.2") == 400  # another client, its own count
        records = [json.loads(line) for line in svc.audit().splitlines()]
        logins = [r["address"] for r in records if r["event"] == "login"]
        assert logins == ["203.0.113.1"] * 3 + ["198.51.100.2"]
        plain = c.get("/health", headers={"X-Forwarded-Proto": "http"})
        assert "strict-transport-security" not in plain.headers
        assert "strict-transport-security" in c.get("/health").headers


def test_sealbox_serves_the_app_create_app_makes_without_a_second_proxies_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "d", trusted_proxies="10.0.0.0/8")
    app = create_app(settings)
    assert behind_proxies(app, settings) is app  # already behind them: not wrapped again
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    monkeypatch.setenv("SEALBOX_TRUSTED_PROXIES", "10.0.0.0/8")
    served = app_from_env()  # what the workers of `sealbox serve` serve
    assert isinstance(served, ServiceApp) and served.proxies is not None


def test_create_app_refuses_a_malformed_trusted_proxy_when_it_is_built(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", trusted_proxies="proxy.internal")
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert caught.value.code == "trusted_proxies_invalid"


def test_a_client_prepending_addresses_to_the_chain_cannot_pick_its_counted_address(
    tmp_path: Path,
) -> None:
    env = {**ENV, "SEALBOX_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}
    with serve_process(tmp_path, env=env, data_dir=tmp_path / "d") as srv, srv.client() as c:
        # What the client wrote comes first; its proxy appended the address it saw.
        assert failed_login(c, "198.51.100.7, 203.0.113.1") == 400
        assert failed_login(c, "198.51.100.8, 203.0.113.1") == 400
        assert failed_login(c, "198.51.100.9, 203.0.113.1") == 429
        # Through a second trusted proxy (10.0.0.5): still the address the first one saw.
        assert failed_login(c, "198.51.100.10, 203.0.113.1, 10.0.0.5") == 429
        # A last entry that is no address: the proxy itself is counted, not what precedes.
        assert failed_login(c, "203.0.113.77, unknown") == 400
        assert failed_login(c, "203.0.113.78, unknown") == 400
        assert failed_login(c, "203.0.113.79, unknown") == 429
        assert login_addresses(srv) == ["203.0.113.1"] * 4 + ["127.0.0.1"] * 3


def test_the_forwarding_headers_of_a_peer_that_is_no_trusted_proxy_are_ignored(
    tmp_path: Path,
) -> None:
    # Proxies are trusted, but the peer (127.0.0.1) is none of them.
    env = {**ENV, "SEALBOX_TRUSTED_PROXIES": "10.0.0.0/8,::1"}
    with serve_process(tmp_path, env=env, data_dir=tmp_path / "d") as srv, srv.client() as c:
        assert failed_login(c, "203.0.113.1") == 400
        assert failed_login(c, "203.0.113.2") == 400
        assert failed_login(c, "203.0.113.3") == 429
        assert login_addresses(srv) == ["127.0.0.1"] * 3
        assert (
            "strict-transport-security"
            in c.get("/health", headers={"X-Forwarded-Proto": "http"}).headers
        )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.0.0.1/8", "host bits set: the network is 10.0.0.0/8"),
        ("proxy.internal", "not an IP address or network"),
        ("*", "every client would name its own address"),
        ("0.0.0.0/0", "every client would name its own address"),
        ("::/0", "every client would name its own address"),
        ("0.0.0.0/1,128.0.0.0/1", "a /1 holds a large part of the Internet"),
        ("10.0.0.5,64.0.0.0/2", "a /2 holds a large part of the Internet"),
        ("::/1,8000::/1", "a /1 holds a large part of the Internet"),
        ("2000::/3", "at most /8 for IPv4, /7 for IPv6"),
        ("10.0.0.5,", "it is empty"),
    ],
)
def test_a_malformed_or_everyone_trusting_proxy_entry_is_refused_with_its_code(
    tmp_path: Path, value: str, reason: str
) -> None:
    settings = load_settings(data_dir=tmp_path / "d", trusted_proxies=value, _env_file=None)
    with pytest.raises(ConfigError) as caught:
        check(settings)
    assert caught.value.code == "trusted_proxies_invalid"
    assert caught.value.facts["setting"] == "SEALBOX_TRUSTED_PROXIES"
    assert reason in caught.value.facts["reason"]


@pytest.mark.parametrize("value", ["10.0.0.0/8", "fc00::/7", "100.64.0.0/10,2400:cb00::/32"])
def test_the_widest_private_ranges_and_a_cdn_s_ranges_are_taken_as_proxies(value: str) -> None:
    assert TrustedProxies.parse(value)  # no ConfigError, and proxies


def test_serve_refuses_a_malformed_trusted_proxy_before_the_data_folder_is_made(
    cli, tmp_path: Path
) -> None:
    r = cli(["serve", "--check", "--data-dir", tmp_path / "d", "--trusted-proxies", "10.0.0.1/8"])
    assert r.code == 1, r.stderr
    assert r.stderr.startswith(
        "sealbox: error: SEALBOX_TRUSTED_PROXIES: '10.0.0.1/8' is refused: host bits set"
    )
    assert "--trusted-proxies 10.0.0.5,192.168.0.0/24" in r.stderr
    r = cli(
        ["serve", "--check", "--data-dir", tmp_path / "d"], env={"SEALBOX_TRUSTED_PROXIES": "*"}
    )
    assert r.code == 1 and "'*' is refused" in r.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("203.0.113.7", ("203.0.113.7", 0)),
        ("203.0.113.7:4711", ("203.0.113.7", 4711)),
        ("[2001:db8::7]:4711", ("2001:db8::7", 4711)),
        ("2001:DB8:0::7", ("2001:db8::7", 0)),
        ("::ffff:203.0.113.7", ("203.0.113.7", 0)),
        # Rightmost first, past the trusted proxies (10.0.0.0/8 here).
        ("198.51.100.1, 203.0.113.7, 10.0.0.5, 10.1.2.3", ("203.0.113.7", 0)),
        # Every entry a proxy: the request began at the leftmost.
        ("10.0.0.9, 10.0.0.5", ("10.0.0.9", 0)),
        # No address where one should be: the nearest trusted hop stands.
        ("198.51.100.1, unknown, 10.0.0.5", ("10.0.0.5", 0)),
        ("198.51.100.1, 203.0.113.7:99999", None),
        ("198.51.100.1, 203.0.113.7:" + "9" * 5000, None),
        ("198.51.100.1, ", None),
        ("198.51.100.1, proxy.internal", None),
        # A zone names the proxy's interface, not the client: one client, whatever it
        # says, and nothing of it reaches the logs.
        ("fe80::7%eth0", ("fe80::7", 0)),
        ('fe80::7%x" 200 OK - "forged line', ("fe80::7", 0)),
        ("[fe80::7%25eth0]:4711", ("fe80::7", 4711)),
    ],
)
def test_the_client_is_the_rightmost_forwarded_address_that_is_no_trusted_proxy(
    forwarded_for: str, client: tuple[str, int] | None
) -> None:
    proxies = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    assert proxies.client(forwarded_for) == client


def test_a_peer_written_as_an_ipv4_mapped_ipv6_address_is_the_trusted_ipv4_proxy() -> None:
    proxies = TrustedProxies.parse("::ffff:10.0.0.5, 192.0.2.0/24")
    assert proxies.trusts_peer("10.0.0.5") and proxies.trusts_peer("::ffff:192.0.2.9")
    assert not proxies.trusts_peer("10.0.0.6") and not proxies.trusts_peer("")
    assert not TrustedProxies.parse(" ")
