"""Journey tests: the whole stack as `make run` starts it, one stack per module (tests/journeys/stack.py).

The journeys never touch the test database: they talk to the stack over HTTP and WebSockets, and
read its books through the API. The stack in production mode shares the suite's Redis database."""
import os

import pytest

from .journeys import at_open, wait_trading
from .stack import Stack, fresh_database
from .trading import Trader

PASSWORD = "journey-pass-word-123"
# alice: the one-client journeys, the browser and the kills; the others: the concurrent clients.
USERNAMES = ("alice", "bob", "carol", "dave", "erin")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Replaces the suite's autouse cache clearing (tests/conftest.py): the Redis database it would
    flush before each journey holds the running production stack's prices and stream leases."""
    yield


def _serve(stack: Stack, *, static: bool):
    """Prepare, start and hand over a stack; stop it at the end of the module whatever happened."""
    try:
        stack.prepare({name: PASSWORD for name in USERNAMES}, static=static)
        stack.traders = {name: Trader(stack.url, name, a["key_id"], a["secret_key"], a["password"],
                                      server_gone=stack.check_alive) for name, a in stack.accounts.items()}
        stack.probe = Trader(stack.url, "demo", *stack.demo_key, server_gone=stack.check_alive)
        stack.start()
        stack.at_open = at_open(stack, stack.probe)  # at once: the readiness journey judges these answers
        wait_trading(stack, stack.probe)
        yield stack
    finally:
        stack.close()
        for trader in [*getattr(stack, "traders", {}).values(), getattr(stack, "probe", None)]:
            if trader is not None:
                trader.close()


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory):
    yield from _serve(Stack(tmp_path_factory.mktemp("embedded")), static=True)  # the browser journey


@pytest.fixture(scope="module")
def production_stack(tmp_path_factory):
    """PostgreSQL (a database made for this module, dropped after it), Redis, and two web workers."""
    with fresh_database() as url:
        yield from _serve(Stack(tmp_path_factory.mktemp("production"), database_url=url,
                                redis_url=os.environ["REDIS_URL"], web_concurrency=2), static=False)


def keep_running(stack: Stack) -> None:
    """Each journey starts on a running stack: one that an earlier journey's failure left stopped
    (today, the launcher stops everything when a role dies) is started again, on the same database."""
    if not stack.running:
        stack.start()
        wait_trading(stack, stack.probe)
