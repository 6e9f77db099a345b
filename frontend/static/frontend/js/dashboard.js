// Dashboard: account figures, positions, open orders (cancel / modify), recent activity, the
// order ticket. Loaded once over REST; then kept live by the socket: prices of held symbols (md),
// valuation pushes (account), and trade updates, after which the affected REST views reload once.
import {
  api, dec, decStr, el, explain, fmtMoney, fmtPct, fmtPrice, fmtQty, fmtTime, moneyCell, mul, numCell, priceOf, setEmpty,
  signClass, start, statusBadge, sub, sumOf, terminal, toast,
} from "./core.js";
import { mountTicket } from "./ticket.js";

const $ = (id) => document.getElementById(id);
let account = null;
let positions = [];
const livePrice = new Map();

function figure(id, label, value, { signed = false, pct = null } = {}) {
  const dd = el("dd", { id, class: signed ? signClass(value) : "" }, fmtMoney(value, { signed }));
  if (pct !== null) dd.append(el("span", { class: "muted", text: ` ${fmtPct(pct)}` }));
  return el("div", {}, el("dt", { text: label }), dd);
}

function renderAccount() {
  if (!account) return;
  const equity = dec(account.equity), lastEquity = dec(account.last_equity);
  const today = sub(equity, lastEquity);
  const unrealized = sumOf(positions, "unrealized_pl");
  const realized = sumOf(positions, "realized_pl");
  $("figures").replaceChildren(
    figure("f-equity", "Equity", account.equity),
    figure("f-bp", "Buying power", account.buying_power),
    figure("f-settled", "Cash, settled", account.settled_cash),
    figure("f-unsettled", "Cash, unsettled", account.unsettled_cash),
    figure("f-reserved", "Held for open orders", account.reserved_cash),
    figure("f-today", "Today's P&L", today, { signed: true, pct: lastEquity ? (today * 10n ** 9n) / lastEquity : null }),
    figure("f-unrealized", "Unrealized P&L", unrealized, { signed: true }),
    figure("f-realized", "Realized P&L", realized, { signed: true }),
    figure("f-total", "Total P&L (open positions)", unrealized + realized, { signed: true }),
  );
  $("account-state").textContent = account.trading_blocked ? `Trading blocked: account ${account.status.toLowerCase()}` : "";
}

function valued(p) {
  // A live price for a held symbol revalues the row here; the server's figures win on reload.
  const price = livePrice.get(p.symbol);
  if (!price) return p;
  const qty = dec(p.qty), px = dec(price), avg = dec(p.avg_entry_price);
  const mv = mul(qty, px), pl = mul(qty, px - avg);
  return { ...p, current_price: price, market_value: decStr(mv, 2), unrealized_pl: decStr(pl, 2) };
}

function renderPositions() {
  const tbody = $("positions");
  positions = positions.map(valued);
  if (!positions.length) { setEmpty(tbody, 8, "No positions yet. Use the order ticket to buy your first shares."); renderAccount(); return; }
  tbody.replaceChildren(...positions.map(p => el("tr", { dataset: { symbol: p.symbol } },
    el("th", { scope: "row" }, el("a", { href: `/symbol/${encodeURIComponent(p.symbol)}/`, text: p.symbol })),
    numCell(fmtQty(p.qty)), numCell(fmtPrice(p.avg_entry_price), "hide-sm"), numCell(fmtPrice(p.current_price)),
    moneyCell(p.market_value), moneyCell(p.unrealized_pl, { signed: true }),
    numCell(fmtPct(p.unrealized_plpc), `hide-sm ${signClass(p.unrealized_plpc)}`),
    el("td", { class: "num realized" }, el("span", { class: signClass(p.realized_pl), text: fmtMoney(p.realized_pl, { signed: true }) })))));
  renderAccount();
}

function renderOrders(orders) {
  const tbody = $("orders");
  if (!orders.length) { setEmpty(tbody, 8, "No open orders."); return; }
  tbody.replaceChildren(...orders.map(o => el("tr", { dataset: { orderId: o.id } },
    el("td", { class: "hide-sm", text: fmtTime(o.submitted_at || o.created_at) }),
    el("th", { scope: "row", text: o.symbol }), el("td", { class: o.side === "buy" ? "gain" : "loss", text: o.side }),
    el("td", { text: o.type.replace("_", " ") }), numCell(o.qty ? fmtQty(o.qty) : fmtMoney(o.notional)),
    numCell(o.limit_price ? fmtPrice(o.limit_price) : (o.stop_price ? `stop ${fmtPrice(o.stop_price)}` : "—")),
    el("td", {}, statusBadge(o.status)),
    el("td", {}, el("button", { type: "button", class: "link", text: "Modify", "aria-label": `Modify ${o.side} ${o.symbol}`, onclick: () => modify(o) }),
       el("button", { type: "button", class: "link", text: "Cancel", "aria-label": `Cancel ${o.side} ${o.symbol}`, onclick: () => cancel(o) })))));
}

