"""Test setup: the suite runs on PostgreSQL and Redis (DATABASE_URL, REDIS_URL); `make test` sets
both. It refuses SQLite rather than passing on a database without row locks."""
import os
from decimal import Decimal

import pytest
from django.conf import settings

from tests.channels import GroupListener
from tests.factories import make_account, make_asset


def pytest_configure(config):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("the TradeX suite runs on PostgreSQL: set DATABASE_URL (make test does)")
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError("the TradeX suite runs with Redis: set REDIS_URL (make test does)")
    # Orders placed at the wall-clock time must not depend on whether NYSE happens to be open:
    # the suite runs on the always-open demo clock; tests of session logic switch to the real
    # calendar (`exchange`) with fixed datetimes (tests/marketdata/test_clock.py, tests/orders/test_sessions.py).
    settings.TRADEX_MARKET_CLOCK = "always_open"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with no cached prices (Redis) and no cached assets, venues or house rates (per process)."""
    from django.core.cache import cache

    from marketdata.selectors import asset_cache_clear

    from orders.venue_selection import venue_cache_clear
    from portfolio.margin import house_rates_cache_clear

    cache.clear()
    asset_cache_clear()
    venue_cache_clear()
    house_rates_cache_clear()
    yield


@pytest.fixture(autouse=True)
def _venues_up(request):
    """Tests that touch the database start with the configured venues' sessions up, as when the
    FIX bridge is connected; tests of routing and disconnects change them."""
    if not {"db", "transactional_db"} & set(request.fixturenames) and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    from tests.factories import make_venues

    make_venues()
    yield


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price=Decimal("100.00"))


@pytest.fixture
def account(db):
    return make_account(cash=Decimal("10000"))


@pytest.fixture
def margin_account(db):
    return make_account(cash=Decimal("10000"), account_type="margin")


@pytest.fixture
def group_listener():
    """group_listener(*groups): a channel already receiving what is sent to those groups."""
    listeners = []

    def make(*groups):
        listener = GroupListener()
        listeners.append(listener)
        for group in groups:
            listener.join(group)
        return listener

    yield make
    for listener in listeners:
        listener.close()
