"""The Vault-shaped API against malformed and hostile input: each answer is Vault's shape
(``{"errors": [...]}`` with 400 or 404, never a 500), nothing is stored that cannot be
read back, and a batch fails item by item where Vault's does.

One service per backend for the module (SQLite; PostgreSQL with Redis, whose integer
columns and text refuse what SQLite takes); each test uses key and secret names of its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sealbox.service.vault.auth import TWO_TOKENS as TWO_TOKENS_MESSAGE
from tests.service._transit import ALL_SCOPES, b64, unb64
from tests.service._vault import data_of, token_for
from tests.service.conftest import Running

SCOPES = (*ALL_SCOPES, "transit:export:*", "kv:admin")
NOT_JSON = {"errors": ["error parsing JSON"]}


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    return module_service


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    return token_for(service, *SCOPES)


def send(
    service: Running,
    token: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """(status, JSON body or None) of one request with ``X-Vault-Token``."""
    content = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
    with service.client() as client:
        answer = client.request(method, path, content=content, headers=headers)
    return answer.status_code, (answer.json() if answer.content else None)


# -- KV: nothing is stored that a read cannot answer ------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": {"password": "\\ud800"}}',  # a lone surrogate: no UTF-8 for it
        b'{"data": {"password": NaN}}',
        b'{"data": {"password": Infinity}}',
    ],
    ids=["lone-surrogate", "nan", "infinity"],
)
def test_a_kv_write_of_json_no_answer_can_carry_is_refused_with_400_and_stores_nothing(
    service: Running, token: str, raw: bytes
) -> None:
    path = f"/v1/secret/data/unreadable-{len(raw)}-{raw[-6:].hex()}"
    assert send(service, token, "POST", path, raw=raw) == (400, NOT_JSON)
    assert send(service, token, "GET", path) == (404, {"errors": []})


def test_a_kv_write_of_a_number_too_large_for_a_float_is_refused_so_reads_keep_working(
    service: Running, token: str
) -> None:
    # 1e400 is valid JSON that Python reads as infinity, which no JSON answer can carry:
    # stored, every later read of the secret answered 500.
    path = "/v1/secret/data/huge-number"
    assert send(service, token, "POST", path, {"data": {"n": 1}})[0] == 200
    status, body = send(service, token, "POST", path, raw=b'{"data": {"n": 1e400}}')
    assert status == 400
    assert body == {"errors": ["the data must be JSON with finite numbers and valid Unicode"]}
    status, body = send(service, token, "GET", path)
    assert status == 200
    assert data_of(body)["data"] == {"n": 1}
    assert data_of(body)["metadata"]["version"] == 1


def test_custom_metadata_with_a_lone_surrogate_is_refused_so_the_metadata_stays_readable(
    service: Running, token: str
) -> None:
    path = "/v1/secret/metadata/surrogate-meta"
    raw = b'{"custom_metadata": {"owner": "\\udfff"}}'
    assert send(service, token, "POST", path, raw=raw) == (400, NOT_JSON)
    assert send(service, token, "POST", path, {"custom_metadata": {"owner": "ops"}})[0] == 204
    status, body = send(service, token, "GET", path)
    assert status == 200
    assert data_of(body)["custom_metadata"] == {"owner": "ops"}


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("/v1/secret/data/deep", b'{"data": {"a": '),
        ("/v1/transit/encrypt/deep-key", b'{"type": "aes256-gcm96", "plaintext": '),
        ("/v1/transit/keys/deep-key", b'{"exportable": '),
        ("/v1/transit/keys/deep-key/config", b'{"deletion_allowed": '),
    ],
)
def test_deeply_nested_json_is_refused_with_400_not_a_recursion_error(
    service: Running, token: str, path: str, head: bytes
) -> None:
    raw = head + b"[" * 20_000 + b"]" * 20_000 + b"}" * head.count(b"{")
    assert send(service, token, "POST", path, raw=raw) == (400, NOT_JSON)


def test_a_kv_read_of_a_version_past_the_largest_is_not_found(service: Running, token: str) -> None:
    path = "/v1/secret/data/far-version"
    assert send(service, token, "POST", path, {"data": {"a": "b"}})[0] == 200
    for version in ("2147483648", "9999999999", "99999999999999999999999"):
        assert send(service, token, "GET", f"{path}?version={version}") == (404, {"errors": []})
    assert send(service, token, "GET", f"{path}?version=x1") == (
        400,
        {"errors": ["version must be a whole number"]},
    )


@pytest.mark.parametrize("action", ["delete", "undelete", "destroy"])
def test_kv_versions_past_the_largest_change_nothing_as_missing_versions_do(
    service: Running, token: str, action: str
) -> None:
    path = f"far-{action}"
    assert send(service, token, "POST", f"/v1/secret/data/{path}", {"data": {"a": "b"}})[0] == 200
    body = {"versions": [2147483648, 10**20]}
    assert send(service, token, "POST", f"/v1/secret/{action}/{path}", body) == (204, None)
    status, read = send(service, token, "GET", f"/v1/secret/data/{path}")
    assert status == 200
    assert data_of(read)["data"] == {"a": "b"}


@pytest.mark.parametrize(
    "versions", [["1", "2"], "1,2", [1, " 2"]], ids=["texts", "comma-text", "mixed"]
)
def test_kv_versions_given_as_text_as_vaults_command_line_sends_them_are_taken(
    service: Running, token: str, versions: Any
) -> None:
    # `vault kv delete|undelete|destroy -versions=1,2` sends {"versions": ["1", "2"]}:
    # Vault reads the field as comma-separated integers; it was refused with 400 here.
    path = f"text-versions-{len(str(versions))}"
    for value in ("one", "two", "three"):
        assert (
            send(service, token, "POST", f"/v1/secret/data/{path}", {"data": {"v": value}})[0]
            == 200
        )
    for action in ("delete", "undelete", "delete"):
        body = {"versions": versions}
        assert send(service, token, "POST", f"/v1/secret/{action}/{path}", body) == (204, None)
    assert send(service, token, "POST", f"/v1/secret/destroy/{path}", {"versions": ["2"]}) == (
        204,
        None,
    )
    status, meta = send(service, token, "GET", f"/v1/secret/metadata/{path}")
    assert status == 200
    states = {
        n: (v["deletion_time"] != "", v["destroyed"]) for n, v in data_of(meta)["versions"].items()
    }
    assert states == {"1": (True, False), "2": (True, True), "3": (False, False)}
    for refused in (["x"], ["-1"], [True], ["1.5"]):
        status, body = send(
            service, token, "POST", f"/v1/secret/delete/{path}", {"versions": refused}
        )
        assert (status, body) == (400, {"errors": ["versions must be positive whole numbers"]})


def test_a_negative_kv_version_reads_the_newest_as_vault_does(service: Running, token: str) -> None:
    # Vault reads the current version for a version that is not positive.
    path = "/v1/secret/data/negative-version"
    for value in ("old", "new"):
        assert send(service, token, "POST", path, {"data": {"v": value}})[0] == 200
    for version in ("-1", "-2147483649", "0"):
        status, body = send(service, token, "GET", f"{path}?version={version}")
        assert status == 200
        assert data_of(body)["data"] == {"v": "new"}
    for version in ("-", "--1", "-x"):
        status, body = send(service, token, "GET", f"{path}?version={version}")
        assert (status, body) == (400, {"errors": ["version must be a whole number"]})


@pytest.mark.parametrize(
    "path",
    [
        "/v1/secret/data/list-me",
        "/v1/secret/config",
        "/v1/transit/keys/list-me",
        "/v1/auth/token/lookup-self",
    ],
)
@pytest.mark.parametrize("how", ["LIST", "GET ?list=true"])
def test_list_on_a_path_that_lists_nothing_is_405_not_its_read(
    service: Running, token: str, path: str, how: str
) -> None:
    # Vault takes LIST (and GET with list=true) as an operation of its own, which only
    # metadata/ and transit's keys/ take; here it read the secret, the key, the token.
    assert send(service, token, "POST", "/v1/secret/data/list-me", {"data": {"v": "x"}})[0] == 200
    assert send(service, token, "POST", "/v1/transit/keys/list-me", {})[0] == 200
    method, _, query = how.partition(" ")
    status, body = send(service, token, method, path + query)
    assert (status, body) == (405, {"errors": ["unsupported operation"]})
    status, body = send(service, token, method, "/v1/secret/metadata/" + query)
    assert status == 200
    assert "list-me" in data_of(body)["keys"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_write_of_the_kv_engines_config_is_405_as_the_path_is_there(
    service: Running, token: str, method: str
) -> None:
    # config is read-only here (GET): another method was 404 "unsupported path", as if
    # the path did not exist, where every other path answers 405 for a method it lacks.
    body = {"max_versions": 5} if method != "DELETE" else None
    status, answer = send(service, token, method, "/v1/secret/config", body)
    assert (status, answer) == (405, {"errors": ["unsupported operation"]})
    status, answer = send(service, token, "GET", "/v1/secret/config")
    assert (status, data_of(answer)["max_versions"]) == (200, 0)


def test_listing_a_kv_folder_with_a_control_character_is_refused_with_400(
    service: Running, token: str
) -> None:
    status, body = send(service, token, "LIST", "/v1/secret/metadata/team%00x/")
    assert (status, body) == (400, {"errors": ["a secret path may not hold control characters"]})
    status, body = send(service, token, "GET", "/v1/secret/metadata/team/%0A?list=true")
    assert status == 400


# -- transit ----------------------------------------------------------------------------


def test_an_export_of_an_invalid_key_name_is_refused_with_400(service: Running, token: str) -> None:
    for name in ("a%00b", "-dash", "a%0A"):
        status, body = send(service, token, "GET", f"/v1/transit/export/encryption-key/{name}")
        assert (status, body) == (400, {"errors": ["invalid key name"]}), name


def test_an_export_of_a_version_past_the_largest_is_refused_with_400(
    service: Running, token: str
) -> None:
    assert (
        send(service, token, "POST", "/v1/transit/keys/far-export", {"exportable": True})[0] == 200
    )
    for version in ("2147483648", "99999999999999999999", "9" * 5000):
        status, body = send(
            service, token, "GET", f"/v1/transit/export/encryption-key/far-export/{version}"
        )
        assert (status, body) == (400, {"errors": ["version must be a number or 'latest'"]})
    status, body = send(service, token, "GET", "/v1/transit/export/encryption-key/far-export/1")
    assert status == 200
    assert list(data_of(body)["keys"]) == ["1"]


@pytest.mark.parametrize("action", ["trim", "backup", "nothing"])
def test_a_key_action_sealbox_lacks_is_an_unknown_path(
    service: Running, token: str, action: str
) -> None:
    # docs/vault.md: a path sealbox does not have is 404 (hvac raises InvalidPath), as
    # the other routes answer; a key's trim was 405, a method the path does not take.
    assert send(service, token, "POST", "/v1/transit/keys/no-trim", {})[0] == 200
    path = f"transit/keys/no-trim/{action}"
    for method in ("POST", "GET"):
        status, body = send(service, token, method, f"/v1/{path}", {"min_available_version": 1})
        assert (status, body) == (404, {"errors": [f"unsupported path {path}"]}), method
    status, body = send(service, token, "GET", "/v1/transit/keys/no-trim/rotate")
    assert (status, body) == (405, {"errors": ["unsupported operation"]})


@pytest.mark.parametrize("key_type", [5, True, ["aes256-gcm96"], {"type": "ed25519"}])
def test_a_key_type_that_is_not_text_is_refused_and_creates_no_key(
    service: Running, token: str, key_type: Any
) -> None:
    name = f"typed-{type(key_type).__name__}"
    refused = (400, {"errors": ["type: the key type must be a string"]})
    assert send(service, token, "POST", f"/v1/transit/keys/{name}", {"type": key_type}) == refused
    encrypt = {"plaintext": b64(b"x"), "type": key_type}
    assert send(service, token, "POST", f"/v1/transit/encrypt/{name}", encrypt) == refused
    assert send(service, token, "GET", f"/v1/transit/keys/{name}") == (404, {"errors": []})


def test_a_decrypt_batch_item_with_a_key_version_is_decrypted_as_vault_does(
    service: Running, token: str
) -> None:
    # Vault decodes a decrypt batch's items as an encrypt's (key_version included) and
    # reads the version from the ciphertext; the request's own key_version was dropped
    # here, an item's refused the whole batch.
    name = "item-version"
    items = [{"plaintext": b64(b"one"), "key_version": 1}, {"plaintext": b64(b"two")}]
    status, body = send(
        service, token, "POST", f"/v1/transit/encrypt/{name}", {"batch_input": items}
    )
    assert status == 200
    sealed = [r["ciphertext"] for r in data_of(body)["batch_results"]]
    batch = [
        {"ciphertext": sealed[0], "key_version": 1},
        {"ciphertext": sealed[1], "key_version": 0},
        {"ciphertext": "vault:v1:AAAA", "key_version": 1},
    ]
    status, body = send(
        service, token, "POST", f"/v1/transit/decrypt/{name}", {"batch_input": batch}
    )
    results = data_of(body)["batch_results"]
    assert status == 400  # one item failed, on its own
    assert [unb64(r["plaintext"]) for r in results[:2]] == [b"one", b"two"]
    assert results[2] == {"error": "cipher: message authentication failed"}


def test_a_mixed_version_batch_names_the_item_that_is_not_valid_by_its_place(
    service: Running, token: str
) -> None:
    name = "mixed-names"
    assert send(service, token, "POST", f"/v1/transit/keys/{name}", {})[0] == 200
    path = f"/v1/transit/encrypt/{name}"
    ok = {"plaintext": b64(b"x")}
    cases = [
        ([{**ok, "key_version": 1}, ok, 5], "batch_input.2: "),
        (
            [{**ok, "key_version": 1}, {**ok, "associated_data": 7}],
            "batch_input.1.associated_data: ",
        ),
        ([ok, ok, {**ok, "key_version": "one"}], "batch_input.2.key_version: "),
    ]
    for items, where in cases:
        status, body = send(service, token, "POST", path, {"batch_input": items})
        assert status == 400
        assert len(body["errors"]) == 1 and body["errors"][0].startswith(where), body


@pytest.mark.parametrize("operation", ["encrypt", "decrypt", "rewrap"])
def test_an_operation_path_with_an_extra_segment_is_an_unknown_path(
    service: Running, token: str, operation: str
) -> None:
    # Only hmac, sign and verify take a third segment (the algorithm); elsewhere it was
    # read as a hash_algorithm field the client never sent: 400 naming that field.
    path = f"transit/{operation}/k/sha2-256"
    status, body = send(service, token, "POST", f"/v1/{path}", {"plaintext": b64(b"x")})
    assert (status, body) == (404, {"errors": [f"unsupported path {path}"]})


def test_numbers_and_booleans_sent_as_text_by_vault_write_are_read_as_vault_reads_them(
    service: Running, token: str
) -> None:
    # `vault write PATH field=value` sends every field as text: Vault reads "2" as the
    # number and "true" as the boolean; they were refused with 400 here.
    key = "/v1/transit/keys/text-fields"
    created = send(service, token, "POST", key, {"exportable": "false", "derived": "false"})
    assert created[0] in (200, 204), created
    assert send(service, token, "POST", f"{key}/rotate")[0] in (200, 204)
    config = {"min_decryption_version": "2", "deletion_allowed": "true"}
    status, body = send(service, token, "POST", f"{key}/config", config)
    assert status == 200, body
    assert data_of(body)["min_decryption_version"] == 2
    assert data_of(body)["deletion_allowed"] is True
    # Only Vault's spellings: a JSON true is still no version, "yes" no boolean.
    for refused in (
        {"min_decryption_version": True},
        {"min_decryption_version": "2.0"},
        {"deletion_allowed": "yes"},
    ):
        assert send(service, token, "POST", f"{key}/config", refused)[0] == 400, refused
    assert send(service, token, "POST", "/v1/transit/keys/text-derived", {"derived": "true"}) == (
        400,
        {"errors": ["derived keys are not supported"]},
    )
    secret = "/v1/secret/metadata/text-fields"
    written = {"max_versions": "3", "cas_required": "true"}
    assert send(service, token, "POST", secret, written) == (204, None)
    meta = data_of(send(service, token, "GET", secret)[1])
    assert (meta["max_versions"], meta["cas_required"]) == (3, True)
    data = "/v1/secret/data/text-fields"
    assert send(service, token, "POST", data, {"data": {"v": 1}, "options": {"cas": "0"}})[0] == 200
    stale = send(service, token, "POST", data, {"data": {"v": 2}, "options": {"cas": "0"}})
    assert stale[0] == 400


def test_list_takes_vaults_boolean_spellings_and_refuses_other_text(
    service: Running, token: str
) -> None:
    # Vault reads ?list= as a boolean (Go's ParseBool): list=1 lists, list=false reads,
    # and text that is no boolean is 400; only "true" listed here.
    assert (
        send(service, token, "POST", "/v1/secret/data/list-spell", {"data": {"v": "x"}})[0] == 200
    )
    for spelling in ("1", "t", "True", "TRUE"):
        status, body = send(service, token, "GET", f"/v1/secret/metadata/?list={spelling}")
        assert status == 200, (spelling, body)
        assert "list-spell" in data_of(body)["keys"]
    status, body = send(service, token, "GET", "/v1/secret/metadata/list-spell?list=false")
    assert status == 200
    assert data_of(body)["current_version"] == 1  # read, not listed
    assert send(service, token, "GET", "/v1/secret/metadata/?list=maybe") == (
        400,
        {"errors": ["list must be true or false"]},
    )


def test_the_list_method_lists_whatever_list_query_it_carries_as_vault_does(
    service: Running, token: str
) -> None:
    # Vault's LIST is an operation of its own: a list= beside it changes nothing. The
    # method was rewritten to GET with a second list=, answered 400 (given twice).
    assert (
        send(service, token, "POST", "/v1/secret/data/list-method/a", {"data": {"v": "x"}})[0]
        == 200
    )
    send(service, token, "POST", "/v1/transit/keys/list-method")
    for query in ("?list=true", "?list=false", "?list=1&list=0", "?x=1&list=true"):
        status, body = send(service, token, "LIST", f"/v1/secret/metadata/list-method{query}")
        assert (status, data_of(body)["keys"]) == (200, ["a"]), query
        status, body = send(service, token, "LIST", f"/v1/transit/keys{query}")
        assert status == 200, (query, body)
        assert "list-method" in data_of(body)["keys"]


# -- response wrapping: refused, never answered in the clear ------------------------------


def test_a_request_for_response_wrapping_is_refused_not_answered_in_the_clear(
    service: Running, token: str
) -> None:
    from tests.service._vault import hvac_client

    send(service, token, "POST", "/v1/transit/keys/wrapped-key")
    send(service, token, "POST", "/v1/secret/data/wrapped", {"data": {"password": "canary-w"}})
    asks = [
        ("GET", "/v1/secret/data/wrapped", None),
        ("POST", "/v1/transit/encrypt/wrapped-key", {"plaintext": b64(b"x")}),  # the lean entry
        ("POST", "/v1/transit/hmac/wrapped-key", {"input": b64(b"x")}),
        ("GET", "/v1/auth/token/lookup-self", None),
    ]
    for method, path, body in asks:
        headers = {"X-Vault-Token": token, "X-Vault-Wrap-TTL": "60s"}
        with service.client() as client:
            answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 400, path
        assert answer.json() == {
            "errors": ["response wrapping (X-Vault-Wrap-TTL) is not supported"]
        }, path
        assert "canary-w" not in answer.text
    # The token first: a stranger asking for wrapping is denied, as for anything else.
    with service.client() as client:
        answer = client.get(
            "/v1/secret/data/wrapped", headers={"X-Vault-Token": "nope", "X-Vault-Wrap-TTL": "60"}
        )
    assert answer.status_code == 403
    # hvac's own wrap_ttl sends the header, and gets the refusal.
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping"):
        hvac_client(service, token).read("secret/data/wrapped", wrap_ttl="60s")


# -- ambiguous requests: refused, never read one way of two ------------------------------

TWO_TOKENS = {"errors": [TWO_TOKENS_MESSAGE]}


def test_two_tokens_in_one_request_are_refused_not_one_of_them_taken(
    service: Running, token: str
) -> None:
    weak = token_for(service, "kv:read:secret/nothing-here/")
    send(service, token, "POST", "/v1/secret/data/two-tokens", {"data": {"pw": "canary-2t"}})
    send(service, token, "POST", "/v1/transit/keys/two-tokens")
    twice = [
        [("X-Vault-Token", weak), ("X-Vault-Token", token)],
        [("X-Vault-Token", token), ("X-Vault-Token", weak)],
        [("Authorization", f"Bearer {weak}"), ("Authorization", f"Bearer {token}")],
        [("X-Vault-Token", token), ("Authorization", f"Bearer {weak}")],
    ]
    asks = [
        ("GET", "/v1/secret/data/two-tokens", None),
        ("GET", "/v1/transit/keys/two-tokens", None),
        ("POST", "/v1/transit/encrypt/two-tokens", {"plaintext": b64(b"x")}),  # the lean entry
    ]
    for case, headers in enumerate(twice):
        for method, path, body in asks:
            with service.client() as client:
                answer = client.request(method, path, json=body, headers=headers)
            assert (answer.status_code, answer.json()) == (400, TWO_TOKENS), (path, case)
            assert "canary-2t" not in answer.text
    # One token in both headers, or a header of another scheme beside it, is one token.
    for case, headers in enumerate(
        [
            [("X-Vault-Token", token), ("Authorization", f"Bearer {token}")],
            [("X-Vault-Token", token), ("Authorization", "Basic cHJveHk6cGFzcw==")],
            [("X-Vault-Token", ""), ("Authorization", f"Bearer {token}")],
        ]
    ):
        with service.client() as client:
            answer = client.get("/v1/secret/data/two-tokens", headers=headers)
        assert answer.status_code == 200, case


def test_a_query_parameter_given_twice_is_refused_not_read_one_way(
    service: Running, token: str
) -> None:
    send(service, token, "POST", "/v1/secret/data/twice/a", {"data": {"v": "1"}})
    send(service, token, "POST", "/v1/secret/data/twice/a", {"data": {"v": "2"}})
    status, body = send(service, token, "GET", "/v1/secret/data/twice/a?version=1&version=2")
    assert (status, body) == (400, {"errors": ["version is given more than once"]})
    status, body = send(service, token, "GET", "/v1/secret/metadata/twice?list=false&list=true")
    assert (status, body) == (400, {"errors": ["list is given more than once"]})
    status, body = send(service, token, "GET", "/v1/secret/data/twice/a?version=1")
    assert (status, data_of(body)["data"]) == (200, {"v": "1"})


def test_a_kv_path_that_is_not_utf8_is_refused_not_read_as_another_secret(
    service: Running, token: str
) -> None:
    # The server decodes %FF and a surrogate's %ED%A0%80 to U+FFFD: without the check,
    # three spellings name the one secret "utf8/\ufffd".
    send(service, token, "POST", "/v1/secret/data/utf8/%EF%BF%BD", {"data": {"v": "fffd"}})
    for path in ("utf8/%FF", "utf8/%ED%A0%80", "utf8/%C0%80"):
        for method, body in (("GET", None), ("POST", {"data": {"v": "other"}})):
            status, answer = send(service, token, method, f"/v1/secret/data/{path}", body)
            assert (status, answer) == (
                400,
                {"errors": ["the path is not valid UTF-8 once percent-decoded"]},
            ), path
    status, body = send(service, token, "GET", "/v1/secret/data/utf8/%EF%BF%BD")
    assert (status, data_of(body)["data"]) == (200, {"v": "fffd"})


def test_a_list_names_only_the_folders_own_secrets_not_those_of_another_case(
    service: Running, token: str
) -> None:
    # SQLite's LIKE ignores ASCII case: "CaseList/" matched "caselist/%" too, and a token
    # that may read only caselist/ learnt the names under CaseList/.
    for path in ("caselist/mine", "CaseList/theirs", "CASELIST/x/deep", "caselist_/y"):
        send(service, token, "POST", f"/v1/secret/data/{path}", {"data": {"v": "1"}})
    reader = token_for(service, "kv:read:secret/caselist/")
    status, body = send(service, reader, "LIST", "/v1/secret/metadata/caselist")
    assert (status, data_of(body)) == (200, {"keys": ["mine"]})
    status, body = send(service, token, "LIST", "/v1/secret/metadata/CaseList")
    assert (status, data_of(body)) == (200, {"keys": ["theirs"]})
    status, _ = send(service, reader, "LIST", "/v1/secret/metadata/CaseList")
    assert status == 403


def test_sys_health_by_another_method_is_405_not_an_unknown_path(
    service: Running, token: str
) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, body = send(service, token, method, "/v1/sys/health")
        assert (status, body) == (405, {"errors": ["unsupported operation"]}), method


@pytest.mark.parametrize(
    "path",
    [
        "/v1/transit/encrypt/broken-key",  # the lean entry, then the routes
        "/v1/transit/hmac/broken-key",
        "/v1/transit/sign/broken-key/sha2-256",
        "/v1/transit/keys/broken-key",
        "/v1/secret/data/broken",
    ],
)
def test_a_body_that_is_not_json_is_failed_to_parse_on_every_vault_route(
    service: Running, token: str, path: str
) -> None:
    assert send(service, token, "POST", path, raw=b"{bad") == (400, NOT_JSON)


@pytest.mark.parametrize("value", [[], ["a"], {}, {"a": "b"}])
@pytest.mark.parametrize(
    ("path", "field", "message"),
    [
        ("encrypt/unhashable", "context", "key derivation (context) is not supported"),
        ("datakey/plaintext/unhashable", "nonce", "convergent encryption (nonce) is not supported"),
        ("keys/unhashable-new", "derived", "derived keys are not supported"),
    ],
)
def test_an_unsupported_vault_field_holding_a_list_or_object_is_refused_with_400(
    service: Running, token: str, value: Any, path: str, field: str, message: str
) -> None:
    # A field sealbox refuses when it asks for something was compared with the false
    # spellings of text; a list or object given there was an internal error (500).
    send(service, token, "POST", "/v1/transit/keys/unhashable")
    single = {"plaintext": b64(b"x"), field: value}
    assert send(service, token, "POST", f"/v1/transit/{path}", single) == (
        400,
        {"errors": [message]},
    )
    if not path.startswith("keys/"):
        batch = {"batch_input": [{"plaintext": b64(b"x"), field: value}]}
        status, body = send(service, token, "POST", f"/v1/transit/{path}", batch)
        assert (status, body) == (400, {"errors": [message]})


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/v1/secret/data/float-cas", b'{"data": {"a": "b"}, "options": {"cas": 1.0}}'),
        ("POST", "/v1/secret/delete/float-cas", b'{"versions": [1.0]}'),
        ("POST", "/v1/secret/destroy/float-cas", b'{"versions": [1.0]}'),
        ("POST", "/v1/secret/undelete/float-cas", b'{"versions": [1.0]}'),
        ("POST", "/v1/secret/metadata/float-cas", b'{"max_versions": 3.0}'),
        ("GET", "/v1/secret/data/float-cas?version=1.0", None),
        ("POST", "/v1/transit/keys/float-key/config", b'{"min_decryption_version": 1.0}'),
    ],
    ids=["cas", "delete", "destroy", "undelete", "max_versions", "version-query", "key-config"],
)
def test_a_whole_number_with_a_fraction_is_refused_where_vaults_integer_fields_refuse_it(
    service: Running, token: str, method: str, path: str, raw: bytes | None
) -> None:
    # Vault decodes a body's numbers as their text (json.Number) and parses an integer
    # field's text with strconv.ParseInt, which refuses "1.0": a 400, not a version 1.
    assert send(service, token, "POST", "/v1/secret/data/float-cas", {"data": {"a": "b"}})[0] == 200
    assert send(service, token, "POST", "/v1/transit/keys/float-key", {})[0] in (200, 204)
    status, body = send(service, token, method, path, raw=raw)
    assert status == 400
    assert set(body) == {"errors"}
    assert len(body["errors"]) == 1
    status, read = send(service, token, "GET", "/v1/secret/metadata/float-cas")
    assert data_of(read)["max_versions"] == 0
    assert all(not v["deletion_time"] for v in data_of(read)["versions"].values())
