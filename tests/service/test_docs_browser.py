"""/docs in headless Chromium over HTTPS, trusting the data folder's CA: Authorize works."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_module, require_tool
from tests.service.conftest import PASSWORD, register


def _trusting_home(tmp_path: Path, ca: Path) -> Path:
    """A HOME whose NSS database (what Chromium trusts on Linux) holds the CA."""
    certutil = require_tool("certutil")
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "sealbox-dev-ca", "-i", str(ca)],
        check=True,
    )
    return home


@pytest.mark.interop
def test_docs_authorize_with_password_flow(service, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    require_module("playwright")
    from playwright.sync_api import sync_playwright

    with service.client() as c:
        assert register(c, "browser-user").status_code == 201
    home = _trusting_home(tmp_path, service.ca)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
            )
            response = page.goto(f"{service.url}/docs", wait_until="networkidle")
            assert response is not None and response.ok
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "sealbox" in page.inner_text(".swagger-ui .info .title")
            page.click("button.authorize")
            page.fill("input#oauth_username", "browser-user")
            page.fill("input#oauth_password", PASSWORD)
            page.click(".auth-btn-wrapper button.authorize")
            # The modal's own Logout button, there once the token has come back ("text=Logout"
            # would also match the operation "Logout Route" at once, and race the token).
            page.wait_for_selector(
                '.auth-btn-wrapper button[aria-label="Remove authorization"]', timeout=20_000
            )
            page.click("button.close-modal")
            # Call GET /users/me with the token Swagger UI obtained.
            block = page.locator("#operations-users-me_users_me_get")
            block.locator(".opblock-summary").click()
            block.locator("button.try-out__btn").click()
            block.locator("button.execute").click()
            page.wait_for_selector(
                "#operations-users-me_users_me_get .live-responses-table tbody .response-col_status",
                timeout=20_000,
            )
            row = block.locator(".live-responses-table tbody tr").first
            status = row.locator(".response-col_status").inner_text()
            body = row.locator(".response-col_description").inner_text()
            # On a failure, what the service answered and recorded says which check refused.
            assert status.strip().startswith("200"), f"{body}\n{service.audit()[-3000:]}"
            assert '"username": "browser-user"' in body
            assert not errors, errors
        finally:
            context.close()
    assert shutil.which("chromium")
