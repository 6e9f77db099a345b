"""Run the settlement batch loop in this process (what the beat job's task does), until nothing
due is left. Operations use it to catch up by hand; the crash test SIGKILLs it mid-run."""
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from core.jobs import job_run
from settlement.services import DEFAULT_BATCH_SIZE, settle_due


class Command(BaseCommand):
    help = "Settle every obligation due on or before --as-of (default: today in New York), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", default=None, help="YYYY-MM-DD")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)

    def handle(self, *args, as_of, batch_size, **options):
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise CommandError(f"invalid_as_of: {as_of!r} is not YYYY-MM-DD") from None
        if batch_size < 1:
            raise CommandError("invalid_batch_size: must be at least 1")
        with job_run("settlement.settle_due") as run:
            result = settle_due(as_of=day, batch_size=batch_size)
            run.detail = {"batches": result.batches, "settled": result.settled, "busy": result.busy}
        self.stdout.write(f"settled {result.settled} obligations in {result.batches} batches "
                          f"({result.seconds:.1f} s); {result.busy} left for accounts busy trading")
