"""Cash-account rules (Regulation T §220.8 as brokers apply it): good faith and free riding.

- A buy is paid first with settled cash not already spent on earlier unsettled buys; what it
  takes beyond that is paid with unsettled sale proceeds (`unsettled_funded`, good until the
  latest of those sales settles: `funds_settle_on`); what it takes beyond all the account's cash
  is not paid at all (`unfunded`).
- A sale takes shares first-in first-out: shares the account already held before its pending
  buys, then the pending buys in order. Selling shares of a buy paid with unsettled proceeds
  before those proceeds settle is a good-faith violation; selling shares of a buy that was not
  paid at all, while the account is still in debit, is free riding. Each buy counts once per kind.
  (Order entry already prevents most of it: buying power counts only the account's cash, and
  risk refuses orders while a cash account is in debit; a fill above the reserved price is what
  can leave a buy unpaid.)
- TRADEX_GFV_LIMIT good-faith violations within 12 months (default 3), or TRADEX_FREE_RIDING_LIMIT
  free ridings (default 1), restrict the account for TRADEX_CASH_RESTRICTION_DAYS (90) days.

While restricted, the account's status is RESTRICTED (risk's account_status check: closing trades
only), and the restriction row says until when; `restrictions_expire` (daily beat) lifts it. A
finer "settled cash only" mode needs a flag in risk's snapshot (noted in docs/settlement.md).

Called inside execution_apply's transaction, holding the account and position locks.
"""
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Max, Sum

from accounts.models import Account
from accounts.services import account_status_set_locked
from compliance.services import audit_record
from core.values import money
from core.vocabulary import OrderSide

from .models import AccountRestriction, CashRuleViolation, Obligation

ZERO = Decimal(0)
WINDOW_DAYS = 365


def gfv_limit() -> int:
    return int(getattr(settings, "TRADEX_GFV_LIMIT", 3))


def free_riding_limit() -> int:
    return int(getattr(settings, "TRADEX_FREE_RIDING_LIMIT", 1))


def restriction_days() -> int:
    return int(getattr(settings, "TRADEX_CASH_RESTRICTION_DAYS", 90))


def apply(*, obligation: Obligation, account, position, execution) -> None:
    if obligation.side == OrderSide.BUY:
        _fund_buy(obligation, account)
    else:
        _sell(obligation, account, position, execution)


def _fund_buy(buy: Obligation, account) -> None:
    """account's balance columns already include this fill (ledger_post ran first)."""
    pending = Obligation.objects.filter(account=account, status=Obligation.Status.PENDING).exclude(pk=buy.pk)
    earlier_buys = -(pending.filter(side=OrderSide.BUY).aggregate(s=Sum("amount"))["s"] or ZERO)
    cost = -buy.amount
    free_settled = max(account.settled_cash - earlier_buys, ZERO)
    beyond_settled = max(cost - free_settled, ZERO)
    unfunded = min(cost, max(-account.cash, ZERO))
    buy.unfunded = money(unfunded)
    buy.unsettled_funded = money(beyond_settled - unfunded)
    if buy.unsettled_funded > 0:
        buy.funds_settle_on = pending.filter(side=OrderSide.SELL).aggregate(d=Max("settle_date"))["d"]
    if buy.unfunded or buy.unsettled_funded:
        buy.save(update_fields=["unfunded", "unsettled_funded", "funds_settle_on"])


def _sell(sell: Obligation, account, position, execution) -> None:
    held_before = position.qty  # the position has not moved yet
    in_debit_before = account.cash - sell.amount < 0  # the ledger already holds this sale's proceeds
    buys = list(Obligation.objects.filter(account=account, symbol=sell.symbol, side=OrderSide.BUY,
                                          status=Obligation.Status.PENDING).order_by("id"))
    open_in_buys = sum((b.qty - b.sold_early_qty for b in buys), ZERO)
    to_take = sell.qty - max(held_before - open_in_buys, ZERO)  # older, paid-for shares go first
    for buy in buys:
        if to_take <= 0:
            break
        take = min(buy.qty - buy.sold_early_qty, to_take)
        if take <= 0:
            continue
        to_take -= take
        Obligation.objects.filter(pk=buy.pk).update(sold_early_qty=F("sold_early_qty") + take)
        kind = None
        if buy.unfunded > 0 and in_debit_before:  # still not paid for when sold
            kind = CashRuleViolation.Kind.FREE_RIDING
        elif buy.unsettled_funded > 0 and buy.funds_settle_on and buy.funds_settle_on > sell.trade_date:
            kind = CashRuleViolation.Kind.GOOD_FAITH
        if kind:
            _violation(account, kind, buy, execution, sell.trade_date, money(take * buy.price))


def _violation(account, kind, buy, execution, trade_date, amount) -> None:
    _, created = CashRuleViolation.objects.get_or_create(
        buy_obligation=buy, kind=kind,
        defaults={"account": account, "sell_execution": execution, "symbol": buy.symbol, "trade_date": trade_date,
                  "amount": amount, "detail": f"bought {buy.trade_date}, sold {trade_date}, funds settle "
                                              f"{buy.funds_settle_on or buy.settle_date}"})
    if not created:
        return
    since = trade_date - timedelta(days=WINDOW_DAYS)
    count = CashRuleViolation.objects.filter(account=account, kind=kind, trade_date__gt=since).count()
    audit_record(account=account, actor="settlement", action=f"cash_rule.{kind}", entity_type="account",
                 entity_id=account.pk, data={"buy_obligation": buy.pk, "sell_execution": execution.pk,
                                             "amount": amount, "count_12m": count})
    limit = gfv_limit() if kind == CashRuleViolation.Kind.GOOD_FAITH else free_riding_limit()
    active = AccountRestriction.objects.filter(account=account, ends_on__gte=trade_date).exists()
    if count >= limit and not active:
        restriction = AccountRestriction.objects.create(
            account=account, reason=kind, starts_on=trade_date, violations=count,
            ends_on=trade_date + timedelta(days=restriction_days()))
        _restrict(account, restriction)


def _restrict(account, restriction) -> None:
    if account.status == Account.Status.ACTIVE:
        account_status_set_locked(account=account, status=Account.Status.RESTRICTED, actor="settlement",
                                  reason=f"{restriction.reason} restriction until {restriction.ends_on}")
