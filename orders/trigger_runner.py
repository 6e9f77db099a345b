"""The trigger runner: holds the broker's stop orders in memory (orders/trigger_book.py), fires them
from the last-trade prices it is fed, and sends session-bound orders out on the clock. Host-agnostic:
whatever process sees prices (the feed or the FIX bridge) owns one and calls

    runner = TriggerRunner(); runner.load()
    runner.on_prices([(symbol, Decimal price, datetime at), ...])   # each batch of last trades
    runner.on_clock(now)                                            # every second or so

Both start with `refresh()`. Firing calls the services of orders/services/held_orders.py (one durable
transaction each, no lock held by the runner): several runners may run at once, and an order two
of them fire is sent once (the service re-checks under the row lock).

New and changed held orders reach the runner incrementally through PostgreSQL LISTEN/NOTIFY: a row
trigger on orders_order (migration 0005) notifies `tradex_held_orders` with the id of every order
that becomes, stays or stops being `accepted`, at commit. `load()` starts listening *before* it
reads the held orders, so nothing committed in between is missed; `refresh()` drains the
notifications without blocking (one round trip on the listening connection, which makes every
change committed before the call visible) and reads those orders in one query by primary key
(none when nothing changed: no database query per price). If the listening connection fails, the runner reloads
everything. Without PostgreSQL (embedded mode) `refresh()` reloads all held orders (one query on
the `order_held_idx` partial index).

Stops trigger only in the regular session of the session clock (Alpaca: stops do not trigger in
extended hours), and trailing water marks move only then. The live water mark is in memory; the
order row keeps the one set at placement/activation and the one at the trigger, and the service
takes the most protective of the row's, the runner's and the price, so a restarted runner never
loosens a stop below its persisted mark.
"""
import logging
from datetime import datetime
from decimal import Decimal

import psycopg
from django.db import connection

from marketdata import clock

from .models import Order
from .services.held_orders import (
    DEFERRED,
    NOT_CROSSED,
    NOT_DUE,
    day_orders_due,
    order_expire,
    order_release,
    order_trigger,
)
from .state import Status
from .trigger_book import BUY, SELL, STOP, TRAIL_PERCENT, TRAIL_PRICE, HeldStop, TriggerBook

log = logging.getLogger(__name__)

CHANNEL = "tradex_held_orders"
STOP_TYPES = ("stop", "stop_limit", "trailing_stop")
_FIELDS = ("pk", "symbol", "side", "order_type", "time_in_force", "stop_price", "trail_price", "trail_percent", "hwm",
           "triggered_at", "submitted_at", "created_at", "extended_hours", "status", "asset__last_price")


