"""The FIX bridge process: one initiator session per venue, the outbox drainer, the price sink,
and the housekeeping that keeps no order waiting forever.

Threads: QuickFIX's (one per session: reports are applied on it, in sequence order), the
drainer (woken at commit by NOTIFY or the doorbell) and the price sink (last trades to the quote
cache and the hooks that watch prices: stop triggers, circuit breakers).
"""
import logging
import queue
import threading
import time
from pathlib import Path

import quickfix as fix
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from compliance.services import audit_record_system
from marketdata.models import Asset
from marketdata.selectors import last_price_set
from risk.services import halt_from_venue, halt_lift_from_venue

from ..models import Order, OutboxMessage, Venue
from ..state import Status
from . import messages, outbox, wakeup
from .application import BridgeApplication

log = logging.getLogger(__name__)
BROKER_COMP_ID = "TRADEX"
DICTIONARY = Path(settings.BASE_DIR) / "fixspec" / "FIX44.xml"
# Orders the venue has (or should have): asked about on logon and when an answer is overdue.
AT_VENUE = (Status.PENDING_NEW, Status.NEW, Status.PARTIALLY_FILLED, Status.PENDING_CANCEL, Status.PENDING_REPLACE)
AWAITING_VENUE = (Status.PENDING_NEW, Status.PENDING_CANCEL, Status.PENDING_REPLACE)


def fix_dir() -> Path:
    return Path(settings.TRADEX_FIX_DIR or Path(settings.VAR_DIR) / "fix" / "bridge")


def settings_text(venues, *, store: Path, heartbeat: int) -> str:
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"SenderCompID={BROKER_COMP_ID}",
        "BeginString=FIX.4.4",
        f"FileStorePath={store / 'store'}",
        f"FileLogPath={store / 'log'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"HeartBtInt={heartbeat}",
        "ReconnectInterval=1",
        "UseDataDictionary=Y",
        f"DataDictionary={DICTIONARY}",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        # A venue's answer to a status request for an order it does not know carries an empty
        # Symbol (55=). Refused at the session level, that answer (the one reconciliation needs)
        # would never reach the bridge; reports are mapped by ClOrdID, and reports.py reads an
        # empty value as absent.
        "ValidateFieldsHaveValues=N",
        "ResetOnLogon=N",
        "PersistMessages=Y",
        "",
    ]
    for name, host, port in venues:
        lines += ["[SESSION]", f"TargetCompID={name}", f"SocketConnectHost={host}", f"SocketConnectPort={port}", ""]
    return "\n".join(lines)


