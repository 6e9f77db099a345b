"""Print the running feed handler's counters (received, stored, published, gaps, malformed) as
JSON; exits 1 when no feed handler has reported in the last 10 seconds."""
import json
import sys
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand

from marketdata.selectors import FEED_STATS_KEY


class Command(BaseCommand):
    help = "Show the feed handler's counters."

    def handle(self, *args, **options):
        stats = cache.get(FEED_STATS_KEY)
        if not stats or time.time() - stats["at"] > 10:
            self.stderr.write("feed_status: no feed handler has reported in the last 10 s")
            sys.exit(1)
        self.stdout.write(json.dumps(stats, indent=2, default=str))
