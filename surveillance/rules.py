"""The surveillance rules: pure functions of loaded events (orders and executions of one symbol on
one trading day) and the rule's parameters. No table, no service: surveillance.services loads the
events, calls these and stores what they find as alerts.

Each rule returns Findings. A finding's `key` names the episode (the rule, the owner or account,
the symbol and the event that anchors it), so a later scan that sees the same episode again, with
or without more events, produces the same key and no second alert.
"""
import hashlib
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from core.errors import InvalidInput

D = Decimal
BPS = D(10000)


class Rule(StrEnum):
    WASH_TRADE = "wash_trade"
    SPOOFING = "spoofing"
    MARKING_CLOSE = "marking_close"
    ORDER_TO_TRADE = "order_to_trade"
    CANCEL_RATIO = "cancel_ratio"
    CONCENTRATION = "concentration"

    @property
    def label(self) -> str:
        return LABELS[self]

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(r.value, r.label) for r in cls]


LABELS = {
    Rule.WASH_TRADE: "Wash trade",
    Rule.SPOOFING: "Spoofing / layering",
    Rule.MARKING_CLOSE: "Marking the close",
    Rule.ORDER_TO_TRADE: "Excessive order-to-trade ratio",
    Rule.CANCEL_RATIO: "Excessive cancel ratio",
    Rule.CONCENTRATION: "Concentration in a symbol's volume",
}

# The parameters of each rule and their defaults; a RuleConfig row overrides any of them. The type
# of the default is the type a staff-entered value must have (Decimal accepts "0.5" and 0.5).
DEFAULTS: dict[str, dict] = {
    Rule.WASH_TRADE: {"window_seconds": 60, "price_tolerance_bps": D("10"), "min_qty": D("1")},
    Rule.SPOOFING: {"window_seconds": 300, "min_notional": D("50000"), "max_lifetime_seconds": 120,
                    "max_fill_ratio": D("0.1"), "min_orders": 1},
    Rule.MARKING_CLOSE: {"last_minutes": 10, "min_share": D("0.25"), "min_move_bps": D("50")},
    Rule.ORDER_TO_TRADE: {"min_orders": 20, "max_ratio": D("10")},
    Rule.CANCEL_RATIO: {"min_orders": 20, "max_ratio": D("0.9")},
    Rule.CONCENTRATION: {"min_share": D("0.5"), "min_symbol_qty": D("10000")},
}


def validate_params(rule: str, params) -> dict:
    """`params` checked against the rule's defaults: known names only, each of the default's type,
    none negative. Returns them normalised (Decimals as strings, for the JSON column)."""
    if rule not in DEFAULTS:
        raise InvalidInput("unknown_rule", f"no rule {rule!r}")
    if not isinstance(params, dict):
        raise InvalidInput("invalid_params", "parameters must be a JSON object")
    out = {}
    for name, value in params.items():
        if name not in DEFAULTS[rule]:
            raise InvalidInput("invalid_params", f"{rule} has no parameter {name!r} "
                               f"(it has {', '.join(sorted(DEFAULTS[rule]))})")
        typed = _typed(DEFAULTS[rule][name], value, name)
        out[name] = str(typed) if isinstance(typed, Decimal) else typed
    return out


def _typed(default, value, name):
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, float) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
                raise ValueError
            typed = int(value)
        else:
            typed = D(str(value))
            if not typed.is_finite():
                raise ValueError
    except (ValueError, TypeError, InvalidOperation):
        raise InvalidInput("invalid_params", f"{name} must be {'an integer' if isinstance(default, int) else 'a number'}")
    if typed < 0:
        raise InvalidInput("invalid_params", f"{name} must not be negative")
    return typed


def effective_params(rule: str, overrides: dict | None) -> dict:
    params = dict(DEFAULTS[rule])
    for name, value in (overrides or {}).items():
        if name in params:
            params[name] = _typed(DEFAULTS[rule][name], value, name)
    return params


@dataclass(frozen=True, slots=True)
class OrderEv:
    id: str
    account_id: str
    owner: str
    symbol: str
    side: str
    qty: Decimal | None
    limit_price: Decimal | None
    order_type: str
    created_at: datetime
    canceled_at: datetime | None = None
    filled_qty: Decimal = D(0)


@dataclass(frozen=True, slots=True)
class ExecEv:
    id: str
    order_id: str
    account_id: str
    owner: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    at: datetime


@dataclass
class Finding:
    rule: str
    key: str
    account_id: str
    owner: str
    symbol: str
    trade_date: date
    window_start: datetime
    window_end: datetime
    score: Decimal
    metrics: dict
    accounts: list[str] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    execution_ids: list[str] = field(default_factory=list)


