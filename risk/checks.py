"""Pre-trade checks: pure functions of (snapshot, intent, market, limits, reservation).

Each returns a Refusal or None. They never scan order history: day trading reads maintained
counters and today's opened/closed quantities on the position.
"""
from dataclasses import dataclass
from decimal import Decimal

from core.values import money
from core.vocabulary import AccountStatus, KycStatus, OrderSide

from .buying_power import (
    Reservation,
    available_funds,
    equity,
    long_market_value,
    short_market_value,
    to_buying_power,
)
from .snapshot import ZERO, AccountSnapshot, Limits, MarketState, OrderIntent, price_of


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class CheckInput:
    snapshot: AccountSnapshot
    intent: OrderIntent
    market: MarketState
    limits: Limits
    reservation: Reservation


def _signed(intent: OrderIntent, qty: Decimal) -> Decimal:
    return qty if intent.side == OrderSide.BUY else -qty


def _reduces_position(c: CheckInput) -> bool:
    """True when the order only closes (part of) the existing position."""
    pos = c.snapshot.position(c.intent.symbol)
    qty = c.reservation.est_qty
    if c.intent.side == OrderSide.SELL:
        return qty <= max(pos.qty - pos.held_qty, ZERO)
    return pos.qty < 0 and qty <= -pos.qty


def account_status(c: CheckInput) -> Refusal | None:
    if c.snapshot.status == AccountStatus.CLOSED:
        return Refusal("account_closed", "the account is closed")
    if c.snapshot.kyc_status != KycStatus.APPROVED:
        # A signed-up account trades only once staff approve its KYC profile (money may arrive first).
        return Refusal("account_not_approved", f"the account's identity check is {c.snapshot.kyc_status}, not approved")
    if c.snapshot.status == AccountStatus.RESTRICTED and not _reduces_position(c):
        return Refusal("account_restricted", "the account is restricted to closing trades")
    return None


def asset_tradable(c: CheckInput) -> Refusal | None:
    if not c.intent.asset_tradable:
        return Refusal("asset_not_tradable", f"{c.intent.symbol} is not tradable")
    return None


def trading_halt(c: CheckInput) -> Refusal | None:
    """Halts refuse every new order in their scope, closing trades included (a halt means no trading)."""
    if c.market.all_halted:
        return Refusal("trading_halted", "trading is halted firm-wide")
    if c.market.account_halted:
        return Refusal("account_halted", "trading in this account is halted")
    if c.intent.symbol in c.market.halted_symbols:
        return Refusal("symbol_halted", f"trading in {c.intent.symbol} is halted")
    return None


def fat_finger(c: CheckInput) -> Refusal | None:
    if c.reservation.est_notional > c.limits.max_order_notional:
        return Refusal("max_order_notional",
                       f"order value {c.reservation.est_notional} exceeds the limit of {c.limits.max_order_notional}")
    if c.reservation.est_qty > c.limits.max_order_qty:
        return Refusal("max_order_qty", f"order quantity {c.reservation.est_qty} exceeds the limit of {c.limits.max_order_qty}")
    return None


def price_collar(c: CheckInput) -> Refusal | None:
    """A limit price more than the collar through the last trade is refused (004 pitfall 3)."""
    if c.intent.limit_price is None:
        return None
    last = price_of(c.market, c.intent.symbol)
    if c.intent.side == OrderSide.BUY and c.intent.limit_price > last * (1 + c.limits.price_collar):
        return Refusal("price_collar", f"buy limit {c.intent.limit_price} is more than "
                                       f"{c.limits.price_collar:%} above the last trade {last}")
    if c.intent.side == OrderSide.SELL and c.intent.limit_price < last * (1 - c.limits.price_collar):
        return Refusal("price_collar", f"sell limit {c.intent.limit_price} is more than "
                                       f"{c.limits.price_collar:%} below the last trade {last}")
    return None


def open_orders(c: CheckInput) -> Refusal | None:
    if c.snapshot.open_orders_for_symbol >= c.limits.max_open_orders_per_symbol:
        return Refusal("max_open_orders", f"at most {c.limits.max_open_orders_per_symbol} open orders per symbol")
    return None


def position_limit(c: CheckInput) -> Refusal | None:
    pos = c.snapshot.position(c.intent.symbol)
    after = pos.qty + _signed(c.intent, c.reservation.est_qty)
    if abs(after) > c.limits.max_position_qty and abs(after) > abs(pos.qty):
        return Refusal("max_position_qty", f"position would be {after} shares; the limit is {c.limits.max_position_qty}")
    return None


