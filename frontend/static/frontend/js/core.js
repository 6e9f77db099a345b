// What every terminal page shares: the REST helper (session + CSRF), exact decimals, number
// formatting, DOM building, toasts, the theme, and the tab's one WebSocket (/ws/terminal).
// Nothing here polls: data arrives on the socket, and REST is called on load and on events.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";

// ---- REST --------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.reason = body && body.reason;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; }
  if (method !== "GET") headers["X-CSRFToken"] = CSRF;
  let resp;
  try {
    resp = await fetch(path, { method, headers, credentials: "same-origin",
                               body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { message: "The server cannot be reached. Check your connection and try again." });
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (_) { /* not JSON */ }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// An endpoint another part of TradeX serves; 404 here means "not on this server yet".
export async function optionalApi(path) {
  try { return { data: await api("GET", path), missing: false }; }
  catch (err) { if (err.status === 404) return { data: null, missing: true }; throw err; }
}

// ---- exact decimals (money is never binary floating point) ------------------------------------
const SCALE = 9n, ONE = 10n ** SCALE;
export function dec(value) {
  if (value === null || value === undefined || value === "") return null;
  const s = String(value).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return null;
  if (m[4]) return null; // exponents never come from our API
  const frac = (m[3] || "").padEnd(Number(SCALE), "0").slice(0, Number(SCALE));
  const v = BigInt(m[2] || "0") * ONE + BigInt(frac || "0");
  return m[1] === "-" ? -v : v;
}
export const add = (a, b) => (a ?? 0n) + (b ?? 0n);
export const sub = (a, b) => (a ?? 0n) - (b ?? 0n);
export const mul = (a, b) => (a * b) / ONE;
export function sumOf(items, key) { return items.reduce((acc, x) => acc + (dec(x[key]) ?? 0n), 0n); }

function roundTo(v, places) {
  const unit = 10n ** (SCALE - BigInt(places));
  const half = unit / 2n;
  const q = v >= 0n ? (v + half) / unit : -((-v + half) / unit);
  return q;
}
function group(intPart) { return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
export function fmtFixed(v, places, { signed = false } = {}) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "bigint") v = dec(v);
  if (v === null) return "—";
  const q = roundTo(v, places);
  const neg = q < 0n, abs = neg ? -q : q;
  const s = abs.toString().padStart(places + 1, "0");
  const int = s.slice(0, s.length - places), frac = places ? "." + s.slice(s.length - places) : "";
  const sign = neg ? "−" : (signed && q > 0n ? "+" : "");
  return sign + group(int) + frac;
}
// A bigint back to the API's decimal string ("-12.5" style, no grouping).
export function decStr(v, places = 4) { return fmtFixed(v, places).replaceAll(",", "").replace("−", "-"); }
export const fmtMoney = (v, opts) => { const s = fmtFixed(v, 2, opts); return s === "—" ? s : s.replace(/^([+−]?)/, "$1$"); };
export const fmtPrice = (v) => fmtFixed(v, (typeof v === "string" && /\.\d{3,}/.test(v)) ? 4 : 2);
export function fmtQty(v) {
  if (v === null || v === undefined || v === "") return "—";
  const d = typeof v === "bigint" ? v : dec(v);
  if (d === null) return String(v);
  let s = fmtFixed(d, 9);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}
export const fmtPct = (ratio) => { const r = typeof ratio === "bigint" ? ratio : dec(ratio); return r === null ? "—" : fmtFixed(r * 100n, 2, { signed: true }) + "%"; };
export function signClass(v) { const d = typeof v === "bigint" ? v : dec(v); return d === null || d === 0n ? "" : (d > 0n ? "gain" : "loss"); }
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

// ---- DOM -----------------------------------------------------------------------------------------
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v; // textContent: never HTML
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}
export function numCell(text, cls = "") { return el("td", { class: `num ${cls}`.trim(), text }); }
export function moneyCell(v, { signed = false } = {}) { return numCell(fmtMoney(v, { signed }), signed ? signClass(v) : ""); }
export function setEmpty(tbody, columns, message) {
  tbody.replaceChildren(el("tr", {}, el("td", { colspan: columns, class: "empty", text: message })));
}
export function statusBadge(status) { return el("span", { class: "status", dataset: { s: status }, text: status.replaceAll("_", " ") }); }

