"""The inputs of the pre-trade checks, as plain frozen values: the checks are pure functions of
these, so they are tested without a database and cannot read anything stale behind our back."""
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings

from .margin import price

ZERO = Decimal(0)


@dataclass(frozen=True)
class PositionSnapshot:
    symbol: str
    qty: Decimal = ZERO  # signed: negative is short
    avg_entry_price: Decimal = ZERO
    held_qty: Decimal = ZERO  # long shares promised to open sell orders
    day_opened_qty: Decimal = ZERO
    day_closed_qty: Decimal = ZERO


@dataclass(frozen=True)
class AccountSnapshot:
    account_id: str
    account_type: str  # "cash" | "margin"
    status: str  # "ACTIVE" | "RESTRICTED" | "CLOSED"
    kyc_status: str  # "approved" | "pending" | "rejected": only approved accounts trade
    settled_cash: Decimal
    unsettled_cash: Decimal
    reserved_cash: Decimal
    positions: dict[str, PositionSnapshot] = field(default_factory=dict)
    open_orders_for_symbol: int = 0
    day_trades_last_5_days: int = 0

    @property
    def cash(self) -> Decimal:
        return self.settled_cash + self.unsettled_cash

    @property
    def is_margin(self) -> bool:
        return self.account_type == "margin"

    def position(self, symbol: str) -> PositionSnapshot:
        return self.positions.get(symbol) or PositionSnapshot(symbol=symbol)

    def without(self, *, reserved_cash: Decimal, held_qty: Decimal, symbol: str) -> "AccountSnapshot":
        """The snapshot as it would be without one open order (used to check its replacement)."""
        positions = dict(self.positions)
        pos = self.position(symbol)
        positions[symbol] = replace(pos, held_qty=pos.held_qty - held_qty)
        return replace(self, reserved_cash=self.reserved_cash - reserved_cash, positions=positions,
                       open_orders_for_symbol=max(0, self.open_orders_for_symbol - 1))


@dataclass(frozen=True)
class OrderIntent:
    symbol: str
    side: str  # "buy" | "sell"
    order_type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    filled_qty: Decimal = ZERO  # a replacement carries its predecessor's fills
    asset_tradable: bool = True
    asset_shortable: bool = True
    asset_easy_to_borrow: bool = True
    # Hard-to-borrow symbols: shares that can be located today (portfolio.ShortLocate); None = none listed.
    borrow_available: Decimal | None = None
    asset_fractionable: bool = True


@dataclass(frozen=True)
class MarketState:
    prices: dict[str, Decimal]
    halted_symbols: frozenset[str] = frozenset()
    all_halted: bool = False
    account_halted: bool = False  # a halt on the ordering account (risk.TradingHalt with an account)
    # House maintenance rates stricter than the default, per symbol (portfolio.SymbolMargin). Market
    # state rather than account limits: staff set them for a symbol, for everyone.
    house_rates: dict[str, Decimal] = field(default_factory=dict)


def price_of(market: MarketState, symbol: str) -> Decimal:
    """The symbol's price, or PriceUnavailable (risk.margin's rule for a missing price)."""
    return price(market.prices, symbol)


@dataclass(frozen=True)
class Limits:
    max_order_notional: Decimal
    max_order_qty: Decimal
    max_position_qty: Decimal
    max_concentration: Decimal
    max_open_orders_per_symbol: int
    price_collar: Decimal
    market_buffer: Decimal
    reg_t_initial: Decimal
    short_initial: Decimal
    maintenance: Decimal
    day_trading_policy: str
    pdt_min_equity: Decimal

    @classmethod
    def house(cls, **overrides) -> "Limits":
        values = dict(
            max_order_notional=settings.TRADEX_MAX_ORDER_NOTIONAL,
            max_order_qty=settings.TRADEX_MAX_ORDER_QTY,
            max_position_qty=settings.TRADEX_MAX_POSITION_QTY,
            max_concentration=settings.TRADEX_MAX_CONCENTRATION,
            max_open_orders_per_symbol=settings.TRADEX_MAX_OPEN_ORDERS_PER_SYMBOL,
            price_collar=settings.TRADEX_PRICE_COLLAR,
            market_buffer=settings.TRADEX_MARKET_ORDER_BUFFER,
            reg_t_initial=settings.TRADEX_REG_T_INITIAL,
            short_initial=settings.TRADEX_SHORT_INITIAL,
            maintenance=settings.TRADEX_MAINTENANCE,
            day_trading_policy=settings.TRADEX_DAY_TRADING_POLICY,
            pdt_min_equity=settings.TRADEX_PDT_MIN_EQUITY,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