def _key(*parts) -> str:
    text = ":".join(str(p) for p in parts)
    return text if len(text) <= 200 else f"{parts[0]}:{hashlib.sha256(text.encode()).hexdigest()}"


def _q(value: Decimal, places: str = "0.0001") -> Decimal:
    return value.quantize(D(places))


# ---- wash trades -----------------------------------------------------------------------------

def wash_trades(execs: list[ExecEv], params: dict, trade_date: date) -> list[Finding]:
    """A buy and a sell by one beneficial owner, in two of its accounts, within `window_seconds`
    of each other at prices within `price_tolerance_bps`: no change of ownership, only printed
    volume. One finding per (buy, sell) pair."""
    window = timedelta(seconds=params["window_seconds"])
    tol, min_qty = params["price_tolerance_bps"], params["min_qty"]
    by_owner: dict[str, list[ExecEv]] = {}
    for e in execs:
        by_owner.setdefault(e.owner, []).append(e)
    found = []
    for owner, rows in by_owner.items():
        sells = sorted((e for e in rows if e.side == "sell"), key=lambda e: e.at)
        if not sells:
            continue
        times = [e.at for e in sells]
        for buy in sorted((e for e in rows if e.side == "buy"), key=lambda e: e.at):
            for sell in sells[bisect_left(times, buy.at - window):]:
                if sell.at > buy.at + window:
                    break
                if sell.account_id == buy.account_id or sell.order_id == buy.order_id:
                    continue
                qty = min(buy.qty, sell.qty)
                gap_bps = abs(buy.price - sell.price) / min(buy.price, sell.price) * BPS
                if qty < min_qty or gap_bps > tol:
                    continue
                start, end = min(buy.at, sell.at), max(buy.at, sell.at)
                found.append(Finding(
                    rule=Rule.WASH_TRADE, key=_key(Rule.WASH_TRADE, buy.id, sell.id), account_id=buy.account_id,
                    owner=owner, symbol=buy.symbol, trade_date=trade_date, window_start=start, window_end=end,
                    score=_q(qty * buy.price, "0.01"),
                    metrics={"matched_qty": str(qty), "buy_price": str(buy.price), "sell_price": str(sell.price),
                             "price_gap_bps": str(_q(gap_bps, "0.01")), "seconds_apart": (end - start).total_seconds()},
                    accounts=sorted({buy.account_id, sell.account_id}), order_ids=[buy.order_id, sell.order_id],
                    execution_ids=[buy.id, sell.id]))
    return found


# ---- spoofing / layering ---------------------------------------------------------------------

def spoofing(orders: list[OrderEv], execs: list[ExecEv], params: dict, trade_date: date) -> list[Finding]:
    """Large limit orders (notional >= `min_notional`) on one side, placed within `window_seconds`
    before a trade of the same owner on the other side, cancelled within `max_lifetime_seconds`
    of placement and by `window_seconds` after the trade, mostly unfilled (filled share <=
    `max_fill_ratio`); at least `min_orders` of them (several price levels: layering). One finding
    per episode, named by its earliest such order."""
    window = timedelta(seconds=params["window_seconds"])
    lifetime = timedelta(seconds=params["max_lifetime_seconds"])
    large = [o for o in orders
             if o.canceled_at is not None and o.limit_price is not None and o.qty
             and o.qty * o.limit_price >= params["min_notional"]
             and o.canceled_at - o.created_at <= lifetime
             and o.filled_qty / o.qty <= params["max_fill_ratio"]]
    if not large:
        return []
    episodes: dict[str, tuple[list[OrderEv], list[ExecEv]]] = {}
    for e in sorted(execs, key=lambda e: e.at):
        layer = [o for o in large if o.owner == e.owner and o.side != e.side
                 and e.at - window <= o.created_at <= e.at and o.canceled_at <= e.at + window]
        if len(layer) < params["min_orders"]:
            continue
        first = min(layer, key=lambda o: (o.created_at, o.id))
        spoof, trades = episodes.setdefault(first.id, ([], []))
        spoof.extend(o for o in layer if o not in spoof)
        trades.append(e)
    found = []
    for first_id, (spoof, trades) in episodes.items():
        notional = sum((o.qty * o.limit_price for o in spoof), D(0))
        traded = sum((e.qty * e.price for e in trades), D(0))
        start = min(min(o.created_at for o in spoof), min(e.at for e in trades))
        end = max(max(o.canceled_at for o in spoof), max(e.at for e in trades))
        found.append(Finding(
            rule=Rule.SPOOFING, key=_key(Rule.SPOOFING, trades[0].owner, first_id), account_id=trades[0].account_id,
            owner=trades[0].owner, symbol=trades[0].symbol, trade_date=trade_date, window_start=start, window_end=end,
            score=_q(notional / traded if traded else notional),
            metrics={"spoof_orders": len(spoof), "spoof_side": spoof[0].side, "spoof_notional": str(_q(notional, "0.01")),
                     "traded_notional": str(_q(traded, "0.01")), "trades": len(trades)},
            accounts=sorted({o.account_id for o in spoof} | {e.account_id for e in trades}),
            order_ids=[o.id for o in spoof] + sorted({e.order_id for e in trades}),
            execution_ids=[e.id for e in trades]))
    return found


