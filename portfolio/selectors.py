"""Portfolio valuation: one query for the positions, one batch price read for all of them.

One price call per position would make a 500-position page 500 calls (15-30 s); here the cost
does not grow with the number of positions beyond the rows themselves.
"""
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import CharField, F, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import Account
from marketdata.selectors import last_prices
from risk.figures import AccountFigures, account_figures
from risk.inputs import day_trades_last_5_days
from core.api import dec_str
from core.errors import NotFound
from core.values import RATIO_PLACES, money, round_to
from core.vocabulary import PositionSide

from .last_close import equity_at_last_close
from .models import Position, SymbolMargin

ZERO = Decimal(0)


class PositionRow(NamedTuple):
    """A position as valuation reads it: one row of one query (positions joined to their assets),
    with no model instances built (at 1,000 positions they cost more than the query)."""

    asset_id: str | uuid.UUID  # text from PostgreSQL (see _asset_key); printed with str() either way
    symbol: str
    exchange: str
    asset_class: str
    marginable: bool
    prev_close: Decimal | None
    qty: Decimal
    avg_entry_price: Decimal
    held_qty: Decimal
    activity_date: object
    day_opened_qty: Decimal
    day_closed_qty: Decimal
    realized_pl: Decimal
    house_rate: Decimal | None  # portfolio.SymbolMargin's maintenance rate for the symbol, if any


ROW_FIELDS = ("asset_key", "symbol", "asset__exchange", "asset__asset_class", "asset__marginable", "asset__prev_close",
              "qty", "avg_entry_price", "held_qty", "activity_date", "day_opened_qty", "day_closed_qty", "realized_pl", "house_rate")


class PositionValue:
    """One position valued at its mark (the last trade; the entry price until the symbol has one),
    every figure computed once."""

    __slots__ = ("position", "current_price", "lastday_price", "mark", "side", "market_value", "cost_basis",
                 "unrealized_pl", "unrealized_plpc", "reference_price", "unrealized_intraday_pl",
                 "unrealized_intraday_plpc", "change_today", "qty_available")

    def __init__(self, position: PositionRow, current_price: Decimal | None, lastday_price: Decimal | None):
        self.position, self.current_price, self.lastday_price = position, current_price, lastday_price
        qty, avg = position.qty, position.avg_entry_price
        self.mark = mark = current_price if current_price is not None else avg
        self.side = PositionSide.LONG if qty > 0 else PositionSide.SHORT
        self.market_value = _money(qty * mark)
        self.cost_basis = _money(qty * avg)
        self.unrealized_pl = self.market_value - self.cost_basis
        self.unrealized_plpc = _ratio(self.unrealized_pl, abs(self.cost_basis))
        # Yesterday's close; a symbol with no close yet is measured from the entry price.
        self.reference_price = ref = lastday_price if lastday_price is not None else avg
        self.unrealized_intraday_pl = _money(qty * (mark - ref))
        self.unrealized_intraday_plpc = _ratio(self.unrealized_intraday_pl, abs(qty * ref))
        self.change_today = _ratio(mark - ref, ref)
        # Shares not promised to open sell orders (shorts hold nothing).
        self.qty_available = qty - position.held_qty if qty > 0 else qty


# core.values.round_to's rounding (banker's) with its quanta computed once: at 1,000 positions
# the settings lookups in money() were a tenth of the request.
_CENT = Decimal(1).scaleb(-settings.TRADEX_MONEY_PLACES)
_RATIO_QUANTUM = Decimal(1).scaleb(-RATIO_PLACES)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator / denominator).quantize(_RATIO_QUANTUM, rounding=ROUND_HALF_EVEN) if denominator else ZERO


def _value(positions: list[PositionRow]) -> tuple[list[PositionValue], dict[str, Decimal]]:
    prices = last_prices(p.symbol for p in positions)
    values = [PositionValue(p, prices.get(p.symbol), p.prev_close) for p in positions]
    return values, prices


def _asset_key():
    """The asset id as PostgreSQL prints it: a UUID object per row, built only to be printed, cost
    more than the rest of the row. (SQLite stores UUIDs as bare hex: there the field converts.)"""
    return Cast("asset_id", output_field=CharField()) if connection.vendor == "postgresql" else F("asset_id")


def _open_positions(account: Account, **filters) -> list[PositionRow]:
    # The house rate rides along in the same query (a unique-index lookup per row), not a query of its own.
    house_rate = SymbolMargin.objects.filter(symbol=OuterRef("symbol")).values("maintenance")[:1]
    qs = (Position.objects.filter(account=account, **filters).exclude(qty=0).order_by("symbol")
          .annotate(house_rate=Subquery(house_rate), asset_key=_asset_key()))
    return [PositionRow._make(row) for row in qs.values_list(*ROW_FIELDS)]


