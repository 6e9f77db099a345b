"""Simulated market makers: a pure function from a reference price to each maker's quote set.

Maker m quotes `levels` prices each side, the innermost `half_spread + m` ticks away from the
reference and the next ones a step further out, with sizes growing with depth — so a market order
for a few hundred shares walks one to three levels, as on a real book. The venue re-posts the full
set on every step(), which replenishes quotes that were hit."""
from __future__ import annotations

from decimal import Decimal

from exchange_sim.config import SymbolSpec
from exchange_sim.engine import BUY, MAKER_PREFIX, SELL

HALF_SPREAD_BPS = Decimal(2)
LEVEL_STEP_BPS = Decimal(1)


def maker_owner(symbol: str, index: int) -> str:
    return f"{MAKER_PREFIX}{symbol}:{index}"


def maker_quotes(spec: SymbolSpec, reference: Decimal, *, makers: int, levels: int
                 ) -> dict[str, list[tuple[str, Decimal, Decimal]]]:
    tick = spec.tick
    ref_ticks = int(reference / tick)
    half = max(1, int(reference * HALF_SPREAD_BPS / 10000 / tick))
    step = max(1, int(reference * LEVEL_STEP_BPS / 10000 / tick))
    quotes = {}
    for m in range(makers):
        book = []
        for j in range(levels):
            distance = half + m + j * step
            qty = spec.lot * (spec.maker_lots * (1 + j))
            if ref_ticks - distance >= 1:
                book.append((BUY, tick * (ref_ticks - distance), qty))
            book.append((SELL, tick * (ref_ticks + distance), qty))
        quotes[maker_owner(spec.symbol, m)] = book
    return quotes
