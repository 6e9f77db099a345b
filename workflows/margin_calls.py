"""Margin calls: issue, meet, liquidate. Every step is one durable transaction under the account
lock, audited in it; notifications and pushes go out after commit. A workflow across accounts
(the status), portfolio (the MarginCall rows, through portfolio.margin) and orders (liquidation
places orders): each table is written through its owner's functions.

Requirements (FINRA Rule 4210 maintenance, house rules stricter; the arithmetic is risk.margin's):
each position needs |qty| x price x rate, rate = max(TRADEX_MAINTENANCE, SymbolMargin.maintenance
for the symbol). Equity = cash + long market value + short market value (negative). A position
whose price is missing is marked at its average entry price (risk.margin's rule). A margin
account whose equity is below its requirement gets a margin call:

1. issued (MarginCall row, status open, due at now + TRADEX_MARGIN_CALL_DEADLINE_SECONDS); the
   account is RESTRICTED (closing trades only: risk.checks.account_status); the customer is
   notified (portfolio.notifications) and the account's stream gets the call.
2. met when equity is back at or above the requirement (a deposit, prices, closing trades): the
   call is closed and the account's status restored.
3. liquidated when the deadline passes unmet, or at once when equity falls below
   TRADEX_MARGIN_LIQUIDATION_LEVEL x requirement (the second threshold): market orders through the
   normal order path (orders.services.order_place), chosen by `liquidation_plan`.

Liquidation policy (`liquidation_plan`): positions in order of the requirement they carry, largest
first (ties by symbol); from each, the fewest whole shares whose requirement covers what is still
missing. Selling a long or covering a short at the mark leaves equity unchanged and lowers the
requirement by price x rate per share, so shares = ceil(deficit / (price x rate)), capped at the
shares not promised to other orders. Nothing more is sold than restores the requirement at the
marks the plan used; slippage that leaves a deficit is met by the next round (a liquidating call
whose orders are all done and that is still short is planned again).

Who drives it: the margin monitor (portfolio.monitor, built by `feed_listener` with `margin_event`
and `margin_calls_enforce`) on price moves, and the Celery beat job (workflows.tasks) for deadlines.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.house import is_house
from accounts.locks import lock_account
from accounts.models import Account
from accounts.services import account_update
from compliance.services import audit_record
from core.api import dec_str
from core.errors import TradeXError
from core.realtime import publisher
from marketdata.groups import account_group
from marketdata.selectors import last_prices
from orders.models import Order
from orders.services import order_place
from orders.state import OPEN_STATUSES
from portfolio.locks import lock_positions
from portfolio.margin import (
    OPEN_CALL,
    house_rates,
    margin_call_issue,
    margin_call_legs_set,
    margin_call_plan,
    margin_call_resolve,
    open_margin_call,
)
from portfolio.models import MarginCall, Position
from portfolio.monitor import PortfolioMonitor
from portfolio.notifications import notify
from portfolio.push import account_message
from risk.margin import MarginFigures, maintenance_rate, margin_figures, marks

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Liquidation:
    symbol: str
    side: str  # sell (a long) or buy (cover a short)
    qty: Decimal


def liquidation_plan(positions: dict[str, tuple[Decimal, Decimal]], prices: dict[str, Decimal],
                     rates: dict[str, Decimal], deficit: Decimal) -> list[Liquidation]:
    """Pure (but for the default rate, TRADEX_MAINTENANCE): the orders that restore the
    requirement. `positions` maps symbol -> (signed qty, shares available to close). See the
    module docstring for the policy."""
    default = settings.TRADEX_MAINTENANCE

    def per_share(symbol):
        return prices[symbol] * maintenance_rate(symbol, rates, default)

    order = sorted(positions, key=lambda s: (-abs(positions[s][0]) * per_share(s), s))
    plan, missing = [], deficit
    for symbol in order:
        if missing <= 0:
            break
        qty, available = positions[symbol]
        freed = per_share(symbol)
        if available <= 0 or freed <= 0:
            continue
        shares = min((missing / freed).to_integral_value(rounding=ROUND_CEILING), available)
        if shares <= 0:
            continue
        missing -= shares * freed
        plan.append(Liquidation(symbol, "sell" if qty > 0 else "buy", shares))
    return plan


def _locked_figures(account: Account, prices: dict[str, Decimal], rates):
    positions = {s: p for s, p in lock_positions(account).items() if p.qty}
    marked = marks({s: p.avg_entry_price for s, p in positions.items()}, prices)
    figures = margin_figures(account.cash, {s: p.qty for s, p in positions.items()}, marked, rates,
                             maintenance=settings.TRADEX_MAINTENANCE)
    return positions, marked, figures


def _call_json(call: MarginCall) -> dict:
    return {"id": call.pk, "status": call.status, "issued_at": call.issued_at.isoformat(),
            "due_at": call.due_at.isoformat(), "equity": dec_str(call.equity), "requirement": dec_str(call.requirement),
            "deficit": dec_str(call.deficit), "liquidation": call.liquidation}


def _after_commit(account: Account, call: MarginCall, subject: str, body: str) -> None:
    data = _call_json(call)
    user_id, account_id = account.user_id, account.pk

    def run():
        notify(user_id=user_id, kind=f"margin_call.{call.status}", subject=subject, body=body, data=data)
        publisher.send(account_group(account_id), account_message({"id": str(account_id), "margin_call": data}))

    transaction.on_commit(run)


def _set_status(account: Account, status: str, actor: str) -> Account:
    """Through accounts' own service (it owns the row); returns the re-locked account, whose audit
    chain head is current for the events that follow."""
    return account_update(account_id=account.pk, actor=actor, changes={"status": status})


def _resolve(account: Account, call: MarginCall, figures: MarginFigures, actor: str) -> MarginCall:
    """Close a call whose requirement is met again; restore the status the call took away."""
    call = margin_call_resolve(call)
    if account.status == Account.Status.RESTRICTED and call.prior_status != Account.Status.RESTRICTED:
        account = _set_status(account, call.prior_status, actor)
    audit_record(account=account, actor=actor, action=f"margin_call.{call.status}", entity_type="margin_call",
                 entity_id=call.pk, data={"equity": figures.equity, "requirement": figures.requirement})
    _after_commit(account, call, "Margin call resolved",
                  f"Your margin call is {call.status}: equity {figures.equity}, requirement {figures.requirement}.")
    return call


@transaction.atomic(durable=True)
def margin_evaluate(*, account_id, prices: dict[str, Decimal], actor: str = "margin_monitor") -> MarginCall | None:
    """Issue a margin call if the account is below its requirement at `prices` (and has none
    open), or resolve its open call if it is back above. Re-checked under the account lock from
    the rows themselves: the monitor's in-memory view only says which accounts to look at.
    Returns the call issued or resolved, or None when nothing changed."""
    account = lock_account(account_id)
    if not account.is_margin or is_house(account):
        return None  # the fractional desk's inventory is the house's risk (accounts/house.py)
    rates = house_rates()
    positions, marked, figures = _locked_figures(account, prices, rates)
    call = open_margin_call(account.pk)
    if call is not None:
        if figures.equity >= figures.requirement:
            return _resolve(account, call, figures, actor)
        return None
    if figures.equity >= figures.requirement:
        return None
    now = timezone.now()
    call = margin_call_issue(account=account, figures=figures, marks=marked, now=now,
                             due_at=now + timedelta(seconds=settings.TRADEX_MARGIN_CALL_DEADLINE_SECONDS))
    audit_record(account=account, actor=actor, action="margin_call.issued", entity_type="margin_call", entity_id=call.pk,
                 data={"equity": figures.equity, "requirement": figures.requirement, "deficit": figures.deficit,
                       "due_at": call.due_at.isoformat(), "prices": call.prices})
    if account.status == Account.Status.ACTIVE:
        account = _set_status(account, Account.Status.RESTRICTED, actor)
    _after_commit(account, call, "Margin call",
                  f"Your account's equity {figures.equity} is below its maintenance requirement "
                  f"{figures.requirement}. Deposit {figures.deficit} or close positions by {call.due_at:%Y-%m-%d %H:%M} UTC; "
                  "after that, positions will be liquidated. Until then the account may only close positions.")
    return call


def _needs_liquidation(call: MarginCall, figures: MarginFigures, now) -> bool:
    if figures.equity >= figures.requirement:
        return False
    return call.due_at <= now or figures.equity < figures.requirement * settings.TRADEX_MARGIN_LIQUIDATION_LEVEL


@transaction.atomic(durable=True)
def _liquidation_start(*, call_id, prices, actor: str, now) -> tuple[MarginCall, list[Liquidation]] | None:
    account_id = MarginCall.objects.filter(pk=call_id).values_list("account_id", flat=True).first()
    account = lock_account(account_id)
    call = MarginCall.objects.get(pk=call_id)
    if call.status not in OPEN_CALL:
        return None
    rates = house_rates()
    positions, marked, figures = _locked_figures(account, prices, rates)
    if figures.equity >= figures.requirement:
        _resolve(account, call, figures, actor)
        return None
    if not _needs_liquidation(call, figures, now):
        return None
    if call.status == MarginCall.Status.LIQUIDATING and _liquidation_working(call):
        return None  # orders of the previous round are still working
    available = {s: (p.qty, p.qty - p.held_qty if p.qty > 0 else -p.qty) for s, p in positions.items()}
    plan = liquidation_plan(available, marked, rates, figures.deficit)
    round_no = 1 + max((leg.get("round", 0) for leg in call.liquidation), default=0)
    call = margin_call_plan(call, [{"round": round_no, "symbol": leg.symbol, "side": leg.side,
                                    "qty": dec_str(leg.qty), "order_id": None} for leg in plan])
    audit_record(account=account, actor=actor, action="margin_call.liquidation_planned", entity_type="margin_call",
                 entity_id=call.pk, data={"round": round_no, "equity": figures.equity,
                                          "requirement": figures.requirement, "deficit": figures.deficit,
                                          "prices": {s: marked[s] for s in positions},
                                          "plan": [{"symbol": p.symbol, "side": p.side, "qty": p.qty} for p in plan]})
    return call, plan


def _liquidation_working(call: MarginCall) -> bool:
    ids = [leg["order_id"] for leg in call.liquidation if leg.get("order_id")]
    return Order.objects.filter(pk__in=ids, status__in=OPEN_STATUSES).exists()


@transaction.atomic(durable=True)
def _liquidation_record(*, call_id, placed: dict, errors: dict, actor: str) -> MarginCall:
    account_id = MarginCall.objects.filter(pk=call_id).values_list("account_id", flat=True).first()
    account = lock_account(account_id)
    call = MarginCall.objects.get(pk=call_id)
    legs = []
    for leg in call.liquidation:
        key = (leg["round"], leg["symbol"])
        if leg.get("order_id") is None and key in placed:
            leg = {**leg, "order_id": placed[key]}
        if key in errors:
            leg = {**leg, "error": errors[key]}
        legs.append(leg)
    call = margin_call_legs_set(call, legs)
    audit_record(account=account, actor=actor, action="margin_call.liquidation_sent", entity_type="margin_call",
                 entity_id=call.pk, data={"orders": {f"{r}:{s}": o for (r, s), o in placed.items()},
                                          "errors": {f"{r}:{s}": e for (r, s), e in errors.items()}})
    _after_commit(account, call, "Positions liquidated",
                  "Your margin call was not met by its deadline: positions are being sold to restore the "
                  "maintenance requirement.")
    return call


def margin_call_liquidate(*, call_id, actor: str = "margin_desk", now=None) -> MarginCall | None:
    """Liquidate a call that is due (or past the second threshold): plan under the lock, then one
    market order per leg through order_place (its own transaction, risk checks included: a
    restricted account may close positions), then record the orders. Safe to run twice: each
    order's client_order_id names the call, round and symbol, so a retry returns the first order."""
    account_id = MarginCall.objects.filter(pk=call_id).values_list("account_id", flat=True).first()
    if account_id is None:
        return None
    symbols = Position.objects.filter(account_id=account_id).exclude(qty=0).values_list("symbol", flat=True)
    prices = last_prices(symbols)  # before the lock
    started = _liquidation_start(call_id=call_id, prices=prices, actor=actor, now=now or timezone.now())
    if started is None:
        return MarginCall.objects.get(pk=call_id)
    call, plan = started
    round_no = call.liquidation[-1]["round"] if call.liquidation else 1
    placed, errors = {}, {}
    for leg in plan:
        try:
            order = order_place(account_id=account_id, actor=actor, client_order_id=f"mc-{call.pk}-{round_no}-{leg.symbol}",
                                symbol=leg.symbol, side=leg.side, qty=str(leg.qty), order_type="market",
                                time_in_force="day")
            placed[(round_no, leg.symbol)] = str(order.pk)
        except TradeXError as exc:
            log.error("liquidation order %s %s %s for margin call %s refused: %s", leg.side, leg.qty, leg.symbol,
                      call.pk, exc)
            errors[(round_no, leg.symbol)] = getattr(exc, "reason", str(exc))
    return _liquidation_record(call_id=call.pk, placed=placed, errors=errors, actor=actor)


