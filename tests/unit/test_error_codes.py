"""Library errors carry a code and facts; only the command line names its flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import sealbox.exceptions as exceptions
from sealbox._util.files import atomic_write
from sealbox.cli._hints import HINTS, hint_for
from sealbox.exceptions import SealboxError, StorageError

SRC = Path(exceptions.__file__).parent
SHELLS = ("cli", "service")
CLI_WORDS = re.compile(r"(?<![\w-])--[a-z]|'sealbox [a-z]|\$SEALBOX_PASSPHRASE")


def _library_hints() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in SHELLS:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "hint":
                parts = [
                    n.value
                    for n in ast.walk(node.value)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
                found.append((str(rel), node.lineno, "".join(parts)))
    return found


def test_no_library_hint_names_a_command_line_flag_or_command() -> None:
    hints = _library_hints()
    assert len(hints) > 50  # the walk finds the library's hints at all
    offenders = [(f, line, text) for f, line, text in hints if CLI_WORDS.search(text)]
    assert offenders == []


def _service_error_texts() -> list[tuple[str, int, str]]:
    """The messages and hints of the errors the service raises (``...Error(...)`` calls)."""
    found = []
    for path in sorted((SRC / "service").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if not name.endswith("Error"):
                continue
            texts = [*node.args, *(k.value for k in node.keywords if k.arg == "hint")]
            parts = [
                n.value
                for text in texts
                for n in ast.walk(text)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            found.append((str(path.relative_to(SRC)), node.lineno, "".join(parts)))
    return found


def test_no_service_error_names_a_command_line_flag_or_command() -> None:
    texts = _service_error_texts()
    assert len(texts) > 30  # the walk finds the service's errors at all
    offenders = [(f, line, text) for f, line, text in texts if CLI_WORDS.search(text)]
    assert offenders == []


def test_every_exception_class_has_its_own_stable_code() -> None:
    classes = [getattr(exceptions, name) for name in exceptions.__all__]
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)


def test_a_file_that_exists_is_refused_with_its_code_and_path(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"kept")
    with pytest.raises(StorageError) as info:
        atomic_write(target, b"new", overwrite=False)
    assert info.value.code == "file_exists"
    assert info.value.facts == {"path": str(target)}
    assert "--force" not in (info.value.hint or "")
    assert hint_for(info.value) == "use --force to replace it"
    assert target.read_bytes() == b"kept"


def test_the_cli_fills_a_hint_with_the_error_facts() -> None:
    error = SealboxError("x", code="ca_missing", facts={"folder": "/srv/ca"})
    assert hint_for(error) == (
        "give the folder of the CA (its ca.crt and ca.key), or create one with "
        "'sealbox ca init /srv/ca'"
    )


def test_a_code_without_a_cli_entry_or_with_missing_facts_keeps_the_library_hint() -> None:
    assert hint_for(SealboxError("x", hint="library advice")) == "library advice"
    missing = SealboxError("x", hint="library advice", code="ca_missing")
    assert hint_for(missing) == "library advice"


def test_every_cli_hint_code_is_raised_somewhere_in_the_library() -> None:
    source = "\n".join(
        p.read_text() for p in SRC.rglob("*.py") if "cli" not in p.relative_to(SRC).parts
    )
    # "code:check" entries: the code, and the check its facts["failed"] names, both raised.
    unused = [key for key in HINTS if any(f'"{part}"' not in source for part in key.split(":"))]
    assert unused == []


def test_a_hint_for_the_failed_check_comes_before_the_codes_own() -> None:
    name = SealboxError("x", code="peer_unverified", facts={"failed": "name"})
    issuer = SealboxError("x", code="peer_unverified", facts={"failed": "issuer"})
    assert "--servername" in (hint_for(name) or "")
    assert hint_for(issuer) == HINTS["peer_unverified"]


def test_the_service_answers_every_sign_in_code_under_the_librarys_name_and_value() -> None:
    from sealbox.integrations.fastapi.errors import ErrorCode as SignInErrorCode
    from sealbox.service.errors import ErrorCode

    service = {name: code.value for name, code in ErrorCode.__members__.items()}
    for code in SignInErrorCode:
        assert service.get(code.name) == code.value, code
    assert len(ErrorCode.__members__) == len(ErrorCode), "two names for one code"
