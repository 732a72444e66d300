"""Errors as RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException


class Problem(Exception):
    headers: dict[str, str] | None = None  # set on an instance to send them (Retry-After, …)

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _data_exception(exc: BaseException) -> bool:
    """Whether the database answered SQLSTATE class 22 (data exception) anywhere in the chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if str(getattr(error, "sqlstate", "") or "").startswith("22"):
            return True
        todo += [error.__cause__, error.__context__, getattr(error, "orig", None)]
    return False


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            422, "Invalid request", "the request does not match the schema", errors=errors
        )

    @app.exception_handler(StatementError)
    async def _statement(_: Request, exc: StatementError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL in a string for
        # PostgreSQL, a number out of a column's range, a date that overflows in UTC): the
        # client's input, not our fault. Anything else stays a 500.
        if (
            isinstance(exc, DataError)
            or isinstance(exc.orig, OverflowError | ValueError)
            or _data_exception(exc)
        ):
            return problem_response(422, "Invalid value", "a value in the request cannot be stored")
        raise exc

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # e.g. a date whose conversion to UTC falls outside the calendar (0001-01-01T00:00+14:00)
        return problem_response(422, "Value out of range", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail))
