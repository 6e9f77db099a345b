"""The journeys, written once and run against a stack in each mode (test_embedded.py,
test_production.py). Each one drives the stack as its users do and states what they must see."""
import concurrent.futures
import json
import time
from decimal import Decimal

from websockets.sync.client import connect

from .stack import START_TIMEOUT, Stack
from .trading import FINAL, Placed, Trader, check_books, market, poll, wait_settled

SYMBOLS = ("AAPL", "MSFT", "NVDA", "INTC", "KO", "SPY")
# From the "open http://" line, or a role's restart, to trading again. Generous: a venue replays
# its journal on start (issue 13, item 5), and CI machines are shared.
READY_TIMEOUT = 150.0
RESTART_TIMEOUT = 60.0  # from a kill -9 to the supervisor's "started ROLE" line (backoff included)
STREAM_TIMEOUT = 30.0
MAX_DURING = 40  # orders sent between a kill and the role's restart, at most


def refusals(placed: list[Placed]) -> list[str]:
    return [str(p) for p in placed if not p.accepted]


def assert_all_filled(trader: Trader, placed: list[Placed]) -> dict[str, dict]:
    assert not refusals(placed), f"{trader.username}: orders refused: {refusals(placed)}"
    orders = wait_settled(trader, [p.order_id for p in placed], settled_states=FINAL)
    unfilled = [f"{o['symbol']} {o['status']} {o.get('reject_reason') or ''}" for o in orders.values()
                if o["status"] != "filled"]
    assert not unfilled, f"{trader.username}: market orders that did not fill: {unfilled}"
    return orders


def wait_trading(stack: Stack, probe: Trader) -> None:
    """Wait until the stack trades: a one-share market order of the demo account is accepted and
    fills. An order refused or rejected because no venue session is up or no price has come yet
    is placed again (as a user would); any other refusal fails."""
    deadline = time.monotonic() + READY_TIMEOUT
    last: list = ["nothing yet"]

    def filled():
        placed = probe.place(market("SPY"))
        last[0] = placed
        if not placed.accepted:
            if placed.answer.get("reason") not in ("venue_unavailable", "price_unavailable"):
                stack.fail(f"the probe order was refused: {placed}")
            return False
        order = wait_settled(probe, [placed.order_id], settled_states=FINAL,
                             timeout=max(deadline - time.monotonic(), 1))[placed.order_id]
        last[0] = f"{order['status']} {order.get('reject_reason') or ''}"
        return order["status"] == "filled"

    poll(filled, timeout=READY_TIMEOUT, interval=0.5, what=lambda: f"{stack.mode} stack filling a market order (last: {last[0]})")


# --- readiness ---------------------------------------------------------------------------------
def at_open(stack: Stack, probe: Trader) -> dict:
    """What the stack answers the moment the launcher prints "open http://": called right after
    Stack.start() returns, before anything else is waited for."""
    # The launcher's socket is listening: a request waits there until the web process takes it.
    ready = probe.http.get("/readyz", timeout=START_TIMEOUT)
    health = probe.http.get("/healthz", timeout=START_TIMEOUT)
    first = probe.place(market("AAPL"))
    return {"readyz": ready, "healthz": health, "first_order": first}


def readiness(stack: Stack, probe: Trader) -> None:
    seen = stack.at_open
    problems = [f"{path} answered HTTP {seen[name].status_code}" for name, path in (
        ("healthz", "/healthz"), ("readyz", "/readyz")) if seen[name].status_code != 200]
    if seen["readyz"].status_code == 200 and not isinstance(seen["readyz"].json(), dict):
        problems.append(f"/readyz answered {seen['readyz'].text!r}, not a JSON object")
    first = seen["first_order"]
    if not first.accepted:
        problems.append(f"an order sent then was refused: {first}")
    else:
        order = wait_settled(probe, [first.order_id], settled_states=FINAL)[first.order_id]
        if order["status"] != "filled":
            problems.append(f"an order sent then ended {order['status']} {order.get('reject_reason') or ''}")
    assert not problems, f"right after the launcher's \"open http://\" line: {'; '.join(problems)}"