def concentration(c: CheckInput) -> Refusal | None:
    pos = c.snapshot.position(c.intent.symbol)
    after = pos.qty + _signed(c.intent, c.reservation.est_qty)
    if abs(after) <= abs(pos.qty):
        return None  # reducing exposure is always allowed
    value = abs(after) * price_of(c.market, c.intent.symbol)
    eq = equity(c.snapshot, c.market)
    if eq <= 0 or value > eq * c.limits.max_concentration:
        return Refusal("concentration_limit", f"{c.intent.symbol} would be {money(value)}, over "
                                              f"{c.limits.max_concentration:%} of equity {money(eq)}")
    return None


def short_sale(c: CheckInput) -> Refusal | None:
    if c.reservation.short_qty <= 0:
        return None
    if not c.snapshot.is_margin:
        return Refusal("insufficient_qty", f"only {c.reservation.held_qty} shares of {c.intent.symbol} are available to sell")
    if not c.intent.asset_shortable:
        return Refusal("asset_not_shortable", f"{c.intent.symbol} cannot be sold short")
    if c.intent.notional is not None or (c.intent.qty is not None and c.intent.qty % 1 != 0):
        # Alpaca's rule: fractional and notional orders never sell short (docs/fractional.md).
        return Refusal("fractional_short", f"fractional and notional sells cannot sell {c.intent.symbol} short: "
                                           f"{c.reservation.held_qty} shares are available to sell")
    if not c.intent.asset_easy_to_borrow:
        available = c.intent.borrow_available
        if available is None or available <= 0:
            return Refusal("hard_to_borrow", f"{c.intent.symbol} is hard to borrow; no locate is available")
        if c.reservation.short_qty > available:
            return Refusal("hard_to_borrow", f"{c.intent.symbol} is hard to borrow; only {available} shares can be "
                                             "located today")
    return None


def cash_account_debit(c: CheckInput) -> Refusal | None:
    """A cash account in debit (a buy filled beyond its cash and not yet paid) may not sell: selling
    securities not paid for is free riding (Regulation T 220.8). Paying the debit lifts this."""
    if not c.snapshot.is_margin and c.snapshot.cash < 0 and c.intent.side == OrderSide.SELL:
        return Refusal("account_in_debit", f"the account owes {-c.snapshot.cash}: deposit it before selling "
                                           "(selling unpaid securities is free riding)")
    return None


def buying_power(c: CheckInput) -> Refusal | None:
    if c.reservation.cash <= 0 or (c.snapshot.is_margin and _reduces_position(c)):
        # Nothing reserved (selling shares held), or a margin account closing a position, which
        # only lowers its requirement: an account in a margin call must be able to do both.
        return None
    available = available_funds(c.snapshot, c.market, c.limits)
    if c.reservation.cash > available:
        have = to_buying_power(max(available, ZERO), c.snapshot, c.limits)
        need = to_buying_power(c.reservation.cash, c.snapshot, c.limits)
        return Refusal("insufficient_buying_power", f"insufficient buying power: order needs {need}, available {have}")
    return None


def _is_day_trade(c: CheckInput) -> bool:
    """Closing a position (part of) which was opened today."""
    pos = c.snapshot.position(c.intent.symbol)
    opened_today_open = pos.day_opened_qty - pos.day_closed_qty
    if opened_today_open <= 0:
        return False
    return (c.intent.side == OrderSide.SELL and pos.qty > 0) or (c.intent.side == OrderSide.BUY and pos.qty < 0)


def day_trading(c: CheckInput) -> Refusal | None:
    if not c.snapshot.is_margin:
        return None
    if c.limits.day_trading_policy == "pdt":
        if (_is_day_trade(c) and c.snapshot.day_trades_last_5_days >= 3
                and equity(c.snapshot, c.market) < c.limits.pdt_min_equity):
            return Refusal("pattern_day_trader", "a 4th day trade in 5 business days needs "
                                                 f"{c.limits.pdt_min_equity} of equity (FINRA Rule 4210 PDT)")
        return None
    # Amended FINRA Rule 4210 intraday standard: exposure after the order within margin equity.
    price = price_of(c.market, c.intent.symbol)
    pos = c.snapshot.position(c.intent.symbol)
    after = pos.qty + _signed(c.intent, c.reservation.est_qty)
    gross_now = long_market_value(c.snapshot, c.market) - short_market_value(c.snapshot, c.market)
    gross_after = gross_now - abs(pos.qty) * price + abs(after) * price
    if gross_after <= gross_now:
        return None
    requirement = gross_after * c.limits.maintenance
    eq = equity(c.snapshot, c.market)
    if requirement > eq:
        return Refusal("intraday_margin_deficit", f"intraday maintenance requirement {money(requirement)} would exceed "
                                                  f"equity {money(eq)}")
    return None


# Order matters only for which refusal is reported first; every check runs (dry runs list all).
CHECKS = (account_status, cash_account_debit, asset_tradable, trading_halt, fat_finger, price_collar, open_orders,
          short_sale, position_limit, concentration, buying_power, day_trading)
