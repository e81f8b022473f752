"""The vendored Swagger UI files are the ones their README names, with their licence."""

from __future__ import annotations

import hashlib
import re

from sealbox.service.routes.docs import ASSETS_FOLDER


def test_the_vendored_files_match_the_digests_in_their_readme() -> None:
    readme = (ASSETS_FOLDER / "README.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    on_disk = {p.name for p in ASSETS_FOLDER.iterdir()} - {"README.md"}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS_FOLDER / name).read_bytes()).hexdigest() == digest, name


def test_the_apache_licence_and_notice_travel_with_the_files() -> None:
    assert "Apache License" in (ASSETS_FOLDER / "LICENSE").read_text()
    assert "SmartBear" in (ASSETS_FOLDER / "NOTICE").read_text()
