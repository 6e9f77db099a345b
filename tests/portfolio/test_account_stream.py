"""Live P&L without polling: a client of /stream listening to `account_updates` (TradeX
extension) gets a snapshot once, then the account after each fill and, conflated, as prices move,
through the whole ASGI stack on the real Redis channel layer."""
import time
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from marketdata.selectors import last_price_set
from portfolio.monitor import PortfolioMonitor
from tests.api.conftest import Trader
from tests.api.test_trade_stream import auth_frame, connect, recv, run, send

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


async def account_listener(trader: Trader, streams=("trade_updates", "account_updates")):
    ws = await connect()
    await send(ws, auth_frame(trader))
    assert (await recv(ws))["data"]["status"] == "authorized"
    await send(ws, {"action": "listen", "data": {"streams": list(streams)}})
    reply = await recv(ws)
    assert reply["stream"] == "listening" and set(reply["data"]["streams"]) == set(streams)
    snapshot = await recv(ws)
    assert snapshot["stream"] == "account_updates" and snapshot["data"]["snapshot"] is True
    return ws, snapshot["data"]


async def next_account_update(ws) -> dict:
    """The next account_updates frame (trade_updates frames in between are skipped)."""
    while True:
        frame = await recv(ws)
        if frame["stream"] == "account_updates":
            return frame["data"]


def test_snapshot_then_the_account_after_a_fill(aapl):
    trader = Trader(cash="10000")

    async def scenario():
        ws, snapshot = await account_listener(trader)
        assert snapshot["equity"] == "10000" and snapshot["positions"] == []
        await sync_to_async(trader.buy_filled)(qty="10", price="100")
        update = await next_account_update(ws)
        assert update["snapshot"] is False
        assert [(p["symbol"], p["qty"], p["avg_entry_price"]) for p in update["positions"]] == [("AAPL", "10", "100")]
        assert update["cash"] == "9000" and update["equity"] == "10000"

    run(scenario)


def test_price_moves_are_pushed_and_conflated(aapl):
    trader = Trader(cash="10000", account_type="margin")
    trader.buy_filled(qty="10", price="100")
    last_price_set("AAPL", D("100"))

    async def scenario():
        ws, snapshot = await account_listener(trader, streams=("account_updates",))
        assert snapshot["long_market_value"] == "1000"
        monitor = PortfolioMonitor(push_per_second=2)
        await sync_to_async(monitor.load)()  # sees the listening connection
        assert trader.account.pk in monitor.watched
        monitor.on_prices({"AAPL": D("110")})
        first = await next_account_update(ws)
        assert (first["equity"], first["long_market_value"], first["unrealized_pl"]) == ("10100", "1100", "100")
        # Two more moves within the push interval: held back, then sent once with the latest figures.
        monitor.on_prices({"AAPL": D("111")})
        monitor.on_prices({"AAPL": D("112")})
        assert monitor.pending_push == {trader.account.pk}
        assert monitor.flush_pushes(now=time.monotonic() + 1) == 1
        second = await next_account_update(ws)
        assert (second["equity"], second["long_market_value"]) == ("10120", "1120")
        assert await ws.receive_nothing(timeout=0.2)
        assert monitor.stats["pushes"] == 2

    run(scenario)


def test_unlisten_ends_account_updates_and_the_watch(aapl):
    from portfolio.push import watched_accounts

    trader = Trader(cash="10000")

    async def scenario():
        ws, _ = await account_listener(trader, streams=("account_updates",))
        assert str(trader.account.pk) in await sync_to_async(watched_accounts)()
        await send(ws, {"action": "listen", "data": {"streams": ["trade_updates"]}})
        assert (await recv(ws))["data"]["streams"] == ["trade_updates"]
        assert str(trader.account.pk) not in await sync_to_async(watched_accounts)()
        await sync_to_async(trader.buy_filled)(qty="1", price="100")
        frames = [await recv(ws) for _ in range(2)]  # pending_new, fill: and no account update
        assert [(f["stream"], f["data"]["event"]) for f in frames] == [("trade_updates", "pending_new"),
                                                                       ("trade_updates", "fill")]
        assert await ws.receive_nothing(timeout=0.2)

    run(scenario)


def test_a_fill_of_an_account_nobody_watches_reads_no_snapshot(aapl, monkeypatch):
    from portfolio import push

    reads = []
    monkeypatch.setattr(push, "account_payload", lambda account_id, **kw: reads.append(account_id) or {})
    trader = Trader(cash="10000")
    trader.buy_filled(qty="1", price="100")  # committed: the on_commit hook ran and found no listener
    assert reads == []
    push.watch_add(trader.account.pk, "test-channel")
    try:
        trader.buy_filled(qty="1", price="100")
        assert reads == [trader.account.pk]
    finally:
        push.watch_remove(trader.account.pk, "test-channel")
    assert not push.is_watched(trader.account.pk)


def test_a_refused_listen_joins_nothing(aapl):
    trader = Trader(cash="10000")

    async def scenario():
        ws = await connect()
        await send(ws, auth_frame(trader))
        await recv(ws)
        await send(ws, {"action": "listen", "data": {"streams": ["trade_updates", "account_updates"],
                                                     "resume_after": 99}})
        reply = await recv(ws)
        assert reply["data"]["code"] == "resume_after_ahead"
        await sync_to_async(trader.buy_filled)(qty="1", price="100")
        assert await ws.receive_nothing(timeout=0.3)

    run(scenario)