// ---- plain words for the API's reasons ----------------------------------------------------------
const REASONS = {
  insufficient_buying_power: "Not enough buying power for this order. Lower the quantity or add funds.",
  insufficient_qty: "You do not hold enough shares for this sell (shares held by open orders count as used).",
  market_closed: "The market is closed for this kind of order.",
  asset_not_found: "No such symbol. Check the ticker.",
  asset_not_tradable: "This asset cannot be traded.",
  not_found: "Not found: it may have been removed.",
  missing_field: "A required field is empty.",
  price_collar: "The price is too far from the market.",
  concentration_limit: "This order would put too much of your account in one stock.",
  max_order_notional: "This order is larger than the most one order may be.",
  symbol_halted: "Trading in this symbol is halted.",
  price_unavailable: "There is no price for this symbol right now, so the order cannot be checked.",
  account_not_approved: "Your application is still being reviewed. You can trade once it is approved.",
  account_restricted: "Your account is restricted to closing trades (see your notifications).",
  account_closed: "This account is closed.",
  account_in_debit: "Your cash balance is negative: deposit funds before selling unpaid shares.",
};
export function explain(err) {
  if (!err) return "";
  const base = REASONS[err.reason] || err.message || "Something went wrong.";
  if (err.status === 403 && err.reason === undefined) return "Your session has expired: log in again.";
  return base === err.message || !err.message ? base : `${base} (${err.message})`;
}

// ---- toasts (role=status so screen readers announce them) ---------------------------------------
export function toast(message, kind = "") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const t = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", text: message });
  box.append(t);
  setTimeout(() => t.remove(), 6000); // a timer to tidy the screen, not to fetch anything
}

// ---- theme ---------------------------------------------------------------------------------------
export function initTheme() {
  const saved = localStorage.getItem("tradex-theme");
  const prefersDark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const theme = saved || (prefersDark ? "dark" : "light");
  document.documentElement.dataset.theme = theme;
  const btn = document.getElementById("theme");
  if (!btn) return;
  const label = () => { btn.textContent = document.documentElement.dataset.theme === "dark" ? "Light theme" : "Dark theme"; };
  label();
  btn.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("tradex-theme", next);
    label();
  });
}

