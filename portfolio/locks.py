"""Position row locks (docs/architecture.md, "The lock order", step 2): taken by the holder of the
account's row lock (accounts.locks.lock_account), before the account's order rows
(orders.locks.lock_orders)."""
from accounts.models import Account

from .models import Position


def lock_positions(account: Account, symbols=None) -> dict:
    """Lock the account's position rows for these symbols (all of them when symbols is None), in
    symbol order. Caller holds the account lock. Returns {symbol: Position}; a symbol with no row
    is absent."""
    rows = Position.objects.select_for_update().filter(account=account)
    if symbols is not None:
        rows = rows.filter(symbol__in=sorted(set(symbols)))
    return {p.symbol: p for p in rows.order_by("symbol")}
