// Watchlists (/v2/watchlists) with asset search and live prices from the tab's socket.
import { api, dec, el, explain, fmtPct, fmtPrice, priceOf, setEmpty, signClass, start, terminal } from "./core.js";

const $ = (id) => document.getElementById(id);
let lists = [], current = null, assets = [];
const prices = new Map(), closes = new Map();

function showError(err) { $("wl-error").hidden = !err; $("wl-error").textContent = err ? explain(err) : ""; }

function change(sym) {
  const p = dec(prices.get(sym)), c = dec(closes.get(sym));
  return p !== null && c ? ((p - c) * 10n ** 9n) / c : null;
}
function render() {
  const tbody = $("wl-rows");
  if (!current) { setEmpty(tbody, 5, "No watchlist yet: name one above and press Create."); return; }
  if (!current.assets.length) { setEmpty(tbody, 5, "This list is empty: find an asset above and press Add."); return; }
  tbody.replaceChildren(...current.assets.map(a => {
    const ch = change(a.symbol);
    return el("tr", { dataset: { symbol: a.symbol } },
      el("th", { scope: "row" }, el("a", { href: `/symbol/${encodeURIComponent(a.symbol)}/`, text: a.symbol })),
      el("td", { class: "hide-sm", text: a.name }),
      el("td", { class: "num price", text: prices.has(a.symbol) ? fmtPrice(prices.get(a.symbol)) : "—" }),
      el("td", { class: `num ${signClass(ch)}`, text: ch === null ? "—" : fmtPct(ch) }),
      el("td", {}, el("button", { type: "button", class: "link", text: "Remove", "aria-label": `Remove ${a.symbol}`, onclick: () => remove(a.symbol) })));
  }));
}
async function open(id) {
  try { current = await api("GET", `/v2/watchlists/${id}`); terminal.subscribe(current.assets.map(a => a.symbol)); render(); showError(null); }
  catch (err) { showError(err); }
}
async function loadLists(selectId) {
  lists = await api("GET", "/v2/watchlists");
  $("wl-select").replaceChildren(...lists.map(w => el("option", { value: w.id, text: w.name })));
  $("wl-delete").disabled = !lists.length;
  const id = selectId || (lists[0] && lists[0].id);
  if (id) { $("wl-select").value = id; await open(id); } else { current = null; render(); }
}
async function remove(symbol) {
  try { current = await api("DELETE", `/v2/watchlists/${current.id}/${encodeURIComponent(symbol)}`); render(); }
  catch (err) { showError(err); }
}
$("wl-select").addEventListener("change", (e) => open(e.target.value));
$("wl-new").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { const w = await api("POST", "/v2/watchlists", { name: $("wl-name").value, symbols: [] }); $("wl-name").value = ""; await loadLists(w.id); }
  catch (err) { showError(err); }
});
$("wl-delete").addEventListener("click", async () => {
  if (!current || !confirm(`Delete the watchlist “${current.name}”?`)) return;
  try { await api("DELETE", `/v2/watchlists/${current.id}`); await loadLists(); } catch (err) { showError(err); }
});
$("wl-add").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) { showError({ message: "Create a watchlist first." }); return; }
  const q = $("wl-search").value.trim().toUpperCase();
  const hit = assets.find(a => a.symbol === q) || assets.find(a => a.name.toUpperCase().includes(q));
  try {
    current = await api("POST", `/v2/watchlists/${current.id}`, { symbol: hit ? hit.symbol : q });
    $("wl-search").value = ""; terminal.subscribe(current.assets.map(a => a.symbol)); render(); showError(null);
  } catch (err) { showError(err); }
});
terminal.on("md", (md) => {
  const p = priceOf(md);
  if (p) prices.set(md.S, p);
  if (md.prev_close) closes.set(md.S, md.prev_close);
  const row = document.querySelector(`#wl-rows tr[data-symbol="${CSS.escape(md.S)}"]`);
  if (row && p) render();
});
terminal.on("reconnected", () => current && open(current.id));
start();
api("GET", "/v2/assets?status=active").then(list => {
  assets = list.filter(a => a.tradable);
  $("asset-options").replaceChildren(...assets.map(a => el("option", { value: a.symbol, label: a.name })));
}).catch(() => {});
loadLists().catch(showError);