// ---- the tab's WebSocket --------------------------------------------------------------------------
// Streams: trade_updates (with seq; resumes after the last seen), md (conflated per symbol),
// account (valuation), notification, session (logged out). Reconnects with exponential backoff
// and jitter, shown in the header; after a reconnect the page's "reconnected" handlers reload
// their REST snapshot once.
class Terminal {
  constructor() {
    this.handlers = {};
    this.symbols = new Set();
    this.lastSeq = null;
    this.attempt = 0;
    this.ws = null;
    this.everConnected = false;
    this.loggedOut = false;
  }
  on(stream, fn) { (this.handlers[stream] ||= []).push(fn); return this; }
  emit(stream, data) { for (const fn of this.handlers[stream] || []) { try { fn(data); } catch (e) { console.error(e); } } }
  subscribe(symbols) {
    const add = symbols.map(s => s.toUpperCase()).filter(s => !this.symbols.has(s));
    add.forEach(s => this.symbols.add(s));
    if (add.length) this.send({ action: "subscribe", data: { symbols: add } });
  }
  unsubscribe(symbols) {
    const drop = symbols.map(s => s.toUpperCase()).filter(s => this.symbols.has(s));
    drop.forEach(s => this.symbols.delete(s));
    if (drop.length) this.send({ action: "unsubscribe", data: { symbols: drop } });
  }
  send(frame) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame)); }
  status(state, text) {
    const badge = document.getElementById("conn");
    if (badge) { badge.dataset.state = state; badge.textContent = text; }
    document.body.dataset.conn = state;
  }
  connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/terminal`;
    this.status("connecting", this.everConnected ? "Reconnecting…" : "Connecting…");
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      const data = { streams: ["trade_updates"] };
      if (this.lastSeq !== null) data.resume_after = this.lastSeq;
      ws.send(JSON.stringify({ action: "listen", data }));
      if (this.symbols.size) ws.send(JSON.stringify({ action: "subscribe", data: { symbols: [...this.symbols] } }));
    };
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (_) { return; }
      const { stream, data } = frame;
      if (stream === "listening") {
        if (data.error) {
          if (data.code === "resume_after_expired" || data.code === "resume_after_ahead") {
            this.lastSeq = null; ws.send(JSON.stringify({ action: "listen", data: { streams: ["trade_updates"] } }));
            this.emit("reconnected", {});
          }
          return;
        }
        const wasReconnect = this.everConnected;
        if (this.lastSeq === null) this.lastSeq = data.last_seq ?? 0;
        this.attempt = 0;
        this.everConnected = true;
        this.status("live", "Live");
        if (wasReconnect) this.emit("reconnected", {});
        return;
      }
      if (stream === "trade_updates") { this.lastSeq = data.seq; this.emit("trade_updates", data); return; }
      if (stream === "session" && data.status === "logged_out") { this.loggedOut = true; return; }
      this.emit(stream, data);
    };
    ws.onclose = (ev) => {
      this.ws = null;
      if (ev.code === 4001 || this.loggedOut) { this.status("down", "Logged out"); location.assign("/login/"); return; }
      if (ev.code === 4401) { this.status("down", "Signed out — log in again"); location.assign("/login/?next=" + encodeURIComponent(location.pathname)); return; }
      const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      let left = Math.ceil(delay / 1000);
      this.status("down", `Disconnected — retrying in ${left}s`);
      const tick = setInterval(() => { left -= 1; if (left > 0) this.status("down", `Disconnected — retrying in ${left}s`); }, 1000);
      setTimeout(() => { clearInterval(tick); this.connect(); }, delay);
    };
  }
}
export const terminal = new Terminal();

// The last trade the socket has told us of (md frames), or null. "Last" is a trade, never a quote
// midpoint: a four-decimal mid shown as "Last" was a price nobody traded at.
export function priceOf(md) {
  return md.t && md.t.p !== undefined ? String(md.t.p) : null;
}

export function start() {
  initTheme();
  const nav = document.querySelector(`header.top nav a[href="${location.pathname}"]`);
  if (nav) nav.setAttribute("aria-current", "page");
  terminal.on("notification", (n) => {
    const d = n.data || {};
    toast(d.message || `${n.kind}: ${d.symbol || ""} ${d.price || ""}`.trim());
  });
  terminal.on("trade_updates", (u) => {
    const o = u.order;
    const words = { fill: `Filled: ${o.side} ${fmtQty(o.filled_qty)} ${o.symbol} at $${fmtPrice(o.filled_avg_price)}`,
                    partial_fill: `Partly filled: ${fmtQty(o.filled_qty)} of ${fmtQty(o.qty)} ${o.symbol}`,
                    rejected: `Rejected: ${o.side} ${o.symbol} — ${o.reject_reason || "the venue refused the order"}`,
                    canceled: `Canceled: ${o.side} ${fmtQty(o.qty)} ${o.symbol}`,
                    expired: `Expired: ${o.side} ${o.symbol}` };
    if (words[u.event]) toast(words[u.event], u.event === "rejected" ? "error" : (u.event === "fill" ? "ok" : ""));
  });
  terminal.connect();
}
