// Symbol page: quote, chart (TradingView lightweight-charts, served from static/), ticket.
// Bars and indicators come from the market-data REST API; live bars and quotes from the socket.
import { dec, el, fmtMoney, fmtPct, fmtPrice, fmtQty, optionalApi, api, priceOf, signClass, start, terminal } from "./core.js";
import { mountTicket } from "./ticket.js";

const $ = (id) => document.getElementById(id);
const symbol = $("sym").dataset.symbol;
let prevClose = null, series = null, overlays = [], chart = null;

const toNum = (s) => Number(s); // chart coordinates only: money is never computed from these
const barTime = (t) => Math.floor(Date.parse(t) / 1000);
// How far back a chart of each timeframe reads (enough for its 500 latest bars over sessions).
const HISTORY_DAYS = { "1Min": 5, "5Min": 20, "15Min": 60, "1Hour": 180, "1Day": 800 };

function setupChart() {
  if (!window.LightweightCharts) { $("chart-note").textContent = "The chart library is not installed (run `make assets`)."; return; }
  const dark = document.documentElement.dataset.theme === "dark";
  chart = LightweightCharts.createChart($("chart"), { autoSize: true,
    layout: { background: { color: "transparent" }, textColor: dark ? "#e6e9ed" : "#16191d" },
    grid: { vertLines: { color: dark ? "#2b323b" : "#eef0f2" }, horzLines: { color: dark ? "#2b323b" : "#eef0f2" } },
    timeScale: { timeVisible: true } });
  series = chart.addSeries(LightweightCharts.CandlestickSeries, { upColor: "#0a7a33", downColor: "#c0262d", borderVisible: false,
                                                                   wickUpColor: "#0a7a33", wickDownColor: "#c0262d" });
}
async function loadBars() {
  if (!series) return;
  const tf = $("tf").value;
  try {
    // The latest 500 bars: newest first from far enough back for the timeframe, then in time order.
    const start = new Date(Date.now() - (HISTORY_DAYS[tf] || 30) * 86400000).toISOString();
    const { data, missing } = await optionalApi(`/v2/stocks/${encodeURIComponent(symbol)}/bars?timeframe=${tf}&limit=500&sort=desc&start=${start}`);
    if (missing) { $("chart-note").textContent = "Price history is not available on this server yet (no bars endpoint); the chart fills in as live 1-minute bars close."; return; }
    const bars = (data.bars || []).slice().reverse().map(b => ({ time: barTime(b.t), open: toNum(b.o), high: toNum(b.h), low: toNum(b.l), close: toNum(b.c) }));
    series.setData(bars);
    $("chart-note").textContent = bars.length ? "" : "No bars in this timeframe yet.";
    Object.assign($("chart").dataset, { timeframe: tf, bars: String(bars.length) });  // what is drawn, for tests
    loadIndicator();
  } catch (err) { $("chart-note").textContent = `Bars could not be loaded: ${err.message}`; }
}
async function loadIndicator() {
  for (const o of overlays) chart.removeSeries(o);
  overlays = [];
  const ind = $("ind").value;
  if (!ind) return;
  const { data, missing } = await optionalApi(`/v2/stocks/${encodeURIComponent(symbol)}/indicators?timeframe=${$("tf").value}&indicators=${ind}`);
  if (missing) { $("chart-note").textContent = "Indicators are not available on this server yet."; return; }
  const key = Object.keys(data.indicators || {})[0];
  // A row is {t, c, value} or, for several outputs, {t, c, macd, signal, histogram} / {t, c, upper, middle, lower}.
  // Price-scale indicators overlay the candles; RSI and MACD get a pane of their own below them.
  const rows = (data.indicators || {})[key] || [];
  const lines = key.startsWith("macd") ? [["macd", "#0b57d0"], ["signal", "#c05600"]]
    : key.startsWith("bbands") ? [["upper", "#6b4fbb"], ["middle", "#0b57d0"], ["lower", "#6b4fbb"]]
    : [["value", "#0b57d0"]];
  const pane = key.startsWith("rsi") || key.startsWith("macd") ? 1 : 0;
  for (const [field, color] of lines) {
    const line = chart.addSeries(LightweightCharts.LineSeries, { color, lineWidth: 2, title: `${key} ${field === "value" ? "" : field}`.trim() }, pane);
    line.setData(rows.filter(p => p[field] !== null && p[field] !== undefined).map(p => ({ time: barTime(p.t), value: toNum(p[field]) })));
    overlays.push(line);
  }
  Object.assign($("chart").dataset, { indicator: key, pane: String(pane), points: String(rows.filter(p => p[lines[0][0]] != null).length) });
}
terminal.on("md", (md) => {
  if (md.S !== symbol) return;
  if (md.prev_close) prevClose = md.prev_close;
  const p = priceOf(md);
  if (p) {
    $("q-last").textContent = fmtPrice(p);
    const pc = dec(prevClose), last = dec(p);
    if (pc) { const ch = ((last - pc) * 10n ** 9n) / pc; $("q-chg").className = signClass(ch); $("q-chg").textContent = fmtPct(ch); }
  }
  if (md.q) { $("q-bid").textContent = `${fmtPrice(md.q.bp)} × ${md.q.bs}`; $("q-ask").textContent = `${fmtPrice(md.q.ap)} × ${md.q.as}`; }
  if (series) for (const b of md.b || []) series.update({ time: barTime(b.t), open: toNum(b.o), high: toNum(b.h), low: toNum(b.l), close: toNum(b.c) });
});
async function loadPosition() {
  const { data } = await optionalApi(`/v2/positions/${encodeURIComponent(symbol)}`);
  $("q-pos").textContent = data ? `${fmtQty(data.qty)} sh · ${fmtMoney(data.unrealized_pl, { signed: true })}` : "none";
  if (data) $("q-pos").className = signClass(data.unrealized_pl);
}
terminal.on("trade_updates", (u) => { if (u.order && u.order.symbol === symbol) loadPosition(); });
$("tf").addEventListener("change", loadBars);
$("ind").addEventListener("change", loadIndicator);
mountTicket($("ticket-box"), { symbol });
api("GET", `/v2/assets/${encodeURIComponent(symbol)}`).then(a => { $("sym-name").textContent = a.name; })
  .catch(() => { $("sym-name").textContent = "— unknown symbol"; });
start();
terminal.subscribe([symbol]);
setupChart();
loadBars();
loadPosition();
