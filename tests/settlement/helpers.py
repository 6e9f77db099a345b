"""Executions made through the real services: order_place, then execution_apply as the FIX
bridge calls it."""
import itertools
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

from orders.services import execution_apply, order_place

_ids = itertools.count(1)
D = Decimal


def at(day: str, hour: int = 15) -> datetime:
    """A moment on a trade date, during the New York session (UTC)."""
    y, m, d = (int(x) for x in day.split("-"))
    return datetime(y, m, d, hour, 0, tzinfo=dt_timezone.utc)


def trade(account, side: str, qty, price, *, when: datetime, symbol: str = "AAPL", fills: int = 1):
    """Place a limit order and fill it in `fills` equal executions at `when`. Returns the executions."""
    n = next(_ids)
    order = order_place(account_id=account.pk, actor="test", symbol=symbol, side=side, order_type="limit",
                        time_in_force="day", qty=str(qty), limit_price=str(price), client_order_id=f"c{n}")
    part = D(str(qty)) / fills
    return [execution_apply(venue="TEST", exec_id=f"x{n}-{i}", order_id=order.pk, qty=str(part), price=str(price),
                            transacted_at=when) for i in range(fills)]
