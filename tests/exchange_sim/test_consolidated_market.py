"""The makers never lock or cross the consolidated market (Reg NMS): across venues that share a
seed and an anchor, the highest bid stays strictly below the lowest ask at every moment, whenever
each venue started, however often it was stepped, across restarts; and makers never trade with
each other."""
import tempfile
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from exchange_sim import SymbolSpec, Trade, Venue, default_venues
from tests.exchange_sim.conftest import T0

INTERVAL = 0.25

symbol_specs = st.lists(
    st.builds(lambda cents, vol, noise: (cents, vol, noise),
              st.integers(min_value=100, max_value=300_000),     # 1.00 .. 3,000.00
              st.integers(min_value=1, max_value=30),            # volatility, bp per interval
              st.integers(min_value=0, max_value=10)),           # venue noise, bp
    min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=symbol_specs, venues=st.integers(min_value=2, max_value=4), seed=st.integers(0, 10_000),
       starts=st.lists(st.integers(min_value=0, max_value=400), min_size=4, max_size=4),
       gaps=st.lists(st.integers(min_value=1, max_value=2_000), min_size=5, max_size=25),
       lags=st.lists(st.floats(min_value=0, max_value=INTERVAL, exclude_max=True), min_size=4, max_size=4),
       restart=st.integers(min_value=0, max_value=3))
def test_the_best_bid_across_venues_stays_below_the_best_ask(specs, venues, seed, starts, gaps, lags, restart):
    """Regression: each venue indexed the shared walk by its own step count, so venues that had
    been stepped a different number of times (started later, restarted, slower) quoted around
    different prices: SPY bid 601.63 at SIMB, ask 601.17 at SIMA."""
    specs = {f"S{i}": SymbolSpec(symbol=f"S{i}", reference_price=Decimal(cents) / 100,
                                 volatility=Decimal(vol) / 10_000, noise=Decimal(noise) / 10_000)
             for i, (cents, vol, noise) in enumerate(specs)}
    with tempfile.TemporaryDirectory() as journal_dir:
        configs = default_venues(venues, symbols=list(specs), journal_dir=journal_dir, seed=seed, walk_anchor=T0)
        opened = [Venue(config, specs) for config in configs]
        trades = []
        for venue in opened:
            venue.add_listener(lambda e: isinstance(e, Trade) and trades.append(e))
        now = T0
        for step, gap in enumerate(gaps):
            now += timedelta(seconds=gap * INTERVAL)
            if step == restart:  # one venue restarts from its journal and snapshot
                opened[0].close()
                opened[0] = Venue(configs[0], specs)
            for v, venue in enumerate(opened):
                if step * 100 >= starts[v]:  # venues start stepping at different moments
                    venue.step(now + timedelta(seconds=lags[v]))  # within one interval of each other
            quoting = [venue.top_of_book() for venue in opened if venue.top_of_book()]
            for symbol in specs:
                bids = [q[symbol][0] for q in quoting if q[symbol][0] is not None]
                asks = [q[symbol][1] for q in quoting if q[symbol][1] is not None]
                if bids and asks:
                    assert max(bids) < min(asks), (symbol, step, quoting)
        for venue in opened:
            venue.close()
    assert trades == [], "makers never trade with each other"
