"""Tax lots over the API (TradeX extensions): open lots of a position, choosing the lots a sell
order closes, and the year-end realized report with wash sales flagged."""
from decimal import Decimal

from marketdata.selectors import last_price_set
from orders.services import execution_apply, order_place
from portfolio.models import LotSelection
from tests.api.conftest import Trader

from .conftest import day, trade

D = Decimal


def test_choose_lots_for_a_sell_and_read_the_realized_report(db, aapl):
    alice, bob = Trader(cash="100000", account_type="margin"), Trader(cash="100000")
    trade(alice.account, "buy", 10, "100", at=day(0))
    trade(alice.account, "buy", 10, "90", at=day(1))
    lots = alice.client.get("/v2/positions/AAPL/lots").json()
    assert [(lot["remaining_qty"], lot["price"], lot["cost_basis"]) for lot in lots] == [("10", "100", "1000"),
                                                                                          ("10", "90", "900")]
    assert bob.client.get("/v2/positions/AAPL/lots").json() == []
    last_price_set("AAPL", D("95"))
    sell = order_place(account_id=alice.account.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                       time_in_force="day", qty="10", limit_price="95")
    # Bob cannot touch Alice's order; bad ids are refused and change nothing.
    assert bob.client.put(f"/v2/orders/{sell.pk}/lots", {"lot_ids": [lots[1]["id"]]}, format="json").status_code == 404
    bad = alice.client.put(f"/v2/orders/{sell.pk}/lots", {"lot_ids": [999999]}, format="json")
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_lot_ids"
    assert not LotSelection.objects.exists()
    ok = alice.client.put(f"/v2/orders/{sell.pk}/lots", {"lot_ids": [lots[1]["id"]]}, format="json")
    assert ok.status_code == 200 and ok.json() == {"lot_ids": [lots[1]["id"]]}
    execution_apply(venue="TEST", exec_id="X1", order_id=sell.pk, qty="10", price="95", transacted_at=day(2))
    report = alice.client.get("/v2/account/tax_lots/realized?year=2026").json()
    assert [(r["lot_id"], r["qty"], r["realized_pl"], r["wash_sale"]) for r in report] == [(lots[1]["id"], "10", "50", False)]
    assert alice.client.get("/v2/account/tax_lots/realized?year=2025").json() == []
    assert alice.client.get("/v2/account/tax_lots/realized").status_code == 422
    assert bob.client.get("/v2/account/tax_lots/realized?year=2026").json() == []
