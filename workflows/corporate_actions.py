"""Corporate actions: splits (positions, open orders, pending obligations; cash in lieu of
fractions) and cash dividends (holders at the ex date, paid through the ledger on the pay date).

A workflow over the apps it drives, each writing its own rows: the actions and their per-account
applications and the pending obligations through settlement.services, open orders through
orders.services.order_adjustments, positions and tax lots through portfolio.services, cash
through accounts.services.ledger_post.

The job (`corporate_actions_run`, daily beat, before the open) is safe to run any number of times:
each account's part is one durable transaction under its locks that also writes the account's
CorporateActionApplication row, unique per (action, account); a rerun, or a run after a crash
half-way through the accounts, finds the row and skips that account. An action is marked applied
once every account is done. Audited per account and per action.
"""
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.locks import lock_account
from accounts.models import JournalEntry, JournalLeg
from accounts.services import ledger_post
from compliance.services import audit_record
from core.values import money
from marketdata.models import Asset
from orders.locks import lock_orders
from orders.models import Order
from orders.services.order_adjustments import open_orders_apply_split
from orders.state import OPEN_STATUSES
from portfolio.locks import lock_positions
from portfolio.models import Position, TaxLot
from portfolio.services import (
    lots_take_fraction,
    position_apply_split,
    position_realize,
)
from settlement import services as settlement_services
from settlement.models import CorporateAction, CorporateActionApplication

Book = JournalLeg.Book
ZERO = Decimal(0)
ACTOR = "corporate_actions"


def corporate_actions_run(*, today: date) -> dict:
    """Apply every split effective by today, record dividend holders from their ex date, pay
    dividends due by today. Returns counts for the job's run record."""
    done = {"splits": 0, "entitled": 0, "paid": 0}
    for action in CorporateAction.objects.filter(kind=CorporateAction.Kind.SPLIT, status=CorporateAction.Status.PENDING,
                                                 ex_date__lte=today).order_by("ex_date", "pk"):
        done["splits"] += split_apply(action_id=action.pk)
    for action in CorporateAction.objects.filter(kind=CorporateAction.Kind.DIVIDEND,
                                                 status=CorporateAction.Status.PENDING, ex_date__lte=today):
        done["entitled"] += dividend_entitle(action_id=action.pk)
    for action in CorporateAction.objects.filter(kind=CorporateAction.Kind.DIVIDEND,
                                                 status=CorporateAction.Status.ENTITLED, pay_date__lte=today):
        done["paid"] += dividend_pay(action_id=action.pk)
    return done


def _holders(symbol: str):
    return list(Position.objects.filter(symbol=symbol).filter(~Q(qty=0)).values_list("account_id", flat=True)
                .order_by("account_id"))


def _open_order_ids(account_id, symbol: str):
    return list(Order.objects.filter(account_id=account_id, symbol=symbol, status__in=sorted(OPEN_STATUSES))
                .values_list("pk", flat=True))


# ---------------------------------------------------------------- splits


def split_apply(*, action_id) -> int:
    """Every account holding the symbol or with open orders in it; returns accounts adjusted now."""
    action = CorporateAction.objects.get(pk=action_id)
    accounts = set(_holders(action.symbol)) | set(
        Order.objects.filter(symbol=action.symbol, status__in=sorted(OPEN_STATUSES)).values_list("account_id", flat=True))
    adjusted = sum(_split_account(action_id=action.pk, account_id=a) for a in sorted(accounts))
    _action_finish(action.pk, detail={"accounts": len(accounts)})
    return adjusted


