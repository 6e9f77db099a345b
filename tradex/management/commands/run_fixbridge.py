"""The FIX bridge: one QuickFIX initiator session per venue; drains the outbox; applies reports.

It also hosts what watches the venues' last trades (orders/fixbridge/process.py)."""
import logging
import signal
import threading

from django.core.management.base import BaseCommand

from orders.fixbridge.process import bridge_with_watchers

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the FIX bridge to the venues (settings.TRADEX_VENUES)."

    def handle(self, *args, **options):
        # Session up / down lines in the process output: what an operator (and the e2e tests,
        # which wait for the logon) want to see, whatever the root log level.
        logging.getLogger("orders.fixbridge.bridge").setLevel(logging.INFO)
        bridge, held = bridge_with_watchers()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        bridge.start()
        self.stdout.write(f"fixbridge: sessions to {', '.join(v[0] for v in bridge.venues)}; "
                          f"{held} held orders watched")
        stop.wait()
        bridge.stop()
