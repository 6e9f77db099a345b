"""`make run`'s last step: start every TradeX process and supervise them (tradex/launcher.py); print
the URL once the stack is ready (`GET /readyz`, tradex/health.py)."""
import os
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from tradex.management.commands.seed_demo import DEMO_USERNAME, demo_password
from tradex.launcher import WILDCARD_HOSTS, Supervisor, process_specs, production_env
from tradex.ready_wait import wait_until_ready

READY_TIMEOUT_SECONDS = 120


class Command(BaseCommand):
    help = ("Start TradeX's processes, restart one that dies, print the URL once /readyz says ready, "
            "and stop them all on Ctrl-C or SIGTERM.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT_SECONDS,
                            help="seconds to wait for /readyz before saying what is not ready")

    def handle(self, *args, host, port, ready_timeout, **options):
        state_dir = Path(settings.VAR_DIR)  # per-stack state: the beat schedule, the generated secret
        state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        db = settings.DATABASES["default"]
        in_process = not settings.REDIS_URL  # the in-memory channel layer: bridge and feed in the web process
        if settings.EMBEDDED:
            self.stdout.write(f"embedded mode: SQLite at {db['NAME']}, in-memory channel layer, tasks in-process; "
                              "the FIX bridge and the feed run in the web process")
        else:
            self.stdout.write(f"production mode: PostgreSQL {db['HOST']}:{db['PORT']}/{db['NAME']}"
                              f"{', Redis' if settings.REDIS_URL else ', no Redis (in-memory layer, one web process)'}"
                              ", settings tradex.settings.production")
            env, notes = production_env(env, host=host, state_dir=state_dir)
            for note in notes:
                self.stdout.write(note)
        if settings.EMBEDDED and host not in WILDCARD_HOSTS and host not in settings.ALLOWED_HOSTS:
            # Django answers 400 to a Host header it does not know: accept the address we bind.
            env["DJANGO_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, host])
        self.stdout.write(f"venues {', '.join(f'{n}:{p}' for n, _, p in settings.TRADEX_VENUES)} (simulated, FIX 4.4); "
                          f"market clock: {settings.TRADEX_MARKET_CLOCK}; state in {state_dir}")
        url_host = "127.0.0.1" if host in WILDCARD_HOSTS else (f"[{host}]" if ":" in host else host)
        url = f"http://{url_host}:{port}/"
        banner = (f"TradeX: open {url} (log in as {DEMO_USERNAME} / {demo_password()}; "
                  "admin at /admin/, API docs at /api/docs/). Ctrl-C stops everything.")
        if host in WILDCARD_HOSTS:
            banner += "\n  From other machines: add the host name you use to DJANGO_ALLOWED_HOSTS."
        specs = process_specs(host=host, port=port, redis_url=settings.REDIS_URL, embedded=in_process,
                              state_dir=state_dir)
        supervisor = Supervisor(specs, env=env, out=self.stdout)
        done = threading.Event()

        def announce_when_ready():
            result = wait_until_ready(url, ready_timeout, stop=done)
            if supervisor.stopping or done.is_set():
                return
            if result.ready:
                supervisor.say(self.style.SUCCESS(banner))
            else:
                supervisor.say(self.style.WARNING(f"TradeX is not ready after {ready_timeout:g} s: {result.summary()}. "
                                                  f"Still running; {url}readyz says when it is."))

        threading.Thread(target=announce_when_ready, name="ready-announcer", daemon=True).start()
        try:
            code = supervisor.run()
        finally:
            done.set()
        sys.exit(code)