# --- bursts ------------------------------------------------------------------------------------
def sequential_burst(trader: Trader, count: int = 30) -> None:
    """Market buys over six symbols, one after another while the earlier ones fill: none refused
    (not for another symbol's price either), every one filled, the books agree."""
    placed = [trader.place(market(SYMBOLS[i % len(SYMBOLS)])) for i in range(count)]
    assert_all_filled(trader, placed)
    check_books(trader)


def concurrent_burst(traders: list[Trader], per_trader: int = 10) -> None:
    """Several clients, each sending its orders all at once."""
    jobs = [(t, market(SYMBOLS[(i + k) % len(SYMBOLS)])) for k, t in enumerate(traders) for i in range(per_trader)]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        placed = list(pool.map(lambda job: (job[0], job[0].place(job[1])), jobs))
    for trader in traders:
        assert_all_filled(trader, [p for t, p in placed if t is trader])
        check_books(trader)


def notional_and_fractional(trader: Trader) -> None:
    """A dollar-amount order and fractional quantities, as Alpaca takes them, fill."""
    placed = [trader.place(market("AAPL", notional="5")), trader.place(market("MSFT", qty="0.5")),
              trader.place(market("NVDA", qty="1.5"))]
    orders = assert_all_filled(trader, placed)
    notional, half, one_and_half = (orders[p.order_id] for p in placed)
    assert Decimal(half["filled_qty"]) == Decimal("0.5") and Decimal(one_and_half["filled_qty"]) == Decimal("1.5")
    spent = Decimal(notional["filled_qty"]) * Decimal(notional["filled_avg_price"])
    assert abs(spent - 5) <= Decimal("0.01"), f"a $5 order bought ${spent} ({notional['filled_qty']} shares)"
    check_books(trader)
    # Selling the fractional part back: a position of 0.5 shares closes to nothing.
    sold = trader.place(market("MSFT", side="sell", qty="0.5"))
    assert_all_filled(trader, [sold])
    check_books(trader)


# --- live updates ------------------------------------------------------------------------------
def fill_reaches_stream(stack: Stack, trader: Trader) -> None:
    """An open /stream socket (Alpaca's trade_updates protocol) gets the fill of an order placed
    over HTTP, whatever process the fill came through."""
    with connect(stack.url.replace("http://", "ws://") + "/stream", open_timeout=STREAM_TIMEOUT) as ws:
        ws.send(json.dumps({"action": "auth", "key": trader.key_id, "secret": trader.secret}))
        auth = json.loads(ws.recv(timeout=STREAM_TIMEOUT))
        assert auth["data"]["status"] == "authorized", auth
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        listening = json.loads(ws.recv(timeout=STREAM_TIMEOUT))
        assert listening["stream"] == "listening", listening
        placed = trader.place(market("AAPL"))
        assert placed.accepted, placed
        events = []
        while "fill" not in events:
            try:
                frame = json.loads(ws.recv(timeout=STREAM_TIMEOUT))
            except TimeoutError:
                stack.fail(f"no fill on /stream within {STREAM_TIMEOUT:.0f} s of the order; events seen for it: "
                           f"{events} (order now {trader.orders()[placed.order_id]['status']})")
            data = frame.get("data", {})
            if frame.get("stream") == "trade_updates" and data["order"]["id"] == placed.order_id:
                events.append(data["event"])
        assert events[-1] == "fill" and Decimal(data["qty"]) == 1, data


# --- kill -9 in the middle of a burst --------------------------------------------------------------
def bridge_role(stack: Stack) -> str:
    """The process the FIX bridge runs in: its own role, or (embedded mode) the web process."""
    return "fixbridge" if "fixbridge" in stack.pids() else "web"


def outage_refusals(stack: Stack, role: str) -> frozenset:
    """What a user may be told, and act on by trying again, while `role` is down: no venue session
    is up (the venues, or the bridge that holds the sessions), no market price (the feed; in
    embedded mode it runs in the web process). Nothing else."""
    hosts = {role} | ({"bridge", "feed"} if role == "web" and stack.mode == "embedded" else set())
    if role == "fixbridge":
        hosts.add("bridge")
    return frozenset({"venue_unavailable"} if hosts & {"venues", "bridge"} else set()) | frozenset(
        {"price_unavailable"} if "feed" in hosts else set())


