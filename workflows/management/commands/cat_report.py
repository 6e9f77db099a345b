"""Write (or --verify) the CAT file of a trading day by hand, as the scheduled job does: recorded
as a JobRun, failing with a non-zero exit when the file is incomplete."""
import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from workflows.cat_report import CatReportIncomplete, cat_report_verify, previous_trading_day, report_dir
from workflows.tasks import cat_report_task
from settlement import calendar


class Command(BaseCommand):
    help = "Write the CAT order-event file of a trading day (--date YYYY-MM-DD; default the last one), or --verify it."

    def add_arguments(self, parser):
        parser.add_argument("--date", default=None)
        parser.add_argument("--verify", action="store_true", help="check the written file against the audit trail")

    def handle(self, *args, date: str | None, verify: bool, **options):
        try:
            day = _parse(date) if date else previous_trading_day(calendar.today())
        except ValueError as exc:
            raise CommandError(f"invalid_date: {exc}") from exc
        if verify:
            check = cat_report_verify(day)
            self.stdout.write(f"{day}: complete={check['complete']} sha256_matches={check['sha256_matches']}")
            for t, v in check["by_type"].items():
                self.stdout.write(f"  {t}: {v}")
            if not (check["complete"] and check["sha256_matches"]):
                raise CommandError(f"CAT file for {day} does not match the audit trail")
            return
        started = time.perf_counter()
        try:
            detail = cat_report_task.run(day=day.isoformat(), force=True)
        except (CatReportIncomplete, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{day}: {detail.get('rows')} rows {detail.get('by_type')} in {report_dir(day)} "
                          f"({time.perf_counter() - started:.2f}s)")


def _parse(text: str):
    return date.fromisoformat(text)
