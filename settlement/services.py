"""Settlement: obligations created with each execution, settled in small resumable batches.

    execution_apply (orders, one transaction)
      -> obligation_create()        the obligation, its settlement date, the cash-account rules
    beat -> settlement.tasks.settle_due -> settle_due()
      -> obligations_settle_batch() one durable transaction per batch:
           claim pending due obligations   FOR UPDATE SKIP LOCKED, id order (settlement/locks.py)
           lock their accounts             SKIP LOCKED too: a busy account waits for the next batch
           ledger_post_many()              per account: customer_unsettled -> customer_settled,
                                           firm_clearing -> firm_bank (the street side is paid)
           mark the obligations settled, record the batch, one audit event
         COMMIT

A worker killed mid-batch commits nothing of it: PostgreSQL rolls the transaction back, the
claims are released and the next run settles those obligations. A committed batch marked its
obligations settled in the same transaction that moved their cash, so nothing is settled twice.

The workflows above settlement (workflows/corporate_actions.py, documents.py, reconciliation.py)
write settlement's other rows through the functions at the end of this module: corporate actions
and their per-account applications, documents, reconciliation runs and breaks.
"""
import os
import socket
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.locks import lock_account, lock_accounts_skip_locked
from accounts.models import Account, JournalEntry, JournalLeg
from accounts.services import account_status_set_locked, ledger_post_many
from compliance.services import audit_record
from core.errors import InvalidInput
from core.values import AVG_PRICE_PLACES, money, round_to
from core.vocabulary import ObligationStatus, OrderSide

from . import calendar, rules
from .locks import claim_due_obligations
from .models import (
    AccountRestriction,
    CorporateAction,
    CorporateActionApplication,
    Document,
    Obligation,
    ReconciliationBreak,
    ReconciliationRun,
    SettlementBatch,
)

Book = JournalLeg.Book
DEFAULT_BATCH_SIZE = 500
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def obligation_create(*, execution, account, position, market: str = calendar.DEFAULT_MARKET) -> Obligation:
    """The obligation of one execution, with its settlement date, and the cash-account rules
    (good faith, free riding) for it. Called by orders.services.venue_reports.execution_apply inside its
    transaction, after the fill's ledger entry and before the position moves; the caller holds
    the account and position locks (docs/architecture.md, "The lock order")."""
    value = money(execution.qty * execution.price)
    trade_date = calendar.trade_date_of(execution.transacted_at, market)
    obligation = Obligation.objects.create(
        execution=execution, account=account, symbol=execution.symbol, side=execution.side, qty=execution.qty,
        price=execution.price, amount=-value if execution.side == OrderSide.BUY else value, market=market,
        trade_date=trade_date, settle_date=calendar.settlement_date(trade_date, market))
    if not account.is_margin:
        rules.apply(obligation=obligation, account=account, position=position, execution=execution)
    return obligation


@dataclass(frozen=True)
class BatchResult:
    claimed: int
    settled: int
    batch_id: int | None = None


@transaction.atomic(durable=True)
def obligations_settle_batch(*, as_of: date, limit: int = DEFAULT_BATCH_SIZE, worker: str = WORKER) -> BatchResult:
    """Settle up to `limit` due obligations in one transaction (see the module docstring)."""
    claimed = claim_due_obligations(as_of=as_of, limit=limit)
    if not claimed:
        return BatchResult(0, 0)
    accounts = lock_accounts_skip_locked({account_id for _, account_id, _ in claimed})
    due = [row for row in claimed if row[1] in accounts]
    if not due:
        return BatchResult(len(claimed), 0)
    net: dict = {}
    for _, account_id, amount in due:
        net[account_id] = net.get(account_id, Decimal(0)) + amount
    batch = SettlementBatch.objects.create(as_of=as_of, obligations=len(due), accounts=len(net), worker=worker[:64])
    reference = f"settle-batch:{batch.pk}"
    entries = ledger_post_many(accounts=accounts, kind=JournalEntry.Kind.SETTLEMENT, entries=[
        (account_id, [(Book.CUSTOMER_UNSETTLED, -amount), (Book.CUSTOMER_SETTLED, amount),
                      (Book.FIRM_CLEARING, amount), (Book.FIRM_BANK, -amount)],
         f"settlement of trades due {as_of}", reference)
        for account_id, amount in net.items()])
    now = timezone.now()
    _mark_settled([(pk, entries[account_id].pk) for pk, account_id, _ in due], batch_id=batch.pk, at=now)
    audit_record(account_id=None, actor="settlement", action="settlement.batch_committed",
                 entity_type="settlement_batch", entity_id=batch.pk,
                 data={"as_of": as_of.isoformat(), "obligations": len(due), "accounts": len(net),
                       "net": money(sum(net.values(), Decimal(0))), "first_id": due[0][0], "last_id": due[-1][0]})
    return BatchResult(len(claimed), len(due), batch.pk)


