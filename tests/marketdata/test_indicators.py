"""Indicators (marketdata/indicators.py) against TA-Lib (ta-lib 0.8.2) on the same bars, the
streaming IndicatorSet against the series, and the /v2/stocks/{symbol}/indicators endpoint."""
from datetime import timezone
from decimal import Decimal

import numpy as np
import pytest
import talib
from rest_framework.test import APIClient

from marketdata import indicators as ind
from marketdata.bars import parse_timeframe
from marketdata.models import DailyBar, MinuteBar
from tests.factories import make_account_with_key
from tests.marketdata.bars_fixtures import NOW, seed_bars

pytestmark = pytest.mark.django_db
UTC = timezone.utc
D = Decimal
# Our values are quantized to 6 decimals; TA-Lib computes in float64.
TOLERANCE = 1e-6


def series(model, symbol):
    rows = model.objects.filter(symbol=symbol).order_by("start").values_list("start", "close", "volume", "vwap")
    return [{"t": t, "c": c, "v": v, "vw": vw} for t, c, v, vw in rows]


def column(values, key, output=None):
    out = []
    for v in values:
        x = v[key] if output is None else v[key][output]
        out.append(np.nan if x is None else float(x))
    return np.array(out)


def assert_matches(ours, reference):
    # Same warm-up (None exactly where TA-Lib has NaN) and the same values
    assert np.array_equal(np.isnan(ours), np.isnan(reference))
    mask = ~np.isnan(reference)
    assert mask.sum() > 0
    assert np.max(np.abs(ours[mask] - reference[mask])) <= TOLERANCE


