"""Risk writes: the day-trade counter. Called inside execution_apply's transaction."""
from datetime import date

from django.db.models import F

from .models import DayTradeCount


def day_trade_record(*, account_id, trade_date: date) -> None:
    """Count one day trade. Caller holds the account lock."""
    updated = DayTradeCount.objects.filter(account_id=account_id, trade_date=trade_date).update(count=F("count") + 1)
    if not updated:
        DayTradeCount.objects.create(account_id=account_id, trade_date=trade_date, count=1)