async function cancel(o) {
  try { await api("DELETE", `/v2/orders/${o.id}`); toast(`Cancel requested for ${o.side} ${o.symbol}`); }
  catch (err) { toast(`Could not cancel: ${explain(err)}`, "error"); }
}

function modify(o) {
  // A modal <dialog>: focus moves into it, Escape closes it, the page behind is inert.
  const qty = el("input", { id: "m-qty", inputmode: "decimal", value: o.qty || "" });
  const limit = el("input", { id: "m-limit", inputmode: "decimal", value: o.limit_price || "" });
  const stop = el("input", { id: "m-stop", inputmode: "decimal", value: o.stop_price || "" });
  const error = el("p", { class: "error", role: "alert" });
  const dialog = el("dialog", { "aria-labelledby": "m-title" },
    el("form", { method: "dialog", class: "stack" },
      el("h2", { id: "m-title", text: `Modify ${o.side} ${o.symbol} ${o.type.replace("_", " ")}` }),
      el("label", { for: "m-qty", text: "Quantity" }), qty,
      o.limit_price ? el("label", { for: "m-limit", text: "Limit price" }) : null, o.limit_price ? limit : null,
      o.stop_price ? el("label", { for: "m-stop", text: "Stop price" }) : null, o.stop_price ? stop : null,
      error,
      el("div", { class: "row" }, el("button", { value: "cancel", formnovalidate: true, text: "Keep as is" }),
         el("button", { value: "ok", class: "primary", text: "Replace order" }))));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.querySelector("form").addEventListener("submit", async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    const body = {};
    if (qty.value.trim() && qty.value.trim() !== o.qty) body.qty = qty.value.trim();
    if (o.limit_price && limit.value.trim() !== o.limit_price) body.limit_price = limit.value.trim();
    if (o.stop_price && stop.value.trim() !== o.stop_price) body.stop_price = stop.value.trim();
    if (!Object.keys(body).length) { dialog.close(); return; }
    try { await api("PATCH", `/v2/orders/${o.id}`, body); toast(`Change requested for ${o.symbol}`); dialog.close(); }
    catch (err) { error.textContent = `Not changed: ${explain(err)}`; }
  });
  dialog.showModal();
}

async function loadActivity() {
  const tbody = $("activity");
  try {
    const items = await api("GET", "/v2/account/activities?page_size=10&direction=desc");
    if (!items.length) { setEmpty(tbody, 5, "No activity yet."); return; }
    tbody.replaceChildren(...items.map(a => el("tr", {},
      el("td", { class: "hide-sm", text: fmtTime(a.transaction_time || a.date) }),
      el("td", { text: a.activity_type }),
      el("td", { text: a.symbol ? `${a.side || ""} ${a.symbol}`.trim() : (a.description || "") }),
      numCell(a.qty ? fmtQty(a.qty) : ""), numCell(a.price ? fmtPrice(a.price) : fmtMoney(a.net_amount)))));
  } catch (err) { setEmpty(tbody, 5, `Activity could not be loaded: ${explain(err)}`); }
}

async function loadAll() {
  try {
    const [acct, pos, orders] = await Promise.all([api("GET", "/v2/account"), api("GET", "/v2/positions"),
                                                  api("GET", "/v2/orders?status=open&limit=100")]);
    account = acct; positions = pos; livePrice.clear();
    renderPositions(); renderOrders(orders);
    terminal.subscribe(pos.map(p => p.symbol));
    $("load-error").hidden = true;
  } catch (err) {
    $("load-error").hidden = false;
    $("load-error").textContent = `The account could not be loaded: ${explain(err)} Reload the page to try again.`;
  }
  loadActivity();
}

let reloadQueued = false;
function reloadSoon() {
  // Several updates of one fill (fill, position, cash) arrive together: one reload for the burst.
  if (reloadQueued) return;
  reloadQueued = true;
  queueMicrotask(async () => { await new Promise(r => setTimeout(r, 50)); reloadQueued = false; loadAll(); });
}

terminal.on("trade_updates", reloadSoon);
terminal.on("reconnected", loadAll);
terminal.on("account", (data) => {
  if (!data) return;
  account = { ...account, ...data };
  if (Array.isArray(data.positions)) positions = data.positions;
  renderPositions();
});
terminal.on("md", (md) => {
  const price = priceOf(md);
  if (!price || !positions.some(p => p.symbol === md.S)) return;
  livePrice.set(md.S, price);
  renderPositions();
});

mountTicket($("ticket-box"), {});
start();
loadAll();