@pytest.fixture(scope="module")
def bars(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            seed_bars(("AAPL", "BYND"), days=365, minute_days=4)
            data = {(m.__name__, s): series(m, s) for m in (DailyBar, MinuteBar) for s in ("AAPL", "BYND")}
            transaction.set_rollback(True)
    return data


CASES = [("DailyBar", "AAPL"), ("MinuteBar", "AAPL"), ("DailyBar", "BYND"), ("MinuteBar", "BYND")]


@pytest.mark.parametrize(("model", "symbol"), CASES)
@pytest.mark.parametrize("n", [2, 14, 20, 50])
def test_sma_ema_rsi_match_talib(bars, model, symbol, n):
    data = bars[(model, symbol)]
    closes = np.array([float(b["c"]) for b in data])
    values = ind.compute(ind.parse_specs(f"sma:{n},ema:{n},rsi:{n}"), data)
    assert_matches(column(values, f"sma:{n}"), talib.SMA(closes, n))
    assert_matches(column(values, f"ema:{n}"), talib.EMA(closes, n))
    assert_matches(column(values, f"rsi:{n}"), talib.RSI(closes, n))


@pytest.mark.parametrize(("model", "symbol"), CASES)
@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_matches_talib(bars, model, symbol, fast, slow, signal):
    data = bars[(model, symbol)]
    closes = np.array([float(b["c"]) for b in data])
    key = f"macd:{fast}:{slow}:{signal}"
    values = ind.compute(ind.parse_specs(key), data)
    line, sig, hist = talib.MACD(closes, fast, slow, signal)
    assert_matches(column(values, key, "signal"), sig)
    assert_matches(column(values, key, "histogram"), hist)
    # TA-Lib withholds the line until the signal exists; ours gives it from bar `slow` on
    ours = column(values, key, "macd")
    assert np.isnan(ours).sum() == slow - 1
    ours[np.isnan(line)] = np.nan
    assert_matches(ours, line)


@pytest.mark.parametrize(("model", "symbol"), CASES)
@pytest.mark.parametrize(("n", "k"), [(20, "2"), (10, "1.5"), (5, "3")])
def test_bollinger_bands_match_talib(bars, model, symbol, n, k):
    data = bars[(model, symbol)]
    closes = np.array([float(b["c"]) for b in data])
    key = f"bbands:{n}:{k}"
    values = ind.compute(ind.parse_specs(key), data)
    upper, middle, lower = talib.BBANDS(closes, n, float(k), float(k), 0)
    assert_matches(column(values, key, "upper"), upper)
    assert_matches(column(values, key, "middle"), middle)
    assert_matches(column(values, key, "lower"), lower)


def test_vwap_is_anchored_at_each_session_and_matches_the_trades(bars):
    data = bars[("MinuteBar", "AAPL")]
    values = ind.compute([ind.Spec("vwap", ())], data)
    # The first bar of each session restarts it at that bar's own vwap
    from marketdata.bars import session_date

    firsts = [i for i, b in enumerate(data) if i == 0 or session_date(b["t"]) != session_date(data[i - 1]["t"])]
    assert len(firsts) == 4 and all(D(values[i]["vwap"]) == data[i]["vw"] for i in firsts)
    # The session's last value is the session's VWAP from the daily bar (exact notional / volume), within 1e-6
    daily = {session_date(b["t"]): b["vw"] for b in bars[("DailyBar", "AAPL")]}
    for end in [i - 1 for i in firsts[1:]] + [len(data) - 1]:
        assert abs(D(values[end]["vwap"]) - daily[session_date(data[end]["t"])]) <= D("0.0001")


def test_streaming_updates_equal_the_series(bars):
    data = bars[("MinuteBar", "BYND")]
    specs = ind.parse_specs("sma:20,ema:12,rsi:14,macd:12:26:9,bbands:20:2,vwap")
    whole = ind.compute(specs, data)
    stream = ind.IndicatorSet(specs)
    # The feed passes bars as Alpaca stream dicts with decimal strings
    last = [stream.update({"t": b["t"].strftime("%Y-%m-%dT%H:%M:%SZ"), "c": str(b["c"]), "v": str(b["v"]),
                           "vw": str(b["vw"])}) for b in data]
    assert last == whole and last[-1]["rsi:14"] is not None


def test_indicators_latest_warms_up_from_stored_bars(db):
    seed_bars(("AAPL",), days=10, minute_days=2)
    state = ind.indicators_latest("AAPL", "sma:5,ema:5", now=NOW)
    bars = series(MinuteBar, "AAPL")
    expected = ind.compute(ind.parse_specs("sma:5,ema:5"), bars[-ind.warmup_for(ind.parse_specs("sma:5,ema:5")):])
    nxt = {"t": "2026-03-12T13:30:00Z", "c": "231", "v": "100", "vw": "231"}
    tail = ind.compute(ind.parse_specs("sma:5,ema:5"), bars[-24:] + [nxt])
    assert state.update(nxt) == tail[-1] and expected[-1]["sma:5"] == tail[-2]["sma:5"]


# --- the endpoint -------------------------------------------------------------------------------


@pytest.fixture
def api(db):
    seed_bars(("AAPL",), days=120, minute_days=1)
    _account, key_id, secret = make_account_with_key()
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return client


def test_endpoint_values_are_talibs_over_the_bars_read(api):
    # Given the last 30 daily bars asked for, with warm-up read before them
    response = api.get("/v2/stocks/AAPL/indicators", {"timeframe": "1Day", "start": "2026-01-01", "end": NOW.isoformat(),
                                                        "limit": 30, "indicators": "sma:20,rsi:14,macd:12:26:9,bbands:20:2,vwap"})
    assert response.status_code == 200
    body = response.json()
    daily = series(DailyBar, "AAPL")
    warmup = body["warmup_bars"]
    assert warmup == 4 * 35 or warmup == len(daily) - 30  # 4x the longest lookback, or all there is
    used = daily[len(daily) - 30 - warmup:]
    closes = np.array([float(b["c"]) for b in used])
    sma = body["indicators"]["sma:20"]
    assert [r["t"] for r in sma] == [b["t"].strftime("%Y-%m-%dT%H:%M:%SZ") for b in daily[-30:]]
    assert np.max(np.abs(np.array([r["value"] for r in sma]) - talib.SMA(closes, 20)[-30:])) <= TOLERANCE
    rsi = np.array([r["value"] for r in body["indicators"]["rsi:14"]])
    assert np.max(np.abs(rsi - talib.RSI(closes, 14)[-30:])) <= TOLERANCE
    _line, signal, _hist = talib.MACD(closes, 12, 26, 9)
    assert np.max(np.abs(np.array([r["signal"] for r in body["indicators"]["macd:12:26:9"]]) - signal[-30:])) <= TOLERANCE
    assert [r["value"] for r in body["indicators"]["vwap"]] == [float(b["vw"]) for b in daily[-30:]]
    assert set(body["indicators"]["bbands:20:2"][0]) == {"t", "c", "upper", "middle", "lower"}


def test_endpoint_on_intraday_aggregates(api):
    response = api.get("/v2/stocks/AAPL/indicators", {"timeframe": "15Min", "start": "2026-03-11", "end": NOW.isoformat(),
                                                        "indicators": "ema:4"})
    body = response.json()
    assert response.status_code == 200 and len(body["indicators"]["ema:4"]) == 26 and body["warmup_bars"] == 0
    assert [r["value"] for r in body["indicators"]["ema:4"][:3]] == [None, None, None]


@pytest.mark.parametrize("spec", ["", "sma", "sma:0", "sma:501", "sma:x", "foo:3", "macd:26:12:9", "macd:12:26",
                                  "bbands:20:0", "bbands:1:2", "bbands:20:abc", "rsi:1", "vwap:3", "sma:5,sma:5",
                                  ",".join(f"sma:{i}" for i in range(2, 14))])
def test_bad_indicator_specs_are_refused(api, spec):
    response = api.get("/v2/stocks/AAPL/indicators", {"timeframe": "1Day", "indicators": spec})
    assert response.status_code == 422 and response.json()["reason"] == "invalid_indicators"


def test_without_start_the_last_bars_are_given(api):
    response = api.get("/v2/stocks/AAPL/indicators", {"timeframe": "1Day", "indicators": "sma:3", "limit": 4})
    body = response.json()
    daily = series(DailyBar, "AAPL")
    assert response.status_code == 200 and body["warmup_bars"] == 16
    assert [r["t"] for r in body["indicators"]["sma:3"]] == [b["t"].strftime("%Y-%m-%dT%H:%M:%SZ") for b in daily[-4:]]
    assert body["indicators"]["sma:3"][-1]["value"] == float((sum(b["c"] for b in daily[-3:]) / 3).quantize(D("0.000001")))


def test_unknown_symbol_and_timeframe(api):
    assert api.get("/v2/stocks/NOPE/indicators", {"timeframe": "1Day", "indicators": "sma:5"}).status_code == 404
    response = api.get("/v2/stocks/AAPL/indicators", {"timeframe": "1Week", "indicators": "sma:5"})
    assert response.status_code == 422 and response.json()["reason"] == "invalid_timeframe"
    assert parse_timeframe("1Day").daily
