"""The account's figures for display (GET /v2/account and its pushes): its snapshot read from the
database (risk.inputs), then the pure arithmetic the pre-trade checks use (risk.buying_power,
risk.margin), so the account page shows what risk sees."""
from dataclasses import dataclass
from decimal import Decimal

from core.values import money

from . import margin
from .buying_power import (
    buying_power,
    equity,
    initial_requirement,
    long_market_value,
    maintenance_requirement,
    short_market_value,
)
from .inputs import account_snapshot, limits_for
from .snapshot import ZERO, MarketState


@dataclass(frozen=True)
class AccountFigures:
    equity: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    buying_power: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal


def account_figures(account, positions, prices: dict[str, Decimal], house_rates: dict[str, Decimal]) -> AccountFigures:
    """Equity, market values, buying power and margin requirements for display (GET /v2/account),
    by the same functions the pre-trade checks use, so the account page shows what risk sees. A
    position whose price is missing is valued at its entry price (risk.margin.marks); order
    placement instead refuses (fails closed). A cash account has no margin requirements."""
    snapshot = account_snapshot(account, positions, open_orders_for_symbol=0, day_trades=0, today=None)
    market = MarketState(prices=margin.marks({p.symbol: p.avg_entry_price for p in positions}, prices),
                         house_rates=house_rates)
    limits = limits_for(account.pk)
    on_margin = snapshot.is_margin
    return AccountFigures(
        equity=money(equity(snapshot, market)),
        long_market_value=money(long_market_value(snapshot, market)),
        short_market_value=money(short_market_value(snapshot, market)),
        buying_power=buying_power(snapshot, market, limits),
        initial_margin=money(initial_requirement(snapshot, market, limits)) if on_margin else ZERO,
        maintenance_margin=money(maintenance_requirement(snapshot, market, limits)) if on_margin else ZERO,
    )
