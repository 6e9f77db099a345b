"""Releasing what an order holds. Caller holds the account, position and order locks.

The order's own columns (reserved_cash, reserved_qty, located_qty) are written here; what they
hold elsewhere is given back through its owner: cash to accounts (cash_release), shares to
portfolio (position_release), located shares to the locate list (locate_release)."""
from decimal import Decimal

from accounts.services import cash_release
from portfolio.services import locate_release, position_release
from core.values import money

ZERO = Decimal(0)


def reservation_release(*, account, position, order, cash: Decimal | None = None, qty: Decimal | None = None,
                        located: Decimal | None = None) -> None:
    """Release part of an order's holds (all of them when cash, qty and located are None)."""
    cash = order.reserved_cash if cash is None else min(max(cash, ZERO), order.reserved_cash)
    qty = order.reserved_qty if qty is None else min(max(qty, ZERO), order.reserved_qty)
    located = order.located_qty if located is None else min(max(located, ZERO), order.located_qty)
    if located:
        order.located_qty -= located
        locate_release(order.symbol, located)
    if cash:
        order.reserved_cash -= cash
        cash_release(account, cash)
    if qty:
        order.reserved_qty -= qty
        position_release(position=position, qty=qty)


def reservation_release_for_fill(*, account, position, order, fill_qty: Decimal, fill_value: Decimal, complete: bool) -> None:
    """Release the part of the holds that a fill used up: shares one for one, cash in proportion to
    the share of the order still open that this fill executed. The last fill releases the rest."""
    if complete:
        reservation_release(account=account, position=position, order=order)
        return
    if order.qty is not None:
        leaves_before = order.qty - (order.filled_qty - fill_qty)
        fraction = fill_qty / leaves_before if leaves_before > 0 else Decimal(1)
    else:  # notional order: progress is measured in dollars
        remaining_before = order.notional - (order.filled_qty * (order.filled_avg_price or 0) - fill_value)
        fraction = fill_value / remaining_before if remaining_before > 0 else Decimal(1)
    # The position closes held long shares first; what the fill sold beyond them was short.
    reservation_release(account=account, position=position, order=order,
                        cash=money(order.reserved_cash * min(fraction, Decimal(1))), qty=fill_qty,
                        located=fill_qty - order.reserved_qty)
