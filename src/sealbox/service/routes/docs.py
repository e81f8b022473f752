"""``/docs``: Swagger UI served from this service (no CDN), with the OAuth2 password flow.

The pages are FastAPI's own (``get_swagger_ui_html`` and
``get_swagger_ui_oauth2_redirect_html``, pointed at local asset URLs as FastAPI's
"self-hosting" recipe does); the Swagger UI files are vendored, unchanged, with their
licence, in ``sealbox/service/static/swagger-ui/`` (its README names the version).

The two pages carry a small inline script each (FastAPI's Swagger UI page and its
OAuth2 redirect page). Their Content-Security-Policy allows exactly those scripts, by
their SHA-256 (CSP Level 2 hash sources), and scripts from this origin: no
``'unsafe-inline'`` for scripts.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["ASSETS_FOLDER", "page_csp", "router"]

_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


ASSETS_FOLDER: Final = Path(__file__).resolve().parent.parent / "static" / "swagger-ui"


_INLINE_SCRIPT: Final = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def page_csp(html: bytes) -> str:
    """The Content-Security-Policy of a docs page: its own inline scripts, by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = page_csp(bytes(page.body))
    return page


def router(openapi_url: str = "/openapi.json") -> APIRouter:
    """The docs page, its OAuth2 redirect page and its assets."""
    api = APIRouter(include_in_schema=False)
    # Built once: the pages do not change while the service runs.
    docs_page = _with_csp(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title="sealbox API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )
    )
    redirect_page = _with_csp(get_swagger_ui_oauth2_redirect_html())

    @api.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page.body, headers=dict(docs_page.headers))

    @api.get("/docs/oauth2-redirect")
    async def oauth2_redirect() -> HTMLResponse:
        return HTMLResponse(redirect_page.body, headers=dict(redirect_page.headers))

    @api.get("/docs/assets/{name}")
    async def asset(name: str) -> FileResponse:
        media = _ASSETS.get(name)
        if media is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(
            ASSETS_FOLDER / name,
            media_type=media,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return api
