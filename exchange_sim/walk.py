"""Seeded reference-price walk: a geometric random walk per symbol, indexed by step number.

Step k's shock for a symbol is drawn from a generator seeded by (seed, symbol, k), so every venue
built with the same seed sees the same walk when stepped the same number of times (run_venues steps
them from one timer), and a restarted venue resumes it from the journaled step index with no RNG
state to restore. Each venue adds its own per-step noise seeded by (seed, venue name, symbol, k).

The walk's internal state is a float log-offset; every price that leaves it is a Decimal on the tick.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal

from exchange_sim.config import SymbolSpec


def _shock(*key: object) -> float:
    return random.Random(":".join(map(str, key))).gauss(0.0, 1.0)


class ReferenceWalk:
    def __init__(self, specs: dict[str, SymbolSpec], *, seed: int, venue: str) -> None:
        self.specs, self.seed, self.venue = specs, seed, venue
        self.step_index = 0
        self.log_offsets = {symbol: 0.0 for symbol in specs}
        self.references = {symbol: spec.reference_price for symbol, spec in specs.items()}

    def next_state(self) -> tuple[int, dict[str, float], dict[str, Decimal]]:
        """The state after one more step, without applying it (the caller journals it first)."""
        k = self.step_index + 1
        offsets, references = {}, {}
        for symbol, spec in self.specs.items():
            offset = self.log_offsets[symbol] + float(spec.volatility) * _shock("walk", self.seed, symbol, k)
            noise = float(spec.noise) * _shock("noise", self.seed, self.venue, symbol, k)
            offsets[symbol] = offset
            references[symbol] = self.on_tick(spec, offset + noise)
        return k, offsets, references

    def apply(self, step_index: int, offsets: dict[str, float], references: dict[str, Decimal]) -> None:
        self.step_index = step_index
        self.log_offsets.update(offsets)
        self.references.update(references)

    def dump(self) -> dict:
        return {"k": self.step_index, "offsets": self.log_offsets,
                "refs": {s: str(p) for s, p in self.references.items()}}

    def restore(self, state: dict) -> None:
        self.step_index = state["k"]
        self.log_offsets.update(state["offsets"])
        self.references.update({s: Decimal(p) for s, p in state["refs"].items()})

    def offset_for(self, symbol: str, price: Decimal) -> float:
        """The log-offset that puts the shared walk at `price` (to force a move)."""
        return math.log(price / self.specs[symbol].reference_price)

    @staticmethod
    def on_tick(spec: SymbolSpec, log_offset: float) -> Decimal:
        ticks = round(float(spec.reference_price / spec.tick) * math.exp(log_offset))
        return spec.tick * max(ticks, 1)
