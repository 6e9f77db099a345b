"""Matching-engine properties (hypothesis state machine) checked against a naive model.

The model is the rules written the slowest, most obvious way (scan every resting order, sort by
price then arrival); after every command the engine's fills and its whole book must equal the
model's, which pins price-time priority, the replace rules, IOC/FOK and self-trade prevention. The
invariants add: never crossed at rest, per-order qty == filled + resting + canceled, level sizes
equal the sum of their orders, and bad input changes nothing."""
from decimal import Decimal as D

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from exchange_sim import CancelRejected, Fill, MatchingEngine, Rejected, SymbolSpec

TICK, LOT = D("0.05"), D("10")
SPEC = SymbolSpec(symbol="T", tick=TICK, lot=LOT, reference_price=D("100.00"))
PRICES = st.integers(1995, 2005)  # ticks: 99.75 .. 100.25
LOTS = st.integers(1, 12)
OWNERS = st.sampled_from(["a", "b", "c"])


class ModelOrder:
    def __init__(self, order_id, owner, is_buy, price, lots):
        self.order_id, self.owner, self.is_buy, self.price = order_id, owner, is_buy, price
        self.qty, self.cum, self.leaves, self.canceled, self.arrival = lots, 0, lots, 0, 0


class ModelBook:
    def __init__(self):
        self.orders: dict[str, ModelOrder] = {}
        self.resting: dict[str, ModelOrder] = {}
        self.arrivals = 0

    def crossing(self, order):
        def crosses(r):
            return order.price is None or (r.price <= order.price if order.is_buy else r.price >= order.price)
        found = [r for r in self.resting.values() if r.is_buy != order.is_buy and crosses(r)]
        return sorted(found, key=lambda r: (r.price if order.is_buy else -r.price, r.arrival))

    def match(self, order):
        fills = []
        for r in self.crossing(order):
            if not order.leaves:
                break
            if r.owner == order.owner:  # self-trade prevention: the resting order goes
                r.canceled += r.leaves
                r.leaves = 0
                del self.resting[r.order_id]
                continue
            qty = min(order.leaves, r.leaves)
            for o in (r, order):
                o.leaves -= qty
                o.cum += qty
            fills += [(r.order_id, qty, r.price), (order.order_id, qty, r.price)]
            if not r.leaves:
                del self.resting[r.order_id]
        return fills

    def rest(self, order):
        self.arrivals += 1
        order.arrival = self.arrivals
        self.resting[order.order_id] = order

    def submit(self, order, *, market, tif):
        self.orders[order.order_id] = order
        if tif == "fok" and sum(r.leaves for r in self.crossing(order) if r.owner != order.owner) < order.leaves:
            fills = []
        else:
            fills = self.match(order)
        if order.leaves and not market and tif in ("day", "gtc"):
            self.rest(order)
        else:
            order.canceled += order.leaves
            order.leaves = 0
        return fills

    def replace(self, order, price, lots):
        del self.resting[order.order_id]
        if lots <= order.cum:
            order.canceled += order.leaves
            order.leaves = 0
            return []
        new_leaves = lots - order.cum
        keeps_place = price == order.price and new_leaves <= order.leaves
        order.qty, order.leaves, order.price = lots, new_leaves, price
        if keeps_place:
            self.resting[order.order_id] = order
            return []
        fills = self.match(order)
        if order.leaves:
            self.rest(order)
        return fills

    def cancel(self, order):
        del self.resting[order.order_id]
        order.canceled += order.leaves
        order.leaves = 0

    def book(self):
        sides = {}
        for is_buy in (True, False):
            levels: dict[int, list] = {}
            for r in sorted(self.resting.values(), key=lambda r: r.arrival):
                if r.is_buy == is_buy:
                    levels.setdefault(r.price, []).append((r.order_id, r.leaves))
            sides["bids" if is_buy else "asks"] = sorted(levels.items(), reverse=is_buy)
        return sides


def engine_fills(events):
    return [(e.order_id, int(e.last_qty / LOT), int(e.last_px / TICK)) for e in events if isinstance(e, Fill)]


class BookMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.engine = MatchingEngine(SPEC)
        self.model = ModelBook()
        self.orders = []  # engine orders, in submission order
        self.n = 0

    def _cl(self):
        self.n += 1
        return f"cl{self.n}"

    @rule(owner=OWNERS, side=st.sampled_from(["buy", "sell"]), price=PRICES, lots=LOTS,
          kind=st.sampled_from(["limit/day", "limit/gtc", "limit/day", "limit/ioc", "limit/fok", "market/day",
                                "market/fok"]))
    def submit(self, owner, side, price, lots, kind):
        ord_type, tif = kind.split("/")
        market = ord_type == "market"
        order, events = self.engine.submit(owner=owner, cl_ord_id=self._cl(), side=side, ord_type=ord_type,
                                           qty=LOT * lots, price=None if market else TICK * price, tif=tif)
        self.orders.append(order)
        model_order = ModelOrder(order.order_id, owner, side == "buy", None if market else price, lots)
        assert engine_fills(events) == self.model.submit(model_order, market=market, tif=tif)
        if market or tif in ("ioc", "fok"):
            assert not order.resting, "IOC, FOK and market orders never rest"
        if tif == "fok":
            assert order.cum in (0, order.qty), "FOK fills in full or not at all"

    def _pick(self, data):
        """Mostly a resting order (the interesting case), sometimes any order (too late)."""
        resting = [o for o in self.orders if o.resting]
        return data.draw(st.sampled_from(resting if resting and data.draw(st.integers(0, 4)) else self.orders))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel(self, data):
        order = self._pick(data)
        events = self.engine.cancel(order, cl_ord_id=self._cl())
        if order.order_id in self.model.resting:
            self.model.cancel(self.model.orders[order.order_id])
        else:
            assert [e.reason for e in events] == ["too_late_to_cancel"]

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), price=PRICES, lots=LOTS, same_price=st.booleans())
    def replace(self, data, price, lots, same_price):
        order = self._pick(data)
        if same_price and order.price is not None:
            price = order.price
        was_resting = order.order_id in self.model.resting
        before = self.engine.orders_at(order.side, TICK * order.price) if was_resting else []
        events = self.engine.replace(order, cl_ord_id=self._cl(), qty=LOT * lots, price=TICK * price)
        if not was_resting:
            assert [e.reason for e in events] == ["too_late_to_cancel"]
            return
        model_order = self.model.orders[order.order_id]
        same_place = price == model_order.price and lots - order.cum <= model_order.leaves and lots > order.cum
        assert engine_fills(events) == self.model.replace(model_order, price, lots)
        if same_place:
            assert self.engine.orders_at(order.side, TICK * price) == before, "size decrease keeps priority"

    @rule(owner=OWNERS, price=PRICES, lots=LOTS, bad=st.sampled_from(["tick", "lot", "zero"]))
    def invalid_submit(self, owner, price, lots, bad):
        before = self.engine.book_snapshot()
        qty, px = LOT * lots, TICK * price
        if bad == "tick":
            px += D("0.01")
        elif bad == "lot":
            qty += D(1)
        else:
            qty = D(0)
        order, events = self.engine.submit(owner=owner, cl_ord_id=self._cl(), side="buy", ord_type="limit",
                                           qty=qty, price=px, tif="day")
        assert order is None and isinstance(events[0], Rejected)
        assert events[0].reason == {"tick": "bad_tick", "lot": "bad_lot", "zero": "bad_qty"}[bad]
        assert self.engine.book_snapshot() == before

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), bad=st.sampled_from(["tick", "lot"]))
    def invalid_replace(self, data, bad):
        order = self._pick(data)
        before = self.engine.book_snapshot()
        qty, px = LOT * 3 + (D(1) if bad == "lot" else 0), TICK * 2000 + (D("0.01") if bad == "tick" else 0)
        [event] = self.engine.replace(order, cl_ord_id=self._cl(), qty=qty, price=px)
        assert isinstance(event, CancelRejected)
        assert self.engine.book_snapshot() == before

    @invariant()
    def book_equals_the_model(self):
        snapshot = self.engine.book_snapshot()
        engine_book = {side: [(price, [(oid, leaves) for oid, _, leaves, _ in orders]) for price, orders in levels]
                       for side, levels in snapshot.items()}
        assert engine_book == self.model.book()

    @invariant()
    def never_crossed_at_rest(self):
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0]

    @invariant()
    def quantity_is_conserved(self):
        for order in self.orders:
            assert order.qty == order.cum + order.leaves + order.canceled
            model = self.model.orders[order.order_id]
            assert (order.cum, order.leaves, order.canceled) == (model.cum, model.leaves, model.canceled)

    @invariant()
    def levels_add_up_and_keep_arrival_order(self):
        for side, levels in self.engine.book_snapshot().items():
            for _, orders in levels:
                assert all(leaves > 0 for _, _, leaves, _ in orders)
                priorities = [p for *_, p in orders]
                assert priorities == sorted(priorities)
            sizes = [size for _, size in self.engine.depth("buy" if side == "bids" else "sell")]
            assert sizes == [LOT * sum(leaves for _, _, leaves, _ in orders) for _, orders in levels]


BookMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestBook = BookMachine.TestCase
