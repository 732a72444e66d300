"""A simulated OCPP 1.6-J charge point: the connection, boot, heartbeat, commands.

The charging side (cable, card, transactions, meters) is in charging.py.

Every step a driver or a test takes is an awaitable method that returns once the CSMS has
answered (plug_in, swipe, start_transaction, stop_transaction, unplug, …). The station's own
background work -- reading the socket, heartbeats, meter samples, replaying transaction
messages, reconnecting, answering commands -- runs in the station's TaskGroup, entered by
`connect()` (or `async with station:`) and left by `close()`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from websockets.exceptions import InvalidHandshake

from kilowatt.ocpp import CallReceived, ErrorCode
from kilowatt.ocpp.v16.enums import (
    ChargePointErrorCode,
    ChargePointStatus,
    FirmwareStatus,
    Reason,
    RegistrationStatus,
    ResetType,
)
from kilowatt.ocpp.v16.messages import (
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    StatusNotificationRequest,
)

from . import commands, smart_charging
from .charging import ChargingMixin, Connector, utcnow
from .config import SimulatorConfig, SimulatorStats
from .configuration import Configuration, core_keys
from .firmware import FileTransfers
from .link import (
    CallFailed,
    CallTimeout,
    ConnectionLost,
    Link,
    NotAccepted,
    NotConnected,
    StationError,
    open_link,
)
from .local_list import LocalList
from .meter import DEFAULT_SAMPLED_DATA_AC, DEFAULT_SAMPLED_DATA_DC, Meter, MeterItem
from .meter import parse_measurands as _parse
from .phases import DEFAULT_ROTATION, parse_rotations
from .reservations import PROFILE as RESERVATION_PROFILE
from .reservations import ReservationBook
from .txqueue import TransactionQueue

__all__ = ["ReceivedCommand", "SimulatedStation"]

logger = logging.getLogger("kilowatt.simulator")

Status = ChargePointStatus
_CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake)


@dataclass(frozen=True, slots=True)
class ReceivedCommand:
    """One CALL from the CSMS and how the station answered it (error set for a CALLERROR)."""

    action: str
    request: msgspec.Struct
    response: msgspec.Struct | None
    error: ErrorCode | None
    at: datetime


class SimulatedStation(ChargingMixin):
    """One simulated charge point; see the module docstring and docs/simulator.md."""

    def __init__(
        self,
        config: SimulatorConfig,
        station_id: str,
        *,
        stats: SimulatorStats | None = None,
    ) -> None:
        self.config = config
        self.station_id = station_id
        self.url = config.station_url(station_id)
        self.stats = stats if stats is not None else SimulatorStats()
        seed = f"{config.seed}:{station_id}" if config.seed is not None else None
        self.rng = random.Random(seed)
        self.dc = config.is_dc
        self.configuration = Configuration(
            core_keys(
                connectors=config.connectors,
                dc=self.dc,
                sample_interval=config.meter_interval,
                heartbeat_interval=config.heartbeat_interval or 300,
                sampled_data=DEFAULT_SAMPLED_DATA_DC if self.dc else DEFAULT_SAMPLED_DATA_AC,
                phase_rotation=config.phase_rotation,
            )
        )
        self.connectors: dict[int, Connector] = {
            i: Connector(
                i,
                Meter(
                    config.max_power_w,
                    dc=self.dc,
                    register_wh=float(self.rng.randrange(0, 2_000_000)),
                ),
            )
            for i in range(1, config.connectors + 1)
        }
        #: Connector 0: the station as a whole (Available / Unavailable).
        self.station_status = Status.AVAILABLE
        self.registration: RegistrationStatus | None = None
        self.last_boot_answer: BootNotificationResponse | None = None
        #: BootNotifications the CSMS accepted (one per boot and reboot).
        self.boot_count = 0
        #: Connection attempts that failed (refused, HTTP error, timeout).
        self.connect_failures = 0
        self.firmware_status = FirmwareStatus.IDLE
        #: What BootNotification reports; an installed firmware update changes it.
        self.firmware_version = config.firmware_version
        #: Firmware download and diagnostics upload behaviour (firmware.py).
        self.files = FileTransfers()
        #: The Local Authorization List (SendLocalList), kept across reboots like a real one's.
        self.local_list = LocalList()
        #: Reservations held (ReserveNow), until used, cancelled or expired (reservations.py).
        self.reservations = ReservationBook()
        #: Charging profiles held per connector, kept across reboots (smart_charging.py).
        self.profiles = smart_charging.ProfileStore()
        self.configuration.add(smart_charging.smart_charging_keys(dc=self.dc))
        self.configuration.set(
            "SupportedFeatureProfiles",
            f"{self.configuration['SupportedFeatureProfiles']},{smart_charging.PROFILE}",
        )
        if not config.reservations:
            profiles = self.configuration["SupportedFeatureProfiles"].split(",")
            without = ",".join(p for p in profiles if p != RESERVATION_PROFILE)
            self.configuration.set("SupportedFeatureProfiles", without)
        self.received: deque[ReceivedCommand] = deque(maxlen=1000)
        self.txq = TransactionQueue(self._retry_policy, self._notify)
        self._sampled: tuple[MeterItem, ...] = ()
        self._stop_sampled: tuple[MeterItem, ...] = ()
        self._sleepers: set[asyncio.Future[bool]] = set()
        self.refresh_settings()
        self._link: Link | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._drivers: list[asyncio.Task[None]] = []
        self._closing = False
        self._reboot_pending = False
        self._boot_wanted = False
        self._booting = False
        self._boot_now = asyncio.Event()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    # -- inspection ----------------------------------------------------------------------
    @property
    def online(self) -> bool:
        return self._link is not None and not self._link.closed

    @property
    def accepted(self) -> bool:
        return self.registration is RegistrationStatus.ACCEPTED

    @property
    def link(self) -> Link | None:
        return self._link

    def connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise StationError(f"{self.station_id} has no connector {connector_id}") from None

    def status(self, connector_id: int) -> ChargePointStatus:
        return self.station_status if connector_id == 0 else self.connector(connector_id).status

    def transaction_id(self, connector_id: int) -> int | None:
        return self.connector(connector_id).transaction_id

    def meter_wh(self, connector_id: int) -> int:
        return self.connector(connector_id).meter.register

    def draw_a(self, connector_id: int) -> float:
        """The current the car on the connector draws now on its busiest phase (A; DC: the DC
        current); 0 if none."""
        return smart_charging.draw_a(self, connector_id)

    def draw_phases(self, connector_id: int | None = None) -> dict[int, float]:
        """The current now on each grid phase 1..3 (A): of the connector's car, or (None) of
        the whole station, its connectors summed."""
        return smart_charging.draw_phases(self, connector_id)

    def draw_w(self, connector_id: int) -> float:
        """The power the car on the connector draws now (W); 0 if none."""
        return smart_charging.draw_w(self, connector_id)

    @property
    def queued_messages(self) -> int:
        """Transaction messages waiting to be (re)sent."""
        return len(self.txq)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once `condition()` holds, checked at every state change of the station
        (bound it with `asyncio.timeout`)."""
        if condition():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (condition, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            self._waiters.remove(entry)

    def _notify(self) -> None:
        for condition, future in self._waiters:
            if not future.done() and condition():
                future.set_result(None)

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> SimulatedStation:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _start(self) -> None:
        if self._tg is not None:
            return
        self._closing = False
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        self.spawn(self.txq.run(self._ready_link))
        self.spawn(self._heartbeat_loop())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run `coro` in the station's TaskGroup; a StationError ends it quietly (logged).
        None (and `coro` is discarded) once the station is closing."""
        if self._tg is None or self._closing:
            coro.close()
            return None
        task = self._tg.create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except StationError as exc:
            logger.debug("%s: %s", self.station_id, exc)

    async def connect(self) -> None:
        """Open the WebSocket; raises OSError/InvalidHandshake/TimeoutError if that fails.

        From then on the station reconnects by itself (back-off with jitter) until close().
        """
        await self._start()
        if self.online:
            return
        self._link_up(await self._open())

    async def _open(self) -> Link:
        ping = self.configuration.get_float("WebSocketPingInterval")
        try:
            return await open_link(
                self.url,
                self.station_id,
                password=self.config.basic_auth_password,
                call_timeout=self.config.call_timeout,
                ping_interval=ping if ping > 0 else None,
                stats=self.stats,
                on_call=self._on_call,
                spawn=self.spawn,
                supported_actions=commands.SUPPORTED,
            )
        except _CONNECT_ERRORS:
            self.stats.errors += 1
            self.connect_failures += 1
            self._notify()
            raise

    def _link_up(self, link: Link) -> None:
        self._link = link
        self.stats.connects += 1
        self.spawn(self._serve(link))
        self.txq.wake()
        self._notify()

    async def _serve(self, link: Link) -> None:
        await link.serve()
        if self._link is link:
            self._link = None
        self._notify()
        if self._closing:
            return
        immediate = self._reboot_pending
        if immediate:
            self._rebooted()
        await self._reconnect(immediate=immediate)

    async def _reconnect(self, *, immediate: bool) -> None:
        delay = self.config.reconnect_min
        while not self._closing:
            if not immediate:
                await asyncio.sleep(delay * self.rng.uniform(0.5, 1.0))
                delay = min(delay * 2, self.config.reconnect_max)
            immediate = False
            try:
                link = await self._open()
            except _CONNECT_ERRORS as exc:
                logger.debug("%s: reconnect failed: %s", self.station_id, exc)
                continue
            self.stats.reconnects += 1
            self._link_up(link)
            if self.accepted:
                self.spawn(self._announce())
            elif self._boot_wanted and not self._booting:
                self.spawn(self._boot_quietly())
            return

    def drop_connection(self) -> None:
        """Lose the connection without a closing handshake; the station reconnects by itself."""
        if self._link is not None:
            self._link.abort()

    async def close(self) -> None:
        """Disconnect and end every task of the station (running transactions are left as
        they are, like a charger losing power; see shutdown())."""
        if self._tg is None:
            return
        self._closing = True
        link = self._link
        if link is not None:
            await link.close()
        for task in list(self._tasks):
            task.cancel()
        tg, self._tg = self._tg, None
        try:
            await tg.__aexit__(None, None, None)
        finally:
            self._link = None
            for _, future in self._waiters:
                if not future.done():
                    future.cancel()

    async def shutdown(self, reason: Reason = Reason.OTHER) -> None:
        """Send the drivers home, stop running transactions (while the CSMS answers, at most
        `config.shutdown_timeout` seconds), then close()."""
        for driver in self._drivers:
            driver.cancel()
        self._drivers.clear()
        try:
            async with asyncio.timeout(self.config.shutdown_timeout):
                for connector in self.connectors.values():
                    if connector.transaction is not None and self.online and self.accepted:
                        await self.stop_transaction(connector.connector_id, reason)
        except (TimeoutError, StationError) as exc:
            logger.debug("%s: shutdown: %r", self.station_id, exc)
        await self.close()

    async def run_forever(self, stop: asyncio.Event, *, start_delay: float = 0.0) -> None:
        """The station's whole life in a run(): connect (retrying), boot, drive its connectors
        if auto_sessions, until `stop` is set; then shut down gracefully."""
        from .behaviour import drive_connector  # behaviour drives stations: import at use

        async with self:
            if await _wait_event(stop, start_delay):
                return
            delay = self.config.reconnect_min
            while not self.online:
                try:
                    await self.connect()
                except _CONNECT_ERRORS as exc:
                    logger.debug("%s: connect failed: %s", self.station_id, exc)
                    if await _wait_event(stop, delay * self.rng.uniform(0.5, 1.0)):
                        return
                    delay = min(delay * 2, self.config.reconnect_max)
            self.spawn(self._boot_quietly())
            if self.config.auto_sessions:
                for connector_id in self.connectors:
                    driver = self.spawn(drive_connector(self, connector_id))
                    if driver is not None:
                        self._drivers.append(driver)
            await stop.wait()
            if self.config.stop_transactions_on_exit:
                await self.shutdown()

    # -- calls ---------------------------------------------------------------------------
    async def call(
        self, action: str, payload: msgspec.Struct, *, triggered: bool = False
    ) -> msgspec.Struct:
        """Send a call now (not queued); only once accepted, or in Pending when triggered."""
        link = self._link
        if link is None or link.closed:
            raise NotConnected(f"{self.station_id} is offline")
        allowed = self.accepted or (triggered and self.registration is RegistrationStatus.PENDING)
        if not allowed:
            raise NotAccepted(f"{self.station_id} is not accepted ({self.registration})")
        return await link.call(action, payload)

    async def _ready_link(self) -> Link:
        await self.wait_until(
            lambda: self.online and self.accepted,
        )
        assert self._link is not None
        return self._link

    def _retry_policy(self) -> tuple[int, float]:
        return (
            int(self.configuration["TransactionMessageAttempts"]),
            self.configuration.get_float("TransactionMessageRetryInterval"),
        )

    # -- boot, heartbeat, status ---------------------------------------------------------
    def _boot_request(self) -> BootNotificationRequest:
        return BootNotificationRequest(
            charge_point_vendor=self.config.charge_point_vendor,
            charge_point_model=self.config.charge_point_model,
            charge_point_serial_number=self.station_id[-25:],
            firmware_version=self.firmware_version,
            meter_type="SimMeter",
            meter_serial_number=f"M-{self.station_id}"[-25:],
        )

    async def boot(self) -> BootNotificationResponse:
        """BootNotification until the CSMS accepts, then StatusNotification for connector 0 and
        each connector; returns the accepting answer.

        After Pending/Rejected it sends nothing else and boots again after the given interval
        (or at once when the CSMS triggers a BootNotification); it rides out reconnections.
        """
        self._boot_wanted = True
        self._booting = True
        try:
            while True:
                await self.wait_until(
                    lambda: self.online,
                )
                link = self._link
                assert link is not None
                try:
                    answer = await link.call("BootNotification", self._boot_request())
                except (ConnectionLost, NotConnected):
                    continue
                except (CallFailed, CallTimeout):
                    await self._boot_wait(self.config.boot_retry_interval)
                    continue
                assert isinstance(answer, BootNotificationResponse)
                if await self._boot_answered(answer):
                    return answer
                await self._boot_wait(answer.interval or self.config.boot_retry_interval)
        finally:
            self._booting = False

    async def _boot_quietly(self) -> None:
        await self.boot()

    async def _boot_wait(self, seconds: float) -> None:
        self._boot_now.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._boot_now.wait()
        except TimeoutError:
            pass

    async def _boot_answered(self, answer: BootNotificationResponse) -> bool:
        self.registration = answer.status
        self.last_boot_answer = answer
        if answer.status is not RegistrationStatus.ACCEPTED:
            self._notify()
            return False
        self.boot_count += 1
        if answer.interval > 0 and self.config.heartbeat_interval is None:
            self.configuration.set("HeartbeatInterval", str(answer.interval))
            self.refresh_settings()
        self.txq.wake()
        self._notify()
        await self._announce()
        return True

    async def triggered_boot(self) -> None:
        """TriggerMessage(BootNotification): cut a Pending wait short, or boot once more."""
        if self._booting:
            self._boot_now.set()
            return
        link = self._link
        if link is None or link.closed:
            raise NotConnected(f"{self.station_id} is offline")
        answer = await link.call("BootNotification", self._boot_request())
        assert isinstance(answer, BootNotificationResponse)
        if not await self._boot_answered(answer):
            self.spawn(self._boot_quietly())

    async def _announce(self) -> None:
        await self.send_status(0)
        for connector_id in self.connectors:
            await self.send_status(connector_id)

    async def send_status(self, connector_id: int, *, triggered: bool = False) -> None:
        """StatusNotification with the connector's current status (errors are only logged)."""
        status = self.status(connector_id)
        try:
            await self.call(
                "StatusNotification",
                StatusNotificationRequest(
                    connector_id=connector_id,
                    error_code=ChargePointErrorCode.NO_ERROR,
                    status=status,
                    timestamp=utcnow(),
                ),
                triggered=triggered,
            )
        except StationError as exc:
            logger.debug("%s: status %s not sent: %s", self.station_id, status, exc)

    async def heartbeat(self, *, triggered: bool = False) -> datetime:
        answer = await self.call("Heartbeat", HeartbeatRequest(), triggered=triggered)
        assert isinstance(answer, HeartbeatResponse)
        return answer.current_time

    def _heartbeat_interval(self) -> float:
        if self.config.heartbeat_interval is not None:
            return self.config.heartbeat_interval
        return max(1.0, self.configuration.get_float("HeartbeatInterval"))

    async def _heartbeat_loop(self) -> None:
        while True:
            if await self._sleep(self._heartbeat_interval()):
                continue  # the interval changed: start over with the new one
            if self.online and self.accepted:
                try:
                    await self.heartbeat()
                except StationError as exc:
                    logger.debug("%s: heartbeat: %s", self.station_id, exc)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep; True if cut short because a setting (an interval) changed.

        A bare future and timer, as asyncio.sleep does: this runs for every meter sample.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(seconds, _resolve, future, False)
        self._sleepers.add(future)
        try:
            return await future
        finally:
            timer.cancel()
            self._sleepers.discard(future)

    def refresh_settings(self) -> None:
        """Re-read the configuration keys that drive behaviour (after ChangeConfiguration)
        and wake the loops that sleep for an interval."""
        self._sampled = _parse(self.configuration["MeterValuesSampledData"])
        self._stop_sampled = _parse(self.configuration["StopTxnSampledData"])
        # The key is the wiring: a CSMS that corrects it moves the load from the next reading on.
        rotations = parse_rotations(self.configuration["ConnectorPhaseRotation"])
        for connector_id, connector in self.connectors.items():
            connector.meter.rotation = rotations.get(connector_id, DEFAULT_ROTATION)
        for future in self._sleepers:
            _resolve(future, True)

    def sample_interval(self) -> float:
        return self.configuration.get_float("MeterValueSampleInterval")

    # -- commands from the CSMS (the rules live in commands.py) -------------------------
    def _on_call(self, link: Link, call: CallReceived) -> None:
        self.spawn(self._answer(link, call))

    async def _answer(self, link: Link, call: CallReceived) -> None:
        reply = await commands.HANDLERS[call.action](self, call.payload)
        self.received.append(
            ReceivedCommand(call.action, call.payload, reply.response, reply.error, utcnow())
        )
        self._notify()
        if reply.error is not None:
            link.session.send_error(call.message_id, reply.error, f"{call.action} not supported")
            self.stats.calls_answered += 1
            await link.flush()
        elif reply.response is not None:
            await link.answer(call.message_id, reply.response)
        if reply.then is not None:
            await reply.then()

    async def reset(self, kind: ResetType) -> None:
        """Reboot: stop transactions (reason SoftReset/HardReset), disconnect, reconnect, boot."""
        reason = Reason.SOFT_RESET if kind is ResetType.SOFT else Reason.HARD_RESET
        for connector in self.connectors.values():
            if connector.transaction is not None:
                await self.stop_transaction(connector.connector_id, reason)
        self._boot_wanted = True
        link = self._link
        if link is None or link.closed:
            self._rebooted()
            return
        self._reboot_pending = True
        await link.close()

    def _rebooted(self) -> None:
        self._reboot_pending = False
        self.registration = None
        self.reservations.clear()
        for connector in self.connectors.values():
            connector.energizing = False
            connector.authorized_tag = None
            connector.remote_start_pending = False
            # A car still plugged in after the reboot is a fresh start: Preparing, not Finishing.
            connector.status = Status.AVAILABLE
            connector.status = self.resting_status(connector)
        self._notify()


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


async def _wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; True if it is set."""
    if seconds <= 0:
        return event.is_set()
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
