"""The feed handler: every venue's market-data feed (settings.TRADEX_VENUES, feed port = FIX port
+ TRADEX_VENUE_FEED_OFFSET) into the tick store, quote cache, channel groups, alerts and bars."""
import signal
import sys
import threading
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand

from marketdata.feed.handler import FEED_SWITCH_INTERVAL
from marketdata.feed.runtime import feed_handler_from_settings
from marketdata.selectors import FEED_STATS_KEY


STATS_SECONDS = 1


class Command(BaseCommand):
    help = "Run the market-data feed handler."

    def add_arguments(self, parser):
        parser.add_argument("--venue", action="append", default=[],
                            help="NAME@host:port of a feed (repeatable); default: the configured venues")

    def handle(self, *args, venue, **options):
        venues = []
        for item in venue:
            name, address = item.split("@")
            host, port = address.rsplit(":", 1)
            venues.append((name, host, int(port)))
        sys.setswitchinterval(FEED_SWITCH_INTERVAL)
        handler = feed_handler_from_settings(venues or None)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        handler.start()
        self.stdout.write("feed: reading " + ", ".join(f"{n}@{h}:{p}" for n, h, p in handler.venues))
        while not stop.wait(STATS_SECONDS):  # publish the counters (manage.py feed_status reads them)
            cache.set(FEED_STATS_KEY, {"at": time.time(), **handler.stats()}, timeout=STATS_SECONDS * 10)
        handler.stop()
        c = handler.counters
        self.stdout.write(f"feed: stopped; quotes received {c.quotes_received} stored {c.quotes_stored}, "
                          f"trades received {c.trades_received} stored {c.trades_stored}")
