from datetime import date

from django.core.management.base import BaseCommand, CommandError

from settlement import calendar


class Command(BaseCommand):
    help = "Print the ISO settlement date of a trade date (T+n in settlement days of the market)."

    def add_arguments(self, parser):
        parser.add_argument("trade_date", help="YYYY-MM-DD")
        parser.add_argument("--market", default=calendar.DEFAULT_MARKET,
                            help=f"market MIC ({', '.join(sorted(calendar.MARKETS))}); default {calendar.DEFAULT_MARKET}")
        parser.add_argument("--cycle", type=int, default=None, help="settlement days after the trade date "
                                                                    "(default: the market's)")

    def handle(self, *args, trade_date, market, cycle, **options):
        try:
            day = date.fromisoformat(trade_date)
        except ValueError:
            raise CommandError(f"invalid_trade_date: {trade_date!r} is not YYYY-MM-DD") from None
        if cycle is not None and cycle < 0:
            raise CommandError("invalid_cycle: the cycle must be 0 or more")
        try:
            self.stdout.write(calendar.settlement_date(day, market, cycle=cycle).isoformat())
        except calendar.UnknownMarket as exc:
            raise CommandError(f"unknown_market: {exc}") from None
        except ValueError as exc:
            raise CommandError(f"out_of_calendar: {exc}") from None
