"""Model fields for money, prices and quantities: NUMERIC columns (invariant 7)."""
from django.db import models


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads as a field class
    kwargs.setdefault("default", 0)
    return models.DecimalField(max_digits=20, decimal_places=2, **kwargs)


def PriceField(**kwargs) -> models.DecimalField:  # noqa: N802
    return models.DecimalField(max_digits=20, decimal_places=6, **kwargs)


def QtyField(**kwargs) -> models.DecimalField:  # noqa: N802
    return models.DecimalField(max_digits=24, decimal_places=9, **kwargs)
