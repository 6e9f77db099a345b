"""Moving an order's status through the state table (orders/state.py): an illegal move raises."""
from ..models import Order
from ..state import check_transition


def move(order: Order, target: str, **timestamps) -> None:
    check_transition(order.status, target)
    order.status = target
    for field, value in timestamps.items():
        setattr(order, field, value)
