"""What the venues list, for each symbol: tick, lot, reference price and the walk's shape.

Shared by the exchange simulator (its books and its price walk) and the broker (demo bars are drawn
from the same walk, tests and benches build venues from it). Plain frozen values, no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


def require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class SymbolSpec:
    """What a venue trades for one symbol. `volatility` is the walk's standard deviation of the
    log-return per step(); `noise` is the venue's own per-step deviation around the shared walk."""

    symbol: str
    tick: Decimal = Decimal("0.01")
    lot: Decimal = Decimal("1")
    reference_price: Decimal
    volatility: Decimal = Decimal("0.0004")
    noise: Decimal = Decimal("0.0001")
    # Market-maker size per level, in lots (the innermost level; outer levels grow).
    maker_lots: int = field(default=100)

    def __post_init__(self) -> None:
        for name in ("tick", "lot", "reference_price", "volatility", "noise"):
            require_decimal(name, getattr(self, name))
        if self.tick <= 0 or self.lot <= 0 or self.reference_price <= 0:
            raise ValueError("tick, lot and reference_price must be positive")
        if self.reference_price % self.tick:
            raise ValueError(f"{self.symbol}: reference_price {self.reference_price} is not on tick {self.tick}")


def reference_specs(prices: Mapping[str, Decimal], *, tick: Decimal = Decimal("0.01"),
                    lot: Decimal = Decimal("1")) -> dict[str, SymbolSpec]:
    """{symbol: reference price} -> {symbol: SymbolSpec} with a common tick and lot."""
    return {symbol: SymbolSpec(symbol=symbol, tick=tick, lot=lot, reference_price=price.quantize(tick))
            for symbol, price in prices.items()}
