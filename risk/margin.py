"""Margin arithmetic, written once: market values, equity, the initial and maintenance
requirements and the per-symbol rates behind them. Pure functions of Decimal inputs (no settings,
no database). Pre-trade risk (risk.buying_power), the account JSON (risk.figures.account_figures,
through portfolio.account_json), the margin monitor and the figures it pushes (portfolio.monitor)
and margin calls (workflows.margin_calls) all compute with these, so the account page, the push,
the monitor's calls and the order checks agree.

Inputs: positions as {symbol: signed qty} (negative is short), prices as {symbol: price}, house
rates as {symbol: rate} (portfolio.SymbolMargin: a symbol's rate applies where it is stricter than
the default one), and the default rates themselves (TRADEX_REG_T_INITIAL, TRADEX_SHORT_INITIAL,
TRADEX_MAINTENANCE, passed in by the caller).

Requirements: initial = sum |qty x price| x (a long: max(Reg T, house rate); a short: max(short
initial - 1, house rate), the sale's proceeds supplying the rest); maintenance (FINRA 4210) = sum
|qty x price| x max(maintenance, house rate).

A missing price - one rule, pre-trade risk's: a price is missing when there is none or it is not
positive (zero or below is no trade price). Nothing here values a position at a missing price:
`price` raises PriceUnavailable, and pre-trade risk refuses the order (price_unavailable) - it
fails closed. Valuations that must go on without a price (the account JSON, the monitor and its
push, margin calls) do not guess either: they value the position at its own average entry price,
the one substitute, chosen by `marks` with the same test of "missing" (the JSON shows such a
position's current_price as null).
"""
from dataclasses import dataclass
from decimal import Decimal

from core.values import money

ZERO = Decimal(0)


class PriceUnavailable(Exception):
    """No price to value a symbol: the check that needed it cannot run, so the order is refused."""

    def __init__(self, symbol: str):
        super().__init__(f"no market price for {symbol}")
        self.symbol = symbol


def is_price(value: Decimal | None) -> bool:
    """Whether `value` is a price (the module docstring's rule): present and positive."""
    return value is not None and value > 0


def price(prices: dict[str, Decimal], symbol: str) -> Decimal:
    value = prices.get(symbol)
    if not is_price(value):
        raise PriceUnavailable(symbol)
    return value


def mark(last: Decimal | None, entry: Decimal) -> Decimal:
    """A position's mark: its last price, or its average entry price where that is missing."""
    return last if is_price(last) else entry


def marks(entry_prices: dict[str, Decimal], prices: dict[str, Decimal]) -> dict[str, Decimal]:
    """{symbol: mark} for positions given as {symbol: average entry price}."""
    return {symbol: mark(prices.get(symbol), entry) for symbol, entry in entry_prices.items()}


# --- rates -------------------------------------------------------------------------------------

def long_initial_rate(symbol: str, house_rates: dict[str, Decimal], reg_t_initial: Decimal) -> Decimal:
    """Reg T's 50 %, or the symbol's house maintenance rate if stricter: a purchase must not open
    already below maintenance (a 100 % house rate makes a symbol non-marginable)."""
    return max(reg_t_initial, house_rates.get(symbol, ZERO))


def short_initial_rate(symbol: str, house_rates: dict[str, Decimal], short_initial: Decimal) -> Decimal:
    """What equity supplies of a short's value (150 % less the proceeds), or the house rate."""
    return max(short_initial - 1, house_rates.get(symbol, ZERO))


def maintenance_rate(symbol: str, house_rates: dict[str, Decimal], maintenance: Decimal) -> Decimal:
    return max(maintenance, house_rates.get(symbol, ZERO))


# --- values and requirements -------------------------------------------------------------------

def long_market_value(positions: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
    return sum((q * price(prices, s) for s, q in positions.items() if q > 0), ZERO)


def short_market_value(positions: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
    """Negative, as Alpaca reports it."""
    return sum((q * price(prices, s) for s, q in positions.items() if q < 0), ZERO)


def equity(cash: Decimal, positions: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
    return cash + long_market_value(positions, prices) + short_market_value(positions, prices)


def initial_requirement(positions: dict[str, Decimal], prices: dict[str, Decimal], house_rates: dict[str, Decimal],
                        *, reg_t_initial: Decimal, short_initial: Decimal) -> Decimal:
    return sum((abs(q * price(prices, s))
                * (long_initial_rate(s, house_rates, reg_t_initial) if q > 0
                   else short_initial_rate(s, house_rates, short_initial))
                for s, q in positions.items() if q != 0), ZERO)


def maintenance_requirement(positions: dict[str, Decimal], prices: dict[str, Decimal],
                            house_rates: dict[str, Decimal], *, maintenance: Decimal) -> Decimal:
    """FINRA 4210 with the house's stricter per-symbol rates: what margin calls are decided on."""
    return sum((abs(q * price(prices, s)) * maintenance_rate(s, house_rates, maintenance)
                for s, q in positions.items() if q != 0), ZERO)


@dataclass(frozen=True)
class MarginFigures:
    equity: Decimal
    requirement: Decimal

    @property
    def excess(self) -> Decimal:
        return self.equity - self.requirement

    @property
    def deficit(self) -> Decimal:
        return max(self.requirement - self.equity, ZERO)


def margin_figures(cash: Decimal, positions: dict[str, Decimal], prices: dict[str, Decimal],
                   house_rates: dict[str, Decimal], *, maintenance: Decimal) -> MarginFigures:
    """Equity and maintenance requirement in cents, as a margin call records them: the requirement
    rounded up (a call is never missed by a fraction of a cent)."""
    return MarginFigures(money(equity(cash, positions, prices)),
                         money(maintenance_requirement(positions, prices, house_rates, maintenance=maintenance), up=True))
