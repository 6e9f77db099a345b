"""The simulator core never imports the broker: `run_venues` wraps it, the core stands alone."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_core_loads_neither_django_nor_any_tradex_app():
    code = ("import sys, exchange_sim, exchange_sim.venue, exchange_sim.engine\n"
            "apps = ('django', 'tradex', 'orders', 'accounts', 'risk', 'portfolio', 'marketdata', 'settlement',"
            " 'compliance', 'frontend')\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in apps]\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
