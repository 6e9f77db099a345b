"""Demo data for `make run`: real US-listed assets with reference prices, and a funded demo user.

Idempotent: assets that exist are left as they are, and the demo user is created only once.
"""
import os
import zlib
from decimal import Decimal

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import account_create
from core.errors import TradeXError
from marketdata.bars.seed import add_backfill_arguments, backfill_from_options
from marketdata.services import assets_seed
from surveillance.demo import demo_write

DEMO_USERNAME = "demo"
DEMO_CASH = Decimal("100000")
MARGINABLE_MIN_PRICE = Decimal("3")  # common broker rule: stocks under $3 carry no margin value


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD", "demo-password-123")


# (symbol, name, primary exchange, reference price, easy to borrow). Reference prices are
# realistic magnitudes for the demo, not quotes; the feed replaces them once it runs.
ASSETS = [
    ("AAPL", "Apple Inc.", "NASDAQ", "230.00", True),
    ("MSFT", "Microsoft Corporation", "NASDAQ", "420.00", True),
    ("NVDA", "NVIDIA Corporation", "NASDAQ", "180.00", True),
    ("AMZN", "Amazon.com, Inc.", "NASDAQ", "225.00", True),
    ("GOOGL", "Alphabet Inc. Class A", "NASDAQ", "250.00", True),
    ("GOOG", "Alphabet Inc. Class C", "NASDAQ", "251.00", True),
    ("META", "Meta Platforms, Inc. Class A", "NASDAQ", "700.00", True),
    ("TSLA", "Tesla, Inc.", "NASDAQ", "420.00", True),
    ("AVGO", "Broadcom Inc.", "NASDAQ", "340.00", True),
    ("COST", "Costco Wholesale Corporation", "NASDAQ", "920.00", True),
    ("AMD", "Advanced Micro Devices, Inc.", "NASDAQ", "240.00", True),
    ("INTC", "Intel Corporation", "NASDAQ", "38.00", True),
    ("CSCO", "Cisco Systems, Inc.", "NASDAQ", "70.00", True),
    ("ADBE", "Adobe Inc.", "NASDAQ", "340.00", True),
    ("PEP", "PepsiCo, Inc.", "NASDAQ", "145.00", True),
    ("QCOM", "QUALCOMM Incorporated", "NASDAQ", "165.00", True),
    ("PYPL", "PayPal Holdings, Inc.", "NASDAQ", "65.00", True),
    ("SBUX", "Starbucks Corporation", "NASDAQ", "85.00", True),
    ("PLTR", "Palantir Technologies Inc. Class A", "NASDAQ", "170.00", True),
    ("WMT", "Walmart Inc.", "NASDAQ", "105.00", True),
    ("RIVN", "Rivian Automotive, Inc. Class A", "NASDAQ", "14.00", True),
    ("BYND", "Beyond Meat, Inc.", "NASDAQ", "1.80", False),
    ("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", "600.00", True),
    ("TLT", "iShares 20+ Year Treasury Bond ETF", "NASDAQ", "90.00", True),
    ("JPM", "JPMorgan Chase & Co.", "NYSE", "300.00", True),
    ("V", "Visa Inc. Class A", "NYSE", "340.00", True),
    ("MA", "Mastercard Incorporated Class A", "NYSE", "570.00", True),
    ("BAC", "Bank of America Corporation", "NYSE", "52.00", True),
    ("WFC", "Wells Fargo & Company", "NYSE", "85.00", True),
    ("GS", "The Goldman Sachs Group, Inc.", "NYSE", "780.00", True),
    ("MS", "Morgan Stanley", "NYSE", "160.00", True),
    ("BRK.B", "Berkshire Hathaway Inc. Class B", "NYSE", "500.00", True),
    ("JNJ", "Johnson & Johnson", "NYSE", "190.00", True),
    ("UNH", "UnitedHealth Group Incorporated", "NYSE", "330.00", True),
    ("LLY", "Eli Lilly and Company", "NYSE", "900.00", True),
    ("PFE", "Pfizer Inc.", "NYSE", "25.00", True),
    ("MRK", "Merck & Co., Inc.", "NYSE", "90.00", True),
    ("ABBV", "AbbVie Inc.", "NYSE", "220.00", True),
    ("KO", "The Coca-Cola Company", "NYSE", "70.00", True),
    ("PG", "The Procter & Gamble Company", "NYSE", "150.00", True),
    ("HD", "The Home Depot, Inc.", "NYSE", "380.00", True),
    ("MCD", "McDonald's Corporation", "NYSE", "300.00", True),
    ("NKE", "NIKE, Inc. Class B", "NYSE", "65.00", True),
    ("DIS", "The Walt Disney Company", "NYSE", "112.00", True),
    ("XOM", "Exxon Mobil Corporation", "NYSE", "115.00", True),
    ("CVX", "Chevron Corporation", "NYSE", "155.00", True),
    ("BA", "The Boeing Company", "NYSE", "215.00", True),
    ("CAT", "Caterpillar Inc.", "NYSE", "550.00", True),
    ("GE", "GE Aerospace", "NYSE", "300.00", True),
    ("IBM", "International Business Machines Corporation", "NYSE", "300.00", True),
    ("ORCL", "Oracle Corporation", "NYSE", "220.00", True),
    ("CRM", "Salesforce, Inc.", "NYSE", "240.00", True),
    ("T", "AT&T Inc.", "NYSE", "26.00", True),
    ("VZ", "Verizon Communications Inc.", "NYSE", "40.00", True),
    ("UBER", "Uber Technologies, Inc.", "NYSE", "90.00", True),
    ("GME", "GameStop Corp. Class A", "NYSE", "23.00", False),
    ("AMC", "AMC Entertainment Holdings, Inc. Class A", "NYSE", "2.90", False),
    ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", "600.00", True),
    ("IVV", "iShares Core S&P 500 ETF", "ARCA", "603.00", True),
    ("VOO", "Vanguard S&P 500 ETF", "ARCA", "552.00", True),
    ("VTI", "Vanguard Total Stock Market ETF", "ARCA", "320.00", True),
    ("IWM", "iShares Russell 2000 ETF", "ARCA", "235.00", True),
    ("DIA", "SPDR Dow Jones Industrial Average ETF Trust", "ARCA", "450.00", True),
    ("GLD", "SPDR Gold Shares", "ARCA", "370.00", True),
    ("XLF", "Financial Select Sector SPDR Fund", "ARCA", "52.00", True),
    ("XLE", "Energy Select Sector SPDR Fund", "ARCA", "90.00", True),
    ("EEM", "iShares MSCI Emerging Markets ETF", "ARCA", "50.00", True),
    ("EFA", "iShares MSCI EAFE ETF", "ARCA", "90.00", True),
]


