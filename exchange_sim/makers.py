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


def maker_quotes(spec: SymbolSpec, reference: Decimal, *, makers: int, levels: int,
                 caps: tuple[int, int] | None = None) -> dict[str, list[tuple[str, Decimal, Decimal]]]:
    """`caps`: (highest bid, lowest ask) in ticks, from the shared walk (walk.py): the innermost
    quotes move out to respect them, so no venue's makers lock or cross another's."""
    tick = spec.tick
    ref_ticks = int(reference / tick)
    half = max(1, int(reference * HALF_SPREAD_BPS / 10000 / tick))
    step = max(1, int(reference * LEVEL_STEP_BPS / 10000 / tick))
    best_bid, best_ask = ref_ticks - half, ref_ticks + half
    if caps is not None:
        best_bid, best_ask = min(best_bid, caps[0]), max(best_ask, caps[1])
    quotes = {}
    for m in range(makers):
        book = []
        for j in range(levels):
            distance = m + j * step
            qty = spec.lot * (spec.maker_lots * (1 + j))
            if best_bid - distance >= 1:
                book.append((BUY, tick * (best_bid - distance), qty))
            book.append((SELL, tick * (best_ask + distance), qty))
        quotes[maker_owner(spec.symbol, m)] = book
    return quotes
