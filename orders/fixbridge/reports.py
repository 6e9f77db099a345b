"""What a venue sends, parsed into plain values. The data dictionary has already validated the
message at the session level; what is checked here is what only the broker knows (is this one of
our ClOrdIDs, is the number a number)."""
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import quickfix as fix

ORD_STATUS = {"0": "new", "1": "partially_filled", "2": "filled", "4": "canceled", "5": "replaced",
              "8": "rejected", "C": "expired", "6": "pending_cancel", "A": "pending_new", "E": "pending_replace"}


class UnusableReport(Exception):
    """A well-formed FIX message the broker cannot map to one of its orders."""


@dataclass(frozen=True)
class Report:
    msg_type: str  # "8" ExecutionReport, "9" OrderCancelReject
    exec_type: str
    ord_status: str
    cl_ord_id: str
    orig_cl_ord_id: str
    venue_order_id: str
    exec_id: str
    symbol: str
    last_qty: Decimal | None
    last_px: Decimal | None
    cum_qty: Decimal | None
    leaves_qty: Decimal | None
    text: str
    transacted_at: datetime
    poss_dup: bool

    @property
    def order_id(self) -> uuid.UUID:
        """The order the report is about: the cancel's target for "C<n>" ClOrdIDs, else the order
        whose ClOrdID it carries (for a replace, the replacement)."""
        return order_id_of(self.orig_cl_ord_id if self.cl_ord_id.startswith("C") else self.cl_ord_id)

    @property
    def original_id(self) -> uuid.UUID:
        return order_id_of(self.orig_cl_ord_id)

    @property
    def cancel_outbox_id(self) -> int | None:
        return int(self.cl_ord_id[1:]) if self.cl_ord_id.startswith("C") and self.cl_ord_id[1:].isdigit() else None


def order_id_of(cl_ord_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(hex=cl_ord_id)
    except ValueError as exc:
        raise UnusableReport(f"ClOrdID {cl_ord_id!r} is not one of ours") from exc


def _get(message, tag: int, default: str = "") -> str:
    return message.getField(tag) if message.isSetField(tag) else default


def _decimal(message, tag: int) -> Decimal | None:
    raw = _get(message, tag)
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise UnusableReport(f"tag {tag} is not a number: {raw!r}") from exc


def _time(raw: str) -> datetime:
    for fmt in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return datetime.now(timezone.utc)


def parse(message) -> Report:
    header = message.getHeader()
    return Report(
        msg_type=header.getField(35),
        exec_type=_get(message, 150),
        ord_status=_get(message, 39),
        cl_ord_id=_get(message, 11),
        orig_cl_ord_id=_get(message, 41),
        venue_order_id=_get(message, 37),
        exec_id=_get(message, 17),
        symbol=_get(message, 55),
        last_qty=_decimal(message, 32),
        last_px=_decimal(message, 31),
        cum_qty=_decimal(message, 14),
        leaves_qty=_decimal(message, 151),
        text=_get(message, 58),
        transacted_at=_time(_get(message, 60)),
        poss_dup=header.isSetField(43) and header.getField(43) == "Y",
    )


def parse_trades(message) -> list[tuple[str, Decimal]]:
    """(symbol, price) of each trade entry of a MarketDataIncrementalRefresh."""
    trades = []
    count = int(_get(message, 268, "0"))
    group = fix.Group(268, 279)
    for i in range(1, count + 1):
        message.getGroup(i, group)
        if _get(group, 269) != "2":
            continue
        price = _decimal(group, 270)
        if price is not None and price > 0:
            trades.append((_get(group, 55), price))
    return trades
