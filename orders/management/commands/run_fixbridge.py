"""The FIX bridge: one QuickFIX initiator session per venue; drains the outbox; applies reports.

It also hosts what watches the venues' last trades: the stop/trailing-stop trigger runner and the
broker-side circuit breaker (both in memory, fed by the price thread)."""
import logging
import signal
import threading

from django.core.management.base import BaseCommand

from orders.fixbridge.bridge import FixBridge
from orders.trigger_runner import TriggerRunner
from risk.circuit_breaker import CircuitBreaker
from risk.services import circuit_breaker_trip

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the FIX bridge to the venues (settings.TRADEX_VENUES)."

    def handle(self, *args, **options):
        # Session up / down lines in the process output: what an operator (and the e2e tests,
        # which wait for the logon) want to see, whatever the root log level.
        logging.getLogger("orders.fixbridge.bridge").setLevel(logging.INFO)
        runner = TriggerRunner(actor="trigger")
        held = runner.load()
        breaker = CircuitBreaker.from_settings()

        def breakers(prices):
            for symbol, price, at in prices:
                for trip in breaker.observe(symbol, price, at):
                    circuit_breaker_trip(**trip.as_kwargs())

        bridge = FixBridge(price_hooks=[breakers, runner.on_prices], clock_hooks=[runner.on_clock])
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        bridge.start()
        self.stdout.write(f"fixbridge: sessions to {', '.join(v[0] for v in bridge.venues)}; "
                          f"{held} held orders watched")
        stop.wait()
        bridge.stop()
