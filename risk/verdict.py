"""Running the checks: every check runs, and one that cannot run refuses (invariant 6)."""
from dataclasses import dataclass, field
from decimal import Decimal

from core.values import money

from .buying_power import Reservation, buying_power, order_reservation, to_buying_power
from .checks import CHECKS, CheckInput, Refusal
from .margin import PriceUnavailable
from .snapshot import AccountSnapshot, Limits, MarketState, OrderIntent


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    refusals: list[Refusal] = field(default_factory=list)
    buying_power: Decimal = Decimal(0)
    buying_power_after: Decimal = Decimal(0)
    reservation: Reservation | None = None

    @property
    def estimated_notional(self) -> Decimal | None:
        return self.reservation.est_notional if self.reservation else None

    @property
    def first(self) -> Refusal:
        return self.refusals[0]


def _unavailable(exc: Exception) -> Refusal:
    if isinstance(exc, PriceUnavailable):
        return Refusal("price_unavailable", f"{exc}: the order cannot be checked and is refused")
    return Refusal("risk_check_failed", f"a risk check could not run ({type(exc).__name__}); the order is refused")


def evaluate(snapshot: AccountSnapshot, intent: OrderIntent, market: MarketState, limits: Limits) -> Verdict:
    try:
        bp = buying_power(snapshot, market, limits)
    except Exception as exc:  # fail closed: no verdict without a buying power
        return Verdict(False, [_unavailable(exc)])
    try:
        reservation = order_reservation(snapshot, intent, market, limits)
    except Exception as exc:
        return Verdict(False, [_unavailable(exc)], bp, bp)
    c = CheckInput(snapshot, intent, market, limits, reservation)
    refusals = []
    for check in CHECKS:
        try:
            refusal = check(c)
        except Exception as exc:
            refusal = _unavailable(exc)
        if refusal is not None:
            refusals.append(refusal)
    after = money(bp - to_buying_power(reservation.cash, snapshot, limits))
    return Verdict(not refusals, refusals, bp, after, reservation)
