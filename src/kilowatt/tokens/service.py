"""Tokens (OCPP idTag): authorization (Accepted, Blocked, Expired, Invalid, ConcurrentTx), an
operator's administration of a tenant's tokens, and a driver's of their own cards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, auto

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.tokens.models import Token
from kilowatt.transactions.models import Transaction
from kilowatt.users import repository as accounts


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
    token_group: str | None = None,
) -> Token:
    token = Token(
        tenant_id=tenant_id,
        id_tag=id_tag,
        status=status,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
        max_concurrent_transactions=max_concurrent_transactions,
        token_group=token_group,
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


# ---- the API's operations: operators on their tenant's tokens, drivers on their own cards ------
# Services never commit; a refused operation is a ``TokenError`` carrying the HTTP status.


class TokenError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


class _Unset(Enum):
    UNSET = auto()


UNSET = _Unset.UNSET


def _not_found(id_tag: str) -> TokenError:
    return TokenError(404, "Token not found", f"no token {id_tag!r}")


async def tokens_page(
    db: AsyncSession,
    tenant_id: int | None,
    *,
    user_id: int | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Token], int]:
    """One page of a tenant's tokens (None: every tenant's) by id tag, and the total."""
    query = select(Token)
    if tenant_id is not None:
        query = query.where(Token.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(Token.user_id == user_id)
    if status is not None:
        query = query.where(Token.status == status)
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    rows = await db.scalars(query.order_by(Token.id_tag, Token.id).limit(limit).offset(offset))
    return rows.all(), total or 0


async def visible_token(db: AsyncSession, tenant_id: int | None, id_tag: str) -> Token:
    """The token ``id_tag`` of ``tenant_id``; 404 if none. Across every tenant (None), an id tag
    two tenants both use is a 409: the caller names the tenant."""
    query = select(Token).where(Token.id_tag == id_tag)
    if tenant_id is not None:
        query = query.where(Token.tenant_id == tenant_id)
    found = (await db.scalars(query.limit(2))).all()
    if not found:
        raise _not_found(id_tag)
    if len(found) > 1:
        raise TokenError(409, "Ambiguous token", f"{id_tag!r} exists in several tenants: name one")
    return found[0]


async def _check_owner(db: AsyncSession, tenant_id: int, user_id: int) -> None:
    """A token's owner is a user of the token's tenant."""
    user = await accounts.user_by_id(db, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise TokenError(404, "User not found", f"no user {user_id} in the token's tenant")


async def add_token(
    db: AsyncSession,
    tenant_id: int,
    id_tag: str,
    *,
    user_id: int | None = None,
    status: str = "Accepted",
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = None,
    max_concurrent_transactions: int = 1,
    token_group: str | None = None,
) -> Token:
    """A new token of ``tenant_id`` (owned by ``user_id``); 409 if the tenant has this id tag."""
    if user_id is not None:
        await _check_owner(db, tenant_id, user_id)
    if await find(db, tenant_id, id_tag) is not None:
        raise TokenError(409, "Token exists", f"{id_tag!r} is already registered")
    try:
        async with db.begin_nested():  # a concurrent add of the same id tag loses here
            token = await create(
                db,
                tenant_id,
                id_tag,
                status=status,
                expiry_date=expiry_date,
                parent_id_tag=parent_id_tag,
                max_concurrent_transactions=max_concurrent_transactions,
                token_group=token_group,
            )
            token.user_id = user_id
    except IntegrityError:
        raise TokenError(409, "Token exists", f"{id_tag!r} is already registered") from None
    return token


async def update_token(
    db: AsyncSession,
    token: Token,
    *,
    status: str | None = None,
    expiry_date: datetime | _Unset | None = UNSET,
    parent_id_tag: str | _Unset | None = UNSET,
    max_concurrent_transactions: int | None = None,
    user_id: int | _Unset | None = UNSET,
    token_group: str | _Unset | None = UNSET,
) -> Token:
    """An operator's change: the arguments given change (None clears the nullable ones)."""
    if user_id is not UNSET:
        if user_id is not None:
            await _check_owner(db, token.tenant_id, user_id)
        token.user_id = user_id
    if status is not None:
        token.status = status
        token.blocked_by = "operator" if status == "Blocked" else None
    if expiry_date is not UNSET:
        token.expiry_date = expiry_date
    if parent_id_tag is not UNSET:
        token.parent_id_tag = parent_id_tag
    if max_concurrent_transactions is not None:
        token.max_concurrent_transactions = max_concurrent_transactions
    if token_group is not UNSET:
        token.token_group = token_group
    await db.flush()
    return token


async def has_running_transaction(db: AsyncSession, token_id: int) -> bool:
    running = await db.scalar(
        select(Transaction.id)
        .where(Transaction.token_id == token_id, Transaction.stop_received_at.is_(None))
        .limit(1)
    )
    return running is not None


# ---- a driver's own cards ----------------------------------------------------------------------
async def owned_page(
    db: AsyncSession, tenant_id: int, user_id: int, *, limit: int, offset: int
) -> tuple[Sequence[Token], int]:
    """One page of the driver's own tokens, and how many they have."""
    query = select(Token).where(Token.tenant_id == tenant_id, Token.user_id == user_id)
    total = await db.scalar(select(func.count()).select_from(query.subquery()))
    rows = await db.scalars(query.order_by(Token.id_tag, Token.id).limit(limit).offset(offset))
    return rows.all(), total or 0


async def owned_token(db: AsyncSession, tenant_id: int, user_id: int, id_tag: str) -> Token:
    """The driver's own token ``id_tag``; 404 for anybody else's, as for none."""
    token = await find(db, tenant_id, id_tag)
    if token is None or token.user_id != user_id:
        raise _not_found(id_tag)
    return token


async def block_own(db: AsyncSession, token: Token) -> Token:
    """The owner blocks their card (lost, stolen): it authorizes nothing from now on."""
    token.status = "Blocked"
    token.blocked_by = "owner"
    await db.flush()
    return token


async def unblock_own(db: AsyncSession, token: Token) -> Token:
    """The owner unblocks a card they blocked themselves; an operator's block stays (409)."""
    if token.status != "Blocked":
        return token
    if token.blocked_by != "owner":
        raise TokenError(409, "Card blocked", "ask your operator to unblock this card")
    token.status = "Accepted"
    token.blocked_by = None
    await db.flush()
    return token


async def remove_own(db: AsyncSession, token: Token) -> None:
    """The owner removes their card; 409 while a transaction with it is running.

    The row stays, unassigned and (if it was Accepted) Invalid: transactions and sessions
    refer to it, and deleting it would let the id tag be added again free of whatever an
    operator had set on it (a block, an expiry).
    """
    if await has_running_transaction(db, token.id):
        raise TokenError(409, "Card in use", "a transaction with this card is running")
    token.user_id = None
    if token.status == "Accepted":
        token.status = "Invalid"
    await db.flush()