# ---- marking the close -----------------------------------------------------------------------

def _aggressive(order: OrderEv | None, ref: Decimal) -> bool:
    """A market order, or a limit order priced through the reference price (marketable)."""
    if order is None:
        return False
    if order.order_type == "market" or order.limit_price is None:
        return True
    return order.limit_price >= ref if order.side == "buy" else order.limit_price <= ref


def marking_close(orders: list[OrderEv], execs: list[ExecEv], params: dict, trade_date: date,
                  close: datetime) -> list[Finding]:
    """Aggressive orders of one owner in the last `last_minutes` before the session's `close`
    that make at least `min_share` of the symbol's volume in that window while the price moves at
    least `min_move_bps` their way (from the last price before the window to the last price at
    the close), their own trades priced through that reference (they moved it, not only rode
    it). One finding per owner, symbol, day and side."""
    start = close - timedelta(minutes=params["last_minutes"])
    ordered = sorted(execs, key=lambda e: (e.at, e.id))
    before = [e for e in ordered if e.at < start]
    inside = [e for e in ordered if start <= e.at <= close]
    if not inside:
        return []
    ref = before[-1].price if before else inside[0].price
    closing = inside[-1].price
    move_bps = (closing - ref) / ref * BPS
    volume = sum((e.qty for e in inside), D(0))
    by_id = {o.id: o for o in orders}
    found = []
    for side, sign in (("buy", 1), ("sell", -1)):
        if move_bps * sign < params["min_move_bps"]:
            continue
        groups: dict[str, list[ExecEv]] = {}
        for e in inside:
            if e.side == side and _aggressive(by_id.get(e.order_id), ref):
                groups.setdefault(e.owner, []).append(e)
        for owner, rows in groups.items():
            qty = sum((e.qty for e in rows), D(0))
            share = qty / volume
            vwap = sum((e.qty * e.price for e in rows), D(0)) / qty
            if share < params["min_share"] or (vwap - ref) * sign <= 0:
                continue  # too small a part of the window, or trading at prices that did not move it
            found.append(Finding(
                rule=Rule.MARKING_CLOSE, key=_key(Rule.MARKING_CLOSE, owner, rows[0].symbol, trade_date, side),
                account_id=rows[0].account_id, owner=owner, symbol=rows[0].symbol, trade_date=trade_date,
                window_start=start, window_end=close, score=_q(abs(move_bps) * share),
                metrics={"side": side, "share_of_window_volume": str(_q(share)), "move_bps": str(_q(move_bps, "0.01")),
                         "reference_price": str(ref), "closing_price": str(closing), "window_volume": str(volume)},
                accounts=sorted({e.account_id for e in rows}), order_ids=sorted({e.order_id for e in rows}),
                execution_ids=[e.id for e in rows]))
    return found


# ---- ratios and concentration (per account, symbol and day) -----------------------------------

def _placed_on(orders: list[OrderEv], day_of) -> dict[str, list[OrderEv]]:
    by_account: dict[str, list[OrderEv]] = {}
    for o in orders:
        if day_of(o.created_at):
            by_account.setdefault(o.account_id, []).append(o)
    return by_account


def _day_window(orders, execs):
    times = [o.created_at for o in orders] + [o.canceled_at for o in orders if o.canceled_at] + [e.at for e in execs]
    return min(times), max(times)


