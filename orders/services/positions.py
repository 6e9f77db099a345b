"""Closing positions (Alpaca DELETE /v2/positions...): market orders through the normal path."""
from decimal import Decimal

from portfolio.models import Position
from core.errors import InvalidInput, NotFound, TradeXError
from core.fields import CLOSE_PERCENTAGE, QTY
from core.values import qty as round_qty, to_decimal
from core.vocabulary import OrderSide, OrderType, TimeInForce

from .lifecycle import order_cancel_all
from .placement import order_place


def position_close(*, account_id, symbol: str, actor: str, qty=None, percentage=None):
    position = Position.objects.filter(account_id=account_id, symbol=str(symbol).upper()).exclude(qty=0).first()
    if position is None:
        raise NotFound(f"no open position in {symbol}", reason="position_not_found")
    if qty is not None and percentage is not None:
        raise InvalidInput("qty_and_percentage", "give qty or percentage, not both")
    size = abs(position.qty)
    if qty is not None:
        size = to_decimal(qty, field="qty", limit=QTY)
    elif percentage is not None:
        pct = to_decimal(percentage, field="percentage", limit=CLOSE_PERCENTAGE)
        if not 0 < pct <= 100:
            raise InvalidInput("invalid_percentage", "percentage must be in (0, 100]")
        size = round_qty(abs(position.qty) * pct / Decimal(100))
    if size <= 0 or size > abs(position.qty):
        raise InvalidInput("invalid_qty", f"qty must be in (0, {abs(position.qty)}]")
    return order_place(account_id=account_id, actor=actor, symbol=position.symbol,
                       side=OrderSide.SELL if position.qty > 0 else OrderSide.BUY, order_type=OrderType.MARKET,
                       time_in_force=TimeInForce.DAY, qty=size)


def position_close_all(*, account_id, actor: str, cancel_orders: bool = False) -> list[tuple]:
    """Returns (symbol, http status, order or None) per position."""
    if cancel_orders:
        order_cancel_all(account_id=account_id, actor=actor)
    results = []
    for symbol in Position.objects.filter(account_id=account_id).exclude(qty=0).order_by("symbol").values_list("symbol", flat=True):
        try:
            results.append((symbol, 200, position_close(account_id=account_id, symbol=symbol, actor=actor)))
        except TradeXError as exc:
            results.append((symbol, exc.http_status, None))
    return results
