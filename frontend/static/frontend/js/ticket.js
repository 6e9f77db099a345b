// The order ticket: every order type, time in force, extended hours, quantity or notional, order
// classes; "Preview" runs every risk check without writing (POST /v2/orders with dry_run), and
// after "Submit" the status line follows the venue's answers on the socket: pending → accepted →
// filled, or rejected with the reason in plain words. Never "submitted" for a refused order.
import { api, dec, decStr, el, explain, fmtMoney, fmtPrice, fmtQty, mul, priceOf, statusBadge, terminal } from "./core.js";

const STATUS_WORDS = {
  pending_new: "Sent to the venue, waiting for its answer…", accepted: "Held at TradeX until it can be routed",
  new: "Accepted by the venue, working", partially_filled: "Partly filled", filled: "Filled",
  canceled: "Canceled", expired: "Expired", rejected: "Rejected", pending_cancel: "Cancel requested…",
  pending_replace: "Change requested…", replaced: "Replaced by a new order", held: "Held until its trigger",
  done_for_day: "Done for the day", stopped: "Stopped", suspended: "Suspended", calculated: "Calculated",
};
export const statusWords = (s) => STATUS_WORDS[s] || s;

function newClientOrderId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "web-" + Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
}

function field(label, input, hint) {
  const id = input.id || (input.id = "t-" + input.name.replaceAll(".", "-"));
  return el("div", { class: "field", dataset: { for: input.name } },
    el("label", { for: id, text: label }), input, hint ? el("span", { class: "muted", text: hint }) : null);
}
const input = (name, attrs = {}) => el("input", { name, autocomplete: "off", inputmode: "decimal", ...attrs });
const select = (name, options) => el("select", { name }, options.map(([v, t]) => el("option", { value: v, text: t })));

