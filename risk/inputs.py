"""Reading the checks' inputs from the database and the quote cache.

market_state() and limits_for() run BEFORE the account lock is taken (no cache round trip under a
row lock); account_snapshot() runs under it, from rows the caller has locked.
"""
from datetime import date, timedelta

from django.db.models import Sum

from accounts.models import Account
from marketdata.selectors import last_prices

from .models import DayTradeCount, RiskLimits, TradingHalt
from .snapshot import AccountSnapshot, Limits, MarketState, PositionSnapshot


def limits_for(account_id) -> Limits:
    row = RiskLimits.objects.filter(account_id=account_id).first()
    if row is None:
        return Limits.house()
    return Limits.house(max_order_notional=row.max_order_notional, max_order_qty=row.max_order_qty,
                        max_position_qty=row.max_position_qty, max_concentration=row.max_concentration,
                        max_open_orders_per_symbol=row.max_open_orders_per_symbol)


def market_state(symbols) -> MarketState:
    halts = set(TradingHalt.objects.filter(lifted_at__isnull=True).values_list("symbol", flat=True))
    return MarketState(prices=last_prices(symbols), halted_symbols=frozenset(h for h in halts if h), all_halted="" in halts)


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
        settled_cash=account.settled_cash, unsettled_cash=account.unsettled_cash, reserved_cash=account.reserved_cash,
        positions={p.symbol: position_snapshot(p, today) for p in positions},
        open_orders_for_symbol=open_orders_for_symbol, day_trades_last_5_days=day_trades,
    )
