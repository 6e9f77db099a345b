"""Margin: the house's per-symbol rates and the margin-call rows.

What a margin call is and how it moves (issued, met, liquidated) is a workflow across accounts,
portfolio and orders (workflows.margin_calls); the arithmetic is risk.margin's. Portfolio keeps
what it owns: the rates (SymbolMargin; read for order entry through a per-process cache) and the
writes of the MarginCall table, called inside the workflow's transactions under the account lock.
"""
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import Account
from core.api import dec_str
from core.ttl_cache import TTLCache
from risk.margin import MarginFigures

from .models import MarginCall, SymbolMargin

OPEN_CALL = (MarginCall.Status.OPEN, MarginCall.Status.LIQUIDATING)


def house_rates() -> dict[str, Decimal]:
    """Per-symbol maintenance rates stricter than the house default."""
    default = settings.TRADEX_MAINTENANCE
    return {s: r for s, r in SymbolMargin.objects.values_list("symbol", "maintenance") if r > default}


# House rates for order entry, per process. Staff change them rarely; like the asset rows
# (marketdata.selectors.ASSET_CACHE_SECONDS), a second's delay saves a query per order.
HOUSE_RATES_CACHE_SECONDS = 1.0
_house_rates = TTLCache(HOUSE_RATES_CACHE_SECONDS)


def house_rates_for_orders() -> dict[str, Decimal]:
    return _house_rates.get_or_load("rates", house_rates)


def house_rates_cache_clear() -> None:
    _house_rates.clear()


# --- the MarginCall rows (the caller holds the account lock, in its transaction) ----------------

def open_margin_call(account_id) -> MarginCall | None:
    """The account's open (or liquidating) call: at most one (a partial unique index)."""
    return MarginCall.objects.filter(account_id=account_id, status__in=OPEN_CALL).first()


def margin_call_issue(*, account: Account, figures: MarginFigures, marks: dict[str, Decimal], due_at: datetime,
                      now: datetime) -> MarginCall:
    return MarginCall.objects.create(
        account=account, issued_at=now, due_at=due_at, equity=figures.equity, requirement=figures.requirement,
        deficit=figures.deficit, prices={s: dec_str(p) for s, p in marks.items()}, prior_status=account.status)


def margin_call_resolve(call: MarginCall) -> MarginCall:
    """Met, or liquidated when liquidation orders were sent."""
    liquidated = call.status == MarginCall.Status.LIQUIDATING
    call.status = MarginCall.Status.LIQUIDATED if liquidated else MarginCall.Status.MET
    call.resolved_at = timezone.now()
    call.save(update_fields=["status", "resolved_at"])
    return call


def margin_call_plan(call: MarginCall, legs: list[dict]) -> MarginCall:
    """A liquidation round planned: the call is liquidating, its legs appended."""
    call.status = MarginCall.Status.LIQUIDATING
    call.liquidation = call.liquidation + legs
    call.save(update_fields=["status", "liquidation"])
    return call


def margin_call_legs_set(call: MarginCall, legs: list[dict]) -> MarginCall:
    """The legs with the orders placed for them (or why not)."""
    call.liquidation = legs
    call.save(update_fields=["liquidation"])
    return call
