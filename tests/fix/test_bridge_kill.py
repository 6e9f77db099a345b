"""`kill -9` of a real `manage.py run_fixbridge` in the middle of a burst, then a restart: every
order ends filled, resting or rejected with a true reason; fills applied once; positions equal
fills; the ledger and the audit chain verify (issue 13, item 3)."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Sum

from orders.models import Execution, Order
from orders.services import order_place
from portfolio.models import Position
from tests.factories import make_account
from core.errors import Refused

from .test_outbox_recovery import _left_up

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
BURST = 40
SETTLED = {"filled", "new", "rejected"}


def wait_for(predicate, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)  # polling interval of an observable state, not a wait for time to pass
    return value


class BridgeProcess:
    def __init__(self, port: int, fix_dir: Path):
        db = connection.settings_dict
        env = dict(os.environ, DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                   TRADEX_VENUES=f"SIMA@127.0.0.1:{port}", TRADEX_FIX_DIR=str(fix_dir), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "manage.py", "run_fixbridge"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()

    def wait_for_line(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.output.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} from run_fixbridge:\n{''.join(self.output)}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _place_burst(account, placed: list, refused: list, errors: list, killed: threading.Event) -> None:
    """BURST orders one after another, as a client would: market buys of 1 share, every fourth a
    limit far below the market (it rests). One symbol: with two, a fill between the price read and
    the account lock can refuse an order `price_unavailable` for the other (issue 13, item 2, fixed
    in placement, not here)."""
    try:
        for n in range(BURST):
            if n == BURST // 2:
                killed.wait(TIMEOUT)  # the second half is placed while the bridge is dead
            symbol = "AAPL"
            fields = ({"order_type": "limit", "limit_price": "50.00", "time_in_force": "gtc"} if n % 4 == 3
                      else {"order_type": "market", "time_in_force": "day"})
            try:
                placed.append(order_place(account_id=account.pk, actor="test", symbol=symbol, side="buy", qty="1",
                                          **fields))
            except Refused as exc:
                # The session dropped (a heartbeat missed on a loaded machine): the client is told
                # at once and nothing is written. Any other refusal fails the test.
                if exc.reason != "venue_unavailable":
                    raise
                refused.append(exc)
    except Exception as exc:  # shown by the test
        errors.append(exc)
    finally:
        connections.close_all()


def test_sigkill_of_the_bridge_mid_burst_then_restart_loses_and_doubles_nothing(fix_assets, venue_factory, tmp_path):
    venue = venue_factory("SIMA")
    port = venue.config.port
    _left_up("SIMA", port)
    account = make_account(cash=Decimal("100000"))
    bridges = [BridgeProcess(port, tmp_path / "fix")]
    try:
        bridges[0].wait_for_line("SIMA session up")
        placed, refused, errors, killed = [], [], [], threading.Event()
        burst = threading.Thread(target=_place_burst, args=(account, placed, refused, errors, killed))
        burst.start()
        wait_for(lambda: errors or Order.objects.filter(account=account, status="filled").count() >= 5,
                 "the first fills")
        bridges[0].kill()  # mid-burst: orders are being placed, sent, filled
        killed.set()
        burst.join(timeout=TIMEOUT)
        assert not errors, errors
        assert len(placed) + len(refused) == BURST and len(placed) > BURST // 2

        bridges.append(BridgeProcess(port, tmp_path / "fix"))
        bridges[-1].wait_for_line("SIMA session up")
        wait_for(lambda: set(Order.objects.filter(account=account).values_list("status", flat=True)) <= SETTLED,
                 "every order filled, resting or rejected")
    finally:
        for bridge in bridges:
            bridge.stop()

    orders = {o.pk: o for o in Order.objects.filter(account=account)}
    limits = {pk for pk, o in orders.items() if o.order_type == "limit"}
    assert {orders[pk].status for pk in limits} == {"new"}
    markets = set(orders) - limits
    assert {orders[pk].status for pk in markets} == {"filled"}  # none rejected: liquidity is there
    fills = Execution.objects.filter(order__account=account)
    assert fills.count() == len(markets)  # one fill of 1 share each, applied once
    assert all(orders[pk].filled_qty == 1 for pk in markets)
    at_venue = [o.cl_ord_id for o in venue.venue.orders_of("TRADEX")]
    assert sorted(at_venue) == sorted(pk.hex for pk in orders)  # each order reached the venue once
    assert Position.objects.get(account=account, symbol="AAPL").qty == fills.aggregate(q=Sum("qty"))["q"]
    call_command("verify_ledger")
    call_command("verify_audit")
