"""Transaction messages survive a database outage: stored replies, the journal, and its replay.

The gateway hands every incoming CALL to :meth:`Durability.handle` with a function that runs
its handler and commits (``apply``). For StartTransaction, StopTransaction and MeterValues:

* database up, journal empty: the handler runs and the reply is stored in the same commit
  (gateway/replies.py); a retry with the same message id gets the stored reply;
* database unreachable, or journal not empty (order is kept): the message is appended to the
  journal and fsynced, then acknowledged with a reply built without the database
  (StartTransaction gets an id of the node's reserved block and ``Accepted``);
* a replayer applies the journal in order once the database is back, each entry in its own
  commit with its stored reply (so a replay interrupted by a crash skips what it already did),
  then removes the applied entries.

Other CALLs get a CALLERROR InternalError while the database is unreachable: OCPP 1.6 §4
lets a station retry or drop those, and none of them is billed. Authorize is answered Accepted
for a token this node saw accepted in the last ``TOKEN_CACHE_SECONDS`` (DESIGN.md decision 3,
docs/durability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilowatt.config import Settings
from kilowatt.events import Event, EventBus
from kilowatt.gateway import replies
from kilowatt.gateway.context import OcppContext
from kilowatt.journal import reconcile
from kilowatt.journal.file import Entry, JournalFile
from kilowatt.journal.ids import TransactionIds
from kilowatt.metrics import Metrics
from kilowatt.ocpp.rpc import ErrorCode, OcppError
from kilowatt.ocpp.session import CallReceived
from kilowatt.ocpp.v16 import decode_request
from kilowatt.ocpp.v16 import messages as m
from kilowatt.stations.service import VendorHook
from kilowatt.transactions import ocpp_handlers, service
from kilowatt.transactions.models import Transaction

log = logging.getLogger(__name__)

JOURNALED_ACTIONS = replies.STORED_ACTIONS
TOKEN_CACHE_SECONDS = 24 * 3600
TOKEN_CACHE_SIZE = 100_000
REPLAY_RETRY_SECONDS = 1.0
REPLAY_GROUP = 100  # entries applied per commit
MAINTENANCE_SECONDS = 60.0

# Names of driver exceptions that mean "the database is not there", whatever wraps them.
_UNAVAILABLE_NAMES = frozenset(
    {
        "AdminShutdownError",
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ConnectionRejectionError",
        "CrashShutdownError",
        "InterfaceError",
        "PostgresConnectionError",
        "TooManyConnectionsError",
    }
)

# apply(before_commit) runs the handler in one DB transaction; before_commit(db, response)
# adds to that transaction; the handler's response comes back once committed.
BeforeCommit = Callable[[AsyncSession, Any], Awaitable[None]]
Apply = Callable[[BeforeCommit | None], Awaitable[Any]]


class Connection(Protocol):
    charge_point_id: str
    station_id: int
    tenant_id: int


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (rather than: the request is bad)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(
            current,
            (
                sa_exc.TimeoutError,  # the pool had no connection in time
                sa_exc.InterfaceError,
                ConnectionError,
                TimeoutError,
                socket.gaierror,
            ),
        ):
            return True
        if isinstance(current, sa_exc.OperationalError):
            text = str(current).lower()
            # SQLite: locked beyond the busy timeout, or the file unreachable.
            if "locked" in text or "unable to open" in text or "disk i/o" in text:
                return True
            if "connection" in text or "shutdown" in text or "terminat" in text:
                return True
        if isinstance(current, OSError) and not isinstance(current, FileNotFoundError):
            return True
        if type(current).__name__ in _UNAVAILABLE_NAMES:
            return True
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )
    return False


def node_id(directory: Path) -> str:
    """This data directory's node id (generated once, kept in ``node-id``)."""
    path = directory / "node-id"
    if path.exists():
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    value = f"{socket.gethostname()[:30]}-{uuid.uuid4().hex[:12]}"
    path.write_text(value + "\n")
    return value


@dataclass
class ReplayFigures:
    """What the last replay did (logged, and read by the fault tests)."""

    applied: int = 0
    skipped: int = 0  # already in the database (a replay interrupted by a crash)
    set_aside: int = 0  # failed for another reason than an outage: kept in rejected.jsonl
    seconds: float = 0.0


