"""Market-data writes. Reference-data changes go on the system audit chain (invariant 4)."""
from django.db import transaction

from compliance.services import audit_record_system

from .models import Asset


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
