"""The bridge as its process runs it: the FIX sessions plus what watches the venues' last trades
(the stop/trailing-stop trigger runner and the broker's circuit breaker, both in memory, fed by
the price thread). `manage.py run_fixbridge` starts it; so may any process that hosts the bridge
(the embedded launcher): build, start(), and stop() at exit."""
from risk.circuit_breaker import CircuitBreaker
from risk.services import circuit_breaker_trip

from ..trigger_runner import TriggerRunner
from .bridge import FixBridge


def bridge_with_watchers(**kwargs) -> tuple[FixBridge, int]:
    """A bridge (not started) with its price watchers; returns it and how many held orders (stops
    and the like) the trigger runner watches. `kwargs` go to FixBridge (venues, directory, ...)."""
    runner = TriggerRunner(actor="trigger")
    held = runner.load()
    breaker = CircuitBreaker.from_settings()

    def breakers(prices):
        for symbol, price, at in prices:
            for trip in breaker.observe(symbol, price, at):
                circuit_breaker_trip(**trip.as_kwargs())

    return FixBridge(price_hooks=[breakers, runner.on_prices], clock_hooks=[runner.on_clock], **kwargs), held
