"""Risk writes: the day-trade counter, and halts (symbol, account, everything; set by staff, by the
circuit breaker, or reported by a venue). Every halt set or lifted writes its audit event in the
same transaction (invariant 4): on the account's chain for an account halt, else on the system chain.
"""
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from accounts.locks import lock_account
from accounts.models import Account
from compliance.services import audit_record
from core.errors import InvalidInput, NotFound

from .inputs import active_halts
from .models import DayTradeCount, TradingHalt

Source = TradingHalt.Source
EXPIRY_ACTOR = "system:halt_expiry"
CIRCUIT_BREAKER_ACTOR = "system:circuit_breaker"


def day_trade_record(*, account_id, trade_date: date) -> None:
    """Count one day trade. Caller holds the account lock."""
    updated = DayTradeCount.objects.filter(account_id=account_id, trade_date=trade_date).update(count=F("count") + 1)
    if not updated:
        DayTradeCount.objects.create(account_id=account_id, trade_date=trade_date, count=1)


# --- halts -------------------------------------------------------------------------------------


def _halt_data(halt: TradingHalt) -> dict:
    return {"scope": halt.scope, "symbol": halt.symbol, "account": halt.account_id, "source": halt.source,
            "venue": halt.venue, "reason": halt.reason, "resume_at": halt.resume_at}


def _audit(halt: TradingHalt, action: str, *, actor: str, account: Account | None, **extra) -> None:
    """An account halt goes on that account's chain (the caller holds its lock), others on the system chain."""
    audit_record(account=account, actor=actor, action=f"tradinghalt.{action}", entity_type="tradinghalt",
                 entity_id=halt.pk, data={**_halt_data(halt), **extra})


