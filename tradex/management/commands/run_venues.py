"""Start the exchange simulator's venues (settings.TRADEX_VENUES), each with its own FIX acceptor.

The simulator never imports the broker; this command is the glue that gives it the venue list
and the reference prices of the assets the broker lists (the simulator's walk starts there)."""
import signal
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from exchange_sim.config import default_venues, reference_specs
from exchange_sim.server import VenueServer
from marketdata.models import Asset


class Command(BaseCommand):
    help = "Run the simulated venues (FIX 4.4 acceptors, matching engines, market makers)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--step-seconds", type=float, default=0.25)
        parser.add_argument("--state-dir", default="")

    def handle(self, *args, seed, step_seconds, state_dir, **options):
        prices = {a.symbol: a.last_price for a in Asset.objects.filter(tradable=True).exclude(last_price=None)
                  if a.last_price and a.last_price > 0}
        if not prices:
            # The sessions still come up (the bridge connects); nothing trades until assets exist.
            self.stderr.write("run_venues: no tradable assets with a price (run `manage.py seed_demo`): "
                              "the venues list no symbols")
        state = Path(state_dir or Path(settings.VAR_DIR) / "venues")
        # One anchor for all: the venues' shared walk starts at the assets' prices now (walk.py).
        configs = default_venues(len(settings.TRADEX_VENUES), symbols=sorted(prices), journal_dir=str(state), seed=seed,
                                 walk_anchor=datetime.now(timezone.utc))
        specs = reference_specs({s: Decimal(p) for s, p in prices.items()})
        servers = []
        for config, (name, _host, port) in zip(configs, settings.TRADEX_VENUES):
            config = config.__class__(**{**config.__dict__, "name": name, "port": port,
                                         "feed_port": port + settings.TRADEX_VENUE_FEED_OFFSET,
                                         "bind_host": settings.TRADEX_VENUE_BIND_HOST})
            servers.append(VenueServer(config, specs, dictionary=Path(settings.BASE_DIR) / "fixspec" / "FIX44.xml",
                                       state_dir=state, heartbeat_seconds=settings.TRADEX_FIX_HEARTBEAT_SECONDS,
                                       step_seconds=step_seconds))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        for server in servers:
            server.start()
            self.stdout.write(f"venue {server.config.name} on port {server.config.port} "
                              f"({server.config.latency_ms} ms, {len(specs)} symbols), feed on port {server.feed.port}")
        stop.wait()
        for server in servers:
            server.stop()
