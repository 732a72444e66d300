from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.db import Base, UTCDateTime, utcnow

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


def slugify(name: str) -> str:
    """``"Acme Charging GmbH"`` -> ``"acme-charging-gmbh"`` (at most 64 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "tenant"


def _slug_default(context: DefaultExecutionContext) -> str:
    # A tenant created by name only (the default tenant, older code) gets its slug from it.
    name: str = context.get_current_parameters()["name"]  # type: ignore[no-untyped-call]
    return slugify(name)


class Tenant(Base):
    """A charge point operator; every row that belongs to one carries ``tenant_id``."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The tenant's name in URLs and logins (``"default"`` for the default tenant).
    slug: Mapped[str] = mapped_column(String(64), unique=True, default=_slug_default)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
