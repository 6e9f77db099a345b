"""Market-data writes. Reference-data changes go on the system audit chain (invariant 4)."""
import uuid
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from compliance.services import audit_record_system
from core.realtime import push_after_commit
from core.api import dec_str
from core.errors import InvalidInput, NotFound, Refused
from core.fields import PRICE
from core.values import has_control_characters, to_decimal

from .alerts import ALERTS_VERSION_KEY
from .groups import user_group
from .models import Asset, PriceAlert


@transaction.atomic(durable=True)
def assets_seed(*, assets: list[dict], actor: str) -> list[str]:
    """Create the assets (dicts of Asset fields) whose symbol is missing; existing rows are left
    alone, because after the first run their prices and flags belong to the feed and the admin.
    Returns the symbols created."""
    existing = set(Asset.objects.filter(symbol__in=[a["symbol"] for a in assets]).values_list("symbol", flat=True))
    new = [Asset(**a) for a in assets if a["symbol"] not in existing]
    if not new:
        return []
    Asset.objects.bulk_create(new)
    created = [a.symbol for a in new]
    audit_record_system(actor=actor, action="asset.seeded", entity_type="asset", entity_id="*",
                        data={"symbols": created})
    return created


# ---------------------------------------------------------------- price alerts

ALERT_LIMIT_PER_USER = 200


def _alerts_changed() -> None:
    """Tell the feed (any process) to reload alerts: one cache key it reads per batch. The key is
    read first, inside the transaction, so a Redis outage refuses the change (503, rolled back)
    instead of saving an alert the feed would never hear of; a failure after commit is logged,
    not turned into an error for a change that was made."""
    cache.get(ALERTS_VERSION_KEY)
    transaction.on_commit(lambda: cache.set(ALERTS_VERSION_KEY, uuid.uuid4().hex, timeout=None), robust=True)


@transaction.atomic(durable=True)
def alert_create(*, user, symbol: str, condition: str, price, source: str = PriceAlert.Source.LAST) -> PriceAlert:
    if not isinstance(symbol, str) or len(symbol) > 16 or has_control_characters(symbol):
        raise InvalidInput("invalid_symbol", "symbol is a ticker of at most 16 characters")
    symbol = symbol.strip().upper()
    if not Asset.objects.filter(symbol=symbol).exists():
        raise InvalidInput("unknown_symbol", f"no asset {symbol!r}")
    if condition not in PriceAlert.Condition.values:
        raise InvalidInput("invalid_condition", "condition must be 'above' or 'below'")
    if source not in PriceAlert.Source.values:
        raise InvalidInput("invalid_source", "source must be 'last', 'bid' or 'ask'")
    price = to_decimal(price, field="price", limit=PRICE)  # 0.0000000000001 is refused, not stored as 0
    if price <= 0:
        raise InvalidInput("invalid_price", "price must be positive")
    active = PriceAlert.objects.filter(user=user, status=PriceAlert.Status.ACTIVE).count()
    if active >= ALERT_LIMIT_PER_USER:
        raise Refused("too_many_alerts", f"at most {ALERT_LIMIT_PER_USER} active alerts per user")
    alert = PriceAlert.objects.create(user=user, symbol=symbol, condition=condition, source=source, price=price)
    _alerts_changed()
    return alert


@transaction.atomic(durable=True)
def alert_cancel(*, user, alert_id) -> PriceAlert:
    alert = PriceAlert.objects.select_for_update().filter(user=user, pk=alert_id).first()
    if alert is None:
        raise NotFound("no such alert", reason="alert_not_found")
    if alert.status == PriceAlert.Status.ACTIVE:
        alert.status = PriceAlert.Status.CANCELED
        alert.save(update_fields=["status", "updated_at"])
        _alerts_changed()
    return alert


@transaction.atomic(durable=True)
def alerts_fire(*, due: list[tuple[str, Decimal]]) -> list:
    """Mark the due alerts triggered and push each to its user after commit. Only rows still
    active change (a conditional UPDATE), so an alert fires once even if two feed processes, or
    a restarted one, see the same crossing."""
    now = timezone.now()
    fired_ids = [alert_id for alert_id, price in due  # each its own crossing price
                 if PriceAlert.objects.filter(pk=alert_id, status=PriceAlert.Status.ACTIVE).update(
                     status=PriceAlert.Status.TRIGGERED, triggered_at=now, triggered_price=price, updated_at=now)]
    fired = list(PriceAlert.objects.filter(pk__in=fired_ids))
    for alert in fired:
        push_after_commit(user_group(alert.user_id), {"type": "user.notify", "kind": "alert", "data": alert_payload(alert)})
    return fired


def alert_payload(alert) -> dict:
    return {"id": str(alert.id), "symbol": alert.symbol, "condition": alert.condition, "source": alert.source,
            "price": dec_str(alert.price),
            "status": alert.status, "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
            "triggered_at": alert.triggered_at and alert.triggered_at.isoformat().replace("+00:00", "Z"),
            "triggered_price": alert.triggered_price and dec_str(alert.triggered_price)}
