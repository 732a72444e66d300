"""Serve the operator dashboard (``/dashboard/``) and the driver web app (``/app/``).

Both are single-page apps in ``static/`` (plain ES modules and CSS, no build step, nothing
fetched from another origin): any path under their prefix answers the app's ``index.html`` and
the app routes on ``location.pathname``. A strict Content-Security-Policy keeps every request on
this origin, so the pages work on a network with no internet access.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


class Assets(StaticFiles):
    """The apps' scripts, styles and images; revalidated on every load (they change with
    Kilowatt's version, and are small)."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def assets() -> Assets:
    return Assets(directory=STATIC)


def _page(app: str) -> FileResponse:
    return FileResponse(STATIC / app / "index.html", headers=_PAGE_HEADERS)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard")
@router.get("/dashboard/{path:path}")
async def dashboard(path: str = "") -> FileResponse:
    return _page("operator")


@router.get("/app")
@router.get("/app/{path:path}")
async def driver_app(path: str = "") -> FileResponse:
    return _page("driver")
