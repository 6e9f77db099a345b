import pytest


@pytest.fixture
def empty_tick_store(transactional_db):
    """The tick tables are raw SQL, outside the models pytest-django flushes between tests."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketdata_quote_tick, marketdata_trade_tick")
