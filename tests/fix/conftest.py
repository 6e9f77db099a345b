"""Real QuickFIX sessions over TCP on loopback: simulated venues (acceptors) and the broker's
bridge (initiators), each on free ports, with state in a per-test directory."""
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import make_asset

DICTIONARY = Path(settings.BASE_DIR) / "fixspec" / "FIX44.xml"
PRICES = {"AAPL": Decimal("100.00"), "MSFT": Decimal("200.00")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venue_config(name: str, port: int, state_dir: Path, **overrides):
    from exchange_sim.config import VenueConfig

    fields = dict(name=name, port=port, latency_ms=2, fee_per_share=Decimal("0.001"), symbols=tuple(sorted(PRICES)),
                  seed=7, journal_dir=str(state_dir))
    fields.update(overrides)
    return VenueConfig(**fields)


@pytest.fixture
def fix_assets(transactional_db):
    return {symbol: make_asset(symbol, price=price) for symbol, price in PRICES.items()}


@pytest.fixture
def venue_factory(tmp_path):
    """Start venue servers; each is stopped at the end of the test."""
    from exchange_sim.config import reference_specs
    from exchange_sim.server import VenueServer

    started = []

    def start(name="SIMA", port=None, **overrides):
        port = port or free_port()
        server = VenueServer(venue_config(name, port, tmp_path / "venues", **overrides), reference_specs(PRICES),
                             dictionary=DICTIONARY, state_dir=tmp_path / "venues", heartbeat_seconds=1,
                             step_seconds=3600)  # the market moves only when a test steps it
        server.start()
        server.venue.step()  # makers quote: the book has liquidity
        server.flush_public()
        started.append(server)
        return server

    yield start
    for server in started:
        try:
            server.stop()
        except Exception:  # already stopped by the test
            pass


@pytest.fixture
def bridge_factory(tmp_path):
    from orders.fixbridge.bridge import FixBridge

    started = []

    def start(venues, **kwargs):
        from orders.models import Venue
        from orders.venue_selection import venue_cache_clear

        # Only the venues this test runs exist (the suite's autouse fixture marks the configured ones up).
        Venue.objects.exclude(name__in=[v[0] for v in venues]).delete()
        venue_cache_clear()
        bridge = FixBridge(venues=venues, directory=tmp_path / "bridge", heartbeat=1, **kwargs)
        bridge.start()
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()
