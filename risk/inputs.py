"""Reading the checks' inputs from the database and the quote cache.

Prices are read BEFORE the account lock is taken (no cache round trip under a row lock); limits
and halts come with the locking query itself; account_snapshot() runs under the lock, from rows
the caller has locked.
"""
from datetime import date, timedelta

from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Now

from accounts.models import Account
from marketdata.selectors import last_prices

from .models import DayTradeCount, RiskLimits, TradingHalt
from .snapshot import AccountSnapshot, Limits, MarketState, PositionSnapshot


def _limits(row: RiskLimits | None) -> Limits:
    """House limits with the account's overrides (a blank field keeps the house value)."""
    if row is None:
        return Limits.house()
    return Limits.house(max_order_notional=row.max_order_notional, max_order_qty=row.max_order_qty,
                        max_position_qty=row.max_position_qty, max_concentration=row.max_concentration,
                        max_open_orders_per_symbol=row.max_open_orders_per_symbol)


def limits_for(account_id) -> Limits:
    return _limits(RiskLimits.objects.filter(account_id=account_id).first())


def limits_of(account: Account) -> Limits:
    """Limits from an account read with select_related("risk_limits") (no extra query)."""
    try:
        return _limits(account.risk_limits)
    except RiskLimits.DoesNotExist:
        return _limits(None)


ACTIVE = Q(lifted_at__isnull=True) & (Q(resume_at__isnull=True) | Q(resume_at__gt=Now()))


def active_halts():
    """Halts in force now: not lifted, and not past their resume_at (a circuit-breaker halt stops
    refusing orders at resume_at by itself: correctness needs no job; halt_lift_expired only writes
    the lifted_at for the record). Now() is the database's clock, the same one for every process."""
    return TradingHalt.objects.filter(ACTIVE)


def halt_annotations(symbol: str) -> dict:
    """Whether `symbol`, the account, or everything is halted: three EXISTS read in the account's
    locking query (accounts.locks.lock_account), so a halt applies to the very next order with no
    extra round trip."""
    market = active_halts().filter(account__isnull=True)
    return {"halted_symbol": Exists(market.filter(symbol=symbol)), "halted_all": Exists(market.filter(symbol="")),
            "halted_account": Exists(active_halts().filter(account=OuterRef("pk")))}


def market_state(prices: dict, *, symbol: str, halted_symbol: bool, halted_all: bool,
                 halted_account: bool, house_rates: dict) -> MarketState:
    """Every halt flag and the house rates are required: a caller that forgot one would trade
    through that halt, or buy a non-marginable stock on margin."""
    return MarketState(prices=prices, halted_symbols=frozenset({symbol}) if halted_symbol else frozenset(),
                       all_halted=halted_all, account_halted=halted_account, house_rates=house_rates)


def market_prices(symbols) -> dict:
    """Last prices, read before the account lock is taken (no cache round trip under a row lock)."""
    return last_prices(symbols)


def position_snapshot(position, today: date) -> PositionSnapshot:
    same_day = position.activity_date == today
    return PositionSnapshot(
        symbol=position.symbol, qty=position.qty, avg_entry_price=position.avg_entry_price, held_qty=position.held_qty,
        day_opened_qty=position.day_opened_qty if same_day else 0, day_closed_qty=position.day_closed_qty if same_day else 0,
    )


def day_trades_last_5_days(account_id, today: date) -> int:
    """Day trades in the last five business days (weekdays; exchange holidays make the window only
    longer, i.e. stricter by at most a day)."""
    start, counted = today, 0
    while counted < 4:
        start -= timedelta(days=1)
        counted += start.weekday() < 5
    total = DayTradeCount.objects.filter(account_id=account_id, trade_date__gte=start, trade_date__lte=today).aggregate(n=Sum("count"))["n"]
    return total or 0


def account_snapshot(account: Account, positions, *, open_orders_for_symbol: int, day_trades: int, today: date) -> AccountSnapshot:
    return AccountSnapshot(
        account_id=str(account.pk), account_type=account.account_type, status=account.status,
        kyc_status=account.kyc_status,
        settled_cash=account.settled_cash, unsettled_cash=account.unsettled_cash, reserved_cash=account.reserved_cash,
        positions={p.symbol: position_snapshot(p, today) for p in positions},
        open_orders_for_symbol=open_orders_for_symbol, day_trades_last_5_days=day_trades,
    )