def _mark_settled(pairs: list[tuple[int, int]], *, batch_id: int, at) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE settlement_obligation o SET status = %s, settled_at = %s, batch_id = %s, entry_id = d.e "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS d(id, e) WHERE o.id = d.id AND o.status = %s",
                [ObligationStatus.SETTLED.value, at, batch_id, [p for p, _ in pairs], [e for _, e in pairs],
                 ObligationStatus.PENDING.value])
            if cursor.rowcount != len(pairs):  # the claim holds the rows: this cannot happen
                raise RuntimeError(f"settled {cursor.rowcount} of {len(pairs)} claimed obligations")
        return
    for pk, entry_id in pairs:
        Obligation.objects.filter(pk=pk, status=Obligation.Status.PENDING).update(
            status=Obligation.Status.SETTLED, settled_at=at, batch_id=batch_id, entry_id=entry_id)


@dataclass(frozen=True)
class RunResult:
    batches: int
    settled: int
    busy: int  # claimed but left for later because their account was busy trading
    seconds: float


def settle_due(*, as_of: date | None = None, batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int | None = None,
               time_budget: float | None = None) -> RunResult:
    """Settle everything due, batch after batch, until nothing due is left (or the budget runs
    out: the next run goes on where this one stopped). Each batch is its own transaction."""
    as_of = as_of or calendar.today()
    started = time.monotonic()
    batches = settled = busy = 0
    while max_batches is None or batches < max_batches:
        result = obligations_settle_batch(as_of=as_of, limit=batch_size)
        if result.claimed == 0:
            break
        batches += 1
        settled += result.settled
        if result.settled == 0:
            busy += result.claimed
            break  # every claimed account is trading right now: the next run takes them
        if time_budget is not None and time.monotonic() - started > time_budget:
            break
    return RunResult(batches, settled, busy, time.monotonic() - started)


def restrictions_expire(*, today: date) -> int:
    """Lift the cash-account restrictions that ended before today (daily beat job): an account
    restricted by settlement goes back to ACTIVE once no restriction of its is in force. One
    transaction per account, under its lock. Returns how many accounts were lifted."""
    ended = (AccountRestriction.objects.filter(ends_on__lt=today).values_list("account_id", flat=True).distinct())
    lifted = 0
    for account_id in ended:
        lifted += _restriction_lift(account_id=account_id, today=today)
    return lifted


@transaction.atomic(durable=True)
def _restriction_lift(*, account_id, today: date) -> bool:
    account = lock_account(account_id)
    if account.status != Account.Status.RESTRICTED:
        return False
    if AccountRestriction.objects.filter(account_id=account_id, ends_on__gte=today).exists():
        return False
    return account_status_set_locked(account=account, status=Account.Status.ACTIVE, actor="settlement",
                                     reason="cash-account restriction ended")


# ---------------------------------------------------------------- corporate actions' rows
# Written for the corporate-actions workflow (workflows/corporate_actions.py), inside its
# transactions and under the account locks it holds; it audits each step.


def corporate_action_lock(action_id) -> CorporateAction:
    """The action's row, locked until the caller's transaction ends."""
    return CorporateAction.objects.select_for_update().get(pk=action_id)


def obligations_apply_split(*, account_id, symbol: str, new_shares: int, old_shares: int) -> None:
    """The account's unsettled trades in the symbol settle in post-split shares (their cash does
    not change). The caller holds the account's lock."""
    pending = Obligation.objects.filter(account_id=account_id, symbol=symbol, status=Obligation.Status.PENDING)
    for ob in pending.select_for_update(skip_locked=False):
        ob.qty = ob.qty * new_shares / old_shares
        ob.price = round_to(ob.price * old_shares / new_shares, AVG_PRICE_PLACES)
        ob.save(update_fields=["qty", "price"])


