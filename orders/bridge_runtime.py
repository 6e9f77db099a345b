"""Building the FIX bridge from settings with what watches the venues' last trades: the
stop/trailing-stop trigger runner and the broker-side circuit breaker (both in memory, fed by the
bridge's price thread). One composition for its two hosts: its own process (`manage.py
run_fixbridge`, production mode) and the web process of embedded mode (tradex/asgi.py)."""
from risk.circuit_breaker import CircuitBreaker
from risk.services import circuit_breaker_trip

from .fixbridge.bridge import FixBridge
from .trigger_runner import TriggerRunner


def bridge_from_settings() -> tuple[FixBridge, int]:
    """The bridge, not started, and how many held orders its trigger runner watches."""
    runner = TriggerRunner(actor="trigger")
    held = runner.load()
    breaker = CircuitBreaker.from_settings()

    def breakers(prices):
        for symbol, price, at in prices:
            for trip in breaker.observe(symbol, price, at):
                circuit_breaker_trip(**trip.as_kwargs())

    return FixBridge(price_hooks=[breakers, runner.on_prices], clock_hooks=[runner.on_clock]), held