@transaction.atomic(durable=True)
def _split_account(*, action_id, account_id) -> bool:
    action = CorporateAction.objects.get(pk=action_id)
    account = lock_account(account_id)
    if CorporateActionApplication.objects.filter(action=action, account_id=account_id).exists():
        return False  # done by an earlier run
    position = lock_positions(account, [action.symbol]).get(action.symbol)
    orders = list(lock_orders(account, _open_order_ids(account_id, action.symbol)).values())
    asset = Asset.objects.get(symbol=action.symbol)
    whole = not asset.fractionable
    new, old = action.new_shares, action.old_shares
    changed = open_orders_apply_split(account=account, orders=orders, new_shares=new, old_shares=old,
                                      whole_shares=whole, actor=ACTOR)
    cash, entry, before, after = ZERO, None, ZERO, ZERO
    if position is not None:
        held = sum((o.reserved_qty for o in orders if o.side == "sell"), ZERO)
        effect = position_apply_split(position=position, new_shares=new, old_shares=old, whole_shares=whole,
                                      held_qty=min(held, max(position.qty * new / old, ZERO)))
        before, after = effect.qty_before, effect.qty_after
        if effect.fraction > 0:
            # Cash in lieu at the post-split value of the last price (the agent's price in practice).
            price = (asset.last_price or position.avg_entry_price) * Decimal(old) / Decimal(new)
            cash = money(effect.fraction * price)
            entry = ledger_post(account=account, kind=JournalEntry.Kind.DIVIDEND, reference=f"ca:{action.pk}",
                                description=f"cash in lieu of {effect.fraction} {action.symbol} ({new}-for-{old} split)",
                                legs=[(Book.CUSTOMER_SETTLED, cash), (Book.FIRM_BANK, -cash)])
            # the fraction leaves the newest tax lots at the cash-in-lieu price (1099-B rows)
            lots_realized = lots_take_fraction(position=position, qty=effect.fraction, price=price,
                                               at=timezone.now())
            position_realize(position=position, amount=lots_realized if TaxLot.objects.filter(
                position=position).exists() else cash - effect.fraction * effect.basis_per_share)
    # Unsettled trades settle in post-split shares (their cash does not change).
    settlement_services.obligations_apply_split(account_id=account_id, symbol=action.symbol, new_shares=new,
                                                old_shares=old)
    settlement_services.split_application_create(action=action, account_id=account_id, qty_before=before,
                                                 qty_after=after, cash=cash, entry=entry, orders_adjusted=changed)
    audit_record(account=account, actor=ACTOR, action="corporate_action.split_applied", entity_type="corporate_action",
                 entity_id=action.pk, data={"symbol": action.symbol, "ratio": f"{new}:{old}", "qty_before": before,
                                            "qty_after": after, "cash_in_lieu": cash, "orders_adjusted": changed})
    return True


# ---------------------------------------------------------------- dividends


@transaction.atomic(durable=True)
def dividend_entitle(*, action_id) -> int:
    """Record each holder's shares as of the ex date (the job runs before the open): one row per
    account with the dividend it will receive (a short position owes it). Once."""
    action = settlement_services.corporate_action_lock(action_id)
    if action.status != CorporateAction.Status.PENDING:
        return 0
    holdings = list(Position.objects.filter(symbol=action.symbol).filter(~Q(qty=0)).values_list("account_id", "qty"))
    rows = settlement_services.dividend_entitlements_create(action=action, holdings=holdings)
    audit_record(account_id=None, actor=ACTOR, action="corporate_action.dividend_entitled",
                 entity_type="corporate_action", entity_id=action.pk,
                 data={"symbol": action.symbol, "holders": len(rows), "total": money(sum((r.cash for r in rows), ZERO))})
    return len(rows)


def dividend_pay(*, action_id) -> int:
    unpaid = CorporateActionApplication.objects.filter(action_id=action_id, applied_at__isnull=True).values_list(
        "account_id", flat=True).order_by("account_id")
    paid = sum(_dividend_pay_account(action_id=action_id, account_id=a) for a in list(unpaid))
    _action_finish(action_id, detail={"paid": paid})
    return paid


@transaction.atomic(durable=True)
def _dividend_pay_account(*, action_id, account_id) -> bool:
    account = lock_account(account_id)
    share = settlement_services.dividend_share_lock(action_id=action_id, account_id=account_id)
    if share.applied_at is not None:
        return False  # paid by an earlier run
    action = share.action
    entry = share.entry
    if share.cash:
        entry = ledger_post(account=account, kind=JournalEntry.Kind.DIVIDEND, reference=f"ca:{action.pk}",
                            description=f"{action.symbol} dividend {action.cash_per_share}/share on {share.qty_before}",
                            legs=[(Book.CUSTOMER_SETTLED, share.cash), (Book.FIRM_BANK, -share.cash)])
    settlement_services.dividend_share_paid(share=share, entry=entry)
    audit_record(account=account, actor=ACTOR, action="corporate_action.dividend_paid", entity_type="corporate_action",
                 entity_id=action.pk, data={"symbol": action.symbol, "qty": share.qty_before, "amount": share.cash})
    return True


@transaction.atomic(durable=True)
def _action_finish(action_id, *, detail: dict) -> None:
    action = settlement_services.corporate_action_lock(action_id)
    if action.status == CorporateAction.Status.APPLIED:
        return
    if action.kind == CorporateAction.Kind.DIVIDEND and action.applications.filter(applied_at__isnull=True).exists():
        return
    settlement_services.corporate_action_applied(action=action)
    audit_record(account_id=None, actor=ACTOR, action="corporate_action.applied", entity_type="corporate_action",
                 entity_id=action.pk, data={"kind": action.kind, "symbol": action.symbol, **detail})