def order_to_trade(orders: list[OrderEv], execs: list[ExecEv], params: dict, trade_date: date,
                   day_of) -> list[Finding]:
    """An account that placed at least `min_orders` orders in the symbol on the day with more than
    `max_ratio` orders per execution (no execution counts as one)."""
    fills_of: dict[str, list[ExecEv]] = {}
    for e in execs:
        fills_of.setdefault(e.account_id, []).append(e)
    found = []
    for account_id, placed in _placed_on(orders, day_of).items():
        if len(placed) < params["min_orders"]:
            continue
        fills = fills_of.get(account_id, [])
        ratio = D(len(placed)) / max(len(fills), 1)
        if len(placed) < params["min_orders"] or ratio <= params["max_ratio"]:
            continue
        start, end = _day_window(placed, fills)
        found.append(Finding(
            rule=Rule.ORDER_TO_TRADE, key=_key(Rule.ORDER_TO_TRADE, account_id, placed[0].symbol, trade_date),
            account_id=account_id, owner=placed[0].owner, symbol=placed[0].symbol, trade_date=trade_date,
            window_start=start, window_end=end, score=_q(ratio),
            metrics={"orders": len(placed), "executions": len(fills), "ratio": str(_q(ratio, "0.01"))},
            accounts=[account_id], order_ids=[o.id for o in placed], execution_ids=[e.id for e in fills]))
    return found


def cancel_ratio(orders: list[OrderEv], params: dict, trade_date: date, day_of) -> list[Finding]:
    """An account that placed at least `min_orders` orders in the symbol on the day and cancelled
    more than `max_ratio` of them."""
    found = []
    for account_id, placed in _placed_on(orders, day_of).items():
        canceled = [o for o in placed if o.canceled_at is not None]
        ratio = D(len(canceled)) / len(placed)
        if len(placed) < params["min_orders"] or ratio <= params["max_ratio"]:
            continue
        start, end = _day_window(placed, [])
        found.append(Finding(
            rule=Rule.CANCEL_RATIO, key=_key(Rule.CANCEL_RATIO, account_id, placed[0].symbol, trade_date),
            account_id=account_id, owner=placed[0].owner, symbol=placed[0].symbol, trade_date=trade_date,
            window_start=start, window_end=end, score=_q(ratio),
            metrics={"orders": len(placed), "canceled": len(canceled), "ratio": str(_q(ratio))},
            accounts=[account_id], order_ids=[o.id for o in canceled]))
    return found


def concentration(execs: list[ExecEv], params: dict, trade_date: date) -> list[Finding]:
    """An account whose executed quantity is at least `min_share` of the symbol's executed
    quantity at the broker that day, once that volume reaches `min_symbol_qty`."""
    total = sum((e.qty for e in execs), D(0))
    if not execs or total < params["min_symbol_qty"]:
        return []
    by_account: dict[str, list[ExecEv]] = {}
    for e in execs:
        by_account.setdefault(e.account_id, []).append(e)
    found = []
    for account_id, rows in by_account.items():
        qty = sum((e.qty for e in rows), D(0))
        share = qty / total
        if share < params["min_share"]:
            continue
        found.append(Finding(
            rule=Rule.CONCENTRATION, key=_key(Rule.CONCENTRATION, account_id, rows[0].symbol, trade_date),
            account_id=account_id, owner=rows[0].owner, symbol=rows[0].symbol, trade_date=trade_date,
            window_start=min(e.at for e in rows), window_end=max(e.at for e in rows), score=_q(share),
            metrics={"account_qty": str(qty), "symbol_qty": str(total), "share": str(_q(share))},
            accounts=[account_id], order_ids=sorted({e.order_id for e in rows}), execution_ids=[e.id for e in rows]))
    return found


def evaluate(orders: list[OrderEv], execs: list[ExecEv], params: dict[str, dict | None], trade_date: date,
             close: datetime | None, day_of) -> list[Finding]:
    """Every enabled rule (a rule whose params are None is off) over one symbol's day."""
    found: list[Finding] = []
    if params.get(Rule.WASH_TRADE) is not None:
        found += wash_trades(execs, params[Rule.WASH_TRADE], trade_date)
    if params.get(Rule.SPOOFING) is not None:
        found += spoofing(orders, execs, params[Rule.SPOOFING], trade_date)
    if params.get(Rule.MARKING_CLOSE) is not None and close is not None:
        found += marking_close(orders, execs, params[Rule.MARKING_CLOSE], trade_date, close)
    if params.get(Rule.ORDER_TO_TRADE) is not None:
        found += order_to_trade(orders, execs, params[Rule.ORDER_TO_TRADE], trade_date, day_of)
    if params.get(Rule.CANCEL_RATIO) is not None:
        found += cancel_ratio(orders, params[Rule.CANCEL_RATIO], trade_date, day_of)
    if params.get(Rule.CONCENTRATION) is not None:
        found += concentration(execs, params[Rule.CONCENTRATION], trade_date)
    return found
