import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradex.settings")

app = Celery("tradex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat schedules of the apps: each app's schedule.py is a plain dict (importing it loads no Django).
from compliance.schedule import BEAT_SCHEDULE as _COMPLIANCE_BEAT  # noqa: E402
from marketdata.schedule import BEAT_SCHEDULE as _MARKETDATA_BEAT  # noqa: E402
from orders.schedule import BEAT_SCHEDULE as _ORDERS_BEAT  # noqa: E402
from portfolio.schedule import BEAT_SCHEDULE as _PORTFOLIO_BEAT  # noqa: E402
from settlement.schedule import BEAT_SCHEDULE as _SETTLEMENT_BEAT  # noqa: E402
from surveillance.schedule import BEAT_SCHEDULE as _SURVEILLANCE_BEAT  # noqa: E402
from workflows.schedule import BEAT_SCHEDULE as _WORKFLOWS_BEAT  # noqa: E402

app.conf.beat_schedule = {**_SETTLEMENT_BEAT, **_WORKFLOWS_BEAT, **_PORTFOLIO_BEAT, **_MARKETDATA_BEAT, **_ORDERS_BEAT,
                          **_COMPLIANCE_BEAT, **_SURVEILLANCE_BEAT}
