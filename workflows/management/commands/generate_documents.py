"""Generate documents by hand (what the scheduled jobs do): confirmations, a month's statements,
a year's tax reports."""
import time

from django.core.management.base import BaseCommand, CommandError

from workflows import documents


class Command(BaseCommand):
    help = "Generate trade confirmations, monthly statements (--month YYYY-MM) or tax reports (--year YYYY)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["confirmations", "statements", "tax_reports"])
        parser.add_argument("--month", default=None)
        parser.add_argument("--year", type=int, default=None)

    def handle(self, *args, kind, month, year, **options):
        started = time.perf_counter()
        if kind == "confirmations":
            made = total = 0
            while (made := documents.confirmations_generate()):
                total += made
            made = total
        elif kind == "statements":
            if not month or len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() \
                    or not 1 <= int(month[5:]) <= 12:
                raise CommandError("invalid_month: --month YYYY-MM is required")
            made = documents.statements_generate(month=month)
        else:
            if not year:
                raise CommandError("invalid_year: --year YYYY is required")
            made = documents.tax_reports_generate(year=year)
        self.stdout.write(f"made {made} documents in {time.perf_counter() - started:.2f} s")