def positions_valued(*, account: Account) -> list[PositionValue]:
    return _value(_open_positions(account))[0]


def position_valued(*, account: Account, symbol_or_asset_id: str) -> PositionValue:
    """One open position by symbol or asset id."""
    try:
        rows = _open_positions(account, asset_id=uuid.UUID(symbol_or_asset_id))
    except ValueError:
        rows = _open_positions(account, symbol=symbol_or_asset_id.upper())
    values = _value(rows)[0]
    if not values:
        raise NotFound(f"position does not exist: {symbol_or_asset_id}", reason="position_not_found")
    return values[0]


def position_json(v: PositionValue) -> dict:
    """alpaca-py's Position, written directly (DRF's serializer costs ~0.3 ms per position; at
    1,000 positions that is the whole budget). api.PositionSerializer documents the same fields."""
    p = v.position
    return {
        "asset_id": str(p.asset_id), "symbol": p.symbol, "exchange": p.exchange, "asset_class": p.asset_class,
        "asset_marginable": p.marginable, "avg_entry_price": dec_str(p.avg_entry_price), "qty": dec_str(p.qty),
        "qty_available": dec_str(v.qty_available), "side": v.side, "market_value": dec_str(v.market_value),
        "cost_basis": dec_str(v.cost_basis), "unrealized_pl": dec_str(v.unrealized_pl),
        "unrealized_plpc": dec_str(v.unrealized_plpc), "unrealized_intraday_pl": dec_str(v.unrealized_intraday_pl),
        "unrealized_intraday_plpc": dec_str(v.unrealized_intraday_plpc), "current_price": dec_str(v.current_price),
        "lastday_price": dec_str(v.lastday_price), "change_today": dec_str(v.change_today),
        "realized_pl": dec_str(p.realized_pl),  # TradeX: realized P&L of this position (its lot closures)
    }


@dataclass(frozen=True)
class AccountSnapshot:
    account: Account
    positions: list[PositionValue]
    figures: AccountFigures  # equity, market values, buying power, margin: from risk
    daytrade_count: int
    last_equity: Decimal  # the previous close's equity (portfolio.last_close)

    @property
    def equity(self) -> Decimal:
        return self.figures.equity

    @property
    def long_market_value(self) -> Decimal:
        return self.figures.long_market_value

    @property
    def short_market_value(self) -> Decimal:
        return self.figures.short_market_value

    @property
    def buying_power(self) -> Decimal:
        return self.figures.buying_power

    @property
    def initial_margin(self) -> Decimal:
        return self.figures.initial_margin

    @property
    def maintenance_margin(self) -> Decimal:
        """FINRA 4210 with the house's stricter per-symbol rates (risk's rule, the one the margin
        monitor decides calls on)."""
        return self.figures.maintenance_margin

    @property
    def multiplier(self) -> Decimal:
        return round_to(1 / settings.TRADEX_REG_T_INITIAL, 2) if self.account.is_margin else Decimal(1)

    @property
    def pattern_day_trader(self) -> bool:
        # Only the legacy rule designates pattern day traders (4+ day trades in 5 sessions).
        return (settings.TRADEX_DAY_TRADING_POLICY == "pdt" and self.account.is_margin
                and self.daytrade_count >= 4)


def _house_rates(positions) -> dict[str, Decimal]:
    """The per-symbol house rates annotated on the positions query (no query of their own)."""
    return {p.symbol: p.house_rate for p in positions if p.house_rate is not None}


def account_snapshot(*, account: Account) -> AccountSnapshot:
    """Everything GET /v2/account shows: positions (one query), prices (one batch read), buying
    power from risk, and the day trades of the last five sessions (one query)."""
    positions = _open_positions(account)
    values, prices = _value(positions)
    holdings = {account.pk: (account.cash, {p.symbol: p.qty for p in positions},
                             {p.symbol: p.prev_close for p in positions}, {p.symbol: p.avg_entry_price for p in positions})}
    return AccountSnapshot(account=account, positions=values,
                           last_equity=money(equity_at_last_close(holdings=holdings, now=timezone.now())[account.pk]),
                           daytrade_count=day_trades_last_5_days(account.pk, timezone.now().date()),
                           figures=account_figures(account, positions, prices, house_rates=_house_rates(positions)))

