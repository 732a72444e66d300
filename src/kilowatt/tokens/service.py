"""Authorization of tokens (OCPP idTag): Accepted, Blocked, Expired, Invalid, ConcurrentTx."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction


@dataclass(frozen=True, slots=True)
class Authorization:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    token_id: int | None = None


async def find(db: AsyncSession, tenant_id: int, id_tag: str) -> Token | None:
    return await db.scalar(
        select(Token).where(Token.tenant_id == tenant_id, Token.id_tag == id_tag)
    )


async def authorize(
    db: AsyncSession,
    tenant_id: int,
    id_tag: str,
    now: datetime,
    *,
    exclude_transaction_id: int | None = None,
) -> Authorization:
    """The idTagInfo for ``id_tag`` right now; unknown tags are Invalid."""
    token = await find(db, tenant_id, id_tag)
    if token is None:
        return Authorization("Invalid")
    if token.status != "Accepted":
        return Authorization(token.status, token.expiry_date, token.parent_id_tag, token.id)
    if token.expiry_date is not None and token.expiry_date <= now:
        return Authorization("Expired", token.expiry_date, token.parent_id_tag, token.id)
    running = select(func.count()).where(
        Transaction.token_id == token.id, Transaction.stop_received_at.is_(None)
    )
    if exclude_transaction_id is not None:
        running = running.where(Transaction.id != exclude_transaction_id)
    if (await db.scalar(running) or 0) >= token.max_concurrent_transactions:
        return Authorization("ConcurrentTx", token.expiry_date, token.parent_id_tag, token.id)
    return Authorization("Accepted", token.expiry_date, token.parent_id_tag, token.id)


async def create(
    db: AsyncSession,
    tenant_id: int,
    id_tag: str,
    *,
    status: str = "Accepted",
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = None,
    max_concurrent_transactions: int = 1,
) -> Token:
    token = Token(
        tenant_id=tenant_id,
        id_tag=id_tag,
        status=status,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
        max_concurrent_transactions=max_concurrent_transactions,
    )
    db.add(token)
    await db.flush()
    return token


async def list_tokens(db: AsyncSession, tenant_id: int) -> list[Token]:
    return list(
        (
            await db.scalars(
                select(Token).where(Token.tenant_id == tenant_id).order_by(Token.id_tag)
            )
        ).all()
    )
