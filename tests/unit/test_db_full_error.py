"""``DatabaseFullError`` is a ``StoreUnavailableError`` made by its constructor: the code,
facts, hint, attributes and message the command line and the service answer it with; and
that constructor takes a message of a subclass's own, keeping the rest."""

from __future__ import annotations

from sealbox.accounts.db_unreachable import DatabaseFullError
from sealbox.exceptions import StorageError, StoreUnavailableError

PATH = "/srv/sealbox/sealbox.db"


def test_database_full_error_has_the_code_facts_hint_and_message_of_a_full_disk() -> None:
    error = DatabaseFullError(PATH, "OperationalError")
    assert isinstance(error, StoreUnavailableError)
    assert isinstance(error, StorageError)
    assert error.code == "disk_full"
    assert error.facts == {
        "path": PATH,
        "store": "SQLite",
        "operation": "writing the database",
        "cause": "OperationalError",
    }
    assert error.hint == f"free space on the file system that holds {PATH}, then try again"
    assert str(error) == (
        f"cannot write the database {PATH}: the disk that holds it is full "
        "(nothing of the change was kept)"
    )
    assert error.args == (str(error),)
    assert (error.store, error.operation, error.cause, error.refused) == (
        "SQLite",
        "writing the database",
        "OperationalError",
        None,
    )


def test_store_unavailable_error_takes_a_message_and_makes_the_rest_as_ever() -> None:
    error = StoreUnavailableError(
        "Redis", "checking a token's revocation", "ConnectionError", message="Redis is gone"
    )
    assert str(error) == "Redis is gone"
    assert error.code == "store_unavailable"
    assert error.hint == "try again once Redis answers"
    assert error.facts == {
        "store": "Redis",
        "operation": "checking a token's revocation",
        "cause": "ConnectionError",
    }
    assert error.refused is None
    # Without one, the message says what did not answer, as before.
    said = StoreUnavailableError("Redis", "checking a token's revocation", "ConnectionError")
    assert str(said) == "Redis did not answer while checking a token's revocation (ConnectionError)"


def test_a_full_disk_after_the_change_committed_says_the_change_is_made_on_the_cli() -> None:
    from sealbox.cli._hints import hint_for

    before = DatabaseFullError("/srv/a.db", "database or disk is full")
    after = before.after_change()
    assert after.facts["change"] == "made" and after.change_made
    assert "nothing of the change was kept" not in str(after)
    assert "the change was made before it" in str(after)
    hint = hint_for(after)
    assert hint is not None and hint.startswith("the change is made")
    assert "run the command again" in (hint_for(before) or "")
