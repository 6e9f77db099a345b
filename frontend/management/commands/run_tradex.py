"""`make run`'s last step: start every TradeX process and supervise them (tradex/launcher.py)."""
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from marketdata.management.commands.seed_demo import DEMO_USERNAME, demo_password
from tradex.launcher import Supervisor, process_specs

WILDCARD_HOSTS = {"0.0.0.0", "::"}


class Command(BaseCommand):
    help = "Start TradeX's processes (web; worker when REDIS_URL is set) and stop them all on Ctrl-C or SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if host not in WILDCARD_HOSTS and host not in settings.ALLOWED_HOSTS:
            # Django answers 400 to a Host header it does not know: accept the address we bind.
            env["DJANGO_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, host])
        db = settings.DATABASES["default"]
        if settings.EMBEDDED:
            self.stdout.write(f"embedded mode: SQLite at {db['NAME']}, in-memory channel layer, tasks in-process")
        else:
            self.stdout.write(f"production mode: PostgreSQL {db['HOST']}:{db['PORT']}/{db['NAME']}"
                              f"{', Redis' if settings.REDIS_URL else ', no Redis (in-memory layer)'}")
        self.stdout.write(f"venues {', '.join(f'{n}:{p}' for n, _, p in settings.TRADEX_VENUES)} (simulated, FIX 4.4); "
                          f"market clock: {settings.TRADEX_MARKET_CLOCK}")
        url_host = "127.0.0.1" if host in WILDCARD_HOSTS else (f"[{host}]" if ":" in host else host)
        banner = (f"TradeX: open http://{url_host}:{port}/ (log in as {DEMO_USERNAME} / {demo_password()}; "
                  "admin at /admin/, API docs at /api/docs/). Ctrl-C stops everything.")
        if host in WILDCARD_HOSTS:
            banner += "\n  From other machines: add the host name you use to DJANGO_ALLOWED_HOSTS."
        specs = process_specs(host=host, port=port, redis_url=settings.REDIS_URL)
        sys.exit(Supervisor(specs, env=env, out=self.stdout, banner=self.style.SUCCESS(banner)).run())
