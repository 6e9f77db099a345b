"""Portfolio valuation: one query for the positions, one batch price read for all of them.

The seed's portfolio page made one price call per position (500 calls, 15-30 s); here the cost
does not grow with the number of positions beyond the rows themselves.
"""
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import Account
from marketdata.selectors import last_prices
from risk.buying_power import AccountFigures, account_figures
from risk.inputs import day_trades_last_5_days
from tradex.errors import NotFound
from tradex.values import money, round_to

from .models import Position

ZERO = Decimal(0)
RATIO_PLACES = 6


@dataclass(frozen=True)
class PositionValue:
    position: Position
    current_price: Decimal | None  # None: no price known yet; the position is marked at entry
    lastday_price: Decimal | None

    @property
    def mark(self) -> Decimal:
        return self.current_price if self.current_price is not None else self.position.avg_entry_price

    @property
    def side(self) -> str:
        return "long" if self.position.qty > 0 else "short"

    @property
    def market_value(self) -> Decimal:
        return money(self.position.qty * self.mark)

    @property
    def cost_basis(self) -> Decimal:
        return money(self.position.qty * self.position.avg_entry_price)

    @property
    def unrealized_pl(self) -> Decimal:
        return self.market_value - self.cost_basis

    @property
    def unrealized_plpc(self) -> Decimal:
        return _ratio(self.unrealized_pl, abs(self.cost_basis))

    @property
    def reference_price(self) -> Decimal:
        # Yesterday's close; a symbol with no close yet is measured from the entry price.
        return self.lastday_price if self.lastday_price is not None else self.position.avg_entry_price

    @property
    def unrealized_intraday_pl(self) -> Decimal:
        return money(self.position.qty * (self.mark - self.reference_price))

    @property
    def unrealized_intraday_plpc(self) -> Decimal:
        return _ratio(self.unrealized_intraday_pl, abs(self.position.qty * self.reference_price))

    @property
    def change_today(self) -> Decimal:
        return _ratio(self.mark - self.reference_price, self.reference_price)

    @property
    def qty_available(self) -> Decimal:
        """Shares not promised to open sell orders (shorts hold nothing)."""
        qty = self.position.qty
        return qty - self.position.held_qty if qty > 0 else qty


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return round_to(numerator / denominator, RATIO_PLACES) if denominator else ZERO


def _value(positions: list[Position]) -> tuple[list[PositionValue], dict[str, Decimal]]:
    prices = last_prices(p.symbol for p in positions)
    values = [PositionValue(p, prices.get(p.symbol), p.asset.prev_close) for p in positions]
    return values, prices


def _open_positions(account: Account):
    return Position.objects.filter(account=account).exclude(qty=0).select_related("asset").order_by("symbol")


def positions_valued(*, account: Account) -> list[PositionValue]:
    return _value(list(_open_positions(account)))[0]


def position_valued(*, account: Account, symbol_or_asset_id: str) -> PositionValue:
    """One open position by symbol or asset id."""
    qs = _open_positions(account)
    try:
        qs = qs.filter(asset_id=uuid.UUID(symbol_or_asset_id))
    except ValueError:
        qs = qs.filter(symbol=symbol_or_asset_id.upper())
    values = _value(list(qs))[0]
    if not values:
        raise NotFound(f"position does not exist: {symbol_or_asset_id}", reason="position_not_found")
    return values[0]


@dataclass(frozen=True)
class AccountSnapshot:
    account: Account
    positions: list[PositionValue]
    figures: AccountFigures  # equity, market values, buying power, margin: from risk
    daytrade_count: int

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
        return self.figures.maintenance_margin

    @property
    def last_equity(self) -> Decimal:
        """Today's cash with the positions at yesterday's close: TradeX keeps no end-of-day equity
        snapshot yet, so cash moved today counts as if it had been there at the close."""
        return self.account.cash + sum((money(p.position.qty * p.reference_price) for p in self.positions), ZERO)

    @property
    def multiplier(self) -> Decimal:
        return round_to(1 / settings.TRADEX_REG_T_INITIAL, 2) if self.account.is_margin else Decimal(1)

    @property
    def pattern_day_trader(self) -> bool:
        # Only the legacy rule designates pattern day traders (4+ day trades in 5 sessions).
        return (settings.TRADEX_DAY_TRADING_POLICY == "pdt" and self.account.is_margin
                and self.daytrade_count >= 4)


def account_snapshot(*, account: Account) -> AccountSnapshot:
    """Everything GET /v2/account shows: positions (one query), prices (one batch read), buying
    power from risk, and the day trades of the last five sessions (one query)."""
    positions = list(_open_positions(account))
    values, prices = _value(positions)
    return AccountSnapshot(account=account, positions=values,
                           daytrade_count=day_trades_last_5_days(account.pk, timezone.now().date()),
                           figures=account_figures(account, positions, prices))

