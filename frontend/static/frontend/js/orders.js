// Orders and history: filters, each order's journey (/v2/orders/{id}/audit), activities, CSV.
import { api, el, explain, fmtMoney, fmtPrice, fmtQty, fmtTime, numCell, setEmpty, start, statusBadge, terminal } from "./core.js";

const $ = (id) => document.getElementById(id);
let orders = [];

function query() {
  const q = new URLSearchParams({ status: $("f-status").value, limit: "500", direction: "desc" });
  if ($("f-symbols").value.trim()) q.set("symbols", $("f-symbols").value.trim().toUpperCase());
  if ($("f-side").value) q.set("side", $("f-side").value);
  if ($("f-after").value) q.set("after", `${$("f-after").value}T00:00:00Z`);
  if ($("f-until").value) q.set("until", `${$("f-until").value}T23:59:59Z`);
  return q;
}
async function load() {
  try {
    orders = await api("GET", `/v2/orders?${query()}`);
    if (!orders.length) { setEmpty($("rows"), 9, "No orders match these filters."); return; }
    $("rows").replaceChildren(...orders.map(o => el("tr", { dataset: { orderId: o.id } },
      el("td", { text: fmtTime(o.submitted_at || o.created_at) }), el("th", { scope: "row", text: o.symbol }),
      el("td", { class: o.side === "buy" ? "gain" : "loss", text: o.side }), el("td", { text: o.type.replace("_", " ") }),
      numCell(o.qty ? fmtQty(o.qty) : fmtMoney(o.notional)), numCell(fmtQty(o.filled_qty)),
      numCell(o.filled_avg_price ? fmtPrice(o.filled_avg_price) : "—"),
      el("td", {}, statusBadge(o.status), o.reject_reason ? el("span", { class: "error", text: ` ${o.reject_reason}` }) : null),
      el("td", {}, el("button", { type: "button", class: "link", text: "Show", "aria-label": `Journey of ${o.side} ${o.symbol}`, onclick: () => journey(o) })))));
  } catch (err) { setEmpty($("rows"), 9, `Orders could not be loaded: ${explain(err)}`); }
}
async function journey(o) {
  $("journey-box").hidden = false;
  try {
    const a = await api("GET", `/v2/orders/${o.id}/audit`);
    $("journey-verified").textContent = a.verified === false ? "Warning: the audit chain does not verify." : "Every step below is from the verified audit trail.";
    $("journey").replaceChildren(...a.events.map(e => el("li", {}, el("strong", { text: e.action.replace("order.", "") }), ` — ${fmtTime(e.occurred_at)} by ${e.actor}`)));
    $("journey-box").scrollIntoView({ block: "nearest" });
  } catch (err) { $("journey").replaceChildren(el("li", { class: "error", text: explain(err) })); }
}
async function loadActivities() {
  try {
    const acts = await api("GET", "/v2/account/activities?page_size=100&direction=desc");
    if (!acts.length) { setEmpty($("acts"), 7, "No executions or cash activity yet."); return; }
    $("acts").replaceChildren(...acts.map(a => el("tr", {}, el("td", { text: fmtTime(a.transaction_time || a.date) }),
      el("td", { text: a.activity_type }), el("td", { text: a.symbol || "" }), el("td", { text: a.side || "" }),
      numCell(a.qty ? fmtQty(a.qty) : ""), numCell(a.price ? fmtPrice(a.price) : ""), numCell(a.net_amount ? fmtMoney(a.net_amount, { signed: true }) : ""))));
  } catch (err) { setEmpty($("acts"), 7, `Activities could not be loaded: ${explain(err)}`); }
}
function csv() {
  const cols = ["submitted_at", "symbol", "side", "type", "qty", "notional", "limit_price", "stop_price", "time_in_force",
                "status", "filled_qty", "filled_avg_price", "reject_reason", "id", "client_order_id"];
  const esc = (v) => { const s = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  const text = [cols.join(","), ...orders.map(o => cols.map(c => esc(o[c])).join(","))].join("\n");
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "tradex-orders.csv" });
  document.body.append(a); a.click(); a.remove();
}
$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("csv").addEventListener("click", csv);
terminal.on("trade_updates", () => { load(); loadActivities(); });
terminal.on("reconnected", () => { load(); loadActivities(); });
start();
load(); loadActivities();
