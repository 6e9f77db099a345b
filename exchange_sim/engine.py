"""One symbol's limit order book and matching, pure and deterministic (no clock, no RNG, no I/O).

Prices live in the book as integer ticks and quantities as integer lots; Decimals are converted at the
edges (submit/replace in, events out). Rules:

- price-time priority; a trade prints at the resting order's price;
- market orders never rest: a remainder left when the opposite side runs out is canceled
  ("no_liquidity"); IOC remainders are canceled ("ioc_unfilled");
- FOK is checked against the opposite side before any fill: all or nothing ("fok_not_filled");
- replace: a price change or a size increase re-queues the order at the back (and it may trade);
  a size decrease at the same price keeps its place; a new size <= filled cancels the remainder;
- self-trade prevention: when an order would hit a resting order of the same owner, the resting
  order is canceled ("self_trade") and matching goes on. FOK availability ignores own orders.

Orders whose owner starts with "mm:" (market makers) produce no private events, only public ones.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sortedcontainers import SortedDict

from exchange_sim.config import SymbolSpec
from exchange_sim.events import (
    CANCELED, FILLED, NEW, PARTIALLY_FILLED, Accepted, Canceled, CancelRejected, Fill, OrderStatus, Quote, Rejected,
    Replaced, Trade,
)

BUY, SELL = "buy", "sell"
MARKET, LIMIT = "market", "limit"
DAY, GTC, IOC, FOK = "day", "gtc", "ioc", "fok"
SIDES, ORD_TYPES, TIFS = frozenset({BUY, SELL}), frozenset({MARKET, LIMIT}), frozenset({DAY, GTC, IOC, FOK})
MAKER_PREFIX = "mm:"
ZERO = Decimal(0)


class IdSource:
    """Per-venue counters shared by the venue's engines: order ids, ExecIDs and the public sequence.
    Deterministic, so replaying the journal regenerates exactly the same ids."""

    __slots__ = ("venue", "orders", "execs", "seq")

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.orders = self.execs = self.seq = 0

    def order_id(self) -> str:
        self.orders += 1
        return f"{self.venue}-O{self.orders}"

    def exec_id(self) -> str:
        self.execs += 1
        return f"{self.venue}-{self.execs}"

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class Order:
    """An order in lots and ticks. Invariant: qty == cum + leaves + canceled."""

    __slots__ = ("order_id", "owner", "cl_ord_id", "cl_ord_ids", "symbol", "side", "is_buy", "ord_type", "tif",
                 "price", "qty", "cum", "leaves", "canceled", "notional", "priority", "resting", "silent")

    def __init__(self, order_id: str, owner: str, cl_ord_id: str, symbol: str, side: str, ord_type: str, tif: str,
                 price: int | None, qty: int) -> None:
        self.order_id, self.owner, self.cl_ord_id, self.symbol = order_id, owner, cl_ord_id, symbol
        self.cl_ord_ids = [cl_ord_id]  # every ClOrdID the order has carried (new, replaces, cancel)
        self.side, self.is_buy, self.ord_type, self.tif = side, side == BUY, ord_type, tif
        self.price, self.qty, self.cum, self.leaves, self.canceled = price, qty, 0, qty, 0
        self.notional = 0  # sum(ticks * lots) of fills, for the average price
        self.priority = 0  # arrival stamp in the book; lower = earlier
        self.resting = False
        self.silent = owner.startswith(MAKER_PREFIX)

    def dump(self) -> list:
        return [self.order_id, self.owner, self.cl_ord_id, self.cl_ord_ids, self.symbol, self.side, self.ord_type,
                self.tif, self.price, self.qty, self.cum, self.leaves, self.canceled, self.notional, self.priority,
                self.resting]

    @classmethod
    def load(cls, row: list) -> Order:
        (order_id, owner, cl_ord_id, cl_ord_ids, symbol, side, ord_type, tif, price, qty, cum, leaves, canceled,
         notional, priority, resting) = row
        order = cls(order_id, owner, cl_ord_id, symbol, side, ord_type, tif, price, qty)
        order.cl_ord_ids, order.cum, order.leaves, order.canceled = cl_ord_ids, cum, leaves, canceled
        order.notional, order.priority, order.resting = notional, priority, resting
        return order

    @property
    def status(self) -> str:
        if self.leaves:
            return PARTIALLY_FILLED if self.cum else NEW
        return CANCELED if self.canceled else FILLED

    def __repr__(self) -> str:
        return (f"Order({self.order_id} {self.owner} {self.side} {self.ord_type}/{self.tif} px={self.price} "
                f"qty={self.qty} cum={self.cum} leaves={self.leaves} canceled={self.canceled})")


class _Level:
    """Orders at one price in arrival order (a dict keeps insertion order and removes in O(1))."""

    __slots__ = ("orders", "total")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.total = 0


class MatchingEngine:
    """Price-time-priority book for one symbol. Single-threaded: the Venue serialises calls."""

    def __init__(self, spec: SymbolSpec, *, ids: IdSource | None = None, fee_per_share: Decimal = ZERO) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self._tick, self._lot = spec.tick, spec.lot
        self._avg_quantum = spec.tick.scaleb(-4)
        self._ids = ids or IdSource("SIM")
        self._fee_per_share = fee_per_share
        # Keys are ticks for asks and -ticks for bids, so index 0 is the best level on both sides.
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self._live: dict[str, Order] = {}
        self._makers: dict[str, list[Order]] = {}
        self._priority = 0
        self._top: tuple = (None, 0, None, 0)

    # ------------------------------------------------------------------ commands

    def submit(self, *, owner: str, cl_ord_id: str, side: str, ord_type: str, qty: Decimal,
               price: Decimal | None = None, tif: str = DAY, ts: datetime | None = None) -> tuple[Order | None, list]:
        """Validate, match and rest (or cancel the remainder). Returns the order (None if rejected)
        and the events: private ones for every owner involved, then Trade/Quote."""
        reason = self._invalid(side, ord_type, tif)
        lots = ticks = None
        if reason is None:
            lots, reason = self._lots(qty)
        if reason is None and ord_type == LIMIT:
            ticks, reason = self._ticks(price)
        if reason is not None:
            return None, [Rejected(owner, cl_ord_id, self.symbol, reason, f"{reason}: qty={qty} price={price}")]

        order = Order(self._ids.order_id(), owner, cl_ord_id, self.symbol, side, ord_type, tif, ticks, lots)
        out: list = []
        if not order.silent:
            out.append(Accepted(owner, cl_ord_id, order.order_id, self.symbol, side, qty,
                                None if ticks is None else self._tick * ticks, ord_type, tif))
        if tif == FOK and not self._fillable(order):
            self._cancel_remainder(order, cl_ord_id, "fok_not_filled", out)
        else:
            self._match(order, ts, out)
            if order.leaves:
                if ord_type == MARKET:
                    self._cancel_remainder(order, cl_ord_id, "no_liquidity", out)
                elif tif == IOC:
                    self._cancel_remainder(order, cl_ord_id, "ioc_unfilled", out)
                else:
                    self._rest(order)
        self._quote_if_changed(ts, out)
        return order, out

    def cancel(self, order: Order, *, cl_ord_id: str | None = None, ts: datetime | None = None,
               reason: str = "canceled") -> list:
        orig = order.cl_ord_id
        cl = cl_ord_id or orig
        if not order.resting:
            return [CancelRejected(order.owner, cl, orig, "too_late_to_cancel", f"order is {order.status}")]
        self._unrest(order)
        self._set_cl_ord_id(order, cl)
        out: list = []
        self._cancel_remainder(order, orig, reason, out)
        self._quote_if_changed(ts, out)
        return out

    def replace(self, order: Order, *, cl_ord_id: str, qty: Decimal, price: Decimal | None = None,
                ts: datetime | None = None) -> list:
        """Cancel/replace. `price=None` keeps the price."""
        orig = order.cl_ord_id
        if not order.resting:
            return [CancelRejected(order.owner, cl_ord_id, orig, "too_late_to_cancel", f"order is {order.status}")]
        lots, reason = self._lots(qty)
        ticks = order.price
        if reason is None and price is not None:
            ticks, reason = self._ticks(price)
        if reason is not None:
            return [CancelRejected(order.owner, cl_ord_id, orig, reason, f"{reason}: qty={qty} price={price}")]

        out: list = []
        if lots <= order.cum:
            self._unrest(order)
            self._set_cl_ord_id(order, cl_ord_id)
            self._cancel_remainder(order, orig, "qty_below_filled", out)
            self._quote_if_changed(ts, out)
            return out

        new_leaves = lots - order.cum
        keeps_priority = ticks == order.price and new_leaves <= order.leaves
        if keeps_priority:
            level = self._level_of(order)
            level.total += new_leaves - order.leaves
            order.leaves = new_leaves
        else:
            self._unrest(order)
            order.price, order.leaves = ticks, new_leaves
        order.qty = lots
        self._set_cl_ord_id(order, cl_ord_id)
        if not order.silent:
            out.append(Replaced(order.owner, cl_ord_id, orig, order.order_id, self._lot * lots, self._tick * ticks,
                                self._lot * order.cum, self._lot * order.leaves, symbol=self.symbol))
        if not keeps_priority:
            self._match(order, ts, out)
            if order.leaves:
                self._rest(order)
        self._quote_if_changed(ts, out)
        return out

    def requote(self, quotes: Mapping[str, Sequence[tuple[str, Decimal, Decimal]]], ts: datetime | None = None) -> list:
        """Market makers' new quote sets, {owner: [(side, price, qty), ...]}. Quotes already resting
        with the same side, price and remaining size keep their place; the others are canceled
        first (all makers), then the missing ones are added (they may trade with resting orders)."""
        out: list = []
        to_add: list[tuple[str, str, int, int]] = []
        for owner, wanted in quotes.items():
            wanted_keys: dict[tuple[bool, int, int], int] = {}
            for side, price, qty in wanted:
                key = (side == BUY, self._ticks_or_raise(price), self._lots_or_raise(qty))
                wanted_keys[key] = wanted_keys.get(key, 0) + 1
            kept = []
            for order in self._makers.get(owner, ()):
                if not order.resting:
                    continue
                key = (order.is_buy, order.price, order.leaves)
                if wanted_keys.get(key):
                    wanted_keys[key] -= 1
                    kept.append(order)
                else:
                    self._unrest(order)
                    self._cancel_remainder(order, order.cl_ord_id, "canceled", out)
            self._makers[owner] = kept
            for (is_buy, ticks, lots), count in wanted_keys.items():
                to_add.extend([(owner, BUY if is_buy else SELL, ticks, lots)] * count)
        for owner, side, ticks, lots in to_add:
            order_id = self._ids.order_id()
            order = Order(order_id, owner, order_id, self.symbol, side, LIMIT, DAY, ticks, lots)
            self._match(order, ts, out)
            if order.leaves:
                self._rest(order)
                self._makers[owner].append(order)
        self._quote_if_changed(ts, out)
        return out

    # ------------------------------------------------------------------ reads

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        return self._best(self._bids, -1)

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        return self._best(self._asks, 1)

    def depth(self, side: str, levels: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """[(price, total size)] best first."""
        book, sign = (self._bids, -1) if side == BUY else (self._asks, 1)
        keys = book.keys() if levels is None else book.keys()[:levels]
        return [(self._tick * (sign * key), self._lot * book[key].total) for key in keys]

    def orders_at(self, side: str, price: Decimal) -> list[Order]:
        """Resting orders at one price, in priority order."""
        ticks = self._ticks_or_raise(price)
        level = (self._bids.get(-ticks) if side == BUY else self._asks.get(ticks))
        return list(level.orders.values()) if level else []

    def resting_orders(self) -> Iterator[Order]:
        return iter(self._live.values())

    def status_of(self, order: Order) -> OrderStatus:
        return OrderStatus(order.owner, order.cl_ord_id, order.order_id, self.symbol, order.side, order.status,
                           self._lot * order.qty, None if order.price is None else self._tick * order.price,
                           self._lot * order.cum, self._lot * order.leaves, self._avg_px(order))

    def dump(self) -> dict:
        """What restore() needs besides the resting orders (the venue journal's snapshot)."""
        return {"priority": self._priority, "top": list(self._top)}

    def restore(self, state: dict, resting: list[Order]) -> None:
        """Rebuild the book from dump() and its resting orders. Orders enter a book only through
        _rest(), which stamps them with a rising priority, so sorting by that stamp rebuilds every
        level's queue, the live index and each maker's quote list in their original order."""
        self._priority, self._top = state["priority"], tuple(state["top"])
        for order in sorted(resting, key=lambda o: o.priority):
            self._place(order)
            if order.silent:
                self._makers.setdefault(order.owner, []).append(order)

    def book_snapshot(self) -> dict:
        """Both sides as [(price ticks, [(order_id, owner, leaves lots, priority)...])], best first."""
        def side(book, sign):
            return [(sign * key, [(o.order_id, o.owner, o.leaves, o.priority) for o in level.orders.values()])
                    for key, level in book.items()]
        return {"bids": side(self._bids, -1), "asks": side(self._asks, 1)}

    # ------------------------------------------------------------------ internals

    def _match(self, order: Order, ts: datetime | None, out: list) -> None:
        is_buy, limit = order.is_buy, order.price
        book = self._asks if is_buy else self._bids
        while order.leaves and book:
            key, level = book.peekitem(0)
            price = key if is_buy else -key
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            done = []
            for resting in level.orders.values():
                if resting.owner == order.owner:
                    level.total -= resting.leaves
                    self._cancel_remainder(resting, resting.cl_ord_id, "self_trade", out)
                    done.append(resting)
                    continue
                qty = order.leaves if order.leaves < resting.leaves else resting.leaves
                level.total -= qty
                self._execute(resting, qty, price, ts, out)
                self._execute(order, qty, price, ts, out)
                out.append(Trade(self.symbol, self._tick * price, self._lot * qty, ts, self._ids.next_seq()))
                if not resting.leaves:
                    done.append(resting)
                if not order.leaves:
                    break
            orders, live = level.orders, self._live
            for resting in done:
                del orders[resting.order_id]
                del live[resting.order_id]
                resting.resting = False
            if not orders:
                del book[key]

    def _execute(self, order: Order, qty: int, price: int, ts: datetime | None, out: list) -> None:
        order.leaves -= qty
        order.cum += qty
        order.notional += qty * price
        if order.silent:
            return
        last_qty = self._lot * qty
        out.append(Fill(order.owner, order.cl_ord_id, order.order_id, self._ids.exec_id(), self.symbol, order.side,
                        last_qty, self._tick * price, self._lot * order.cum, self._lot * order.leaves,
                        self._avg_px(order), last_qty * self._fee_per_share, ts))

    def _fillable(self, order: Order) -> bool:
        """Whether the opposite side holds enough (others') quantity within the limit."""
        need, is_buy, limit = order.leaves, order.is_buy, order.price
        book = self._asks if is_buy else self._bids
        for key in book:
            price = key if is_buy else -key
            if limit is not None and (price > limit if is_buy else price < limit):
                return False
            for resting in book[key].orders.values():
                if resting.owner != order.owner:
                    need -= resting.leaves
                    if need <= 0:
                        return True
        return False

    def _rest(self, order: Order) -> None:
        self._priority += 1
        order.priority = self._priority
        self._place(order)

    def _place(self, order: Order) -> None:
        book, key = (self._bids, -order.price) if order.is_buy else (self._asks, order.price)
        level = book.get(key)
        if level is None:
            level = book[key] = _Level()
        level.orders[order.order_id] = order
        level.total += order.leaves
        self._live[order.order_id] = order
        order.resting = True

    def _unrest(self, order: Order) -> None:
        book, key = (self._bids, -order.price) if order.is_buy else (self._asks, order.price)
        level = book[key]
        del level.orders[order.order_id]
        level.total -= order.leaves
        if not level.orders:
            del book[key]
        del self._live[order.order_id]
        order.resting = False

    def _level_of(self, order: Order) -> _Level:
        return self._bids[-order.price] if order.is_buy else self._asks[order.price]

    def _cancel_remainder(self, order: Order, orig_cl_ord_id: str, reason: str, out: list) -> None:
        order.canceled += order.leaves
        order.leaves = 0
        if not order.silent:
            out.append(Canceled(order.owner, order.cl_ord_id, orig_cl_ord_id, order.order_id, self._lot * order.cum,
                                ZERO, reason, symbol=self.symbol))

    @staticmethod
    def _set_cl_ord_id(order: Order, cl_ord_id: str) -> None:
        if cl_ord_id != order.cl_ord_id:
            order.cl_ord_id = cl_ord_id
            order.cl_ord_ids.append(cl_ord_id)

    def _quote_if_changed(self, ts: datetime | None, out: list) -> None:
        bids, asks = self._bids, self._asks
        bid_key, bid_lvl = bids.peekitem(0) if bids else (None, None)
        ask_key, ask_lvl = asks.peekitem(0) if asks else (None, None)
        top = (bid_key, bid_lvl.total if bid_lvl else 0, ask_key, ask_lvl.total if ask_lvl else 0)
        if top == self._top:
            return
        self._top = top
        tick, lot = self._tick, self._lot
        out.append(Quote(self.symbol, None if bid_key is None else tick * -bid_key, lot * top[1],
                         None if ask_key is None else tick * ask_key, lot * top[3], ts, self._ids.next_seq()))

    def _best(self, book: SortedDict, sign: int) -> tuple[Decimal, Decimal] | None:
        if not book:
            return None
        key, level = book.peekitem(0)
        return self._tick * (sign * key), self._lot * level.total

    def _avg_px(self, order: Order) -> Decimal:
        if not order.cum:
            return ZERO
        if order.notional % order.cum == 0:
            return self._tick * (order.notional // order.cum)
        return (self._tick * order.notional / order.cum).quantize(self._avg_quantum)

    @staticmethod
    def _invalid(side: str, ord_type: str, tif: str) -> str | None:
        if side not in SIDES:
            return "bad_side"
        if ord_type not in ORD_TYPES:
            return "bad_ord_type"
        if tif not in TIFS:
            return "bad_tif"
        return None

    def _lots(self, qty: Decimal) -> tuple[int | None, str | None]:
        if not isinstance(qty, Decimal):
            raise TypeError(f"qty must be a Decimal, got {type(qty).__name__}")
        if not qty.is_finite() or qty <= 0:
            return None, "bad_qty"
        lots, rest = divmod(qty, self._lot)
        return (None, "bad_lot") if rest else (int(lots), None)

    def _ticks(self, price: Decimal | None) -> tuple[int | None, str | None]:
        if price is None:
            return None, "bad_price"
        if not isinstance(price, Decimal):
            raise TypeError(f"price must be a Decimal, got {type(price).__name__}")
        if not price.is_finite() or price <= 0:
            return None, "bad_price"
        ticks, rest = divmod(price, self._tick)
        return (None, "bad_tick") if rest else (int(ticks), None)

    def _ticks_or_raise(self, price: Decimal) -> int:
        ticks, reason = self._ticks(price)
        if reason:
            raise ValueError(f"{self.symbol}: {reason} {price}")
        return ticks

    def _lots_or_raise(self, qty: Decimal) -> int:
        lots, reason = self._lots(qty)
        if reason:
            raise ValueError(f"{self.symbol}: {reason} {qty}")
        return lots