def kill_mid_burst(stack: Stack, trader: Trader, probe: Trader, role: str, *, before: int = 4,
                   during: int = 8, after: int = 4) -> None:
    """Orders sent before, while and after a role is killed (SIGKILL: no chance to clean up). The
    supervisor starts the role again; every order ends final or resting, fills are applied once,
    positions equal fills, the ledger and the audit chains verify, and new orders fill."""
    symbols = iter(SYMBOLS * 100)
    placed = [trader.place(market(next(symbols))) for _ in range(before)]
    mark = stack.mark()
    old_pid = stack.kill_role(role)
    restarted = rf"started {role} \(pid (?!{old_pid}\))\d+\)"
    # Keep sending: at least `during` orders, and on until the supervisor has started the role again.
    while len(placed) < before + during or (len(placed) < before + MAX_DURING and not stack.seen(restarted, mark)):
        placed.append(trader.place(market(next(symbols))))
    stack.wait_for(restarted, RESTART_TIMEOUT, since=mark, what=f"a restart of {role} after its kill -9")
    wait_trading(stack, probe)
    recovered = [trader.place(market(next(symbols))) for _ in range(after)]
    assert_all_filled(trader, recovered)

    placed += recovered
    refused = [p for p in placed if not p.accepted]
    allowed = outage_refusals(stack, role)
    assert all(p.answer.get("reason") in allowed for p in refused), f"refused around the kill of {role}: " \
                                                                  f"{refusals(placed)}"
    # Market orders: final (filled, or canceled/rejected by a venue), never left pending or open.
    orders = wait_settled(trader, [p.order_id for p in placed if p.accepted], settled_states=FINAL)
    if role != "venues":
        # Only a venue that went away may reject what it had not yet taken; an order the broker
        # accepted is never rejected because its own bridge or web process restarted.
        rejected = [f"{o['symbol']}: {o.get('reject_reason')}" for o in orders.values() if o["status"] == "rejected"]
        assert not rejected, f"orders rejected around the kill of {role}: {rejected}"
    check_books(trader)
    verified = stack.verify()
    for command, done in verified.items():
        assert done.returncode == 0, f"manage.py {command} after the kill of {role}:\n{done.stdout}"


# --- a full restart ------------------------------------------------------------------------------
def full_restart(stack: Stack, traders: list[Trader], probe: Trader) -> None:
    """SIGTERM the launcher (Ctrl-C), start it again on the same database: every order and position
    as it was, and new orders fill."""
    before = {t.username: (t.orders(), t.positions()) for t in traders}
    assert stack.stop() == 0, "the launcher's exit code after SIGTERM"
    stack.start()
    wait_trading(stack, probe)
    for t in traders:
        orders, positions = t.orders(), t.positions()
        then_orders, then_positions = before[t.username]
        # Final orders stay exactly as they were; one still open before (left by a failed journey)
        # may move on after the restart, and with it its position.
        changed = {i: (o["status"], o["filled_qty"], orders.get(i, {}).get("status"),
                       orders.get(i, {}).get("filled_qty")) for i, o in then_orders.items()
                   if o["status"] in FINAL and (o["status"], o["filled_qty"]) != (
                       orders.get(i, {}).get("status"), orders.get(i, {}).get("filled_qty"))}
        assert not changed, f"{t.username}: orders changed by the restart (before, after): {changed}"
        if all(o["status"] in FINAL for o in then_orders.values()):
            assert positions == then_positions, f"{t.username}: positions {then_positions} became {positions}"
    for t in traders:
        assert_all_filled(t, [t.place(market(symbol)) for symbol in SYMBOLS[:3]])
        check_books(t)
    for command, done in stack.verify().items():
        assert done.returncode == 0, f"manage.py {command} after the restart:\n{done.stdout}"