def _lock_halted_account(account_id) -> Account | None:
    """Lock the account of an account halt: its audit chain needs the lock, and holding it orders
    the halt after (or before) any order the account is placing, never in the middle."""
    if account_id is None:
        return None
    try:
        return lock_account(account_id)
    except (Account.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("account not found", reason="account_not_found") from exc


def _lift(halt: TradingHalt, *, at: datetime, actor: str, account: Account | None, **extra) -> bool:
    """Lift one halt, once: a conditional update, so a halt lifted concurrently is neither lifted
    nor audited twice. Caller runs in a transaction and holds the halt's account lock, if any."""
    if not TradingHalt.objects.filter(pk=halt.pk, lifted_at__isnull=True).update(lifted_at=at):
        return False
    halt.lifted_at = at
    _audit(halt, "lifted", actor=actor, account=account, **extra)
    return True


def _locked(halts) -> list[TradingHalt]:
    """Lock these halts, in pk order, before lifting any. Each lift audits a system-chain event
    (an advisory lock) for a halt not on an account: a transaction lifting several must not wait
    for a halt row while holding that lock, or it could wait in a cycle with a lift of that one
    halt (docs/architecture.md, "The lock order")."""
    return list(halts.select_for_update().order_by("pk"))


def _lift_expired(halts, *, account: Account | None) -> int:
    """Record the lift of halts whose resume_at has passed, at their resume_at (when they stopped
    refusing orders). Caller holds the account lock of account halts."""
    lifted = 0
    # The database clock, as in risk.inputs.ACTIVE: what the checks call expired is what is lifted.
    for halt in _locked(halts.filter(lifted_at__isnull=True, resume_at__lte=Now())):
        lifted += _lift(halt, at=halt.resume_at, actor=EXPIRY_ACTOR, account=account, expired=True)
    return lifted


def _scope(*, symbol: str, account_id, source: str, venue: str, reason: str, resume_at) -> dict:
    symbol = (symbol or "").strip().upper()
    venue = (venue or "").strip()
    reason = (reason or "").strip()
    if account_id is not None and symbol:
        raise InvalidInput("invalid_halt_scope", "a halt is on a symbol, on an account, or on everything; not both")
    if len(symbol) > 16 or len(venue) > 16:
        raise InvalidInput("invalid_halt_scope", "symbol and venue are at most 16 characters")
    if source not in Source.values:
        raise InvalidInput("invalid_halt_source", f"source must be one of {', '.join(Source.values)}")
    if source == Source.VENUE and not venue:
        raise InvalidInput("invalid_halt_source", "a venue halt names its venue")
    if not reason:
        raise InvalidInput("invalid_reason", "a halt needs a reason")
    if resume_at is not None and timezone.is_naive(resume_at):
        raise InvalidInput("invalid_resume_at", "resume_at must be timezone-aware (UTC)")
    return {"symbol": symbol, "account_id": account_id, "source": source, "venue": venue, "reason": reason[:200]}


@transaction.atomic  # not durable: the admin's add view calls it inside its own transaction
def halt_set(*, symbol: str = "", account_id=None, reason: str, source: str, venue: str = "",
             resume_at: datetime | None = None, actor: str) -> TradingHalt:
    """Halt `symbol`, or the account `account_id`, or (neither) everything: the next order in that
    scope is refused (symbol_halted / account_halted / trading_halted) until the halt is lifted or
    its `resume_at` passes.

    Idempotent: while an equal halt (same scope, source and venue) is active it is returned as is,
    and nothing is written; a unique constraint makes that hold between concurrent callers too.
    """
    fields = _scope(symbol=symbol, account_id=account_id, source=source, venue=venue, reason=reason,
                    resume_at=resume_at)
    account = _lock_halted_account(account_id)
    key = {k: fields[k] for k in ("symbol", "account_id", "source", "venue")}
    # An expired, unlifted equal halt still holds the one-active-halt slot: record its lift first.
    _lift_expired(TradingHalt.objects.filter(**key), account=account)
    existing = active_halts().filter(**key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():  # savepoint: losing a race on the unique constraint leaves ours usable
            halt = TradingHalt.objects.create(**fields, resume_at=resume_at)
    except IntegrityError:
        # A concurrent equal halt committed first (we waited on its index entry): that one is the halt.
        existing = TradingHalt.objects.filter(**key, lifted_at__isnull=True).first()
        if existing is None:
            raise
        return existing
    _audit(halt, "created", actor=actor, account=account)
    return halt


@transaction.atomic  # not durable: the admin calls it inside its own transaction
def halt_lift(*, halt_id, actor: str) -> TradingHalt:
    """Lift one halt now. Lifting a lifted halt changes nothing and writes nothing."""
    halt = TradingHalt.objects.filter(pk=halt_id).first()
    if halt is None:
        raise NotFound("halt not found", reason="halt_not_found")
    account = _lock_halted_account(halt.account_id)
    if halt.lifted_at is None:
        _lift(halt, at=timezone.now(), actor=actor, account=account)
    return halt


def halt_lift_expired() -> int:
    """Write lifted_at (= resume_at) on halts whose resume_at has passed, each in its own small
    transaction; safe to run twice or concurrently. Only for the record: an expired halt already
    stopped refusing orders at its resume_at (risk.inputs.ACTIVE). Returns how many it lifted."""
    lifted = 0
    expired = TradingHalt.objects.filter(lifted_at__isnull=True, resume_at__lte=Now())
    for halt_id, account_id in expired.values_list("pk", "account_id").order_by("pk"):
        with transaction.atomic(durable=True):
            account = _lock_halted_account(account_id)
            lifted += _lift_expired(TradingHalt.objects.filter(pk=halt_id), account=account)
    return lifted


def kill_switch_engage(*, reason: str, actor: str) -> TradingHalt:
    """Halt all trading, firm-wide (a staff halt with no symbol and no account)."""
    return halt_set(symbol="", reason=reason, source=Source.STAFF, actor=actor)


@transaction.atomic  # not durable: the admin calls it inside its own transaction
def kill_switch_release(*, actor: str) -> int:
    """Lift every firm-wide halt (symbol and account blank, whatever its source); returns how many."""
    now = timezone.now()
    halts = TradingHalt.objects.filter(symbol="", account__isnull=True, lifted_at__isnull=True).order_by("pk")
    return sum(_lift(halt, at=now, actor=actor, account=None) for halt in _locked(halts))


# --- circuit breaker and venue-reported halts ---------------------------------------------------


@transaction.atomic(durable=True)
def circuit_breaker_trip(*, symbol: str, reference_price: Decimal, price: Decimal, at: datetime) -> TradingHalt:
    """Halt `symbol` for TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS from `at`: it moved from
    `reference_price` to `price` by more than the threshold within the window (risk.circuit_breaker
    decides that). A second trip while the halt is active returns the same halt."""
    move = (price - reference_price) / reference_price
    reason = (f"circuit breaker: {symbol} moved {move:+.2%} ({reference_price} to {price}) within "
              f"{settings.TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS}s")
    resume_at = at + timedelta(seconds=settings.TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS)
    return halt_set(symbol=symbol, reason=reason, source=Source.CIRCUIT_BREAKER, resume_at=resume_at,
                    actor=CIRCUIT_BREAKER_ACTOR)


@transaction.atomic(durable=True)
def halt_from_venue(*, venue: str, symbol: str, reason: str = "") -> TradingHalt:
    """A venue reported `symbol` halted (FIX SecurityStatus / TradingSessionStatus): halt it here
    for every venue, as a regulatory halt applies market-wide, until that venue lifts it."""
    return halt_set(symbol=symbol, reason=reason or f"halted by {venue}", source=Source.VENUE, venue=venue,
                    actor=f"venue:{venue}")


@transaction.atomic(durable=True)
def halt_lift_from_venue(*, venue: str, symbol: str) -> int:
    """The venue resumed `symbol`: lift the halts it reported (other sources' halts stay)."""
    now = timezone.now()
    halts = TradingHalt.objects.filter(symbol=(symbol or "").strip().upper(), account__isnull=True,
                                       source=Source.VENUE, venue=venue, lifted_at__isnull=True)
    return sum(_lift(halt, at=now, actor=f"venue:{venue}", account=None) for halt in _locked(halts))
