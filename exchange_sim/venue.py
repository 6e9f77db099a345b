"""A venue: one matching engine per symbol, market makers, a reference walk, circuit breakers and
a write-ahead journal, behind one lock.

Every input (customer command, step, halt, resume, forced reference) becomes a journal record
*before* it is applied, and is applied by the same code live and on replay, so a restarted venue
rebuilds its books, order ids, ExecID counter and public sequence exactly; a record carries its
own timestamp and every clock-dependent value (walk state, halt deadline), so replay needs
neither the clock nor the walk's draws; the makers' quotes are a pure function of that state and
are recomputed. A snapshot (journal.py) bounds what a restart replays.

Methods return the private events of every owner involved (a customer's order can fill another
customer's resting order; route each event by `.owner`). Public events (Trade, Quote, Halted,
Resumed) go to listeners, called in sequence order outside the lock. Times are UTC datetimes.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson

from exchange_sim.breaker import CircuitBreaker
from exchange_sim.config import SymbolSpec, VenueConfig
from exchange_sim.engine import MAKER_PREFIX, IdSource, MatchingEngine, Order
from core.wire.dropcopy import trade_date
from exchange_sim.events import PUBLIC_EVENTS, CancelRejected, Fill, Halted, OrderStatus, Rejected, Resumed
from exchange_sim.journal import Journal
from exchange_sim.makers import maker_owner, maker_quotes
from exchange_sim.walk import ReferenceWalk

log = logging.getLogger(__name__)

Listener = Callable[[object], None]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Venue:
    def __init__(self, config: VenueConfig, specs: dict[str, SymbolSpec], *,
                 clock: Callable[[], datetime] | None = None) -> None:
        missing = [s for s in config.symbols if s not in specs]
        if missing:
            raise ValueError(f"{config.name}: no SymbolSpec for {missing}")
        self.config = config
        self.name = config.name
        self.specs = {s: specs[s] for s in config.symbols}
        self._clock = clock or utc_now
        self._lock = threading.Lock()
        self._ids = IdSource(config.name)
        self._engines = {s: MatchingEngine(spec, ids=self._ids, fee_per_share=config.fee_per_share)
                         for s, spec in self.specs.items()}
        self._walk = ReferenceWalk(self.specs, seed=config.seed, venue=config.name, interval_s=config.walk_step_s,
                                   anchor=config.walk_anchor)
        self._breakers = {s: CircuitBreaker(move=config.breaker_move, window_s=config.breaker_window_s)
                          for s in self.specs}
        self._halts: dict[str, tuple[str, datetime | None]] = {}  # symbol -> (reason, auto-resume at)
        self._by_client: dict[tuple[str, str], Order] = {}
        self._by_owner: dict[str, list[Order]] = {}
        self._listeners: list[Listener] = []
        self._outbox: deque = deque()
        self._dispatching = threading.Lock()
        self._journal = Journal(Path(config.journal_dir), config.name, fsync=config.journal_fsync)
        self._fills: list[Fill] = []  # customers' recent fills (the drop copy's source), see FILLS_KEPT_DAYS
        self._fills_archived = 0  # _fills[:n] are in the journal's archive
        self._unarchived: dict[str, Order] = {}  # customers' orders not in the archive yet
        self._apply_seconds = 0.0  # time spent applying the records since the last snapshot
        self._snapshotting = threading.Lock()
        self._snapshots = 0
        self.snapshot_stats: dict = {}  # the last snapshot's size and time under the lock, and the count
        self._replay()

    # ------------------------------------------------------------------ customer commands

    def new_order(self, *, owner: str, cl_ord_id: str, symbol: str, side: str, ord_type: str, qty: Decimal,
                  price: Decimal | None = None, tif: str = "day") -> list:
        _check_decimal(qty, price)
        return self._command({"c": "new", "owner": owner, "cl": cl_ord_id, "sym": symbol, "side": side,
                              "type": ord_type, "qty": str(qty), "px": _str(price), "tif": tif})

    def cancel(self, *, owner: str, cl_ord_id: str, orig_cl_ord_id: str) -> list:
        return self._command({"c": "cancel", "owner": owner, "cl": cl_ord_id, "orig": orig_cl_ord_id})

    def replace(self, *, owner: str, cl_ord_id: str, orig_cl_ord_id: str, qty: Decimal,
                price: Decimal | None = None) -> list:
        """Cancel/replace; `price=None` keeps the price."""
        _check_decimal(qty, price)
        return self._command({"c": "replace", "owner": owner, "cl": cl_ord_id, "orig": orig_cl_ord_id,
                              "qty": str(qty), "px": _str(price)})

    # ------------------------------------------------------------------ reads

    def order_status(self, *, owner: str, cl_ord_id: str) -> OrderStatus | Rejected:
        with self._lock:
            order = self._by_client.get((owner, cl_ord_id))
            if order is None:
                return Rejected(owner, cl_ord_id, "", "unknown_order", f"no order {cl_ord_id!r} for {owner!r}")
            return self._engines[order.symbol].status_of(order)

    def open_orders(self, owner: str) -> list[OrderStatus]:
        with self._lock:
            return [self._engines[o.symbol].status_of(o) for o in self._by_owner.get(owner, ()) if o.leaves]

    def orders_of(self, owner: str) -> list[OrderStatus]:
        """Every order of `owner` since the journal began, terminal ones included (reconciliation)."""
        with self._lock:
            return [self._engines[o.symbol].status_of(o) for o in self._by_owner.get(owner, ())]

    def engine(self, symbol: str) -> MatchingEngine:
        """The symbol's engine, for reads (depth, best bid/ask). Hold no reference across commands
        from other threads: the venue's lock guards it."""
        return self._engines[symbol]

    def reference(self, symbol: str) -> Decimal:
        with self._lock:
            return self._walk.references[symbol]

    def halted(self, symbol: str) -> str | None:
        """The halt reason, or None when the symbol trades."""
        with self._lock:
            halt = self._halts.get(symbol)
            return halt[0] if halt else None

    def public_seq(self) -> int:
        """The last public sequence number used (journaled: it survives a restart)."""
        with self._lock:
            return self._ids.seq

    def state(self) -> dict:
        """Books, orders and counters, comparable across a restart."""
        with self._lock:
            orders = {o.order_id: (o.owner, o.cl_ord_id, o.symbol, o.side, o.price, o.qty, o.cum, o.leaves,
                                   o.canceled, o.notional, o.resting)
                      for owned in self._by_owner.values() for o in owned}
            return {"books": {s: e.book_snapshot() for s, e in self._engines.items()}, "orders": orders,
                    "ids": (self._ids.orders, self._ids.execs, self._ids.seq),
                    "walk": (self._walk.step_index, dict(self._walk.log_offsets), dict(self._walk.references)),
                    "halts": dict(self._halts)}

    # ------------------------------------------------------------------ simulation

    def step(self, now: datetime | None = None) -> list:
        """Advance the walk one step, run the circuit breakers and let the makers requote.
        Returns the private events of customers whose resting orders the makers hit."""
        now = now or self._clock()
        with self._lock:
            events = self._run({"c": "step", "ts": now.isoformat(), **self._walk.next_state(now)})
            for symbol in self.specs:
                halt = self._halts.get(symbol)
                if halt and halt[1] is not None and now >= halt[1]:
                    events += self._run({"c": "resume", "ts": now.isoformat(), "sym": symbol})
                elif not halt and self._breakers[symbol].trip_reason:
                    until = now + timedelta(seconds=self.config.breaker_pause_s)
                    events += self._run({"c": "halt", "ts": now.isoformat(), "sym": symbol,
                                         "reason": self._breakers[symbol].trip_reason, "until": until.isoformat()})
            # The makers' quotes are a pure function of the state (references, halts, config): the
            # record says when they requote, replay recomputes them (journaling every quote set
            # made the journal ~60 KB a step with 68 symbols).
            events += self._run({"c": "mm", "ts": now.isoformat()})
            private = self._route(events)
        self._drain()
        self._maybe_snapshot()
        return private

    def halt(self, symbol: str, reason: str = "manual") -> list:
        """Halt until resume(); idempotent. Returns [] (Halted goes to listeners)."""
        return self._command({"c": "halt", "sym": symbol, "reason": reason, "until": None})

    def resume(self, symbol: str) -> list:
        return self._command({"c": "resume", "sym": symbol})

    def set_reference(self, symbol: str, price: Decimal) -> None:
        """Move the shared walk for `symbol` to `price` from the next step() on (scenarios, tests)."""
        _check_decimal(price, None)
        self._command({"c": "ref", "sym": symbol, "offset": self._walk.offset_for(symbol, price)})

    def top_of_book(self) -> dict:
        """{symbol: (best bid, best ask)} of the book, None for an empty side (tests, bench)."""
        with self._lock:
            return {s: (e.best_bid() and e.best_bid()[0], e.best_ask() and e.best_ask()[0])
                    for s, e in self._engines.items()}

    # ------------------------------------------------------------------ listeners, lifecycle

    def add_listener(self, listener: Listener) -> None:
        """`listener(event)` for every public event, in sequence order, outside the venue lock.
        It runs on whichever thread drains the queue: keep it short (hand off to a queue)."""
        self._listeners.append(listener)

    def close(self, *, snapshot: bool = True) -> None:
        """Clean shutdown: a last snapshot (so the next start replays nothing), then the journal
        closes. `snapshot=False` is how a crash leaves it (tests)."""
        if snapshot:
            self.snapshot()
        with self._lock:
            self._journal.close()

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> bool:
        """Write a snapshot of the whole state and start a new journal segment (exchange_sim/
        journal.py). Serialising happens under the lock; the file is written outside it. Returns
        False when another thread is already taking one."""
        if not self._snapshotting.acquire(blocking=False):
            return False
        try:
            with self._lock:
                started = time.perf_counter()
                done = [o for o in self._unarchived.values() if not o.resting]  # never change again
                fills_end = len(self._fills)
                archive = ([["o", o.dump()] for o in done]
                           + [["f", _dump_fill(f)] for f in self._fills[self._fills_archived:]])
                payload = orjson.dumps(self._dump())
                segment = self._journal.rotate()
                self._apply_seconds = 0.0
                self.snapshot_stats = {"bytes": len(payload), "locked_s": time.perf_counter() - started}
            self._journal.write_snapshot(segment, payload, archive)
            with self._lock:  # archived for good: later snapshots leave them out
                for order in done:
                    del self._unarchived[order.order_id]
                kept = _recent(self._fills[:fills_end])
                self._fills[:fills_end] = kept
                self._fills_archived = len(kept)
            self.snapshot_stats["count"] = self._snapshots = self._snapshots + 1
            return True
        finally:
            self._snapshotting.release()

    @property
    def journal_bytes(self) -> int:
        """Bytes journaled since the last snapshot (what a restart would replay)."""
        return self._journal.bytes_since_snapshot

    @property
    def unsnapshotted_seconds(self) -> float:
        """Time spent applying the records since the last snapshot: about what a restart now
        would spend replaying them."""
        return self._apply_seconds

    def _maybe_snapshot(self) -> None:
        """Snapshot once a restart would have too much to redo: the records applied since the last
        snapshot took `snapshot_replay_budget_s` to apply (replaying them costs about the same), or
        the journal segment passed `snapshot_max_bytes`."""
        config = self.config
        if ((config.snapshot_replay_budget_s and self._apply_seconds >= config.snapshot_replay_budget_s)
                or (config.snapshot_max_bytes and self._journal.bytes_since_snapshot >= config.snapshot_max_bytes)):
            self.snapshot()

    def _dump(self) -> dict:
        """Everything replay would rebuild but the archive (journal.py). Caller holds the lock."""
        customer = [o for o in self._unarchived.values() if o.resting]
        makers = [o for e in self._engines.values() for o in e.resting_orders() if o.silent]
        return {
            "ids": [self._ids.orders, self._ids.execs, self._ids.seq],
            "walk": self._walk.dump(),
            "breakers": {s: b.dump() for s, b in self._breakers.items()},
            "halts": {s: [reason, until and until.isoformat()] for s, (reason, until) in self._halts.items()},
            "engines": {s: e.dump() for s, e in self._engines.items()},
            "orders": [o.dump() for o in customer + makers],
        }

    def _restore(self, state: dict, archive: list[list]) -> None:
        self._ids.orders, self._ids.execs, self._ids.seq = state["ids"]
        self._walk.restore(state["walk"])
        for symbol, breaker in state["breakers"].items():
            self._breakers[symbol].restore(breaker)
        self._halts = {s: (reason, until and datetime.fromisoformat(until))
                       for s, (reason, until) in state["halts"].items()}
        orders, fills = {}, {}  # by id: an archive line may repeat (a snapshot that failed, then one that did not)
        for kind, item in archive:
            if kind == "o":
                orders[item[0]] = Order.load(item)
            else:
                fills[item[3]] = _load_fill(item)
        live = {row[0]: Order.load(row) for row in state["orders"]}
        orders.update(live)
        resting: dict[str, list[Order]] = {symbol: [] for symbol in self._engines}
        for order in orders.values():
            if order.resting:
                resting[order.symbol].append(order)
        for symbol, engine in self._engines.items():
            engine.restore(state["engines"][symbol], resting[symbol])
        # Every ClOrdID an order carried was indexed when it took it; owners' lists are in order
        # of arrival, which is the order ids' numbers.
        customers = sorted((o for o in orders.values() if not o.silent), key=lambda o: int(o.order_id.rsplit("-O", 1)[1]))
        for order in customers:
            self._by_owner.setdefault(order.owner, []).append(order)
            for cl in order.cl_ord_ids:
                self._by_client[(order.owner, cl)] = order
        self._unarchived = {i: o for i, o in live.items() if not o.silent}
        self._fills = _recent(list(fills.values()))
        self._fills_archived = len(self._fills)

    def __enter__(self) -> Venue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _command(self, record: dict) -> list:
        with self._lock:
            record["ts"] = self._clock().isoformat()
            private = self._route(self._run(record))
        self._drain()
        self._maybe_snapshot()
        return private

    def _run(self, record: dict) -> list:
        """Journal, then apply. Caller holds the lock."""
        self._journal.append(record)
        started = time.perf_counter()
        events = self._apply(record)
        self._apply_seconds += time.perf_counter() - started
        return events

    def _replay(self) -> None:
        state = self._journal.load_snapshot()
        archive = self._journal.load_archive(None if state is None else self._journal.segment)
        if state is not None:
            self._restore(state, archive)
        started = time.perf_counter()
        for record in self._journal.replay():
            self._fills += [e for e in self._apply(record)
                            if isinstance(e, Fill) and not e.owner.startswith(MAKER_PREFIX)]
        self._apply_seconds = time.perf_counter() - started  # the next restart redoes these too
        # Customers' fills known at start-up (the snapshot's and the replayed ones): the server
        # re-sends those its FIX store shows were never delivered (they were waiting out the
        # venue's latency at the crash).
        self._replayed_fills = list(self._fills)

    def replayed_fills(self) -> list:
        """Customers' fills rebuilt at start-up (snapshot and journal), in the order they happened."""
        return list(self._replayed_fills)

    def customer_fills(self) -> list[Fill]:
        """Customers' fills of the last FILLS_KEPT_DAYS trade dates at least, in order
        (core/wire/dropcopy.py)."""
        with self._lock:
            return list(self._fills)

    def _route(self, events: list) -> list:
        """Queue public events for the listeners; return the private ones. Caller holds the lock."""
        private = []
        for event in events:
            if isinstance(event, PUBLIC_EVENTS):
                if self._listeners:
                    self._outbox.append(event)
            else:
                private.append(event)
                if isinstance(event, Fill) and not event.owner.startswith(MAKER_PREFIX):
                    self._fills.append(event)
        return private

    def _drain(self) -> None:
        """Deliver queued public events; one thread at a time so listeners see them in order."""
        while self._outbox:
            if not self._dispatching.acquire(blocking=False):
                return  # another thread is delivering and will pick ours up
            try:
                while self._outbox:
                    event = self._outbox.popleft()
                    for listener in self._listeners:
                        try:
                            listener(event)
                        except Exception:
                            log.exception("%s: listener %r failed on %r", self.name, listener, event)
            finally:
                self._dispatching.release()

    def _apply(self, record: dict) -> list:
        ts = datetime.fromisoformat(record["ts"])
        return getattr(self, f"_apply_{record['c']}")(record, ts)

    def _apply_new(self, r: dict, ts: datetime) -> list:
        owner, cl, symbol = r["owner"], r["cl"], r["sym"]
        engine = self._engines.get(symbol)
        if engine is None:
            return [Rejected(owner, cl, symbol, "unknown_symbol", f"{symbol!r} does not trade on {self.name}")]
        if owner.startswith(MAKER_PREFIX):
            return [Rejected(owner, cl, symbol, "bad_owner", f"owner names starting {MAKER_PREFIX!r} are reserved")]
        if symbol in self._halts:
            return [Rejected(owner, cl, symbol, "halted", self._halts[symbol][0])]
        if (owner, cl) in self._by_client:
            return [Rejected(owner, cl, symbol, "duplicate_cl_ord_id", f"{cl!r} already used")]
        order, events = engine.submit(owner=owner, cl_ord_id=cl, side=r["side"], ord_type=r["type"],
                                      qty=Decimal(r["qty"]), price=_dec(r["px"]), tif=r["tif"], ts=ts)
        if order is not None:
            self._by_client[(owner, cl)] = order
            self._by_owner.setdefault(owner, []).append(order)
            self._unarchived[order.order_id] = order
        return events

    def _apply_cancel(self, r: dict, ts: datetime) -> list:
        order, refusal = self._target(r)
        if refusal:
            return [refusal]
        events = self._engines[order.symbol].cancel(order, cl_ord_id=r["cl"], ts=ts)
        self._index_new_cl_ord_id(order, r)
        return events

    def _apply_replace(self, r: dict, ts: datetime) -> list:
        order, refusal = self._target(r)
        if refusal:
            return [refusal]
        if order.symbol in self._halts:
            return [CancelRejected(r["owner"], r["cl"], r["orig"], "halted", self._halts[order.symbol][0])]
        events = self._engines[order.symbol].replace(order, cl_ord_id=r["cl"], qty=Decimal(r["qty"]),
                                                     price=_dec(r["px"]), ts=ts)
        self._index_new_cl_ord_id(order, r)
        return events

    def _target(self, r: dict) -> tuple[Order | None, CancelRejected | None]:
        owner, cl, orig = r["owner"], r["cl"], r["orig"]
        order = self._by_client.get((owner, orig))
        if order is None:
            return None, CancelRejected(owner, cl, orig, "unknown_order", f"no order {orig!r} for {owner!r}")
        other = self._by_client.get((owner, cl))
        if other is not None and other is not order:
            return None, CancelRejected(owner, cl, orig, "duplicate_cl_ord_id", f"{cl!r} already used")
        return order, None

    def _index_new_cl_ord_id(self, order: Order, r: dict) -> None:
        if order.cl_ord_id == r["cl"]:
            self._by_client[(r["owner"], r["cl"])] = order

    def _apply_step(self, r: dict, ts: datetime) -> list:
        self._walk.apply(r)
        for symbol in r["refs"]:
            if symbol not in self._halts:
                self._breakers[symbol].observe(ts, self._walk.references[symbol])
        return []

    def _apply_halt(self, r: dict, ts: datetime) -> list:
        symbol = r["sym"]
        if symbol not in self._engines or symbol in self._halts:
            return []
        until = r["until"] and datetime.fromisoformat(r["until"])
        self._halts[symbol] = (r["reason"], until)
        self._breakers[symbol].reset()
        # The makers pull their quotes until the symbol resumes: a halted venue's stale quotes
        # would lock or cross the other venues' as the market moves on (customers' orders stay).
        pulled = {maker_owner(symbol, m): [] for m in range(self.config.makers_per_symbol)}
        return [Halted(symbol, r["reason"], ts), *self._engines[symbol].requote(pulled, ts)]

    def _apply_resume(self, r: dict, ts: datetime) -> list:
        symbol = r["sym"]
        if self._halts.pop(symbol, None) is None:
            return []
        self._breakers[symbol].reset()  # measure the next move from the reopening price
        return [Resumed(symbol, ts)]

    def _apply_mm(self, r: dict, ts: datetime) -> list:
        """The makers requote every symbol that trades, around the venue's reference."""
        events = []
        for symbol, spec in self.specs.items():
            if symbol in self._halts:
                continue  # a halted symbol does not trade, makers included
            quotes = maker_quotes(spec, self._walk.references[symbol], makers=self.config.makers_per_symbol,
                                  levels=self.config.maker_levels, caps=self._walk.caps.get(symbol))
            events += self._engines[symbol].requote(quotes, ts)
        return events

    def _apply_quotes(self, r: dict, ts: datetime) -> list:
        """Journals written before "mm" records carried each symbol's quote sets."""
        quotes = {owner: [(side, Decimal(px), Decimal(qty)) for side, px, qty in book]
                  for owner, book in r["q"].items()}
        return self._engines[r["sym"]].requote(quotes, ts)

    def _apply_ref(self, r: dict, ts: datetime) -> list:
        self._walk.force(r["sym"], r["offset"], ts)
        return []