def _prev_close(symbol: str, last: Decimal) -> Decimal:
    """A previous close within ±2 % of the reference price, the same on every run (so reseeding a
    fresh database gives the same day change)."""
    change = Decimal(zlib.crc32(symbol.encode()) % 401 - 200) / Decimal(10000)
    return (last / (1 + change)).quantize(Decimal("0.01"))


def asset_rows() -> list[dict]:
    rows = []
    for symbol, name, exchange, ref, easy_to_borrow in ASSETS:
        last = Decimal(ref)
        rows.append({"symbol": symbol, "name": name, "exchange": exchange, "last_price": last,
                     "prev_close": _prev_close(symbol, last), "easy_to_borrow": easy_to_borrow,
                     "marginable": last >= MARGINABLE_MIN_PRICE})
    return rows


class Command(BaseCommand):
    help = "Create the demo assets and the demo user with a funded margin account (idempotent)."

    def add_arguments(self, parser):
        add_backfill_arguments(parser)

    def handle(self, *args, **options):
        created = assets_seed(assets=asset_rows(), actor="cli:seed_demo")
        self.stdout.write(f"assets: {len(created)} created, {len(ASSETS) - len(created)} already present")
        backfill_from_options(self, options)  # bars history (marketdata/bars/seed.py)
        self._demo_user()
        # A few manipulative patterns in the history, so the admin's alert queue has cases (once).
        # Demo data: a refusal (say, prices that moved since the assets were seeded) is reported,
        # and the rest of the setup goes on.
        try:
            made = demo_write(actor="cli:seed_demo")
        except TradeXError as error:
            self.stderr.write(f"surveillance demo not written: {error.reason}: {error}")
            return
        if "skipped" in made:
            self.stdout.write(f"surveillance demo: {made['skipped']}")
        else:
            self.stdout.write(f"surveillance demo: {made['alerts']} alerts raised (admin: Surveillance › Alerts)")

    def _demo_user(self):
        password = demo_password()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            account, key, secret = account_create(username=DEMO_USERNAME, password=password, cash=DEMO_CASH,
                                                  account_type="margin", actor="cli:seed_demo")
            self.stdout.write(f"demo account {account.account_number} created with ${DEMO_CASH:,} (margin)")
            self.stdout.write(f"demo login:   {DEMO_USERNAME} / {password}")
            self.stdout.write(f"demo API key: APCA-API-KEY-ID={key.key_id} APCA-API-SECRET-KEY={secret}")
            self.stdout.write("              (the secret is shown only now)")
            return
        self.stdout.write(f"demo user exists: login {DEMO_USERNAME} / {password}")
        if not user.check_password(password):
            self.stdout.write(self.style.WARNING(
                "  ...but that is not its password (DEMO_PASSWORD changed?); "
                f"reset it with: python manage.py changepassword {DEMO_USERNAME}"))
        self.stdout.write("demo API secret was shown when the account was created; for a new key run: "
                          f"python manage.py create_api_key {DEMO_USERNAME}")
