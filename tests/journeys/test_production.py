"""Journeys against the stack in production mode: PostgreSQL (a fresh database), Redis, a Celery
worker and beat, two web workers, the venues, the FIX bridge and the feed, each its own process."""
import pytest

from . import journeys
from .conftest import keep_running

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def stack(production_stack):
    return production_stack


@pytest.fixture(autouse=True)
def running(stack):
    keep_running(stack)


def test_ready_when_it_says_so(stack):
    """The "open http://" line comes once /readyz is 200, and an order sent right then fills."""
    journeys.readiness(stack, stack.probe)


def test_sequential_multi_symbol_burst(stack):
    journeys.sequential_burst(stack.traders["alice"])


def test_concurrent_clients_burst(stack):
    journeys.concurrent_burst([stack.traders[name] for name in ("bob", "carol", "dave", "erin")])


def test_a_fill_reaches_an_open_stream(stack):
    journeys.fill_reaches_stream(stack, stack.traders["alice"])


@pytest.mark.parametrize("role", ["fixbridge", "venues", "feed", "worker", "web1"])
def test_kill_a_role_mid_burst(stack, role):
    journeys.kill_mid_burst(stack, stack.traders["alice"], stack.probe, role)


def test_full_stack_restart(stack):
    """Next to last: it stops the stack and starts it again on the same database."""
    journeys.full_restart(stack, list(stack.traders.values()), stack.probe)


def test_notional_and_fractional_orders_fill(stack):
    """Last (after the restart, on the restarted stack): before its fix, one dollar-amount order
    stopped the bridge's outbox for every later order (issue 13, item 1)."""
    journeys.notional_and_fractional(stack.traders["alice"])
