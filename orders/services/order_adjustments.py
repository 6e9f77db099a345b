"""Open orders through a stock split: the orders' own rows, adjusted for the corporate-actions
workflow (workflows/corporate_actions.py), in its transaction, holding the account, position and
order locks in the global order."""
from decimal import ROUND_FLOOR, Decimal

from compliance.services import audit_record
from core.values import AVG_PRICE_PLACES, round_to
from portfolio.services import locate_reserved_adjust

from ..models import Order
from ..state import OPEN_STATUSES


def open_orders_apply_split(*, account, orders: list[Order], new_shares: int, old_shares: int,
                            whole_shares: bool, actor: str) -> int:
    """Scale each open order: quantities times new/old, prices times old/new, so its value and
    its cash reservation stay the same; the shares it holds, and the located shares a hard-to-
    borrow short reserved, scale with the position. Whole-share assets round the remaining quantity
    down. Audited per order. Returns how many changed."""
    ratio = Decimal(new_shares) / Decimal(old_shares)
    changed = 0
    for order in orders:
        if order.status not in OPEN_STATUSES or order.qty is None and order.notional is not None:
            continue  # notional orders are in dollars: nothing to scale
        before = {"qty": order.qty, "filled_qty": order.filled_qty, "limit_price": order.limit_price,
                  "stop_price": order.stop_price, "trail_price": order.trail_price}
        filled = order.filled_qty * ratio
        leaves = (order.qty - order.filled_qty) * ratio
        if whole_shares:
            leaves = leaves.to_integral_value(rounding=ROUND_FLOOR)
        order.filled_qty = filled
        order.qty = filled + leaves
        order.reserved_qty = min(order.reserved_qty * ratio, leaves) if whole_shares else order.reserved_qty * ratio
        if whole_shares:
            order.reserved_qty = order.reserved_qty.to_integral_value(rounding=ROUND_FLOOR)
        if order.located_qty:
            located = order.located_qty * ratio
            if whole_shares:
                located = min(located, leaves).to_integral_value(rounding=ROUND_FLOOR)
            locate_reserved_adjust(order.symbol, located - order.located_qty)
            order.located_qty = located
        for field in ("limit_price", "stop_price", "trail_price", "filled_avg_price", "hwm", "trigger_price"):
            value = getattr(order, field)
            if value is not None:
                setattr(order, field, round_to(value / ratio, AVG_PRICE_PLACES))
        order.save()
        audit_record(account=account, actor=actor, action="order.split_adjusted", entity_type="order",
                     entity_id=order.pk, data={"before": before, "ratio": f"{new_shares}:{old_shares}",
                                               "qty": order.qty, "limit_price": order.limit_price,
                                               "stop_price": order.stop_price})
        changed += 1
    return changed
