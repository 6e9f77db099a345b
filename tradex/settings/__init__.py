"""TradeX settings, split by concern. Each module reads its own part of the environment.

Production mode: DATABASE_URL and REDIS_URL set. Embedded mode: neither set (SQLite in WAL mode,
in-memory channel layer, Celery tasks run in-process). See docs/architecture.md.
"""
from .base import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .messaging import *  # noqa: F401,F403
from .api import *  # noqa: F401,F403
from .trading import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
from .trading import refuse_unknown_tradex_settings

refuse_unknown_tradex_settings()