class _Listener:
    def __init__(self):
        params = connection.get_connection_params()
        for key in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(key, None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def drain(self) -> set[str]:
        """Ids notified so far. The round trip first makes it deterministic: a committing session
        signals the listeners before its client hears the commit, and the listening backend sends
        what it was signaled before it answers our query; psycopg keeps notifications that
        arrive during a query in a backlog that notifies() yields first."""
        self.conn.execute("SELECT 1")
        return {n.payload for n in self.conn.notifies(timeout=0)}

    def close(self) -> None:
        self.conn.close()


class TriggerRunner:
    def __init__(self, *, actor: str = "trigger", listen: bool = True):
        self.actor = actor
        self.book = TriggerBook()
        # Held orders without a price trigger: id -> when to try them (opg/cls windows, the next
        # session for queued orders, at once for a triggered stop or a leg that found no venue).
        self.schedule: dict[str, datetime] = {}
        self._stops: dict[str, HeldStop] = {}
        self._listen = listen and connection.vendor == "postgresql"
        self._listener: _Listener | None = None
        self._expiry_done: tuple | None = None
        self._window: tuple[datetime, datetime] | None = None  # the regular session last seen open

    # --- loading -----------------------------------------------------------------------------

    def load(self) -> int:
        """Start listening, then read every held order. Returns how many are held."""
        self.close()
        if self._listen:
            self._listener = _Listener()
        self.book, self.schedule, self._stops = TriggerBook(), {}, {}
        rows = Order.objects.filter(status=Status.ACCEPTED).values(*_FIELDS)
        for row in rows:
            self._index(row, now=clock.now())
        return len(self.book) + len(self.schedule)

    def refresh(self) -> int:
        """Take in held orders placed, changed or gone since the last call. Returns how many ids."""
        if not self._listen:
            return self.load()
        try:
            ids = self._listener.drain() if self._listener else None
        except psycopg.Error:
            log.warning("trigger runner lost its LISTEN connection; reloading", exc_info=True)
            ids = None
        if ids is None:
            return self.load()
        if not ids:
            return 0
        rows = {str(r["pk"]): r for r in Order.objects.filter(pk__in=ids).values(*_FIELDS)}
        now = clock.now()
        for order_id in ids:
            self._forget(order_id)
            row = rows.get(order_id)
            if row is not None and row["status"] == Status.ACCEPTED:
                self._index(row, now=now)
        return len(ids)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _forget(self, order_id: str) -> None:
        self.book.remove(order_id)
        self.schedule.pop(order_id, None)
        self._stops.pop(order_id, None)

    def _index(self, row: dict, *, now: datetime) -> None:
        order_id = str(row["pk"])
        if row["order_type"] in STOP_TYPES and row["triggered_at"] is None:
            if row["order_type"] == "trailing_stop":
                kind = TRAIL_PRICE if row["trail_price"] is not None else TRAIL_PERCENT
                threshold = row["trail_price"] if kind == TRAIL_PRICE else row["trail_percent"]
                mark = row["hwm"] or row["asset__last_price"]
            else:
                kind, threshold, mark = STOP, row["stop_price"], None
            stop = HeldStop(order_id, row["symbol"], SELL if row["side"] == "sell" else BUY, kind, threshold, mark)
            self.book.add(stop)
            self._stops[order_id] = stop
            return
        submitted = row["submitted_at"] or row["created_at"]
        if row["order_type"] in STOP_TYPES:  # triggered, not yet out: retry now
            self.schedule[order_id] = now
        elif row["time_in_force"] == "opg":
            self.schedule[order_id] = clock.opg_window(submitted)[0]
        elif row["time_in_force"] == "cls":
            self.schedule[order_id] = clock.cls_window(submitted)[0]
        else:
            self.schedule[order_id] = clock.release_at(submitted, extended_hours=row["extended_hours"])

    # --- prices and time -------------------------------------------------------------------------

    def _regular(self, at: datetime) -> bool:
        if self._window and self._window[0] <= at < self._window[1]:
            return True
        w = clock.window_at(at)
        if w is not None and w.open <= at < w.close:
            self._window = (w.open, w.close)
            return True
        return False

    def on_prices(self, prices) -> list[tuple[str, str]]:
        """Feed last trades (symbol, price, at). Fires every held stop whose threshold a price
        crossed. Returns (order id, outcome) for each fired order."""
        self.refresh()
        results = []
        for symbol, price, at in prices:
            price = Decimal(price) if not isinstance(price, Decimal) else price
            if not self._regular(at):
                continue
            for fired in self.book.on_price(symbol, price):
                stop = self._stops.pop(fired.order_id, None)
                try:
                    outcome = order_trigger(order_id=fired.order_id, price=price, at=at, water_mark=fired.water_mark,
                                            actor=self.actor)
                except Exception:
                    # The trigger stands: keep the order and retry it on the next price.
                    log.exception("trigger of order %s failed", fired.order_id)
                    outcome = NOT_CROSSED
                if outcome == NOT_CROSSED and stop is not None:
                    if stop.kind != STOP:
                        stop = HeldStop(stop.order_id, stop.symbol, stop.side, stop.kind, stop.threshold,
                                        fired.water_mark)
                    self.book.add(stop)
                    self._stops[fired.order_id] = stop
                results.append((fired.order_id, outcome))
        return results

    def on_clock(self, now: datetime) -> list[tuple[str, str]]:
        """Send what the session clock makes due (opg at the open, cls before the close, orders
        queued for the session, retries of triggered stops and legs that found no venue) and, once
        per session boundary, expire the day orders of the session that ended."""
        self.refresh()
        results = []
        for order_id in [i for i, when in self.schedule.items() if when <= now]:
            try:
                outcome = order_release(order_id=order_id, at=now, actor=self.actor)
            except Exception:
                log.exception("release of order %s failed", order_id)
                outcome = DEFERRED
            if outcome == DEFERRED:
                continue  # no venue yet: try again on the next tick
            if outcome == NOT_DUE:
                self.schedule[order_id] = self._next_try(now)
                continue
            self.schedule.pop(order_id, None)  # routed, expired, canceled, or waiting for a sibling's cancel
            results.append((order_id, outcome))
        boundary = (clock.last_boundary(now, extended_hours=False), clock.last_boundary(now, extended_hours=True))
        if boundary != self._expiry_done:
            for order_id in day_orders_due(now):
                try:
                    results.append((str(order_id), order_expire(order_id=order_id, at=now, actor=self.actor)))
                except Exception:
                    log.exception("expiry of order %s failed", order_id)
            self._expiry_done = boundary
        return results

    @staticmethod
    def _next_try(now: datetime) -> datetime:
        """An order not due yet is tried again at the next session boundary that could make it due."""
        candidates = [clock.release_at(now, extended_hours=True), clock.release_at(now, extended_hours=False)]
        later = [c for c in candidates if c > now]
        return min(later) if later else now
