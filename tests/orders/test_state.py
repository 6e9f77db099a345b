"""The order state machine: every legal transition passes, every other one raises."""
import itertools

import pytest

from orders.state import OPEN_STATUSES, TERMINAL_STATUSES, TRANSITIONS, IllegalTransition, Status, check_transition

ALL = [s.value for s in Status]
LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a, b in itertools.product(ALL, ALL) if b not in TRANSITIONS[a]]


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(ALL)


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_transition_passes(current, target):
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transition_raises(current, target):
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_terminal_statuses_never_move(terminal):
    for target in ALL:
        with pytest.raises(IllegalTransition):
            check_transition(terminal, target)


def test_a_timeout_is_never_a_fill_or_cancel():
    """pending_* statuses end only on the venue's answer: nothing but a venue event leaves them,
    and they can go back to working (a refused cancel) but never straight to 'rejected'."""
    for pending in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
        assert Status.REJECTED not in TRANSITIONS[pending]
        assert pending in OPEN_STATUSES
