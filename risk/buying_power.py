"""Equity, margin requirements, buying power and what an order reserves, over the checks'
snapshot. Pure functions; the margin arithmetic itself is risk.margin's (and its rule for a
missing price: here a missing price refuses the order).

Units: a cash account reserves cash (the order's estimated cost); a margin account reserves
initial margin (Reg T: 50 % of a long purchase; a short needs 150 % of its value, of which the
sale proceeds supply 100 %, so 50 % from equity). `reserved_cash` on the account holds the sum of
its open orders' reservations in those units.
"""
from dataclasses import dataclass
from decimal import Decimal

from core.values import money, qty as round_qty

from . import margin
from .snapshot import ZERO, AccountSnapshot, Limits, MarketState, OrderIntent, price_of


def _held(snapshot: AccountSnapshot) -> dict[str, Decimal]:
    return {s: p.qty for s, p in snapshot.positions.items() if p.qty != 0}


def long_market_value(snapshot: AccountSnapshot, market: MarketState) -> Decimal:
    return margin.long_market_value(_held(snapshot), market.prices)


def short_market_value(snapshot: AccountSnapshot, market: MarketState) -> Decimal:
    """Negative, as Alpaca reports it."""
    return margin.short_market_value(_held(snapshot), market.prices)


def equity(snapshot: AccountSnapshot, market: MarketState) -> Decimal:
    return margin.equity(snapshot.cash, _held(snapshot), market.prices)


def long_initial_rate(market: MarketState, limits: Limits, symbol: str) -> Decimal:
    return margin.long_initial_rate(symbol, market.house_rates, limits.reg_t_initial)


def short_initial_rate(market: MarketState, limits: Limits, symbol: str) -> Decimal:
    return margin.short_initial_rate(symbol, market.house_rates, limits.short_initial)


def initial_requirement(snapshot: AccountSnapshot, market: MarketState, limits: Limits) -> Decimal:
    return margin.initial_requirement(_held(snapshot), market.prices, market.house_rates,
                                      reg_t_initial=limits.reg_t_initial, short_initial=limits.short_initial)


def maintenance_requirement(snapshot: AccountSnapshot, market: MarketState, limits: Limits) -> Decimal:
    """FINRA 4210 with the house's stricter per-symbol rates: the margin monitor's rule."""
    return margin.maintenance_requirement(_held(snapshot), market.prices, market.house_rates,
                                          maintenance=limits.maintenance)


def available_funds(snapshot: AccountSnapshot, market: MarketState, limits: Limits) -> Decimal:
    """What new reservations may still take, in the account's reservation units."""
    if snapshot.is_margin:
        return equity(snapshot, market) - initial_requirement(snapshot, market, limits) - snapshot.reserved_cash
    return snapshot.cash - snapshot.reserved_cash


def buying_power(snapshot: AccountSnapshot, market: MarketState, limits: Limits) -> Decimal:
    """Alpaca's buying_power: dollars of stock the account can still buy."""
    funds = max(available_funds(snapshot, market, limits), ZERO)
    return money(funds / limits.reg_t_initial if snapshot.is_margin else funds)


def to_buying_power(amount: Decimal, snapshot: AccountSnapshot, limits: Limits) -> Decimal:
    return money(amount / limits.reg_t_initial if snapshot.is_margin else amount)


@dataclass(frozen=True)
class Reservation:
    cash: Decimal  # reservation units (see module docstring)
    held_qty: Decimal  # long shares promised to this sell
    short_qty: Decimal  # shares this sell would sell short
    est_price: Decimal  # price used for the estimate
    est_qty: Decimal
    est_notional: Decimal


def estimated_price(intent: OrderIntent, market: MarketState, limits: Limits) -> Decimal:
    """The worst price the order is expected to trade at, for its reservation."""
    last = price_of(market, intent.symbol)
    buffer = 1 + limits.market_buffer
    if intent.order_type in ("limit", "stop_limit"):
        return intent.limit_price if intent.side == "buy" else max(intent.limit_price, last)
    if intent.side == "sell":
        return last
    if intent.order_type == "stop":
        return max(intent.stop_price, last) * buffer
    if intent.order_type == "trailing_stop":
        trail = intent.trail_price if intent.trail_price is not None else last * intent.trail_percent / 100
        return (last + trail) * buffer
    return last * buffer  # market


def order_reservation(snapshot: AccountSnapshot, intent: OrderIntent, market: MarketState, limits: Limits) -> Reservation:
    est_price = estimated_price(intent, market, limits)
    if intent.qty is not None:  # a notional order's qty is decided at acceptance (docs/fractional.md)
        est_qty = intent.qty - intent.filled_qty
    else:  # notional orders: shares estimated at the last price, rounded up so the hold suffices
        est_qty = round_qty(intent.notional / price_of(market, intent.symbol) + Decimal("0.000000001"))
    # A notional buy holds its notional, which it never spends more than (orders/services/fractional.py).
    est_notional = intent.notional if intent.notional is not None and intent.side == "buy" else est_qty * est_price
    if intent.side == "buy":
        cash = est_notional * long_initial_rate(market, limits, intent.symbol) if snapshot.is_margin else est_notional
        return Reservation(money(cash, up=True), ZERO, ZERO, est_price, est_qty, money(est_notional, up=True))
    pos = snapshot.position(intent.symbol)
    available_long = max(pos.qty - pos.held_qty, ZERO)
    held = min(est_qty, available_long)
    short = est_qty - held
    cash = short * est_price * short_initial_rate(market, limits, intent.symbol) if snapshot.is_margin else ZERO
    return Reservation(money(cash, up=True), held, short, est_price, est_qty, money(est_notional, up=True))
