"""The order state machine as a table (Nautilus Trader's _ORDER_STATE_TABLE).

Statuses are Alpaca's. A timeout is never a fill or a cancel: an unconfirmed order stays
pending_* until the venue answers or reconciliation decides.
"""
from core.fields import text_choices
from core.vocabulary import OrderStatus

# Order.status's choices: core.vocabulary.OrderStatus (Status.FILLED == OrderStatus.FILLED).
Status = text_choices(OrderStatus, module=__name__, qualname="Status")


S = Status

# from-status -> statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    # held: a leg waiting for its parent's fill. It activates at the broker (accepted: a stop leg
    # watching prices, or a take-profit waiting for a venue) or goes straight to a venue
    # (pending_new), and ends with its parent (canceled/expired) when the parent never filled.
    S.HELD: frozenset({S.ACCEPTED, S.PENDING_NEW, S.CANCELED, S.EXPIRED}),
    # accepted: held by the broker (stops, opg/cls) before routing; pending_new: sent to a venue.
    S.ACCEPTED: frozenset({S.PENDING_NEW, S.NEW, S.REJECTED, S.CANCELED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.EXPIRED, S.SUSPENDED}),
    S.PENDING_NEW: frozenset({S.NEW, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED}),
    S.NEW: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY, S.STOPPED, S.SUSPENDED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY, S.STOPPED}),
    # While a cancel or replace is in flight the venue may still fill the order.
    S.PENDING_CANCEL: frozenset({S.CANCELED, S.PARTIALLY_FILLED, S.FILLED, S.NEW, S.EXPIRED}),
    S.PENDING_REPLACE: frozenset({S.REPLACED, S.PARTIALLY_FILLED, S.FILLED, S.NEW, S.CANCELED, S.EXPIRED}),
    S.DONE_FOR_DAY: frozenset({S.NEW, S.PARTIALLY_FILLED, S.CANCELED, S.EXPIRED}),
    S.STOPPED: frozenset({S.FILLED, S.PARTIALLY_FILLED, S.CANCELED}),
    S.SUSPENDED: frozenset({S.NEW, S.CANCELED, S.EXPIRED}),
    # Terminal.
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
OPEN_STATUSES = frozenset(TRANSITIONS) - TERMINAL_STATUSES
# A fill may arrive in these statuses.
FILLABLE_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if S.FILLED in targets)


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"illegal order transition {current} -> {target}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)