def margin_calls_enforce(*, now=None) -> list:
    """Beat job (and the monitor's worker): liquidate every open call that is due. Returns the
    calls acted on."""
    now = now or timezone.now()
    ids = list(MarginCall.objects.filter(status__in=OPEN_CALL).values_list("pk", flat=True).order_by("pk"))
    return [margin_call_liquidate(call_id=i, now=now) for i in ids]


# --- the margin monitor's side of it ----------------------------------------------------------

def margin_event(account_id, prices: dict[str, Decimal], deep: bool) -> None:
    """The monitor saw the account cross its requirement at `prices` (its marks): issue or resolve
    the call; below the second threshold, liquidate at once."""
    margin_evaluate(account_id=account_id, prices=prices)
    if deep:
        call = open_margin_call(account_id)
        if call is not None:
            margin_call_liquidate(call_id=call.pk)


def margin_monitor(**kwargs) -> PortfolioMonitor:
    """A portfolio monitor that drives margin calls (kwargs: PortfolioMonitor's)."""
    return PortfolioMonitor(on_margin_event=margin_event, enforce=margin_calls_enforce, **kwargs)


def feed_listener() -> PortfolioMonitor:
    """The feed's listener (settings.TRADEX_FEED_LISTENERS): loaded, its worker thread started."""
    monitor = margin_monitor(threaded=True)
    monitor.load()
    return monitor.start()
