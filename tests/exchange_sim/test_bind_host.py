"""A venue's listeners (the FIX acceptor and the market-data feed) bind loopback unless configured."""
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_sim import reference_specs
from exchange_sim.config import VenueConfig
from exchange_sim.server import VenueServer

ROOT = Path(__file__).resolve().parents[2]
DICTIONARY = ROOT / "fixspec" / "FIX44.xml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_address(port: int) -> str:
    """The local IPv4 address a socket LISTENs on for `port`, from the kernel's table."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        host_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            return socket.inet_ntoa(bytes.fromhex(host_hex)[::-1])
    raise AssertionError(f"nothing listens on port {port}")


@pytest.mark.parametrize("overrides, expected", [({}, "127.0.0.1"), ({"bind_host": "0.0.0.0"}, "0.0.0.0")])
def test_the_fix_acceptor_and_the_feed_bind_loopback_unless_configured(tmp_path, overrides, expected):
    """Regression: the venues' FIX acceptors listened on 0.0.0.0 (every interface)."""
    config = VenueConfig(name="SIMA", port=free_port(), fee_per_share=Decimal("0.001"), symbols=("AAPL",), seed=1,
                         journal_dir=str(tmp_path), feed_port=0, **overrides)
    server = VenueServer(config, reference_specs({"AAPL": Decimal("100.00")}), dictionary=DICTIONARY,
                         state_dir=tmp_path, step_seconds=3600)
    server.start()
    try:
        assert listening_address(config.port) == expected
        assert listening_address(server.feed.port) == expected
    finally:
        server.stop()
