from django.core.management.base import BaseCommand

from core.jobs import job_run
from surveillance.services import DEFAULT_BATCH, DEFAULT_LAG_SECONDS, scan


class Command(BaseCommand):
    help = "Run the surveillance rules over the order events and executions written since the last scan."

    def add_arguments(self, parser):
        parser.add_argument("--lag", type=int, default=DEFAULT_LAG_SECONDS,
                            help="leave events younger than this many seconds for the next scan")
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="order events per transaction")

    def handle(self, *args, lag, batch, **options):
        with job_run("surveillance.scan") as run:
            run.detail = scan(lag_seconds=lag, batch=batch)
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in run.detail.items()))
