"""The trigger book: broker-held stop, stop-limit and trailing-stop orders by symbol, with their
thresholds in sorted order, so a price update touches only the orders whose threshold it crossed.
Pure Python (no Django, no database): the runner (orders/trigger_runner.py) feeds it and calls the
trigger service for what fires.

Per symbol:

- plain stops: a sell stop fires when the last trade is at or below its stop price, a buy stop at
  or above. Two sorted lists keyed by stop price; a price pops the crossed end of each list.
- trailing stops: a sell trails the highest price seen since it was placed (its water mark, `hwm`)
  and fires when the price falls to hwm - trail_price, or hwm * (1 - trail_percent / 100); a buy
  mirrors it on the lowest price. Orders that share a water mark form a cohort; within a cohort,
  orders are sorted by their trail amount (and, separately, their trail percent), so the crossed
  ones are a prefix: hwm - price >= trail, or 100 * (1 - price / hwm) >= percent. A new high moves
  every cohort below it into one cohort at the new price (smaller merged into larger, so each order
  moves O(log n) times overall), never order by order. A price update costs the orders it fires
  plus the number of cohorts, which new highs keep merging (in a steady market, one).

A fired order leaves the book; the runner puts it back (or not) from what the service reports.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from sortedcontainers import SortedDict, SortedList

SELL, BUY = "sell", "buy"
STOP, TRAIL_PRICE, TRAIL_PERCENT = "stop", "trail_price", "trail_percent"
_TOP = "\U0010ffff"  # sorts after every order id: (x, _TOP) is the largest key with threshold x
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class HeldStop:
    """What the book needs of a held order. `threshold` is the stop price (STOP), the trail amount
    (TRAIL_PRICE) or the trail percent (TRAIL_PERCENT); `water_mark` the trailing start."""

    order_id: str
    symbol: str
    side: str
    kind: str
    threshold: Decimal
    water_mark: Decimal | None = None


@dataclass(frozen=True)
class Fired:
    order_id: str
    symbol: str
    price: Decimal
    water_mark: Decimal | None  # trailing stops: the water mark the trigger was computed from


@dataclass
class _Cohort:
    water_mark: Decimal
    by_price: SortedList = field(default_factory=SortedList)  # (trail amount, order id)
    by_percent: SortedList = field(default_factory=SortedList)  # (trail percent, order id)

    def __len__(self) -> int:
        return len(self.by_price) + len(self.by_percent)


class _Trailing:
    """One side's trailing stops in one symbol. `sign` is +1 for sells (a water mark is a high:
    cohorts below a new price merge up) and -1 for buys (a low)."""

    def __init__(self, sign: int):
        self.sign = sign
        self.cohorts: SortedDict = SortedDict()  # signed water mark -> _Cohort
        self.member: dict[str, tuple[_Cohort, str, Decimal]] = {}  # order id -> (cohort, kind, threshold)

    def add(self, order_id: str, kind: str, threshold: Decimal, water_mark: Decimal) -> None:
        key = self.sign * water_mark
        cohort = self.cohorts.get(key)
        if cohort is None:
            cohort = self.cohorts[key] = _Cohort(water_mark)
        (cohort.by_price if kind == TRAIL_PRICE else cohort.by_percent).add((threshold, order_id))
        self.member[order_id] = (cohort, kind, threshold)

    def remove(self, order_id: str) -> bool:
        entry = self.member.pop(order_id, None)
        if entry is None:
            return False
        cohort, kind, threshold = entry
        (cohort.by_price if kind == TRAIL_PRICE else cohort.by_percent).remove((threshold, order_id))
        if not len(cohort):
            del self.cohorts[self.sign * cohort.water_mark]
        return True

    def water_mark(self, order_id: str) -> Decimal | None:
        entry = self.member.get(order_id)
        return entry[0].water_mark if entry else None

    def _advance(self, price: Decimal) -> None:
        """Every cohort whose water mark the price passed (sell: below it; buy: above it) joins one
        cohort at the price."""
        key = self.sign * price
        passed = list(self.cohorts.irange(maximum=key))
        if not passed or (len(passed) == 1 and passed[0] == key):
            return
        merged = [self.cohorts.pop(k) for k in passed]
        base = max(merged, key=len)
        for cohort in merged:
            if cohort is base:
                continue
            base.by_price.update(cohort.by_price)
            base.by_percent.update(cohort.by_percent)
            for _, order_id in (*cohort.by_price, *cohort.by_percent):
                _, kind, threshold = self.member[order_id]
                self.member[order_id] = (base, kind, threshold)
        base.water_mark = price
        self.cohorts[key] = base

    def on_price(self, symbol: str, price: Decimal) -> list[Fired]:
        self._advance(price)
        fired: list[Fired] = []
        empty = []
        for key, cohort in self.cohorts.items():
            wm = cohort.water_mark
            distance = (wm - price) * self.sign  # how far the price came back from the water mark
            if distance <= 0:
                continue
            percent = distance / wm * HUNDRED
            for entries, limit in ((cohort.by_price, distance), (cohort.by_percent, percent)):
                cut = entries.bisect_right((limit, _TOP))
                if cut:
                    for _, order_id in entries[:cut]:
                        del self.member[order_id]
                        fired.append(Fired(order_id, symbol, price, wm))
                    del entries[:cut]
            if not len(cohort):
                empty.append(key)
        for key in empty:
            del self.cohorts[key]
        return fired


class _SymbolBook:
    def __init__(self):
        self.sell_stops = SortedList()  # (stop price, order id): fire when price <= stop
        self.buy_stops = SortedList()  # fire when price >= stop
        self.stop_of: dict[str, tuple[str, Decimal]] = {}
        self.trailing = {SELL: _Trailing(+1), BUY: _Trailing(-1)}

    def __len__(self) -> int:
        return len(self.stop_of) + sum(len(t.member) for t in self.trailing.values())


class TriggerBook:
    def __init__(self):
        self._symbols: dict[str, _SymbolBook] = {}
        self._symbol_of: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._symbol_of)

    def __contains__(self, order_id) -> bool:
        return str(order_id) in self._symbol_of

    def add(self, stop: HeldStop) -> None:
        """Add (or replace) a held order."""
        order_id = str(stop.order_id)
        self.remove(order_id)
        book = self._symbols.setdefault(stop.symbol, _SymbolBook())
        if stop.kind == STOP:
            (book.sell_stops if stop.side == SELL else book.buy_stops).add((stop.threshold, order_id))
            book.stop_of[order_id] = (stop.side, stop.threshold)
        else:
            if stop.water_mark is None:
                raise ValueError(f"trailing stop {order_id} needs a starting water mark")
            book.trailing[stop.side].add(order_id, stop.kind, stop.threshold, stop.water_mark)
        self._symbol_of[order_id] = stop.symbol

    def remove(self, order_id) -> bool:
        order_id = str(order_id)
        symbol = self._symbol_of.pop(order_id, None)
        if symbol is None:
            return False
        book = self._symbols[symbol]
        entry = book.stop_of.pop(order_id, None)
        if entry is not None:
            side, threshold = entry
            (book.sell_stops if side == SELL else book.buy_stops).remove((threshold, order_id))
        else:
            book.trailing[SELL].remove(order_id) or book.trailing[BUY].remove(order_id)
        if not len(book):
            del self._symbols[symbol]
        return True

    def water_mark(self, order_id) -> Decimal | None:
        symbol = self._symbol_of.get(str(order_id))
        if symbol is None:
            return None
        book = self._symbols[symbol]
        return book.trailing[SELL].water_mark(str(order_id)) or book.trailing[BUY].water_mark(str(order_id))

    def on_price(self, symbol: str, price: Decimal) -> list[Fired]:
        """Fire every order in `symbol` whose threshold this last-trade price crossed; they leave
        the book. Trailing water marks move first (a new high cannot trigger a sell)."""
        book = self._symbols.get(symbol)
        if book is None:
            return []
        fired: list[Fired] = []
        cut = book.sell_stops.bisect_left((price,))  # first stop >= price
        if cut < len(book.sell_stops):
            for _, order_id in book.sell_stops[cut:]:
                fired.append(Fired(order_id, symbol, price, None))
            del book.sell_stops[cut:]
        cut = book.buy_stops.bisect_right((price, _TOP))  # after the last stop <= price
        if cut:
            for _, order_id in book.buy_stops[:cut]:
                fired.append(Fired(order_id, symbol, price, None))
            del book.buy_stops[:cut]
        for f in fired:
            del book.stop_of[f.order_id]
        trailing = book.trailing[SELL].on_price(symbol, price) + book.trailing[BUY].on_price(symbol, price)
        fired += trailing
        for f in fired:
            del self._symbol_of[f.order_id]
        if not len(book):
            del self._symbols[symbol]
        return fired
