"""A database already at the newest migration is opened without Alembic: its revision is
read from Alembic's table with plain SQL and compared with the newest migration script's
name (``NNNN_what.py`` holds revision ``NNNN``), which these tests keep true."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from sealbox.accounts.database import MIGRATIONS, newest_revision


def _declared(script: Path, name: str) -> object:
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return None


def test_each_migration_script_is_named_after_its_revision_and_the_newest_is_alembics_head() -> (
    None
):
    from alembic.script import ScriptDirectory

    scripts = sorted((MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert scripts
    for script in scripts:
        assert _declared(script, "revision") == script.name[:4], script.name
    assert newest_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


_OPEN_TWICE = textwrap.dedent(
    """
    import asyncio, sys
    from sealbox.accounts.database import make_engine, migrate

    async def main(url: str) -> None:
        engine = make_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    url = sys.argv[1]
    asyncio.run(main(url))
    print("first:", "alembic" in sys.modules)
    """
)


def test_a_database_at_the_newest_migration_opens_without_loading_alembic(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    run = [sys.executable, "-c", _OPEN_TWICE, url]
    made = subprocess.run(run, capture_output=True, text=True, check=True, timeout=120)
    assert made.stdout == "first: True\n"  # an empty database is migrated by Alembic
    opened = subprocess.run(run, capture_output=True, text=True, check=True, timeout=120)
    assert opened.stdout == "first: False\n", opened.stderr
