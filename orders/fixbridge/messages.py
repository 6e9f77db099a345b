"""FIX 4.4 requests built from orders. Every field is set as a string so prices and quantities
stay exact Decimals (the bindings' typed fields would pass them through float).

ClOrdIDs: an order's is its UUID in hex (so a report maps back to the order without a lookup
table); a cancel request's is "C<outbox id>", which also tells the bridge whether the cancel was
an expiry (its outbox payload says so).
"""
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import quickfix as fix
from django.conf import settings

SIDE_CODES = {"buy": "1", "sell": "2"}
ORD_TYPE_CODES = {"market": "1", "limit": "2"}
TIF_CODES = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}
# Stops and stop limits reach a venue only once triggered, as market and limit orders.
SENT_AS = {"market": "market", "limit": "limit", "stop": "market", "stop_limit": "limit", "trailing_stop": "market"}


class Unsendable(Exception):
    """A message that cannot be built or that the FIX 4.4 dictionary refuses (the venue would
    reject it at the session level and never answer for the order)."""


@cache
def _dictionary() -> fix.DataDictionary:
    return fix.DataDictionary(str(Path(settings.BASE_DIR) / "fixspec" / "FIX44.xml"))


def validated(message: fix.Message) -> fix.Message:
    """`message`, checked against the data dictionary the venues load (field formats, enum
    values, required fields), with placeholder header fields that the session fills in later."""
    probe = fix.Message(message)
    header = probe.getHeader()
    for tag, value in ((49, "TRADEX"), (56, "VENUE"), (34, "1"), (52, fix_time())):
        header.setField(tag, value)
    try:
        _dictionary().validate(fix.Message(probe.toString(), _dictionary(), False))
    except fix.FIXException as exc:
        raise Unsendable(f"{type(exc).__name__}: {exc}") from exc
    return message


def cl_ord_id(order) -> str:
    return order.pk.hex


def cancel_cl_ord_id(outbox_id: int) -> str:
    return f"C{outbox_id}"


def fix_time(ts: datetime | None = None) -> str:
    ts = ts or datetime.now(timezone.utc)
    return ts.strftime("%Y%m%d-%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def _message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString(fix.BeginString_FIX44))
    message.getHeader().setField(fix.MsgType(msg_type))
    return message


def _order_fields(message, order, *, qty, ord_type: str, price, tif: str) -> None:
    message.setField(55, order.symbol)
    message.setField(54, SIDE_CODES[order.side])
    message.setField(60, fix_time())
    message.setField(38, str(qty))
    message.setField(40, ORD_TYPE_CODES[ord_type])
    if ord_type == "limit":
        message.setField(44, str(price))
    message.setField(59, TIF_CODES.get(tif, "0"))


def new_order_single(order, payload: dict) -> fix.Message:
    """NewOrderSingle; `payload` may override what the order's own fields say (a triggered stop is
    sent as market, an opg order released at the open as day, ...)."""
    ord_type = payload.get("ord_type") or SENT_AS[order.order_type]
    price = payload.get("price") or order.limit_price
    tif = payload.get("tif") or order.time_in_force
    qty = payload.get("qty") or (order.qty - order.filled_qty)
    message = _message(fix.MsgType_NewOrderSingle)
    message.setField(11, cl_ord_id(order))
    message.setField(1, str(order.account_id.hex)[:12])  # Account: lets the venue's drop copy group by client
    _order_fields(message, order, qty=qty, ord_type=ord_type, price=price, tif=tif)
    return message


def cancel_request(order, outbox_id: int) -> fix.Message:
    message = _message(fix.MsgType_OrderCancelRequest)
    message.setField(41, cl_ord_id(order))
    message.setField(11, cancel_cl_ord_id(outbox_id))
    message.setField(55, order.symbol)
    message.setField(54, SIDE_CODES[order.side])
    message.setField(60, fix_time())
    message.setField(38, str(order.qty or 0))
    return message


def replace_request(original, replacement) -> fix.Message:
    """OrderQty is the new total, fills included (FIX semantics)."""
    message = _message(fix.MsgType_OrderCancelReplaceRequest)
    message.setField(41, cl_ord_id(original))
    message.setField(11, cl_ord_id(replacement))
    _order_fields(message, replacement, qty=replacement.qty, ord_type=SENT_AS[replacement.order_type],
                  price=replacement.limit_price, tif=replacement.time_in_force)
    return message


def order_status_request(order) -> fix.Message:
    message = _message(fix.MsgType_OrderStatusRequest)
    message.setField(11, cl_ord_id(order))
    message.setField(55, order.symbol)
    message.setField(54, SIDE_CODES[order.side])
    return message


def market_data_request(request_id: str, symbols) -> fix.Message:
    """Subscribe to trades (last sale) of `symbols`: the broker's last price, stops and breakers."""
    message = _message(fix.MsgType_MarketDataRequest)
    message.setField(262, request_id)
    message.setField(263, "1")  # snapshot + updates
    message.setField(264, "1")  # top of book
    entry_types = fix.Group(267, 269)
    entry_types.setField(269, "2")  # trade
    message.setField(267, "1")
    message.addGroup(entry_types)
    symbols = sorted(symbols)
    message.setField(146, str(len(symbols)))
    for symbol in symbols:
        group = fix.Group(146, 55)
        group.setField(55, symbol)
        message.addGroup(group)
    return message
