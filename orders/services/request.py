"""Validating an order request (invariant 8: bad input is refused before anything is written)."""
import hashlib
from dataclasses import asdict, dataclass
from decimal import Decimal

import orjson

from marketdata.models import Asset
from marketdata.selectors import asset_for_order
from core.errors import InvalidInput
from core.fields import NOTIONAL, PERCENT, PRICE, QTY
from core.values import DecimalLimit, decimal_places, has_control_characters, to_decimal
from core.vocabulary import OrderClass, OrderSide, OrderType, TimeInForce

from ..models import Order

SIDES = set(Order.Side.values)
TYPES = set(Order.Type.values)
TIFS = set(Order.TimeInForce.values)
CLASSES = set(Order.OrderClass.values)
MAX_CLIENT_ORDER_ID = 128  # Order.client_order_id's column
MAX_SYMBOL = 16  # Asset.symbol's column


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    extended_hours: bool
    order_class: str
    # Order classes (Alpaca's take_profit / stop_loss objects; trail_* is TradeX's trailing stop leg).
    tp_limit_price: Decimal | None = None
    sl_stop_price: Decimal | None = None
    sl_limit_price: Decimal | None = None
    sl_trail_price: Decimal | None = None
    sl_trail_percent: Decimal | None = None

    def fingerprint(self) -> str:
        """Hash of the normalised request: equal for a true retry of the same order. Leg fields
        count only when given, so a simple order hashes as it always has."""
        body = {k: (str(v.normalize()) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()
                if not (k in LEG_FIELDS and v is None)}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


LEG_FIELDS = frozenset({"tp_limit_price", "sl_stop_price", "sl_limit_price", "sl_trail_price", "sl_trail_percent"})


def _leg_object(value, name: str, allowed: set[str]) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"invalid_{name}", f"{name} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidInput(f"invalid_{name}", f"{name} takes only {', '.join(sorted(allowed))} (not {', '.join(unknown)})")
    return value


def parse_order_class(*, order_class, side, order_type, time_in_force, qty, notional, limit_price, extended_hours,
                      take_profit, stop_loss) -> dict:
    """Alpaca's order-class rules; returns the leg fields of OrderRequest. Bracket: an entry with a
    take-profit and a stop-loss; OTO: an entry with one of them; OCO: a limit order (at
    take_profit.limit_price) and a stop-loss closing an existing position. The stop-loss is a stop
    (stop_price), a stop-limit (stop_price + limit_price) or - TradeX - a trailing stop
    (trail_price or trail_percent)."""
    take_profit = _leg_object(take_profit, "take_profit", {"limit_price"})
    stop_loss = _leg_object(stop_loss, "stop_loss", {"stop_price", "limit_price", "trail_price", "trail_percent"})
    if order_class == OrderClass.SIMPLE:
        if take_profit is not None or stop_loss is not None:
            raise InvalidInput("legs_need_order_class", "take_profit and stop_loss need order_class bracket, oco or oto")
        return {}
    if notional is not None or (qty is not None and qty != qty.to_integral_value()):
        raise InvalidInput("order_class_whole_qty", f"{order_class} orders need a whole-share qty")
    if extended_hours:
        raise InvalidInput("order_class_extended_hours", f"{order_class} orders cannot be extended-hours orders")
    if time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
        raise InvalidInput("order_class_time_in_force", f"{order_class} orders must be day or gtc")
    tp = _price((take_profit or {}).get("limit_price"), "take_profit.limit_price")
    sl = stop_loss or {}
    sl_stop = _price(sl.get("stop_price"), "stop_loss.stop_price")
    sl_limit = _price(sl.get("limit_price"), "stop_loss.limit_price")
    sl_trail_price = _price(sl.get("trail_price"), "stop_loss.trail_price")
    sl_trail_percent = _optional_decimal(sl.get("trail_percent"), "stop_loss.trail_percent", PERCENT)
    if take_profit is not None and tp is None:
        raise InvalidInput("take_profit_limit_price_required", "take_profit needs limit_price")
    if stop_loss is not None:
        if sum(v is not None for v in (sl_stop, sl_trail_price, sl_trail_percent)) != 1:
            raise InvalidInput("stop_loss_invalid", "stop_loss needs exactly one of stop_price, trail_price or trail_percent")
        if sl_limit is not None and sl_stop is None:
            raise InvalidInput("stop_loss_invalid", "stop_loss.limit_price goes with stop_price (a stop-limit leg)")
        if sl_trail_percent is not None and sl_trail_percent >= 100:
            raise InvalidInput("invalid_trail_percent", "stop_loss.trail_percent must be below 100")
    if order_class == OrderClass.BRACKET and (tp is None or stop_loss is None):
        raise InvalidInput("bracket_legs_required", "a bracket order needs take_profit and stop_loss")
    if order_class == OrderClass.OTO and (tp is None) == (stop_loss is None):
        raise InvalidInput("oto_leg_required", "an oto order needs exactly one of take_profit or stop_loss")
    if order_class == OrderClass.OCO:
        if order_type != OrderType.LIMIT:
            raise InvalidInput("oco_limit_only", "an oco order is a limit order (the take-profit) with a stop_loss")
        if tp is None or stop_loss is None:
            raise InvalidInput("oco_legs_required", "an oco order needs take_profit and stop_loss")
        if limit_price is not None and limit_price != tp:
            raise InvalidInput("oco_limit_price", "an oco order's limit_price is its take_profit.limit_price")
    elif order_type not in (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT):
        raise InvalidInput("order_class_entry_type", f"a {order_class} entry must be market, limit, stop or stop_limit")
    exit_sells = side == OrderSide.BUY if order_class != OrderClass.OCO else side == OrderSide.SELL
    if tp is not None and sl_stop is not None and (tp <= sl_stop if exit_sells else tp >= sl_stop):
        raise InvalidInput("take_profit_stop_loss_order", "take_profit.limit_price must be "
                           f"{'above' if exit_sells else 'below'} stop_loss.stop_price")
    return dict(tp_limit_price=tp, sl_stop_price=sl_stop, sl_limit_price=sl_limit, sl_trail_price=sl_trail_price,
                sl_trail_percent=sl_trail_percent)


def _optional_decimal(value, field: str, limit: DecimalLimit, *, positive: bool = True) -> Decimal | None:
    """The field's exact value within its column's digits (core.values.to_decimal: BadDecimal,
    an InvalidInput with reason invalid_<field>, otherwise)."""
    if value is None or value == "":
        return None
    result = to_decimal(value, field=field, limit=limit)
    if positive and result <= 0:
        raise InvalidInput(f"invalid_{field}", f"{field} must be greater than zero")
    return result


def _price(value, field: str) -> Decimal | None:
    result = _optional_decimal(value, field, PRICE)
    if result is not None:
        # Reg NMS sub-penny rule: $0.01 ticks at $1.00 and above, $0.0001 below.
        places = 2 if result >= 1 else 4
        if decimal_places(result) > places:
            raise InvalidInput("invalid_tick_size", f"{field} {result} is finer than the tick size (max {places} decimals)")
    return result


def parse_order_request(*, symbol, side, order_type, time_in_force, qty=None, notional=None, limit_price=None,
                        stop_price=None, trail_price=None, trail_percent=None, extended_hours=False,
                        order_class=OrderClass.SIMPLE, take_profit=None, stop_loss=None) -> tuple[OrderRequest, Asset]:
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput("invalid_symbol", "symbol is required")
    if len(symbol) > MAX_SYMBOL or has_control_characters(symbol):
        raise InvalidInput("invalid_symbol", f"symbol is at most {MAX_SYMBOL} characters, without control characters")
    if side not in SIDES:
        raise InvalidInput("invalid_side", f"side must be one of {', '.join(sorted(SIDES))}")
    if order_type not in TYPES:
        raise InvalidInput("invalid_type", f"type must be one of {', '.join(sorted(TYPES))}")
    if time_in_force not in TIFS:
        raise InvalidInput("invalid_time_in_force", f"time_in_force must be one of {', '.join(sorted(TIFS))}")
    if order_class is None:
        order_class = OrderClass.SIMPLE
    if order_class not in CLASSES:
        raise InvalidInput("invalid_order_class", f"order_class must be one of {', '.join(sorted(CLASSES))}")
    if not isinstance(extended_hours, bool):
        raise InvalidInput("invalid_extended_hours", "extended_hours must be true or false")
    qty = _optional_decimal(qty, "qty", QTY)  # up to 9 places (fractional shares, as Alpaca)
    notional = _optional_decimal(notional, "notional", NOTIONAL)  # up to 9 places, as Alpaca
    if qty is None and notional is None:
        raise InvalidInput("qty_or_notional_required", "one of qty or notional is required")
    if qty is not None and notional is not None:
        raise InvalidInput("qty_and_notional", "give qty or notional, not both")
    limit_price = _price(limit_price, "limit_price")
    stop_price = _price(stop_price, "stop_price")
    trail_price = _price(trail_price, "trail_price")
    trail_percent = _optional_decimal(trail_percent, "trail_percent", PERCENT)
    if order_class == OrderClass.OCO and order_type == OrderType.LIMIT and limit_price is None and isinstance(take_profit, dict):
        limit_price = _price(take_profit.get("limit_price"), "take_profit.limit_price")  # the parent is the take-profit
    needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit and limit_price is None:
        raise InvalidInput("limit_price_required", f"a {order_type} order needs limit_price")
    if not needs_limit and limit_price is not None:
        raise InvalidInput("limit_price_not_allowed", f"a {order_type} order takes no limit_price")
    if needs_stop and stop_price is None:
        raise InvalidInput("stop_price_required", f"a {order_type} order needs stop_price")
    if not needs_stop and stop_price is not None:
        raise InvalidInput("stop_price_not_allowed", f"a {order_type} order takes no stop_price")
    if order_type == OrderType.TRAILING_STOP:
        if (trail_price is None) == (trail_percent is None):
            raise InvalidInput("trail_required", "a trailing_stop order needs exactly one of trail_price or trail_percent")
        if trail_percent is not None and trail_percent >= 100:
            raise InvalidInput("invalid_trail_percent", "trail_percent must be below 100")
    elif trail_price is not None or trail_percent is not None:
        raise InvalidInput("trail_not_allowed", "only trailing_stop orders take trail_price or trail_percent")
    fractional = qty is not None and qty != qty.to_integral_value()
    # Alpaca's rule: fractional and notional orders are market day orders (docs/fractional.md).
    if notional is not None and order_type != OrderType.MARKET:
        raise InvalidInput("notional_market_only", "notional orders must be market orders")
    if fractional and order_type != OrderType.MARKET:
        raise InvalidInput("fractional_market_only", "fractional quantities are for market orders only")
    if (notional is not None or fractional) and time_in_force != TimeInForce.DAY:
        raise InvalidInput("fractional_day_only", "fractional and notional orders must be day orders")
    if extended_hours and (order_type != OrderType.LIMIT or time_in_force != TimeInForce.DAY):
        raise InvalidInput("extended_hours_limit_day", "extended-hours orders must be limit day orders")
    if time_in_force in (TimeInForce.OPG, TimeInForce.CLS) and order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise InvalidInput("auction_market_or_limit", f"{time_in_force} orders must be market or limit orders")
    legs = parse_order_class(order_class=order_class, side=side, order_type=order_type, time_in_force=time_in_force,
                             qty=qty, notional=notional, limit_price=limit_price, extended_hours=extended_hours,
                             take_profit=take_profit, stop_loss=stop_loss)
    asset = asset_for_order(symbol)
    if asset is None:
        raise InvalidInput("unknown_symbol", f"unknown symbol: {symbol}")
    if (notional is not None or fractional) and not asset.fractionable:
        raise InvalidInput("not_fractionable", f"{asset.symbol} cannot be traded in fractions")
    request = OrderRequest(symbol=asset.symbol, side=side, order_type=order_type, time_in_force=time_in_force, qty=qty,
                           notional=notional, limit_price=limit_price, stop_price=stop_price, trail_price=trail_price,
                           trail_percent=trail_percent, extended_hours=extended_hours, order_class=order_class,
                           **legs)
    return request, asset


def validate_client_order_id(client_order_id) -> str | None:
    if client_order_id is None or client_order_id == "":
        return None
    if (not isinstance(client_order_id, str) or len(client_order_id) > MAX_CLIENT_ORDER_ID
            or has_control_characters(client_order_id)):
        raise InvalidInput("invalid_client_order_id", f"client_order_id must be a string of at most {MAX_CLIENT_ORDER_ID} characters")
    return client_order_id
