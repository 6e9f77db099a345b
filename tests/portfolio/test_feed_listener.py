"""The feed's listener as the feed loads it (settings.TRADEX_FEED_LISTENERS): its worker thread
takes a breach off the hot path and issues the margin call in its own transaction."""
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from accounts.services import account_create
from portfolio.models import MarginCall

from .conftest import trade

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_the_configured_listener_issues_a_call_from_its_worker_thread(aapl):
    account, _, _ = account_create(username="m", cash=D(10000), account_type="margin")
    trade(account, "buy", 200, "100")
    assert "workflows.margin_calls.feed_listener" in settings.TRADEX_FEED_LISTENERS
    monitor = import_string("workflows.margin_calls.feed_listener")()
    try:
        monitor.on_prices({"AAPL": D("65")})  # returns at once: the call is the worker's job
        assert monitor.handled.wait(timeout=10)
        call = MarginCall.objects.get(account=account)
        assert call.status == "open" and call.deficit == D("250.00")
    finally:
        monitor.close()
