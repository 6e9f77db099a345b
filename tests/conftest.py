"""Test setup: the suite runs on PostgreSQL and Redis (DATABASE_URL, REDIS_URL); `make test` sets
both. It refuses SQLite rather than passing on a database without row locks."""
import os
from decimal import Decimal

import pytest
from django.conf import settings

from tests.factories import make_account, make_asset


def pytest_configure(config):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("the TradeX suite runs on PostgreSQL: set DATABASE_URL (make test does)")
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError("the TradeX suite runs with Redis: set REDIS_URL (make test does)")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with no cached prices (Redis) and no cached assets (per process)."""
    from django.core.cache import cache

    from marketdata.selectors import asset_cache_clear

    cache.clear()
    asset_cache_clear()
    yield


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price=Decimal("100.00"))


@pytest.fixture
def account(db):
    return make_account(cash=Decimal("10000"))


@pytest.fixture
def margin_account(db):
    return make_account(cash=Decimal("10000"), account_type="margin")
