"""Pagination of list endpoints: ``?limit=&offset=`` in, ``{items, total, limit, offset}`` out.

An endpoint takes ``page: PageParams`` and answers ``Page[ItemOut].of(items, total, page)``;
its repository takes ``limit`` and ``offset`` and returns the rows and the total count. A
``limit`` above ``MAX_LIMIT`` is a 422, not silently clamped: a client that asked for more than
it got would take a short page for the end of the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    offset: int


def page_request(
    limit: int = Query(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"items per page (at most {MAX_LIMIT})"
    ),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="items to skip"),
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


PageParams = Annotated[PageRequest, Depends(page_request)]


class Page(BaseModel, Generic[T]):
    """One page of a list, and how many items the whole list holds."""

    items: list[T]
    total: int = Field(description="items in the whole list, across pages")
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[T], total: int, page: PageRequest) -> Self:
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)
