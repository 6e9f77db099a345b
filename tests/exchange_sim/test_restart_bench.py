"""The venue-restart bench (bench/venue_restart.py) runs to the end in its smoke mode, as CI runs
it: a day's trading, a crash, a restart from snapshot and tail to the identical state. It measures
nothing here (figures are the bench's business)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_restart_bench_runs_in_smoke_mode_and_restarts_exactly():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "venue_restart.py"), "--smoke"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "state after restart identical" in result.stdout, result.stdout
    assert "snapshot" in result.stdout and "GB, all replayed on restart" in result.stdout