class FixBridge:
    def __init__(self, venues=None, *, directory: Path | None = None, price_hooks=(), clock_hooks=(),
                 heartbeat: int | None = None, sweep_seconds: float = 1.0):
        self.venues = tuple(venues or settings.TRADEX_VENUES)
        self.directory = Path(directory or fix_dir())
        self.price_hooks = list(price_hooks)
        # Called about every sweep_seconds on the price thread (the same thread as the price hooks,
        # so a hook object such as the trigger runner is only ever used from one thread).
        self.clock_hooks = list(clock_hooks)
        self.heartbeat = heartbeat or settings.TRADEX_FIX_HEARTBEAT_SECONDS
        self.sweep_seconds = sweep_seconds
        self.app = BridgeApplication(on_logon=self._logon, on_logout=self._logout, on_prices=self._prices,
                                     on_security_status=self._security_status)
        self._stop = threading.Event()
        self._prices_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._asked: dict = {}  # order id -> monotonic time of the last status request
        self._threads: list[threading.Thread] = []
        self.drain_passes = 0  # passes of the drainer so far (tests wait on it with app.wait_for)
        self.initiator = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        for name, host, port in self.venues:
            Venue.objects.update_or_create(name=name, defaults={"host": host, "port": port,
                                                                "session": Venue.Session.DOWN})
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "initiator.cfg"
        config.write_text(settings_text(self.venues, store=directory, heartbeat=self.heartbeat))
        fix_settings = fix.SessionSettings(str(config))
        self.initiator = fix.ThreadedSocketInitiator(self.app, fix.FileStoreFactory(fix_settings), fix_settings,
                                                     fix.FileLogFactory(fix_settings))
        self._waiter = wakeup.waiter()
        for target, name in ((self._drain_loop, "outbox"), (self._price_loop, "prices")):
            thread = threading.Thread(target=target, name=f"fixbridge-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.initiator.start()

    def stop(self) -> None:
        self._stop.set()
        self._prices_queue.put(None)
        if self.initiator is not None:
            self.initiator.stop()
            # Dropping the initiator destroys its sessions, which unregisters their SessionIDs from
            # QuickFIX's process-wide registry (a new bridge in this process can then reuse them).
            self.initiator = None
        try:
            wakeup.ring()
        except OSError:
            pass
        for thread in self._threads:
            thread.join(timeout=5)
        Venue.objects.filter(name__in=[v[0] for v in self.venues]).update(session=Venue.Session.DOWN,
                                                                          session_changed_at=timezone.now())

    # --- session events (QuickFIX threads) ----------------------------------------------
    def _logon(self, venue: str) -> None:
        Venue.objects.filter(name=venue).update(session=Venue.Session.UP, session_changed_at=timezone.now())
        log.info("fixbridge: %s session up", venue)
        session_id = self.app.sessions[venue]
        symbols = list(Asset.objects.filter(tradable=True).values_list("symbol", flat=True))
        if symbols:
            fix.Session.sendToTarget(messages.market_data_request(f"{venue}-trades", symbols), session_id)
        # Reconcile before sending anything new: ask the venue about every order that may have
        # reached it and is not settled. The session delivers in sequence (a message the previous
        # process handed QuickFIX is resent first), so each answer covers everything sent before;
        # orders whose NEW still waits in the outbox are left out (it goes out next).
        waiting = OutboxMessage.objects.filter(order=OuterRef("pk"), kind=OutboxMessage.Kind.NEW,
                                               sent_at__isnull=True, parked_at__isnull=True)
        asked = (Order.objects.filter(venue=venue, status__in=AT_VENUE).exclude(Exists(waiting))
                 .only("pk", "symbol", "side"))
        for order in asked.iterator(chunk_size=500):
            fix.Session.sendToTarget(messages.order_status_request(order), session_id)
            self._asked[order.pk] = time.monotonic()
        self.app.mark_ready(venue)
        wakeup.ring()  # what waited in the outbox for this session goes now

    def _logout(self, venue: str) -> None:
        Venue.objects.filter(name=venue).update(session=Venue.Session.DOWN, session_changed_at=timezone.now())
        log.warning("fixbridge: %s session down; new orders for it are refused, those accepted wait", venue)

    def _security_status(self, venue: str, symbol: str, status: str, text: str) -> None:
        if status == "2":
            halt_from_venue(venue=venue, symbol=symbol, reason=text or "halted by the venue")
        elif status == "3":
            halt_lift_from_venue(venue=venue, symbol=symbol)

    def _prices(self, venue: str, trades) -> None:
        if trades:
            self._prices_queue.put((venue, trades))

    # --- drainer ------------------------------------------------------------------------
    def _drain_loop(self) -> None:
        while not self._stop.is_set():
            close_old_connections()
            try:
                outbox.drain(self.app, self.app.ready_venues())
                self._ask_overdue()
            except Exception:
                log.exception("fixbridge: outbox drain failed; retrying on the next wake")
            connection.close()  # nothing held while waiting
            with self.app.lock:
                self.drain_passes += 1
                self.app.changed.notify_all()
            self._waiter.wait(self.sweep_seconds)
        self._waiter.close()

    def _ask_overdue(self) -> None:
        """An order the venue has not answered within the ack timeout is shown as unacknowledged
        (audited once, visible to staff) and the venue is asked for its status: reconciliation
        resolves it, nothing is assumed."""
        timeout = settings.TRADEX_ACK_TIMEOUT_SECONDS
        cutoff = timezone.now() - timezone.timedelta(seconds=timeout)
        overdue = Order.objects.filter(status__in=AWAITING_VENUE, updated_at__lt=cutoff).exclude(venue="")
        now = time.monotonic()
        for order in overdue.only("pk", "symbol", "side", "venue", "status", "account_id")[:500]:
            last = self._asked.get(order.pk)
            if last is not None and now - last < timeout:
                continue
            if last is None:
                audit_record_system(actor="fixbridge", action="order.unacknowledged", entity_type="order",
                                    entity_id=order.pk, data={"venue": order.venue, "status": order.status,
                                                              "timeout_seconds": timeout})
            session_id = self.app.sessions.get(order.venue)
            if session_id is not None and self.app.is_logged_on(order.venue):
                fix.Session.sendToTarget(messages.order_status_request(order), session_id)
            self._asked[order.pk] = now

    # --- prices ---------------------------------------------------------------------------
    def _price_loop(self) -> None:
        while True:
            try:
                item = self._prices_queue.get(timeout=self.sweep_seconds)
            except queue.Empty:
                self._run_clock_hooks()
                continue
            if item is None:
                return
            batch = [item]
            while True:  # take what else is queued: one pass per burst
                try:
                    more = self._prices_queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stop.set()
                    break
                batch.append(more)
            latest: dict = {}
            for _venue, trades in batch:
                for symbol, price in trades:
                    latest[symbol] = price
            try:
                close_old_connections()
                for symbol, price in latest.items():
                    last_price_set(symbol, price)
                at = timezone.now()
                for hook in self.price_hooks:
                    hook([(symbol, price, at) for symbol, price in latest.items()])
            except Exception:
                log.exception("fixbridge: price hooks failed for %d symbols", len(latest))
            connection.close()
            if self._stop.is_set():
                return

    def _run_clock_hooks(self) -> None:
        try:
            close_old_connections()
            now = timezone.now()
            for hook in self.clock_hooks:
                hook(now)
        except Exception:
            log.exception("fixbridge: clock hooks failed")
