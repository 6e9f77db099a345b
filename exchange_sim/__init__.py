"""TradeX exchange simulator core: venues with price-time-priority matching engines, simulated
market makers, circuit breakers and a replayable journal. Pure Python: never imports Django or
any TradeX app, so `manage.py run_venues` and tests can use it standalone."""
from exchange_sim.breaker import CircuitBreaker
from exchange_sim.config import SymbolSpec, VenueConfig, default_venues, reference_specs
from exchange_sim.engine import IdSource, MatchingEngine, Order
from exchange_sim.events import (
    PRIVATE_EVENTS, PUBLIC_EVENTS, REASONS, Accepted, Canceled, CancelRejected, Fill, Halted, OrderStatus, Quote,
    Rejected, Replaced, Resumed, Trade,
)
from exchange_sim.journal import Journal, JournalCorrupt
from exchange_sim.makers import maker_quotes
from exchange_sim.venue import Venue

OrderBook = MatchingEngine  # the brief's other name for it

__all__ = [
    "Accepted", "CancelRejected", "Canceled", "CircuitBreaker", "Fill", "Halted", "IdSource", "Journal",
    "JournalCorrupt", "MatchingEngine", "Order", "OrderBook", "OrderStatus", "PRIVATE_EVENTS", "PUBLIC_EVENTS",
    "Quote", "REASONS", "Rejected", "Replaced", "Resumed", "SymbolSpec", "Trade", "Venue", "VenueConfig",
    "default_venues", "maker_quotes", "reference_specs",
]
