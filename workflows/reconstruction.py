"""Point-in-time reconstruction: an account's cash, positions, open orders and buying power as of
a past moment, rebuilt from the records that are only ever appended to, never from a snapshot
(portfolio's equity snapshots and the live columns are not read):

- cash: the account's legs of the cash ledger (accounts.JournalLeg on the customer_settled and
  customer_unsettled books) whose entry was written at or before T;
- orders: the account's audit chain (compliance.AuditEvent, in chain order) up to T gives each
  order's status, fills and reservation; the holds are replayed with the same arithmetic the order
  services use (orders/services/reservations.py), so an open order's reserved cash and shares are
  what its row held at T;
- positions: the executions whose fill event is at or before T (orders.Execution, found through
  the events' execution ids), folded into tax lots FIFO with portfolio's rounding, which gives the
  quantity, the average entry price of the open lots and the realized P&L;
- buying power and margin: risk's own functions (risk.figures.account_figures, over
  risk.buying_power / risk.margin) on the reconstructed cash, reservation and positions, with
  each symbol priced at its last trade at or before T (`prices_at`).

docs/compliance.md ("Point-in-time reconstruction") states the rules and what is not rebuilt.
"""
import copy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, JournalLeg
from compliance.models import AuditEvent
from core.errors import InvalidInput
from core.values import AVG_PRICE_PLACES, money, round_to
from core.vocabulary import OrderSide
from marketdata.models import Asset, MinuteBar
from marketdata.ticks.query import ticks_page
from orders.models import Execution, Order
from orders.state import OPEN_STATUSES, TERMINAL_STATUSES
from portfolio.models import SymbolMargin
from portfolio.selectors import PositionRow, PositionValue
from risk.figures import AccountFigures, account_figures

ZERO = Decimal(0)
# How far back the last trade before T is looked for in the tick store, then in the minute bars.
PRICE_LOOKBACK = timedelta(days=7)
FILL_ACTIONS = frozenset({"order.filled", "order.partially_filled"})