@dataclass
class Durability:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    metrics: Metrics
    vendor_hooks: dict[str, VendorHook] = field(default_factory=dict)
    directory: Path = field(init=False)
    file: JournalFile = field(init=False)
    ids: TransactionIds = field(init=False)
    journaled_total: int = 0
    last_replay: ReplayFigures = field(default_factory=ReplayFigures)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _replay_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _journaled: dict[tuple[int, str], Entry] = field(default_factory=dict)
    _tokens: OrderedDict[tuple[int, str], float] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.directory = self.settings.data_dir / "journal"
        self.file = JournalFile(self.directory / "transactions.jsonl")
        self.ids = TransactionIds(node_id(self.directory), self.directory / "id-block.json")

    # ---- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Load the journal (a torn tail is dropped), the id block, and replay what is there."""
        entries = await asyncio.to_thread(self.file.load)
        self.ids.load(entries)
        self._journaled = {(e.station_id, e.message_id): e for e in entries}
        self.metrics.journal_depth.set(len(entries))
        if entries:
            log.warning("journal: %d entries from before the restart; replaying", len(entries))
            await self.replay()
        await self.maintain_ids()

    @property
    def depth(self) -> int:
        return len(self.file.entries)

    async def run(self) -> None:
        """Replay whenever entries wait; keep the id block stocked; prune stored replies."""
        next_maintenance = next_expiry = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=REPLAY_RETRY_SECONDS)
            self._wake.clear()
            try:
                if self.depth:
                    await self.replay()
                if time.monotonic() >= next_expiry:
                    await self.expire_unanswered()
                    next_expiry = time.monotonic() + self._expiry_every
                if time.monotonic() >= next_maintenance:
                    await self.maintain_ids()
                    await self.prune_replies()
                    next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
            except Exception as exc:
                if not is_unavailable(exc):
                    log.exception("journal maintenance failed; retrying")

    def close(self) -> None:
        self.file.close()

    @property
    def _expiry_every(self) -> float:
        return max(1.0, min(30.0, self.settings.connection_timeout / 4))

    async def expire_unanswered(self) -> int:
        now = datetime.now(UTC)
        async with self.sessions() as db:
            count = await reconcile.expire_unanswered(
                db,
                older_than=now - timedelta(seconds=self.settings.connection_timeout),
                now=now,
                policy=ocpp_handlers.billing_policy(self.settings),
            )
            await db.commit()
        if count:
            log.info("expired %d starts left unanswered by a restart", count)
            self.bus.publish(Event("session.closed", {}))
        return count

    async def maintain_ids(self) -> None:
        try:
            async with self.sessions() as db:
                if await self.ids.needs_block(db):
                    await self.ids.reserve(db)
                    await db.commit()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("could not reserve transaction ids now: %s", exc)

    async def prune_replies(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=replies.RETENTION_DAYS)
        removed = 0
        while True:
            async with self.sessions() as db:
                count = await replies.prune(db, cutoff)
                await db.commit()
            removed += count
            if count < 10_000:
                return removed

    # ---- the hot path ------------------------------------------------------------------------
    async def handle(self, connection: Connection, event: CallReceived, apply: Apply) -> Any:
        if event.action not in JOURNALED_ACTIONS:
            return await self._plain(connection, event, apply)
        digest = replies.request_hash(event.raw)
        waiting = self._journaled.get((connection.station_id, event.message_id))
        if waiting is not None and waiting.request_hash == digest:
            self.metrics.replies_repeated.inc()
            return waiting.reply  # a retry of a message still in the journal
        if self.file.entries:  # keep the order: while anything waits, everything waits
            return await self._journal(connection, event, digest)
        try:
            return await self._stored(connection, event, apply, digest)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("database unreachable (%s); journaling %s", exc, event.action)
            return await self._journal(connection, event, digest)

    async def _plain(self, connection: Connection, event: CallReceived, apply: Apply) -> Any:
        try:
            response = await apply(None)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if event.action == "Authorize" and self._known_valid(
                connection.tenant_id, event.raw.get("idTag", "")
            ):
                return {"idTagInfo": {"status": "Accepted"}}
            raise OcppError(
                ErrorCode.INTERNAL_ERROR,
                "the central system's database is unavailable; try again later",
            ) from None
        if event.action == "Authorize":
            self._remember(connection.tenant_id, event.raw.get("idTag", ""), response)
        return response

    async def _stored(
        self, connection: Connection, event: CallReceived, apply: Apply, digest: str
    ) -> Any:
        now = datetime.now(UTC)

        def storing(replace: bool) -> BeforeCommit:
            async def before_commit(db: AsyncSession, response: Any) -> None:
                await replies.store(
                    db,
                    station_id=connection.station_id,
                    message_id=event.message_id,
                    action=event.action,
                    digest=digest,
                    reply=replies.as_json(response),
                    now=now,
                    replace=replace,
                )

            return before_commit

        try:
            response = await apply(storing(False))
        except sa_exc.IntegrityError:
            async with self.sessions() as db:
                stored = await replies.find(db, connection.station_id, event.message_id)
            if stored is None:
                raise
            if stored.request_hash == digest and stored.action == event.action:
                self.metrics.replies_repeated.inc()
                return stored.reply
            log.info(
                "%s reused message id %s for another message; handling it as new",
                connection.charge_point_id,
                event.message_id,
            )
            response = await apply(storing(True))
        if event.action == "StartTransaction":
            self._remember(connection.tenant_id, event.raw.get("idTag", ""), response)
        return response

    def _offline_reply(self, event: CallReceived) -> dict[str, Any]:
        if event.action == "StartTransaction":
            transaction_id = self.ids.take()
            if transaction_id is None:
                raise OcppError(
                    ErrorCode.INTERNAL_ERROR,
                    "the central system's database is unavailable; try again later",
                )
            return {"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}}
        if event.action == "StopTransaction" and event.raw.get("idTag"):
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    async def _journal(self, connection: Connection, event: CallReceived, digest: str) -> Any:
        reply = self._offline_reply(event)
        async with self._lock:
            entry = Entry(
                seq=self.file.next_seq,
                station_id=connection.station_id,
                tenant_id=connection.tenant_id,
                charge_point_id=connection.charge_point_id,
                message_id=event.message_id,
                action=event.action,
                payload=event.raw,
                reply=reply,
                request_hash=digest,
                received_at=datetime.now(UTC).isoformat(),
            )
            try:
                await asyncio.to_thread(self.file.append, entry)
            except OSError:
                log.exception("journal: could not append; the station will retry")
                raise OcppError(
                    ErrorCode.INTERNAL_ERROR, "could not store the message; try again later"
                ) from None
        self._journaled[(entry.station_id, entry.message_id)] = entry
        self.journaled_total += 1
        self.metrics.journal_appended.inc()
        self.metrics.journal_depth.set(self.depth)
        self._wake.set()
        return reply

    # ---- offline authorization ---------------------------------------------------------------
    def _remember(self, tenant_id: int, id_tag: str, response: Any) -> None:
        info = replies.as_json(response).get("idTagInfo") or {}
        key = (tenant_id, id_tag)
        if info.get("status") != "Accepted":
            self._tokens.pop(key, None)
            return
        self._tokens[key] = time.monotonic() + TOKEN_CACHE_SECONDS
        self._tokens.move_to_end(key)
        while len(self._tokens) > TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)

    def _known_valid(self, tenant_id: int, id_tag: str) -> bool:
        until = self._tokens.get((tenant_id, id_tag))
        return until is not None and until > time.monotonic()

    # ---- replay ------------------------------------------------------------------------------
    async def replay(self) -> ReplayFigures:
        """Apply the journal in order; stop at the first outage (the rest waits for the next)."""
        async with self._replay_lock:
            async with self._lock:
                batch = list(self.file.entries)
            figures = ReplayFigures()
            if not batch:
                return figures
            started = time.perf_counter()
            done: list[Entry] = []
            outage = False
            for start in range(0, len(batch), REPLAY_GROUP):
                group = batch[start : start + REPLAY_GROUP]
                try:
                    results = await self._replay_group(group)
                except Exception as exc:
                    if is_unavailable(exc):
                        break
                    # One entry is bad: apply the group one entry per commit to find it.
                    results = []
                    for entry in group:
                        try:
                            results.append((await self._replay_group([entry]))[0])
                        except Exception as one_exc:
                            if is_unavailable(one_exc):
                                outage = True
                                break
                            log.exception(
                                "journal: entry %s (%s from %s) failed; set aside",
                                entry.seq,
                                entry.action,
                                entry.charge_point_id,
                            )
                            await asyncio.to_thread(self._set_aside, entry)
                            figures.set_aside += 1
                            results.append(False)
                for entry, applied in zip(group, results, strict=False):
                    figures.applied += applied
                    figures.skipped += not applied
                    done.append(entry)
                if outage:
                    break
            figures.skipped -= figures.set_aside
            if done:
                async with self._lock:
                    await asyncio.to_thread(self.file.remove_through, done[-1].seq)
                for entry in done:
                    key = (entry.station_id, entry.message_id)
                    if self._journaled.get(key) is entry:
                        del self._journaled[key]
                self.metrics.journal_replayed.inc(len(done))
                self.metrics.journal_depth.set(self.depth)
            figures.seconds = time.perf_counter() - started
            self.last_replay = figures
            if done:
                log.warning(
                    "journal: replayed %d entries (%d applied, %d already there, %d set aside) "
                    "in %.2f s; %d left",
                    len(done),
                    figures.applied,
                    figures.skipped,
                    figures.set_aside,
                    figures.seconds,
                    self.depth,
                )
            if any(e.action == "StartTransaction" for e in done):
                self.ids.forget_used()
                await self.maintain_ids()
            return figures

    def _set_aside(self, entry: Entry) -> None:
        path = self.directory / "rejected.jsonl"
        with open(path, "ab") as out:
            out.write(msgspec.json.encode(entry) + b"\n")

    async def _replay_group(self, entries: list[Entry]) -> list[bool]:
        """Apply ``entries`` in one commit (group commit); which were applied (not already)."""
        events: list[Event] = []
        applied: list[bool] = []
        async with self.sessions() as db:
            for entry in entries:
                applied.append(await self._apply_entry(db, entry, events))
            await db.commit()
        for domain_event in events:
            self.bus.publish(domain_event)
        return applied

    async def _apply_entry(self, db: AsyncSession, entry: Entry, events: list[Event]) -> bool:
        received_at = datetime.fromisoformat(entry.received_at)
        stored = await replies.find(db, entry.station_id, entry.message_id)
        if stored is not None and stored.request_hash == entry.request_hash:
            return False  # applied before a crash interrupted the last replay
        ctx = OcppContext(
            charge_point_id=entry.charge_point_id,
            station_id=entry.station_id,
            tenant_id=entry.tenant_id,
            db=db,
            now=received_at,
            settings=self.settings,
            vendor_hooks=self.vendor_hooks,
        )
        request = decode_request(entry.action, entry.payload)
        if isinstance(request, m.StartTransactionRequest):
            await self._replay_start(ctx, request, int(entry.reply["transactionId"]))
        elif isinstance(request, m.StopTransactionRequest):
            await ocpp_handlers.stop_transaction(ctx, request)
        elif isinstance(request, m.MeterValuesRequest):
            await ocpp_handlers.meter_values(ctx, request)
        await replies.store(
            db,
            station_id=entry.station_id,
            message_id=entry.message_id,
            action=entry.action,
            digest=entry.request_hash,
            reply=entry.reply,
            now=received_at,
            replace=stored is not None,
        )
        events.extend(ctx.events)
        return True

    async def _replay_start(
        self, ctx: OcppContext, req: m.StartTransactionRequest, transaction_id: int
    ) -> None:
        result = await service.start(
            ctx.db,
            station_id=ctx.station_id,
            tenant_id=ctx.tenant_id,
            connector_id=req.connector_id,
            id_tag=req.id_tag,
            meter_start=req.meter_start,
            timestamp=req.timestamp,
            reservation_id=req.reservation_id,
            now=ctx.now,
            session_window=timedelta(seconds=ctx.settings.connection_timeout),
            policy=ocpp_handlers.billing_policy(ctx.settings),
            transaction_id=transaction_id,
        )
        tx = await ctx.db.get(Transaction, result.transaction_id)
        assert tx is not None
        if result.transaction_id != transaction_id:
            log.error(
                "journal: StartTransaction answered offline with %s is transaction %s",
                transaction_id,
                result.transaction_id,
            )
            service.flag(tx, f"answered offline with transactionId {transaction_id}")
        if result.authorization.status != "Accepted":
            service.flag(
                tx,
                f"started while the database was down: idTag {req.id_tag} is "
                f"{result.authorization.status}",
            )
        ctx.events.append(
            Event(
                "transaction.started",
                {"stationId": ctx.station_id, "transactionId": result.transaction_id},
                tenant_id=ctx.tenant_id,
                station=ctx.charge_point_id,
                connector_id=req.connector_id,
            )
        )
