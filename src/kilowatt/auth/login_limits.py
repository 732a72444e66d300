"""Limits on failed logins and refreshes: per account and per source address, in the database.

Two counters guard every password login (the operator dashboard and the driver app use the same
``POST /api/v1/auth/login``) and every refresh:

* per **account** (the email as typed, lowercased — known or not, so a lock-out does not reveal
  whether an account exists): ``max_failures`` failures in a row lock it for ``lock_seconds``,
  doubling with every further lock-out up to ``lock_max_seconds``; a successful login resets it;
* per **source address**: ``address_max_failures`` failures within ``address_window`` seconds
  lock the address until the window ends. Successes do not reset it (an attacker with one valid
  account must not be able to wash their count).

The counters are rows of ``login_limits``, so they hold across nodes and restarts. Subjects are
stored as SHA-256 digests: failed attempts do not leave a list of typed emails behind.
Increments are single ``UPDATE … SET failures = failures + 1`` statements, so concurrent failures
on two nodes are all counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kilowatt.config import Settings
from kilowatt.db import Base, UTCDateTime

log = logging.getLogger(__name__)

# Scopes: what a row counts.
ACCOUNT = "account"  # password logins of one email
ADDRESS = "address"  # password logins from one source address
REFRESH_ADDRESS = "refresh_address"  # refresh attempts from one source address

LOCKED_EVENT = "security.login_locked"


class LoginLimit(Base):
    """Failed attempts of one subject (an account or a source address) in one scope."""

    __tablename__ = "login_limits"
    __table_args__ = (UniqueConstraint("scope", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(64))  # SHA-256 of the email or address
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)  # in a row; grows the lock
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True, slots=True)
class Policy:
    max_failures: int = 5
    lock_seconds: float = 900.0
    lock_max_seconds: float = 86_400.0
    address_max_failures: int = 20
    address_window: float = 600.0

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            max_failures=settings.login_max_failures,
            lock_seconds=settings.login_lock_seconds,
            lock_max_seconds=settings.login_lock_max_seconds,
            address_max_failures=settings.login_address_max_failures,
            address_window=settings.login_address_window,
        )

    def account_lock(self, lockouts: int) -> timedelta:
        """How long the ``lockouts``-th lock-out in a row lasts (1: ``lock_seconds``)."""
        seconds = self.lock_seconds * 2 ** min(max(lockouts - 1, 0), 32)
        return timedelta(seconds=min(seconds, self.lock_max_seconds))


@dataclass(frozen=True, slots=True)
class Locked:
    """A refused attempt: which scope is locked, and until when."""

    scope: str
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait (for ``Retry-After``), at least 1."""
        return max(1, math.ceil((self.until - now).total_seconds()))


@dataclass(frozen=True, slots=True)
class Lockout:
    """A failure that has just locked a subject (reported once, on the bus and in the log)."""

    scope: str
    until: datetime
    failures: int
    lockouts: int


def subject_of(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


async def _row(db: AsyncSession, scope: str, subject: str) -> LoginLimit | None:
    row: LoginLimit | None = await db.scalar(
        select(LoginLimit).where(LoginLimit.scope == scope, LoginLimit.subject == subject)
    )
    return row


async def locked(
    db: AsyncSession, checks: list[tuple[str, str]], *, now: datetime
) -> Locked | None:
    """The longest lock among ``(scope, value)`` pairs still in force at ``now``, or None."""
    found: Locked | None = None
    for scope, value in checks:
        row = await _row(db, scope, subject_of(value))
        until = row.locked_until if row is not None else None
        if until is not None and until > now and (found is None or until > found.until):
            found = Locked(scope, until)
    return found


async def record_failure(
    db: AsyncSession, policy: Policy, scope: str, value: str, *, now: datetime
) -> Lockout | None:
    """Count a failed attempt; the lock-out it causes, if it reaches the limit. Flushes."""
    subject = subject_of(value)
    row = await _row(db, scope, subject)
    if row is None:
        row = LoginLimit(
            scope=scope, subject=subject, failures=0, window_started_at=now, lockouts=0
        )
        row.updated_at = now
        try:
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:  # another node inserted it first
            row = await _row(db, scope, subject)
            assert row is not None
    windowed = scope != ACCOUNT
    lock_over = row.locked_until is not None and row.locked_until <= now
    window_over = windowed and now - row.window_started_at >= timedelta(
        seconds=policy.address_window
    )
    if lock_over or window_over:
        # A new round: the count starts again (an account keeps its lock-out tally, so its
        # next lock lasts longer).
        row.failures, row.window_started_at, row.locked_until = 0, now, None
        await db.flush()
    failures: int = (
        await db.execute(
            update(LoginLimit)
            .where(LoginLimit.id == row.id)
            .values(failures=LoginLimit.failures + 1, updated_at=now)
            .returning(LoginLimit.failures)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    await db.refresh(row)
    limit = policy.address_max_failures if windowed else policy.max_failures
    if failures != limit:  # exactly at the limit: the attempt that locks (once)
        return None
    if windowed:
        until = row.window_started_at + timedelta(seconds=policy.address_window)
    else:
        row.lockouts += 1
        until = now + policy.account_lock(row.lockouts)
    row.locked_until = until
    await db.flush()
    return Lockout(scope, until, failures, row.lockouts)


async def record_success(db: AsyncSession, account: str, *, now: datetime) -> None:
    """A successful login: the account's count and lock-out tally start again."""
    await db.execute(
        update(LoginLimit)
        .where(LoginLimit.scope == ACCOUNT, LoginLimit.subject == subject_of(account))
        .values(failures=0, lockouts=0, locked_until=None, window_started_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