export function mountTicket(root, { symbol = "" } = {}) {
  const f = {
    symbol: input("symbol", { inputmode: "text", required: true, value: symbol, placeholder: "AAPL", autocapitalize: "characters" }),
    side: select("side", [["buy", "Buy"], ["sell", "Sell"]]),
    type: select("type", [["market", "Market"], ["limit", "Limit"], ["stop", "Stop"], ["stop_limit", "Stop limit"], ["trailing_stop", "Trailing stop"]]),
    amount: select("amount", [["qty", "Shares"], ["notional", "Dollars (notional)"]]),
    qty: input("qty", { value: "1" }),
    notional: input("notional"),
    limit_price: input("limit_price"),
    stop_price: input("stop_price"),
    trail: select("trail", [["trail_price", "by $"], ["trail_percent", "by %"]]),
    trail_value: input("trail_value"),
    time_in_force: select("time_in_force", [["day", "Day"], ["gtc", "Good till canceled"], ["ioc", "Immediate or cancel"], ["fok", "Fill or kill"], ["opg", "At the open"], ["cls", "At the close"]]),
    extended_hours: el("input", { type: "checkbox", name: "extended_hours", id: "t-extended_hours" }),
    order_class: select("order_class", [["simple", "Simple"], ["bracket", "Bracket (take profit + stop loss)"], ["oco", "OCO (one cancels other)"], ["oto", "OTO (one triggers other)"]]),
    tp_limit: input("take_profit.limit_price"),
    sl_stop: input("stop_loss.stop_price"),
    sl_limit: input("stop_loss.limit_price"),
  };
  const preview = el("div", { class: "preview", id: "ticket-preview", "aria-live": "polite", hidden: true });
  const status = el("p", { id: "ticket-status", role: "status", "aria-live": "polite" });
  const previewBtn = el("button", { type: "button", text: "Preview" });
  const submitBtn = el("button", { type: "submit", class: "buy primary", text: "Submit order" });
  const form = el("form", { id: "ticket", "aria-label": "Order ticket", novalidate: true },
    el("div", { class: "row" }, field("Symbol", f.symbol), field("Side", f.side), field("Order type", f.type)),
    el("div", { class: "row" }, field("Amount in", f.amount), field("Quantity", f.qty), field("Notional ($)", f.notional)),
    el("div", { class: "row" }, field("Limit price", f.limit_price), field("Stop price", f.stop_price),
       field("Trail", f.trail), field("Trail amount", f.trail_value)),
    el("div", { class: "row" }, field("Time in force", f.time_in_force), field("Order class", f.order_class),
       el("div", { class: "field" }, el("label", { for: "t-extended_hours" }, f.extended_hours, " Extended hours (limit, day)"))),
    el("div", { class: "row", id: "legs" }, field("Take-profit limit", f.tp_limit), field("Stop-loss stop", f.sl_stop),
       field("Stop-loss limit (optional)", f.sl_limit)),
    el("div", { class: "row" }, previewBtn, submitBtn),
    preview, status);
  root.replaceChildren(form);

  let clientOrderId = newClientOrderId();
  let watching = null; // the order id whose updates the status line follows

  function show(name, visible) {
    const box = form.querySelector(`[data-for="${name}"]`);
    if (box) box.hidden = !visible;
    if (f[name] && !visible) f[name].value = f[name].tagName === "SELECT" ? f[name].value : "";
  }
  function layout() {
    const t = f.type.value, notional = f.amount.value === "notional";
    form.querySelector('[data-for="qty"]').hidden = notional;
    form.querySelector('[data-for="notional"]').hidden = !notional;
    form.querySelector('[data-for="limit_price"]').hidden = !(t === "limit" || t === "stop_limit");
    form.querySelector('[data-for="stop_price"]').hidden = !(t === "stop" || t === "stop_limit");
    form.querySelector('[data-for="trail"]').hidden = t !== "trailing_stop";
    form.querySelector('[data-for="trail_value"]').hidden = t !== "trailing_stop";
    form.querySelector("#legs").hidden = f.order_class.value === "simple";
    submitBtn.className = f.side.value === "buy" ? "buy" : "sell";
    submitBtn.textContent = `${f.side.value === "buy" ? "Buy" : "Sell"} ${f.symbol.value.trim().toUpperCase() || ""}`.trim();
  }
  const lastPrice = new Map();
  terminal.on("md", (md) => { const p = priceOf(md); if (p) lastPrice.set(md.S, p); });
  const follow_symbol = () => { const s = f.symbol.value.trim().toUpperCase(); if (/^[A-Z][A-Z0-9.\-]{0,15}$/.test(s)) terminal.subscribe([s]); };
  f.symbol.addEventListener("change", follow_symbol);
  if (symbol) follow_symbol();
  form.addEventListener("change", layout);
  form.addEventListener("input", () => { clientOrderId = newClientOrderId(); preview.hidden = true; layout(); });
  layout();

  function body() {
    const v = (x) => x.value.trim();
    const b = { symbol: v(f.symbol).toUpperCase(), side: f.side.value, type: f.type.value,
                time_in_force: f.time_in_force.value, client_order_id: clientOrderId };
    if (f.amount.value === "notional") b.notional = v(f.notional); else b.qty = v(f.qty);
    if (!form.querySelector('[data-for="limit_price"]').hidden) b.limit_price = v(f.limit_price);
    if (!form.querySelector('[data-for="stop_price"]').hidden) b.stop_price = v(f.stop_price);
    if (b.type === "trailing_stop") b[f.trail.value] = v(f.trail_value);
    if (f.extended_hours.checked) b.extended_hours = true;
    if (f.order_class.value !== "simple") {
      b.order_class = f.order_class.value;
      if (v(f.tp_limit)) b.take_profit = { limit_price: v(f.tp_limit) };
      if (v(f.sl_stop)) { b.stop_loss = { stop_price: v(f.sl_stop) }; if (v(f.sl_limit)) b.stop_loss.limit_price = v(f.sl_limit); }
    }
    for (const k of Object.keys(b)) if (b[k] === "") delete b[k];  // empty = not given; the API says what is missing
    return b; // decimals travel as the strings typed: never binary floating point
  }

  function setStatus(text, cls, s) {
    status.className = cls || "";
    status.dataset.status = s || "";
    status.replaceChildren(text);
  }

  previewBtn.addEventListener("click", async () => {
    previewBtn.disabled = true;
    try {
      const b = body();
      const r = await api("POST", "/v2/orders", { ...b, dry_run: true });
      // The cost at the last price (the server's estimate is the worst case it holds buying power
      // for: a market buy carries a buffer). Limit orders cost at most their limit.
      const last = lastPrice.get(b.symbol);
      const px = b.limit_price || last;
      const cost = b.qty && px && dec(b.qty) !== null ? decStr(mul(dec(b.qty), dec(px)), 2) : (b.notional || r.estimated_notional);
      preview.hidden = false;
      preview.dataset.accepted = String(r.accepted);
      preview.replaceChildren(
        el("strong", { class: r.accepted ? "ok" : "error", text: r.accepted ? "Risk checks pass" : "This order would be refused" }),
        el("dl", { class: "figures" },
          el("div", {}, el("dt", { text: "Estimated cost" }), el("dd", { id: "preview-cost", dataset: { value: cost ?? "" }, text: fmtMoney(cost) })),
          el("div", {}, el("dt", { text: "Held while it works (worst case)" }), el("dd", { text: fmtMoney(r.reservation) })),
          el("div", {}, el("dt", { text: "Buying power now" }), el("dd", { text: fmtMoney(r.buying_power) })),
          el("div", {}, el("dt", { text: "Buying power after" }), el("dd", { text: fmtMoney(r.buying_power_after) }))),
        // replaceChildren() prints a null child as the text "null": give it only nodes.
        ...(r.refusals.length ? [el("ul", { class: "error" }, r.refusals.map(x => el("li", { text: x.message, dataset: { code: x.code } })))] : []));
    } catch (err) {
      preview.hidden = false;
      preview.dataset.accepted = "false";
      preview.replaceChildren(el("strong", { class: "error", text: explain(err) }));
    } finally { previewBtn.disabled = false; }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submitBtn.disabled = true;
    setStatus("Sending…", "muted", "sending");
    try {
      const order = await api("POST", "/v2/orders", body());
      watching = order.id;
      follow(seen.get(order.id) || order); // the socket may have beaten the POST's answer
      clientOrderId = newClientOrderId();
      root.dispatchEvent(new CustomEvent("order-placed", { detail: order, bubbles: true }));
    } catch (err) {
      if (err.status >= 400 && err.status < 500) {
        setStatus(`Refused: ${explain(err)}`, "error", "refused");
        clientOrderId = newClientOrderId(); // refused and nothing written: a resubmit is a new order
      } else {
        // The order may or may not exist: resubmitting reuses the id, so it cannot be placed twice.
        setStatus(`Not confirmed (${explain(err)}). Submit again to retry the same order safely.`, "warn", "unknown");
      }
    } finally { submitBtn.disabled = false; }
  });

  function follow(order) {
    const what = `${order.side === "buy" ? "Buy" : "Sell"} ${order.qty ? fmtQty(order.qty) : fmtMoney(order.notional)} ${order.symbol} ${order.type.replace("_", " ")}`;
    let text = `${what}: ${statusWords(order.status)}`;
    if (order.status === "filled") text += ` at $${fmtPrice(order.filled_avg_price)}`;
    if (order.status === "partially_filled") text += ` (${fmtQty(order.filled_qty)} at $${fmtPrice(order.filled_avg_price)})`;
    if (order.status === "rejected") text += ` — ${order.reject_reason || "the venue refused it"}`;
    if (order.hold_reason && order.status === "accepted") text += ` (${order.hold_reason})`;
    const cls = order.status === "filled" ? "ok" : (["rejected", "canceled", "expired"].includes(order.status) ? "error" : "");
    status.className = cls;
    status.dataset.status = order.status;
    status.dataset.orderId = order.id;
    status.replaceChildren(statusBadge(order.status), " ", text);
  }
  const seen = new Map(); // order id -> latest order from the socket (updates come in commit order)
  terminal.on("trade_updates", (u) => {
    if (!u.order) return;
    seen.set(u.order.id, u.order);
    if (seen.size > 200) seen.delete(seen.keys().next().value);
    if (u.order.id === watching) follow(u.order);
  });
  return { form, setSymbol(s) { f.symbol.value = s; layout(); } };
}