@dataclass
class OrderAt:
    """One order as its row stood at T (the fields the reconstruction can rebuild)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    submitted_at: datetime
    status: str = ""
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    reserved_cash: Decimal = ZERO
    reserved_qty: Decimal = ZERO
    replaced_by: str | None = None
    replaces: str | None = None


@dataclass
class _Lot:
    side: int  # +1 long, -1 short
    remaining: Decimal
    price: Decimal


@dataclass
class _Book:
    """A symbol's open tax lots and realized P&L, as portfolio.services.position_apply_fill keeps them
    (FIFO; lots an order names with lot selection are not modelled: see docs/compliance.md)."""

    lots: list[_Lot] = field(default_factory=list)
    realized_pl: Decimal = ZERO
    activity_date: date | None = None
    day_opened: Decimal = ZERO
    day_closed: Decimal = ZERO

    @property
    def qty(self) -> Decimal:
        return sum((lot.side * lot.remaining for lot in self.lots), ZERO)

    @property
    def avg_entry_price(self) -> Decimal:
        shares = sum((lot.remaining for lot in self.lots), ZERO)
        if not shares:
            return ZERO
        return round_to(sum((lot.remaining * lot.price for lot in self.lots), ZERO) / shares, AVG_PRICE_PLACES)

    def apply(self, side: str, qty: Decimal, price: Decimal, trade_date: date) -> bool:
        """Apply one fill; True when it closes shares opened the same day (risk's day-trade rule)."""
        if self.activity_date != trade_date:
            self.activity_date, self.day_opened, self.day_closed = trade_date, ZERO, ZERO
        signed = qty if side == OrderSide.BUY else -qty
        current = self.qty
        closing = ZERO if current == 0 or (current > 0) == (signed > 0) else min(qty, abs(current))
        opened_today_open = self.day_opened - self.day_closed
        self.day_closed += closing
        self.day_opened += qty - closing
        left = closing
        for lot in self.lots:
            if left <= 0:
                break
            take = min(left, lot.remaining)
            left -= take
            self.realized_pl += money(take * (price - lot.price) * lot.side)
            lot.remaining -= take
        self.lots = [lot for lot in self.lots if lot.remaining > 0]
        if qty - closing:
            self.lots.append(_Lot(side=1 if signed > 0 else -1, remaining=qty - closing, price=price))
        return bool(closing) and opened_today_open > 0


@dataclass(frozen=True)
class Reconstruction:
    account: Account  # a copy carrying the cash columns as of T (never saved)
    as_of: datetime
    settled_cash: Decimal
    unsettled_cash: Decimal
    reserved_cash: Decimal
    positions: list[PositionValue]
    open_orders: list[OrderAt]
    prices: dict[str, Decimal]  # symbol -> last trade at or before T (symbols without one are absent)
    price_sources: dict[str, str]  # symbol -> "trade", "bar" or "entry_price"
    figures: AccountFigures
    daytrade_count: int  # day trades in the five business days ending on as_of's date, up to as_of

    @property
    def cash(self) -> Decimal:
        return self.settled_cash + self.unsettled_cash


def parse_as_of(value: str, *, account: Account, now: datetime | None = None) -> datetime:
    """An RFC 3339 timestamp with its offset, not in the future and not before the account existed;
    otherwise a 422 whose reason says which."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in text.upper():
        raise InvalidInput("invalid_as_of", "as_of must be an RFC 3339 timestamp with a UTC offset, "
                                            "e.g. 2026-03-10T14:30:00Z")
    parsed = parsed.astimezone(dt_timezone.utc)
    if parsed > (now or timezone.now()):
        raise InvalidInput("as_of_in_future", "as_of is in the future: the account is reconstructed only "
                                              "for past moments")
    if parsed < account.created_at:
        raise InvalidInput("as_of_before_account", f"the account did not exist before {account.created_at.isoformat()}")
    return parsed


# --- cash ---------------------------------------------------------------------------------------

def cash_at(account_id, as_of: datetime) -> tuple[Decimal, Decimal]:
    """(settled, unsettled): the sums of the account's customer legs written at or before T."""
    sums = dict(JournalLeg.objects.filter(entry__account_id=account_id, entry__created_at__lte=as_of,
                                          book__in=(JournalLeg.Book.CUSTOMER_SETTLED, JournalLeg.Book.CUSTOMER_UNSETTLED))
                .values_list("book").annotate(total=Sum("amount")).order_by())
    return (sums.get(JournalLeg.Book.CUSTOMER_SETTLED) or ZERO, sums.get(JournalLeg.Book.CUSTOMER_UNSETTLED) or ZERO)


# --- orders, from the audit chain --------------------------------------------------------------

def _dec(value) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def _release_all(order: OrderAt) -> None:
    order.reserved_cash = order.reserved_qty = ZERO


def _release_for_fill(order: OrderAt, fill_qty: Decimal, fill_value: Decimal, prior_value: Decimal) -> None:
    """orders.services.reservations.reservation_release_for_fill, on the reconstructed order."""
    if order.qty is not None:
        leaves_before = order.qty - (order.filled_qty - fill_qty)
        fraction = fill_qty / leaves_before if leaves_before > 0 else Decimal(1)
    else:  # notional: progress in dollars
        remaining_before = order.notional - prior_value
        fraction = fill_value / remaining_before if remaining_before > 0 else Decimal(1)
    order.reserved_cash -= min(max(money(order.reserved_cash * min(fraction, Decimal(1))), ZERO), order.reserved_cash)
    order.reserved_qty -= min(max(fill_qty, ZERO), order.reserved_qty)


def orders_at(account_id, as_of: datetime) -> tuple[dict[str, OrderAt], list[tuple[str, Decimal]]]:
    """Every order of the account as of T, and its fills up to T in order (the execution id and the
    order's filled quantity before it), from the account's audit chain."""
    events = list(AuditEvent.objects.filter(chain=str(account_id), entity_type="order", occurred_at__lte=as_of)
                  .order_by("seq").values_list("action", "entity_id", "data"))
    ids = {entity_id for action, entity_id, _ in events if action == "order.placed"}
    rows = {str(o.pk): o for o in Order.objects.filter(pk__in=ids)}
    orders: dict[str, OrderAt] = {}
    executions: list[tuple[str, Decimal]] = []
    for action, entity_id, data in events:
        if action == "order.placed":
            row = rows[entity_id]
            order = OrderAt(id=entity_id, client_order_id=row.client_order_id, symbol=row.symbol, side=row.side,
                            order_type=row.order_type, qty=row.qty, notional=row.notional,
                            limit_price=row.limit_price, stop_price=row.stop_price, submitted_at=row.submitted_at,
                            reserved_cash=_dec(data.get("reserved_cash")) or ZERO,
                            reserved_qty=_dec(data.get("reserved_qty")) or ZERO)
            if data.get("replaces"):
                original = orders.get(str(data["replaces"]))
                order.replaces = str(data["replaces"])
                if original is not None:  # a replacement carries its predecessor's fills
                    order.filled_qty, order.filled_avg_price = original.filled_qty, original.filled_avg_price
                    original.replaced_by = entity_id
            orders[entity_id] = order
        order = orders.get(entity_id)
        if order is None:
            continue  # an event of an order placed on another chain (none today): nothing to rebuild
        was = order.status
        if action in FILL_ACTIONS:
            qty, price = Decimal(str(data["qty"])), Decimal(str(data["price"]))
            value = Decimal(str(data["value"])) if "value" in data else money(qty * price)
            prior_value = order.filled_qty * (order.filled_avg_price or 0)
            filled_before = order.filled_qty
            order.filled_qty = Decimal(str(data["filled_qty"]))
            order.filled_avg_price = round_to((prior_value + qty * price) / order.filled_qty, AVG_PRICE_PLACES)
            order.status = data.get("status", order.status)
            if was in TERMINAL_STATUSES or order.status not in OPEN_STATUSES:
                _release_all(order)
            else:
                _release_for_fill(order, qty, value, prior_value)
            if data.get("execution_id"):
                executions.append((str(data["execution_id"]), filled_before))
            continue
        if action == "order.replaced":  # the venue confirmed: the holds pass to the replacement
            replacement = orders.get(str(data.get("replaced_by")))
            if replacement is not None:
                replacement.reserved_cash += order.reserved_cash
                replacement.reserved_qty += order.reserved_qty
                replacement.filled_qty, replacement.filled_avg_price = order.filled_qty, order.filled_avg_price
        if "status" in data:
            order.status = data["status"]
        if "filled_qty" in data and action != "order.placed":
            order.filled_qty = Decimal(str(data["filled_qty"]))
        if order.status not in OPEN_STATUSES:
            _release_all(order)
    return orders, executions


# --- prices -------------------------------------------------------------------------------------

def prices_at(symbols, as_of: datetime) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Each symbol's last trade at or before T: the tick store first (the feed's trade ticks), then
    the close of the last one-minute bar that ended at or before T, both within PRICE_LOOKBACK.
    A symbol with neither is absent: valuation then marks it at its average entry price, the rule
    GET /v2/account applies to a symbol without a price (risk.margin.marks)."""
    prices, sources = {}, {}
    for symbol in sorted(set(symbols)):
        page, _ = ticks_page(kind="trades", symbols=[symbol], start=as_of - PRICE_LOOKBACK, end=as_of, limit=1,
                             desc=True)
        if page.get(symbol):
            prices[symbol], sources[symbol] = Decimal(page[symbol][0]["p"]), "trade"
            continue
        bar = (MinuteBar.objects.filter(symbol=symbol, start__lte=as_of - timedelta(minutes=1),
                                        start__gte=as_of - PRICE_LOOKBACK)
               .order_by("-start").values_list("close", flat=True).first())
        if bar is not None:
            prices[symbol], sources[symbol] = bar, "bar"
        else:
            sources[symbol] = "entry_price"
    return prices, sources


# --- the whole account --------------------------------------------------------------------------

def reconstruct(*, account: Account, as_of: datetime) -> Reconstruction:
    """The account as it stood at `as_of` (see the module's docstring for the sources)."""
    settled, unsettled = cash_at(account.pk, as_of)
    orders, fills = orders_at(account.pk, as_of)
    executions = {str(e.pk): e for e in Execution.objects.filter(pk__in=[f[0] for f in fills])}
    books: dict[str, _Book] = {}
    day_trades: dict[date, int] = {}
    for execution_id, filled_before in fills:
        e = executions[execution_id]
        trade_date = e.transacted_at.date()
        # Counted on an order's first fill only, as execution_apply records it.
        if books.setdefault(e.symbol, _Book()).apply(e.side, e.qty, e.price, trade_date) and filled_before == 0:
            day_trades[trade_date] = day_trades.get(trade_date, 0) + 1
    open_orders = sorted((o for o in orders.values() if o.status in OPEN_STATUSES), key=lambda o: (o.submitted_at, o.id))
    held: dict[str, Decimal] = {}
    for o in open_orders:
        held[o.symbol] = held.get(o.symbol, ZERO) + o.reserved_qty
    reserved = sum((o.reserved_cash for o in open_orders), ZERO)
    symbols = sorted(s for s, book in books.items() if book.qty != 0)
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    rates = dict(SymbolMargin.objects.filter(symbol__in=symbols).values_list("symbol", "maintenance"))
    rows = [PositionRow(asset_id=assets[s].pk, symbol=s, exchange=assets[s].exchange, asset_class=assets[s].asset_class,
                        marginable=assets[s].marginable, prev_close=None, qty=books[s].qty,
                        avg_entry_price=books[s].avg_entry_price, held_qty=held.get(s, ZERO), activity_date=None,
                        day_opened_qty=ZERO, day_closed_qty=ZERO, realized_pl=books[s].realized_pl,
                        house_rate=rates.get(s))
            for s in symbols]
    prices, sources = prices_at(symbols, as_of)
    then = copy.copy(account)
    then.settled_cash, then.unsettled_cash, then.reserved_cash = settled, unsettled, reserved
    figures = account_figures(then, rows, prices, house_rates=rates)
    return Reconstruction(account=then, as_of=as_of, settled_cash=settled, unsettled_cash=unsettled,
                          reserved_cash=reserved, open_orders=open_orders, prices=prices, price_sources=sources,
                          positions=[PositionValue(r, prices.get(r.symbol), None) for r in rows], figures=figures,
                          daytrade_count=sum(n for d, n in day_trades.items() if d >= _window_start(as_of.date())))


def _window_start(today: date) -> date:
    """The first day of risk.inputs.day_trades_last_5_days's window: five business days to `today`."""
    start, counted = today, 0
    while counted < 4:
        start -= timedelta(days=1)
        counted += start.weekday() < 5
    return start
