"""The smoke suite of the floor environment: each capability once, end to end.

`make floors` runs it in `.venv-floors`, where every direct dependency is at the lowest
version pyproject.toml allows (uv's `--resolution lowest-direct`), so the declared floors
are true. It runs in the main environment too, as part of the suite. The commands run in
this process (the ``cli`` fixture); the service runs as the real ``sealbox serve``.
"""

from __future__ import annotations

import base64
from pathlib import Path

from tests.service.conftest import PASSWORD, bearer, login, register, serve_process


def test_age_with_a_post_quantum_recipient(tmp_path: Path, cli) -> None:
    key = tmp_path / "pq.key"
    r = cli(["keygen", "--pq", "-o", key])
    assert r.code == 0, r.stderr
    recipient = cli(["keygen", "-y", key]).out.strip()
    assert recipient.startswith("age1pq1")
    (tmp_path / "plain").write_bytes(b"floor smoke" * 1000)
    enc = cli(["encrypt", "-r", recipient, "-o", tmp_path / "f.age", tmp_path / "plain"])
    assert enc.code == 0, enc.stderr
    dec = cli(["decrypt", "-i", key, tmp_path / "f.age"])
    assert dec.code == 0, dec.stderr
    assert dec.stdout == b"floor smoke" * 1000


def test_jwt_issue_and_verify(tmp_path: Path, cli) -> None:
    env = {"SEALBOX_PASSPHRASE": "floor smoke keyset"}
    keyset = tmp_path / "signing.keyset"
    assert cli(["jwt", "keyset", "create", keyset], env=env).code == 0
    issued = cli(["jwt", "issue", keyset, "--sub", "smoke", "--aud", "api", "--ttl", "60"], env=env)
    assert issued.code == 0, issued.stderr
    token = issued.out.strip()
    jwks = tmp_path / "jwks.json"
    printed = cli(["jwt", "jwks", keyset], env=env)
    assert printed.code == 0, printed.stderr
    jwks.write_bytes(printed.stdout)
    verified = cli(["jwt", "verify", "--jwks", jwks, "--aud", "api", token])
    assert verified.code == 0, verified.stderr
    assert b'"sub": "smoke"' in verified.stdout


def test_secrets_set_and_get(tmp_path: Path, cli) -> None:
    key = tmp_path / "id.key"
    assert cli(["keygen", "-o", key]).code == 0
    recipient = cli(["keygen", "-y", key]).out.strip()
    file = tmp_path / "secrets.env"
    assert cli(["secrets", "init", file, "-r", recipient]).code == 0
    assert cli(["secrets", "set", file, "TOKEN"], input=b"smoke value").code == 0
    got = cli(["secrets", "get", file, "TOKEN", "-i", key])
    assert got.code == 0 and got.stdout == b"smoke value"


def test_serve_answers_health_and_transit(tmp_path: Path, cli) -> None:
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    data = tmp_path / "data"
    r = cli(
        [
            "users",
            "create",
            "ops",
            "--scope",
            "transit:admin",
            "--scope",
            "transit:encrypt:*",
            "--scope",
            "transit:decrypt:*",
            "--data-dir",
            data,
        ],
        input=PASSWORD.encode(),
        env=env,
    )
    assert r.code == 0, r.stderr
    with serve_process(tmp_path, env=env, data_dir=data) as srv, srv.client() as c:
        assert c.get("/health").json()["status"] == "ok"
        assert register(c, "someone").status_code == 201
        h = bearer(login(c, "ops").json()["access_token"])
        created = c.post("/v1/keys/smoke", json={"type": "aes256-gcm"}, headers=h)
        assert created.status_code == 201, created.text
        sealed = c.post("/v1/keys/smoke/encrypt", json={"plaintext": "c21va2U="}, headers=h)
        assert sealed.status_code == 200, sealed.text
        opened = c.post(
            "/v1/keys/smoke/decrypt", json={"ciphertext": sealed.json()["ciphertext"]}, headers=h
        )
        assert opened.json()["plaintext"] == "c21va2U="
        # A batch: the vectorised base64 codec at its floor.
        texts = [base64.b64encode(bytes([i]) * i).decode() for i in range(1, 40)]
        batch = {"batch_input": [{"plaintext": t} for t in texts]}
        sealed = c.post("/v1/keys/smoke/encrypt", json=batch, headers=h)
        assert sealed.status_code == 200, sealed.text
        items = [{"ciphertext": r["ciphertext"]} for r in sealed.json()["batch_results"]]
        opened = c.post("/v1/keys/smoke/decrypt", json={"batch_input": items}, headers=h)
        assert [r["plaintext"] for r in opened.json()["batch_results"]] == texts
    assert "Traceback" not in srv.stderr


def test_serve_stopped_by_sigterm_exits_0(tmp_path: Path) -> None:
    import signal

    # uvicorn before 0.30.3 let out the KeyboardInterrupt its graceful stop ends with:
    # systemd's or docker's stop was "sealbox: error: interrupted", exit 130.
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    with serve_process(tmp_path, env=env, data_dir=tmp_path / "data") as srv:
        with srv.client() as c:
            assert c.get("/health").json()["status"] == "ok"
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(60)
    assert code == 0, srv.stderr
    assert "interrupted" not in srv.stderr and "Traceback" not in srv.stderr


def test_serve_on_postgresql_and_redis(tmp_path: Path) -> None:
    from tests.service.conftest import reset_shared_state, shared_env

    env = {**shared_env(), "SEALBOX_PASSWORD_PROFILE": "test"}
    reset_shared_state()
    try:
        with serve_process(tmp_path, env=env, data_dir=tmp_path / "data") as srv, srv.client() as c:
            assert register(c, "pg").status_code == 201
            tokens = login(c, "pg").json()
            h = bearer(tokens["access_token"])
            for _ in range(3):  # the Redis throttle script, and revocation lookups
                assert login(c, "pg", "wrong password").status_code == 400
            assert c.get("/users/me", headers=h).status_code == 200
            c.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=h)
            assert c.get("/users/me", headers=h).status_code == 401
        assert "Traceback" not in srv.stderr
    finally:
        reset_shared_state()


def test_an_upsert_copying_a_plain_column_into_an_encrypted_one_is_refused() -> None:
    # SQLAlchemy 2.0 keeps on_conflict_do_update's set_ values as given: an ORM attribute
    # (Model.plain) is not a ClauseElement there, so it passed for a Python value and the
    # plain column's text was stored in clear in the encrypted column. 2.1 coerces them.
    import pytest
    from sqlalchemy import Integer, String, create_engine, text
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    from sealbox import Keyring
    from sealbox.integrations.sqlalchemy import EncryptedString

    ring = Keyring.generate()

    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __tablename__ = "smoke_upsert"
        # Unannotated: the annotations of a class in a function are not resolvable here.
        id = mapped_column(Integer, primary_key=True)
        secret = mapped_column(EncryptedString(ring, associated_data="s"))
        plain = mapped_column(String)

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Row(id=1, secret="sealed", plain="smoke-plain-text"))
        s.commit()
        upsert = sqlite.insert(Row).values(id=1, secret="x")
        with pytest.raises(TypeError, match="stored in clear"):
            s.execute(
                upsert.on_conflict_do_update(index_elements=[Row.id], set_={"secret": Row.plain})
            )
        s.rollback()
        assert "smoke-plain-text" not in repr(
            s.execute(text("SELECT secret FROM smoke_upsert")).all()
        )
    engine.dispose()
