"""Order services: each use case is one durable transaction."""
from .lifecycle import order_cancel, order_cancel_all, order_replace
from .lots import order_lots_select
from .placement import order_place, order_preview, order_record_routed
from .positions import position_close, position_close_all
from .venue_reports import (
    execution_apply,
    order_venue_acknowledged,
    order_venue_cancel_rejected,
    order_venue_canceled,
    order_venue_expired,
    order_venue_rejected,
    order_venue_replaced,
    order_venue_resend,
    outbox_park,
)

__all__ = [
    "order_place", "order_preview", "order_record_routed", "order_cancel", "order_cancel_all", "order_replace", "position_close",
    "position_close_all", "order_lots_select", "execution_apply", "order_venue_acknowledged", "order_venue_rejected",
    "order_venue_canceled", "order_venue_expired", "order_venue_replaced", "order_venue_cancel_rejected",
    "order_venue_resend", "outbox_park",
]
