// Price alerts (/v2/alerts: {symbol, source: last|bid|ask, condition: above|below, price}) and this session's
// notifications (user.notify on the socket, also shown as toasts by core.js).
import { api, el, explain, fmtPrice, fmtTime, optionalApi, setEmpty, start, terminal } from "./core.js";

const $ = (id) => document.getElementById(id);
let missing = false;
async function load() {
  try {
    const r = await optionalApi("/v2/alerts");
    missing = r.missing;
    if (missing) { setEmpty($("alerts"), 6, "Price alerts are not available on this server yet (no /v2/alerts endpoint)."); $("alert-new").querySelector("button").disabled = true; return; }
    if (!r.data.length) { setEmpty($("alerts"), 6, "No alerts. Create one above to be told when a price crosses a level."); return; }
    $("alerts").replaceChildren(...r.data.map(a => el("tr", {}, el("th", { scope: "row", text: a.symbol }), el("td", { text: a.source === "last" ? "last trade" : a.source }), el("td", { text: a.condition }),
      el("td", { class: "num", text: fmtPrice(a.price) }), el("td", { text: a.status || (a.triggered_at ? `triggered ${fmtTime(a.triggered_at)}` : "active") }),
      el("td", {}, el("button", { type: "button", class: "link", text: "Delete", "aria-label": `Delete alert on ${a.symbol}`,
        onclick: async () => { try { await api("DELETE", `/v2/alerts/${a.id}`); load(); } catch (err) { showError(err); } } })))));
  } catch (err) { setEmpty($("alerts"), 6, `Alerts could not be loaded: ${explain(err)}`); }
}
function showError(err) { $("a-error").hidden = !err; $("a-error").textContent = err ? explain(err) : ""; }
$("alert-new").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/v2/alerts", { symbol: $("a-symbol").value.trim().toUpperCase(), source: $("a-source").value, condition: $("a-cond").value, price: $("a-price").value.trim() });
    showError(null); $("a-price").value = ""; load();
  } catch (err) { showError(err); }
});
function note(text) {
  const list = $("notes");
  if (list.querySelector(".empty")) list.replaceChildren();
  list.prepend(el("li", {}, el("span", { class: "muted", text: new Date().toLocaleTimeString() + " " }), text));
}
terminal.on("notification", (n) => { note((n.data && n.data.message) || `${n.kind} ${JSON.stringify(n.data)}`); if (n.kind === "alert") load(); });
terminal.on("trade_updates", (u) => note(`${u.event}: ${u.order.side} ${u.order.symbol} (${u.order.status})`));
start();
load();
