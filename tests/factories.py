"""Factories for tests: real rows through the real services, so tests start from states the
system itself can reach."""
import itertools
from decimal import Decimal

from accounts.models import Account
from accounts.services import account_create
from marketdata.models import Asset

_seq = itertools.count(1)


def make_asset(symbol: str, *, price: Decimal | str = "100.00", **fields) -> Asset:
    asset, _ = Asset.objects.update_or_create(
        symbol=symbol, defaults={"name": f"{symbol} Inc.", "last_price": Decimal(str(price)), **fields}
    )
    return asset


def make_account(*, cash: Decimal | str = "10000", account_type: str = "cash", username: str | None = None) -> Account:
    account, _key, _secret = account_create(
        username=username or f"user{next(_seq)}_{id(object())}", cash=Decimal(str(cash)), account_type=account_type
    )
    return account


def make_account_with_key(*, cash: Decimal | str = "10000", account_type: str = "cash"):
    """(account, key_id, secret) for API tests."""
    account, key, secret = account_create(
        username=f"api{next(_seq)}_{id(object())}", cash=Decimal(str(cash)), account_type=account_type
    )
    return account, key.key_id, secret


def make_venues(session="up"):
    """The venues of settings.TRADEX_VENUES, with their sessions `session` (as the bridge records)."""
    from django.conf import settings

    from orders.models import Venue

    return [Venue.objects.update_or_create(name=name, defaults={"host": host, "port": port, "session": session})[0]
            for name, host, port in settings.TRADEX_VENUES]