FILLS_KEPT_DAYS = 2  # the trade date being written to the drop copy, and the one before


def _recent(fills: list[Fill]) -> list[Fill]:
    """The fills of the last FILLS_KEPT_DAYS trade dates (of the latest fill): what a snapshot keeps."""
    if not fills:
        return fills
    first_day = trade_date(fills[-1].ts) - timedelta(days=FILLS_KEPT_DAYS - 1)
    return [f for f in fills if trade_date(f.ts) >= first_day]


def _dump_fill(f: Fill) -> list:
    return [f.owner, f.cl_ord_id, f.order_id, f.exec_id, f.symbol, f.side, str(f.last_qty), str(f.last_px),
            str(f.cum_qty), str(f.leaves_qty), str(f.avg_px), str(f.fee), f.ts.isoformat()]


def _load_fill(row: list) -> Fill:
    (owner, cl, order_id, exec_id, symbol, side, last_qty, last_px, cum_qty, leaves_qty, avg_px, fee, ts) = row
    return Fill(owner, cl, order_id, exec_id, symbol, side, Decimal(last_qty), Decimal(last_px), Decimal(cum_qty),
                Decimal(leaves_qty), Decimal(avg_px), Decimal(fee), datetime.fromisoformat(ts))


def _check_decimal(qty: object, price: object) -> None:
    """Floats never enter: refuse them at the door rather than journal a binary approximation."""
    if not isinstance(qty, Decimal) or (price is not None and not isinstance(price, Decimal)):
        raise TypeError("qty and price must be Decimal (or price None)")