def split_application_create(*, action: CorporateAction, account_id, qty_before, qty_after, cash, entry,
                             orders_adjusted: int) -> CorporateActionApplication:
    """The row that marks a split done for one account (unique per action and account)."""
    return CorporateActionApplication.objects.create(action=action, account_id=account_id, qty_before=qty_before,
                                                     qty_after=qty_after, cash=cash, entry=entry,
                                                     orders_adjusted=orders_adjusted, applied_at=timezone.now())


def dividend_entitlements_create(*, action: CorporateAction,
                                 holdings: list[tuple]) -> list[CorporateActionApplication]:
    """One unpaid row per (account_id, shares) holding as of the ex date, with the dividend it
    will receive (a short position owes it); the action becomes ENTITLED. The caller holds the
    action's lock (corporate_action_lock)."""
    rows = [CorporateActionApplication(action=action, account_id=account_id, qty_before=qty, qty_after=qty,
                                       cash=money(qty * action.cash_per_share))
            for account_id, qty in holdings]
    CorporateActionApplication.objects.bulk_create(rows)
    action.status = CorporateAction.Status.ENTITLED
    action.save(update_fields=["status"])
    return rows


def dividend_share_lock(*, action_id, account_id) -> CorporateActionApplication:
    """One account's dividend row, locked until the caller's transaction ends."""
    return CorporateActionApplication.objects.select_for_update().get(action_id=action_id, account_id=account_id)


def dividend_share_paid(*, share: CorporateActionApplication, entry) -> None:
    """Mark the locked row paid, with the ledger entry that paid it (None for a zero amount)."""
    share.entry = entry
    share.applied_at = timezone.now()
    share.save(update_fields=["entry", "applied_at"])


def corporate_action_applied(*, action: CorporateAction) -> None:
    """Mark the locked action applied (every account done)."""
    action.status = CorporateAction.Status.APPLIED
    action.applied_at = timezone.now()
    action.save(update_fields=["status", "applied_at"])


# ---------------------------------------------------------------- documents' rows


def documents_store(rows: list[dict]) -> int:
    """Insert Document rows (field dicts), skipping any a concurrent run made first (unique per
    account, kind, period and format); returns how many were inserted. Called by the document
    generators (workflows/documents.py)."""
    docs = [Document(**row) for row in rows]
    with transaction.atomic():
        made = Document.objects.bulk_create(docs, ignore_conflicts=True)
    return len(made)


# ---------------------------------------------------------------- reconciliation's rows


def reconciliation_run_record(*, venue: str, trade_date: date, result: str, broker_executions: int, source: str,
                              venue_executions: int = 0, breaks: list[dict] = ()) -> ReconciliationRun:
    """One reconciliation run of a venue's trade date and its breaks (field dicts), written by
    the reconciliation workflow (workflows/reconciliation.py) inside its transaction."""
    run = ReconciliationRun.objects.create(venue=venue, trade_date=trade_date, result=result,
                                           venue_executions=venue_executions, broker_executions=broker_executions,
                                           breaks=len(breaks), source=source)
    ReconciliationBreak.objects.bulk_create([ReconciliationBreak(run=run, venue=venue, **b) for b in breaks])
    return run


@transaction.atomic
def break_resolve(*, break_id: int, actor: str, resolution: str) -> ReconciliationBreak:
    """Staff close a break with what they did about it (a correction goes through its own service)."""
    if not resolution.strip():
        raise InvalidInput("missing_resolution", "say how the break was resolved")
    row = ReconciliationBreak.objects.select_for_update().get(pk=break_id)
    if row.status == ReconciliationBreak.Status.RESOLVED:
        return row
    row.status, row.resolved_by, row.resolution, row.resolved_at = (
        ReconciliationBreak.Status.RESOLVED, actor[:150], resolution[:300], timezone.now())
    row.save(update_fields=["status", "resolved_by", "resolution", "resolved_at"])
    audit_record(account_id=None, actor=actor, action="reconciliation.break_resolved", entity_type="reconciliation_break",
                 entity_id=row.pk, data={"kind": row.kind, "exec_id": row.exec_id, "resolution": resolution})
    return row
