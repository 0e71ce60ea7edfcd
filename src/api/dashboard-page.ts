import { FORMAT_SCRIPT } from './dashboard-format.js';
import { CHART_SCRIPT } from './dashboard-chart.js';

/**
 * One job: the dashboard page served at `GET /` (DESIGN §5): one HTML document with inline CSS and inline
 * vanilla JS, no framework, no build step, no request outside its own origin. It is embedded here
 * as strings (the build copies no .html files), and dashboard.ts hashes STYLE and SCRIPT for the
 * Content-Security-Policy — so they must be inserted into the markup byte for byte.
 *
 * What a trader watches comes first and fits one 1400×900 screen: the P&L headline, then one row
 * per position (average entry, last, value, unrealized P&L, cover, the nearest stop and whether
 * stops act now), every position shown — no fixed-height box; a row's stops fold under it and open
 * on a click. Below: the P&L chart (dashboard-chart.ts), fills with their role and what each exit
 * realized, cooldowns, the order actors.
 *
 * The script reads the JSON endpoints of the same origin every 5 s and writes every value with
 * textContent / setAttribute, never as markup. Decimal strings are rounded for display as strings
 * (dashboard-format.ts); they become Numbers only for SVG coordinates and time left. Keep the
 * script free of backticks and `${`.
 *
 * Honest state: when /health stops answering (refused, or no answer within 6 s) — or has not
 * answered for 8 s — every status pill turns grey "stale", the page is greyed, and a banner says
 * since when. A working stop order (its actor `pending`: open at the broker) reads "working".
 *
 * The API token (CT_API_TOKEN) is asked for once, in a small form, kept in this tab's
 * sessionStorage and sent as `Authorization: Bearer …` on every fetch — never in a URL. The
 * buttons (pause / resume entries, close a position, clear a cooldown) call the write routes the
 * same way and show the server's JSON error when the answer is not 2xx.
 */

export const STYLE = `
:root { color-scheme: light; --fg: #1c2430; --muted: #5f6b7a; --line: #dde3ea; --bg: #f5f7fa; --card: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --accent: #0969da; --stale: #8c959f;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #1c2430; color: #fff; padding: 8px 20px; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 20px; }
header h1 { font-size: 18px; margin: 0 8px 0 0; font-weight: 600; letter-spacing: .2px; }
header .kv { display: flex; flex-direction: column; min-width: 0; }
header .k { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: #9fb0c3; }
header .v { font-family: var(--mono); font-size: 13px; white-space: nowrap; }
header .updated { margin-left: auto; font-size: 12px; color: #9fb0c3; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; background: #3a4656; color: #fff; }
.pill.good { background: var(--ok); }
.pill.warn { background: var(--warn); }
.pill.bad { background: var(--bad); }
.pill.idle { background: #6e7781; font-weight: 400; }
.pill.stale, body.stale .pill { background: var(--stale); color: #fff; }
td .pill { font-size: 12px; padding: 0 7px; }
#mode-banner { display: none; padding: 6px 20px; background: #fff8c5; color: #4d2d00; border-bottom: 1px solid #d4a72c; font-weight: 600; }
#mode-banner.show { display: block; }
#mode-banner.paper { background: #ddf4ff; color: #0a3069; border-bottom-color: #54aeff; }
#mode-banner.live { background: #cf222e; color: #fff; border-bottom-color: #82071e; letter-spacing: .3px; }
#stale-banner { display: none; padding: 8px 20px; background: #57606a; color: #fff; font-weight: 600; }
#stale-banner.show { display: block; }
#banner, .alarm { display: none; margin: 10px 20px 0; padding: 8px 14px; border-radius: 6px; border: 1px solid #f1aeb5; background: #fff0f1; color: #82071e; }
#banner.show, .alarm.show { display: block; }
.alarm.warn { border-color: #d4a72c; background: #fff8c5; color: #4d2d00; }
.alarm .item { display: block; margin-top: 2px; }
#banner code { background: #fff; padding: 1px 5px; border-radius: 4px; border: 1px solid #f1aeb5; }
#token-form { margin: 10px 20px 0; padding: 10px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; }
#token-form[hidden] { display: none; }
#token-form input { font: 13px var(--mono); padding: 4px 8px; min-width: 320px; border: 1px solid #8c959f; border-radius: 5px; }
#token-form .sub, .note { font-size: 12px; color: var(--muted); }
button { font: inherit; font-size: 13px; padding: 2px 10px; border-radius: 6px; border: 1px solid #8c959f; background: #f6f8fa; color: var(--fg); cursor: pointer; }
button:hover:not(:disabled) { background: #eaeef2; }
button:disabled { opacity: .5; cursor: default; }
button[hidden] { display: none; }
button.danger { border-color: var(--bad); color: var(--bad); }
header button { background: #3a4656; color: #fff; border-color: #5f6b7a; font-size: 12px; }
#headline { margin: 10px 20px 0; padding: 10px 16px; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px 34px; }
#headline .k { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); }
#headline .v { font-family: var(--mono); font-size: 20px; font-weight: 600; white-space: nowrap; }
#headline .s { font-size: 12px; color: var(--muted); white-space: nowrap; }
#headline .controls { margin-left: auto; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; font-size: 13px; }
#action-msg { font-size: 13px; max-width: 460px; }
#action-msg.ok { color: var(--ok); }
#action-msg.err { color: var(--bad); }
main { padding: 10px 20px 28px; display: grid; gap: 12px; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); align-items: start; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
#fills { grid-row: span 3; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } #fills { grid-row: auto; } }
h2 { font-size: 15px; margin: 0 0 8px; display: flex; align-items: baseline; gap: 10px; }
h2 .sub { font-size: 12px; font-weight: 400; color: var(--muted); }
.err { color: var(--bad); font-size: 13px; }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
.stats { display: flex; flex-wrap: wrap; gap: 4px 18px; margin-bottom: 6px; }
.stats .k { font-size: 12px; color: var(--muted); }
.stats .v { font-family: var(--mono); font-size: 14px; }
.pos { color: var(--ok); }
.neg { color: var(--bad); }
.chart { width: 100%; height: auto; display: block; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis, .chart .tick { stroke: #8c959f; stroke-width: 1; }
.chart .zero { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 4 4; }
.chart .curve { fill: none; stroke: var(--accent); stroke-width: 2; }
.chart .dot { fill: var(--accent); }
.chart .area { fill: rgba(9, 105, 218, .08); stroke: none; }
.chart .open { stroke: var(--accent); stroke-width: 2; stroke-dasharray: 3 3; }
.chart .open-dot { fill: #fff; stroke: var(--accent); stroke-width: 2; }
.chart text { font: 12px var(--mono); fill: var(--muted); }
.chart text.unit { font: 11px system-ui, sans-serif; }
.chart text.note { font: italic 14px system-ui, sans-serif; }
.counts { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.chip { font-size: 12px; border: 1px solid var(--line); border-radius: 12px; padding: 1px 9px; background: #f6f8fa; }
.chip b { font-weight: 600; margin-left: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { background: #f6f8fa; text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; }
th.num { text-align: right; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num { font-family: var(--mono); text-align: right; }
td.mono { font-family: var(--mono); color: var(--muted); }
td.buy { color: var(--ok); font-weight: 600; }
td.sell { color: var(--bad); font-weight: 600; }
td.sym { font-weight: 600; }
td.sym .side { font-weight: 400; font-size: 12px; color: var(--bad); margin-left: 4px; }
#positions-body tr.position { cursor: pointer; }
#positions-body tr.position:hover td { background: #f6f8fa; }
tr.unprot td, #positions-body tr.unprot:hover td { background: #fff0f1; }
td.uncovered { color: var(--bad); font-weight: 600; }
button.toggle { border: none; background: none; padding: 0 4px; font-size: 12px; color: var(--muted); min-width: 62px; text-align: left; }
tr.stops-row > td { background: #f6f8fa; padding: 4px 8px 6px 42px; }
tr.stops-row[hidden] { display: none; }
table.stop-list { width: auto; font-size: 12px; }
table.stop-list td { border-bottom: none; padding: 1px 12px 1px 0; font-family: var(--mono); }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; background: #eaeef2; }
.st-protected, .st-working { background: #dafbe1; color: #116329; }
.st-pending, .st-partiallyFilled, .st-placingStop { background: #fff8c5; color: #7d4e00; }
.st-exited, .st-done { background: #ddf4ff; color: #0a3069; }
.st-canceled, .st-rejected, .st-expired, .st-replaced { background: #eaeef2; color: #57606a; }
.role { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; background: #eaeef2; color: #57606a; }
.role-entry { background: #ddf4ff; color: #0a3069; }
.role-exit { background: #fbefff; color: #6e40c9; }
.role-stop { background: #fff1e5; color: #953800; }
.drift { color: #fff; background: var(--bad); }
tr.drift-row td { background: #fff0f1; }
body.stale main, body.stale #headline { filter: grayscale(1); opacity: .65; }
body.stale .state, body.stale .role { background: #eaeef2; color: #57606a; }
`;

export const SCRIPT = `
(function () {
  'use strict';
  var REFRESH_MS = 5000;
  /** A request with no answer by then is given up (and the API counted as not answering). */
  var FETCH_TIMEOUT_MS = 6000;
  /** No answer from /health for this long: the page says it is stale (within 10 s of the API stopping). */
  var STALE_AFTER_MS = 8000;
  /** The API token lives in this tab's sessionStorage only; it is sent as a header, never in a URL. */
  var TOKEN_KEY = 'crazy-trade.api-token';
  var busy = false;
  /** Set when the API asked for a token the page does not have (or rejected it): polling waits for the form. */
  var needToken = false;
  var lastHealth = null;
  var lastPositions = null;
  var lastPerformance = null;
  var pageLoadedAt = Date.now();
  /** When the API last answered /health (any answer it meant: a 503 with its body, a 401); null: not yet. */
  var lastAnswerAt = null;
  var stale = false;
  /** Symbols whose stops are unfolded, kept across refreshes. */
  var expanded = {};
  /** Per symbol: the asset's increments as /positions gave them, for fills and orders of that symbol. */
  var increments = {};
` + FORMAT_SCRIPT + CHART_SCRIPT + `
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function show(v) { return v === null || v === undefined || v === '' ? DASH : String(v); }
  function short(id) { return typeof id === 'string' && id.length > 8 ? id.slice(0, 8) + '\\u2026' : show(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function setText(id, v) { $(id).textContent = show(v); }
  function empty(id, text) { var e = $(id); e.hidden = !text; e.textContent = text || ''; }
  function signClass(v) { return isNegDec(v) ? 'neg' : (decParts(v) && !isZeroDec(roundDec(v, 2)) ? 'pos' : ''); }
  /** A cell (or any element) showing a time: local, with the UTC instant on hover. */
  function timeEl(tag, cls, iso) {
    var w = when(iso);
    var e = el(tag, cls, w.text);
    if (w.title) e.title = w.title;
    return e;
  }
  function incOf(symbol) { return increments[symbol] || { price: null, qty: null, crypto: undefined }; }
  function priceOf(symbol, v) { return price(v, incOf(symbol).price, incOf(symbol).crypto); }
  function qtyOf(symbol, v) { return qty(v, incOf(symbol).qty); }
  /** a + b of two decimal strings, exactly (BigInt on the digits); null if either is not a decimal. */
  function addDec(a, b) {
    var pa = decParts(a), pb = decParts(b);
    if (!pa || !pb) return null;
    var dp = Math.max(pa.frac.length, pb.frac.length);
    function big(p) { var n = BigInt(p.int + (p.frac + zeros(dp)).slice(0, dp)); return p.neg ? -n : n; }
    var sum = big(pa) + big(pb), neg = sum < BigInt(0), digits = String(neg ? -sum : sum);
    while (digits.length <= dp) digits = '0' + digits;
    return (neg ? '-' : '') + digits.slice(0, digits.length - dp) + (dp > 0 ? '.' + digits.slice(digits.length - dp) : '');
  }

  function getToken() {
    try { return window.sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function setToken(value) {
    try {
      if (value) window.sessionStorage.setItem(TOKEN_KEY, value); else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lasts as long as the form's value */ }
    $('token-forget').hidden = !getToken();
  }
  function headers(extra) {
    var h = { 'Accept': 'application/json' };
    var t = getToken();
    if (t) h['Authorization'] = 'Bearer ' + t;
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  function AuthError(status, hadToken, message) { this.status = status; this.hadToken = hadToken; this.message = message; }
  function errorMessage(body, status) {
    return body && body.error && body.error.message ? String(body.error.message) : 'HTTP ' + status;
  }
  /** The page's own ?account= (an instance serving several accounts) goes on every request. */
  // Only the account is read from the address: never anything else (the token above all).
  // A malformed one (bad %-escape, not an account name) is ignored and said so: the page still works.
  var ACCOUNT = null;
  var accountIgnored = null;
  var accountInUrl = /[?&]account=([^&#]*)/.exec(location.search);
  if (accountInUrl) {
    var accountName = null;
    try { accountName = decodeURIComponent(accountInUrl[1]); } catch (e) { accountName = null; }
    if (accountName !== null && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(accountName)) ACCOUNT = accountName;
    else accountIgnored = accountInUrl[1].slice(0, 40);
  }
  function forAccount(path) {
    return ACCOUNT ? path + (path.indexOf('?') >= 0 ? '&' : '?') + 'account=' + encodeURIComponent(ACCOUNT) : path;
  }
  /** fetch, given up after FETCH_TIMEOUT_MS; a request that got no answer is marked unreachable. */
  function request(path, init) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, FETCH_TIMEOUT_MS);
    init.signal = ctl.signal;
    return fetch(forAccount(path), init).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) { clearTimeout(timer); return { res: res, body: body }; });
    }, function (e) {
      clearTimeout(timer);
      var err = new Error(ctl.signal.aborted ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s' : show(e && e.message));
      err.unreachable = true;
      throw err;
    });
  }
  function get(path) {
    var hadToken = !!getToken();
    return request(path, { headers: headers(), cache: 'no-store', credentials: 'same-origin', redirect: 'error' }).then(function (r) {
      var res = r.res, body = r.body;
      if (res.status === 401) throw new AuthError(401, hadToken, errorMessage(body, 401));
      // /health answers 503 with its full body when a position is unprotected: that body is the news.
      if (!res.ok && !(res.status === 503 && body && typeof body.status === 'string')) {
        var e = new Error(errorMessage(body, res.status)); e.status = res.status; throw e;
      }
      return body;
    });
  }

  /** A write: POST / DELETE with the bearer header; resolves with { status, ok, body } whatever the answer. */
  function send(method, path) {
    var hadToken = !!getToken();
    var init = { method: method, headers: headers(method === 'POST' ? { 'Content-Type': 'application/json' } : {}), cache: 'no-store', credentials: 'same-origin', redirect: 'error' };
    if (method === 'POST') init.body = '{}';
    return request(path, init).then(function (r) {
      if (r.res.status === 401) askToken(hadToken);
      return { status: r.res.status, ok: r.res.ok, body: r.body };
    });
  }

  function banner(parts) {
    var b = $('banner');
    clear(b);
    if (!parts) { b.classList.remove('show'); return; }
    parts.forEach(function (p) { b.appendChild(typeof p === 'string' ? document.createTextNode(p) : p); });
    b.classList.add('show');
  }

  /** The API wants a token: show the form; a token it rejected is forgotten (it would only fail again). */
  function askToken(rejected) {
    needToken = true;
    if (rejected) setToken('');
    var f = $('token-form');
    f.hidden = false;
    $('token-why').textContent = rejected ? 'The API rejected the token: enter CT_API_TOKEN again.' : 'This API needs its token (CT_API_TOKEN).';
    banner([el('strong', '', rejected ? 'The API rejected the token. ' : 'This status API requires a bearer token. '),
      'Enter it in the form below: it is kept in this browser tab only and sent as ', el('code', '', 'Authorization: Bearer \\u2026'), '.']);
  }

  function action(label, method, path, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    var msg = $('action-msg');
    msg.className = '';
    msg.textContent = label + '\\u2026';
    msg.removeAttribute('data-status');
    send(method, path).then(function (r) {
      msg.setAttribute('data-status', String(r.status));
      if (r.ok) {
        msg.className = 'ok';
        msg.textContent = label + ': done' + (r.body && r.body.message ? ' \\u2014 ' + r.body.message : '');
      } else {
        msg.className = 'err';
        var code = r.body && r.body.error && r.body.error.code ? r.body.error.code + ': ' : '';
        msg.textContent = label + ' failed (' + r.status + ') \\u2014 ' + code + errorMessage(r.body, r.status);
      }
      refresh();
    }, function (e) {
      msg.className = 'err';
      msg.textContent = label + ' failed \\u2014 ' + show(e && e.message);
    });
  }

  // ---- Honest state: the API stopped answering -------------------------------------------------
  var PILLS = ['h-status', 'h-stream', 'h-entries', 'h-drift'];
  function staleText() {
    var since = lastAnswerAt !== null ? lastAnswerAt : pageLoadedAt;
    var w = when(new Date(since).toISOString());
    return (lastAnswerAt !== null ? 'No answer from the API since ' + w.text : 'No answer from the API since this page was loaded at ' + w.text) +
      ' (' + ago(Date.now() - since) + ' ago): everything below is as it was then, and may no longer be true.';
  }
  function setStale(on) {
    stale = on;
    document.body.classList.toggle('stale', on);
    var b = $('stale-banner');
    b.classList.toggle('show', on);
    if (!on) { b.textContent = ''; b.removeAttribute('data-since'); return; }
    b.textContent = staleText();
    b.setAttribute('data-since', new Date(lastAnswerAt !== null ? lastAnswerAt : pageLoadedAt).toISOString());
    b.title = new Date(lastAnswerAt !== null ? lastAnswerAt : pageLoadedAt).toISOString();
    PILLS.forEach(function (id) {
      var e = $(id);
      if (e.textContent !== 'stale') e.title = 'last known: ' + e.textContent + (lastAnswerAt !== null ? ' at ' + clock(lastAnswerAt) : '');
      e.textContent = 'stale';
      e.className = 'v pill stale';
    });
    $('updated').textContent = lastAnswerAt !== null ? 'last answer ' + clock(lastAnswerAt) : 'no answer yet';
  }
  function answered() {
    lastAnswerAt = Date.now();
    if (stale) setStale(false);
  }
  function tick() {
    tickCooldowns();
    if (needToken) return;
    var since = lastAnswerAt !== null ? lastAnswerAt : pageLoadedAt;
    if (!stale && Date.now() - since > STALE_AFTER_MS) setStale(true);
    else if (stale) $('stale-banner').textContent = staleText();
  }

  // ---- Alarms and health -------------------------------------------------------------------------
  /** What /health says of an alarm: its own message when it has one, else its reason. */
  function alarmText(x) { return typeof x.message === 'string' && x.message ? x.message : show(x.reason); }
  /** The worst news first: positions no live stop covers, then ledger drift. */
  function alarms(h) {
    var open = h && h.protection && Array.isArray(h.protection.unprotected) ? h.protection.unprotected : [];
    var a = $('alarm-unprotected');
    clear(a);
    a.className = 'alarm';
    a.removeAttribute('data-unprotected');
    if (open.length > 0) {
      a.appendChild(el('strong', '', h.status === 'critical' ? 'UNPROTECTED POSITIONS. ' : 'Positions waiting for their stops: '));
      open.forEach(function (u, i) {
        a.appendChild(document.createTextNode((i ? '; ' : '') + show(u.symbol) + ' ' + qtyOf(u.symbol, u.position) + ' covered ' + qtyOf(u.symbol, u.covered) + ' since ' + when(u.since).text + ' (' + alarmText(u) + ')'));
      });
      a.classList.add('show');
      if (h.status !== 'critical') a.classList.add('warn');
      a.setAttribute('data-unprotected', open.map(function (u) { return u.symbol; }).join(','));
    }
    var drift = h && Array.isArray(h.drift) ? h.drift : [];
    var d = $('alarm-drift');
    clear(d);
    d.className = 'alarm';
    if (drift.length > 0) {
      d.appendChild(el('strong', '', 'LEDGER DRIFT on ' + drift.length + ': '));
      d.appendChild(document.createTextNode(drift.map(function (x) {
        return show(x.kind) + ' ' + show(x.symbol) + (x.order_id ? ' ' + short(x.order_id) : '') + ': ledger ' + qtyOf(x.symbol, x.ledger_qty) + ' vs broker ' + qtyOf(x.symbol, x.broker_qty) + ' since ' + when(x.since).text + (typeof x.message === 'string' && x.message ? ' \\u2014 ' + x.message : '');
      }).join('; ')));
      d.classList.add('show');
    }
  }

  var MODE_TEXT = {
    demo: 'DEMO \\u2014 the embedded Alpaca simulator: no real account is watched or protected.',
    paper: 'PAPER \\u2014 an Alpaca paper account: no real money, but the buttons act on it.',
    live: 'LIVE \\u2014 a real-money Alpaca account: the buttons below act on it.'
  };
  function renderHealth(h) {
    var status = $('h-status');
    status.textContent = show(h.status);
    status.className = 'v pill ' + (h.status === 'ok' ? 'good' : h.status === 'degraded' || h.status === 'standby' || h.status === 'starting' ? 'warn' : 'bad');
    status.title = Array.isArray(h.reasons) ? h.reasons.join('; ') : '';
    setText('h-mode', h.mode);
    var modeBanner = $('mode-banner');
    var known = Object.prototype.hasOwnProperty.call(MODE_TEXT, h.mode);
    modeBanner.textContent = known ? MODE_TEXT[h.mode] : '';
    modeBanner.className = known ? 'show ' + h.mode : '';
    if (known) modeBanner.setAttribute('data-mode', h.mode); else modeBanner.removeAttribute('data-mode');
    var stream = $('h-stream');
    stream.textContent = show(h.stream);
    stream.className = 'v pill ' + (h.stream === 'connected' ? 'good' : h.stream === 'reconnecting' ? 'warn' : 'bad');
    stream.title = '';
    var entries = $('h-entries');
    var paused = typeof h.entries_paused === 'boolean' ? h.entries_paused : null;
    entries.textContent = paused === null ? DASH : paused ? 'paused' : 'active';
    entries.className = 'v pill ' + (paused === null ? '' : paused ? 'warn' : 'good');
    entries.title = '';
    $('entries-state').textContent = paused === null ? 'unknown' : paused ? 'paused \\u2014 new entries are refused' : 'active';
    $('btn-pause').disabled = paused === true;
    $('btn-resume').disabled = paused === false;
    var rec = when(h.last_reconcile_at);
    var r = $('h-reconcile');
    r.textContent = rec.text;
    r.title = (rec.title ? rec.title : '') + (h.watermark ? (rec.title ? '\\n' : '') + 'activity watermark: ' + h.watermark : '');
    var a = h.actors || {};
    setText('h-actors', show(a.active) + ' / ' + show(a.terminal));
    var drift = Array.isArray(h.drift) ? h.drift : [];
    var d = $('h-drift');
    d.textContent = String(drift.length);
    d.className = 'v pill ' + (drift.length > 0 ? 'bad drift' : 'good');
    d.title = drift.map(function (x) { return show(x.kind) + ' ' + show(x.symbol) + ' ' + show(x.order_id) + ': ledger ' + show(x.ledger_qty) + ' vs broker ' + show(x.broker_qty) + ' since ' + show(x.since); }).join('\\n');
  }

  // ---- Headline ----------------------------------------------------------------------------------
  function headlineValue(id, text, cls, title) {
    var e = $(id);
    e.textContent = text;
    e.className = 'v' + (cls ? ' ' + cls : '');
    e.title = title || '';
  }
  function renderHeadline() {
    var total = lastPerformance && lastPerformance.total;
    var realized = total && typeof total.realized_pnl === 'string' ? total.realized_pnl : null;
    headlineValue('hl-realized', realized === null ? DASH : pnl(realized), signClass(realized),
      total ? 'net of crypto fees ' + pnl(total.net_pnl) + ' (fees ' + money(total.fees) + '); FIFO lots' : '');
    var totals = lastPositions && lastPositions.totals;
    var positions = lastPositions && Array.isArray(lastPositions.positions) ? lastPositions.positions : [];
    var unrealized = totals && typeof totals.unrealized_pnl === 'string' ? totals.unrealized_pnl : null;
    var partial = totals && totals.priced < totals.positions;
    headlineValue('hl-unrealized', unrealized === null ? DASH : pnl(unrealized), signClass(unrealized), partial ? 'over ' + totals.priced + ' of ' + totals.positions + ' positions (the others have no last price)' : 'at the last prices');
    $('hl-unrealized-note').textContent = partial ? totals.priced + ' of ' + totals.positions + ' priced' : '';
    var sum = realized !== null && unrealized !== null ? addDec(realized, unrealized) : null;
    headlineValue('hl-total', sum === null ? DASH : pnl(sum), signClass(sum), 'realized + unrealized');
    headlineValue('hl-value', totals ? money(totals.market_value) : DASH, '', 'qty \\u00d7 last price, summed (shorts negative)');
    var covered = positions.filter(function (p) { var q = decParts(p.qty), c = decParts(p.protected_qty); return q && c && !(Number(p.protected_qty) < Number(String(p.qty).replace('-', ''))); }).length;
    headlineValue('hl-covered', lastPositions ? covered + ' / ' + positions.length : DASH, lastPositions && covered < positions.length ? 'neg' : '', 'positions whose whole quantity live stops cover');
    var idle = positions.filter(function (p) { return p.stops_acting === false; }).length;
    var unknown = positions.filter(function (p) { return p.stops_acting === null || p.stops_acting === undefined; }).length;
    headlineValue('hl-acting', !lastPositions ? DASH : positions.length === 0 ? 'no positions' : idle === 0 && unknown === 0 ? 'all act now' : idle > 0 ? idle + ' idle' : unknown + ' unknown',
      idle > 0 ? 'idle' : '', idle > 0 ? 'equity stops trigger in regular hours only: outside them they wait (a state, not an alarm)' : '');
  }

  // ---- Positions ---------------------------------------------------------------------------------
  var POSITION_COLUMNS = 13;
  function levelText(symbol, s) {
    if (!s || s.level === null || s.level === undefined) return DASH;
    return (s.level_is_bound ? (s.side === 'buy' ? '\\u2264 ' : '\\u2265 ') : '') + priceOf(symbol, s.level);
  }
  function distanceText(s) {
    if (!s || s.level_distance_pct === null || s.level_distance_pct === undefined) return DASH;
    return (s.level_is_bound ? '\\u2264 ' : '') + percent(s.level_distance_pct, false);
  }
  function stopKind(s) { return s && s.type ? String(s.type).replace(/_/g, ' ') : 'stop'; }
  /** One stop of a position, folded under its row: entry, type, qty, level, trail, distance, state. */
  function stopLine(p, s) {
    var tr = el('tr', 'stop-line');
    var entry = el('td', '', 'entry ' + short(s.entry_order_id));
    if (s.entry_order_id) entry.title = 'entry order ' + s.entry_order_id;
    tr.appendChild(entry);
    tr.appendChild(el('td', '', stopKind(s)));
    tr.appendChild(el('td', '', qtyOf(p.symbol, s.qty)));
    var level = el('td', '', '@ ' + levelText(p.symbol, s));
    // A trailing stop's level moves with the price: the broker's level at placement, and the bound now.
    if (s.type === 'trailing_stop') level.title = 'placed at ' + show(s.stop_price) + '; the broker trails it ' + show(s.trail_percent) + '% under the high since';
    tr.appendChild(level);
    tr.appendChild(el('td', '', s.trail_percent ? 'trail ' + percent(s.trail_percent, false) : ''));
    tr.appendChild(el('td', s.level_distance_pct && isNegDec(s.level_distance_pct) ? 'neg' : '', s.level_distance_pct ? distanceText(s) + ' away' : ''));
    var state = el('td');
    var st = s.state || 'working';
    state.appendChild(el('span', 'state st-' + st, st));
    tr.appendChild(state);
    var id = el('td', '', 'order ' + short(s.stop_order_id));
    if (s.stop_order_id) id.title = 'stop order ' + s.stop_order_id;
    tr.appendChild(id);
    return tr;
  }
  function setExpanded(symbol, open) {
    expanded[symbol] = open;
    var rows = document.querySelectorAll('#positions-body tr[data-symbol]');
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute('data-symbol') !== symbol) continue;
      if (rows[i].classList.contains('stops-row')) rows[i].hidden = !open;
      var t = rows[i].querySelector('button.toggle');
      if (t) { t.setAttribute('aria-expanded', String(open)); t.textContent = (open ? '\\u25be ' : '\\u25b8 ') + t.getAttribute('data-count'); }
    }
  }
  function renderPositions(body, health) {
    var positions = body && Array.isArray(body.positions) ? body.positions : [];
    var unprotected = {};
    var open = health && health.protection && Array.isArray(health.protection.unprotected) ? health.protection.unprotected : [];
    open.forEach(function (u) { if (u && u.symbol) unprotected[u.symbol] = u; });
    positions.forEach(function (p) { increments[p.symbol] = { price: p.price_increment || null, qty: p.qty_increment || null, crypto: p.crypto }; });
    var tb = $('positions-body');
    clear(tb);
    positions.forEach(function (p) {
      var sym = p.symbol;
      var tr = el('tr', 'position');
      tr.setAttribute('data-symbol', show(sym));
      if (unprotected[sym]) tr.classList.add('unprot');
      var list = Array.isArray(p.stops) ? p.stops : [];
      var isOpen = !!expanded[sym];
      var tg = el('td');
      var count = list.length === 1 ? '1 stop' : list.length + ' stops';
      var toggle = el('button', 'toggle', (isOpen ? '\\u25be ' : '\\u25b8 ') + count);
      toggle.type = 'button';
      toggle.setAttribute('data-count', count);
      toggle.setAttribute('aria-expanded', String(isOpen));
      toggle.title = list.length === 1 ? '1 stop: show it' : list.length + ' stops: show them';
      tg.appendChild(toggle);
      tr.appendChild(tg);
      var symCell = el('td', 'sym', show(sym));
      if (p.side === 'short') symCell.appendChild(el('span', 'side', 'short'));
      tr.appendChild(symCell);
      tr.appendChild(el('td', 'num qty', qtyOf(sym, p.qty)));
      tr.appendChild(el('td', 'num avg', p.avg_entry ? priceOf(sym, p.avg_entry) : DASH));
      tr.appendChild(el('td', 'num last', p.last_price ? priceOf(sym, p.last_price) : DASH));
      tr.appendChild(el('td', 'num value', p.market_value ? money(p.market_value) : DASH));
      tr.appendChild(el('td', 'num upnl ' + signClass(p.unrealized_pnl), p.unrealized_pnl ? pnl(p.unrealized_pnl) : DASH));
      tr.appendChild(el('td', 'num upct ' + signClass(p.unrealized_pnl_pct), p.unrealized_pnl_pct ? percent(p.unrealized_pnl_pct, true) : DASH));
      var held = String(p.qty || '').replace('-', '');
      var covered = el('td', 'num covered', qtyOf(sym, p.protected_qty) + ' / ' + qtyOf(sym, held));
      if (unprotected[sym] || Number(p.protected_qty) < Number(held)) covered.classList.add('uncovered');
      if (unprotected[sym]) covered.title = alarmText(unprotected[sym]);
      tr.appendChild(covered);
      var n = p.nearest_stop;
      var stopCell = el('td', 'num stop', n ? levelText(sym, { level: n.level, level_is_bound: n.level_is_bound, side: p.side === 'short' ? 'buy' : 'sell' }) : DASH);
      if (n) stopCell.title = stopKind(n) + (n.level_is_bound ? ': a trailing stop\\u2019s level is at least this (at most, covering a short)' : '');
      tr.appendChild(stopCell);
      tr.appendChild(el('td', 'num dist' + (n && isNegDec(n.level_distance_pct) ? ' neg' : ''), n ? distanceText(n) : DASH));
      var acting = el('td', 'acting');
      if (list.length === 0) acting.appendChild(el('span', 'empty', 'no live stop'));
      else if (p.stops_acting === true) {
        var on = el('span', 'pill good', p.session === 'continuous' ? 'act now (24/7)' : 'act now');
        on.title = 'session: ' + show(p.session);
        acting.appendChild(on);
      } else if (p.stops_acting === false) {
        // Outside regular hours equity stops cannot trigger: a state, not an alarm.
        var idle = el('span', 'pill idle', 'stops idle: ' + show(p.stops_acting_reason).replace(/_/g, ' '));
        idle.title = 'session: ' + show(p.session) + '; stops and trailing stops trigger in regular hours only';
        acting.appendChild(idle);
      } else acting.appendChild(el('span', 'pill idle', 'session unknown'));
      // The extended-hours guard exits it (its stops canceled on purpose): a state, not an alarm.
      if (p.guard_exit) {
        var g = p.guard_exit;
        var exiting = el('span', 'pill idle', 'guard exit: ' + (g.limit_price ? g.side + ' limit ' + priceOf(sym, g.limit_price) : 'stops canceling'));
        exiting.title = 'traded ' + show(g.trigger) + ' through the stop level ' + show(g.level) + ' (' + show(g.session) + ')';
        acting.appendChild(document.createTextNode(' '));
        acting.appendChild(exiting);
      }
      tr.appendChild(acting);
      var act = el('td');
      var b = el('button', 'danger close', 'Close');
      b.type = 'button';
      b.addEventListener('click', function () {
        action('close ' + sym, 'POST', './positions/' + encodeURIComponent(sym) + '/close',
          'Close the whole ' + sym + ' position (' + show(p.qty) + ') at market?');
      });
      act.appendChild(b);
      tr.appendChild(act);
      // A click on the row (not on its Close button) folds its stops in or out.
      tr.addEventListener('click', function (ev) {
        if (ev.target && ev.target.closest && ev.target.closest('button.close')) return;
        setExpanded(sym, !expanded[sym]);
      });
      tb.appendChild(tr);

      var detail = el('tr', 'stops-row');
      detail.setAttribute('data-symbol', show(sym));
      detail.hidden = !isOpen;
      var cell = el('td');
      cell.colSpan = POSITION_COLUMNS;
      if (list.length === 0) cell.appendChild(el('span', 'empty', 'no live stop'));
      else {
        var t = el('table', 'stop-list');
        var tbody = el('tbody');
        list.forEach(function (s) { tbody.appendChild(stopLine(p, s)); });
        t.appendChild(tbody);
        cell.appendChild(t);
      }
      detail.appendChild(cell);
      tb.appendChild(detail);
    });
    empty('positions-empty', positions.length ? null : 'no open positions');
  }

  // ---- Cooldowns ---------------------------------------------------------------------------------
  function timeLeft(until) {
    var ms = timeMs(until) - Date.now();
    if (!isFinite(ms)) return DASH;
    if (ms <= 0) return 'ended';
    var s = Math.ceil(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + (sec < 10 && (h || m) ? '0' : '') + sec + 's';
  }
  function tickCooldowns() {
    var cells = document.querySelectorAll('#cooldowns-body td[data-until]');
    for (var i = 0; i < cells.length; i++) cells[i].textContent = timeLeft(cells[i].getAttribute('data-until'));
  }
  function renderCooldowns(body) {
    var cooldowns = body && Array.isArray(body.cooldowns) ? body.cooldowns : [];
    var tb = $('cooldowns-body');
    clear(tb);
    cooldowns.forEach(function (c) {
      var tr = el('tr');
      tr.setAttribute('data-symbol', show(c.symbol));
      tr.appendChild(el('td', 'sym', show(c.symbol)));
      tr.appendChild(timeEl('td', 'mono until', c.until));
      var left = el('td', 'num left', timeLeft(c.until));
      left.setAttribute('data-until', String(c.until));
      tr.appendChild(left);
      var act = el('td');
      var b = el('button', 'clear-cooldown', 'Clear');
      b.type = 'button';
      b.addEventListener('click', function () { action('clear cooldown ' + c.symbol, 'DELETE', './cooldowns/' + encodeURIComponent(c.symbol)); });
      act.appendChild(b);
      tr.appendChild(act);
      tb.appendChild(tr);
    });
    empty('cooldowns-empty', cooldowns.length ? null : 'no running cooldowns');
  }

  // ---- Order actors ------------------------------------------------------------------------------
  /** A stop order open at the broker is working, not waiting: its actor's "pending" reads "working". */
  function stateLabel(o) { return o.role === 'stop' && o.state === 'pending' ? 'working' : show(o.state); }
  var ORDER_COLS = ['id', 'symbol', 'side', 'role', 'state', 'filled_qty', 'filled_avg_price', 'stop_order_id'];
  var MAX_ORDER_ROWS = 200;
  function renderOrders(body, driftIds) {
    var orders = body && Array.isArray(body.orders) ? body.orders : [];
    var counts = {};
    orders.forEach(function (o) { var s = stateLabel(o); counts[s] = (counts[s] || 0) + 1; });
    var c = $('state-counts');
    clear(c);
    Object.keys(counts).sort().forEach(function (s) {
      var chip = el('span', 'chip', s);
      chip.appendChild(el('b', '', counts[s]));
      chip.setAttribute('data-state', s);
      c.appendChild(chip);
    });
    setText('orders-total', orders.length === 1 ? '1 actor' : orders.length + ' actors');
    var tb = $('orders-body');
    clear(tb);
    orders.slice(0, MAX_ORDER_ROWS).forEach(function (o) {
      var tr = el('tr');
      if (driftIds[o.id]) tr.className = 'drift-row';
      ORDER_COLS.forEach(function (k) {
        var td;
        if (k === 'id' || k === 'stop_order_id') { td = el('td', 'mono', short(o[k])); if (o[k]) td.title = String(o[k]); }
        else if (k === 'state') {
          td = el('td');
          var label = stateLabel(o);
          var s = el('span', 'state', label);
          if (/^[A-Za-z]+$/.test(label)) s.classList.add('st-' + label);
          if (label !== o.state) s.title = 'actor state: ' + show(o.state) + ' (the stop order is open at the broker)';
          td.appendChild(s);
        }
        else if (k === 'side') td = el('td', o.side === 'buy' ? 'buy' : o.side === 'sell' ? 'sell' : '', show(o.side));
        else if (k === 'filled_qty') td = el('td', 'num', qtyOf(o.symbol, o.filled_qty));
        else if (k === 'filled_avg_price') td = el('td', 'num', o.filled_avg_price ? priceOf(o.symbol, o.filled_avg_price) : DASH);
        else td = el('td', '', show(o[k]));
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    empty('orders-empty', orders.length ? null : 'no order actors yet');
    $('orders-more').textContent = orders.length > MAX_ORDER_ROWS ? 'showing the newest ' + MAX_ORDER_ROWS + ' of ' + orders.length : '';
  }

  // ---- Fills -------------------------------------------------------------------------------------
  function renderFills(body) {
    var fills = body && Array.isArray(body.fills) ? body.fills : [];
    var tb = $('fills-body');
    clear(tb);
    fills.forEach(function (f) {
      var tr = el('tr');
      tr.appendChild(timeEl('td', 'mono at', f.filled_at));
      tr.appendChild(el('td', 'sym', show(f.symbol)));
      tr.appendChild(el('td', f.side === 'buy' ? 'buy' : f.side === 'sell' ? 'sell' : '', show(f.side)));
      var role = el('td');
      if (f.role) role.appendChild(el('span', 'role role-' + f.role, f.role));
      tr.appendChild(role);
      tr.appendChild(el('td', 'num', qtyOf(f.symbol, f.qty)));
      tr.appendChild(el('td', 'num', priceOf(f.symbol, f.price)));
      tr.appendChild(el('td', 'num rpnl ' + signClass(f.realized_pnl), f.realized_pnl === null || f.realized_pnl === undefined ? '' : pnl(f.realized_pnl)));
      var td = el('td', 'mono', short(f.order_id));
      td.title = 'order ' + show(f.order_id) + ' (recorded from ' + show(f.source) + ')';
      tr.appendChild(td);
      tb.appendChild(tr);
    });
    empty('fills-empty', fills.length ? null : 'no fills yet');
  }

  // ---- Performance -------------------------------------------------------------------------------
  var PERF_STATS = [['realized_pnl', 'realized P&L', pnl], ['net_pnl', 'net of fees', pnl], ['round_trips', 'round trips', show], ['win_rate', 'win rate', ratioPercent],
    ['profit_factor', 'profit factor', ratio], ['max_drawdown', 'max drawdown', money], ['expectancy', 'expectancy', pnl]];
  function renderPerformance(body) {
    var box = $('perf');
    clear(box);
    var total = body && body.total;
    if (!total || typeof total !== 'object') { box.appendChild(el('div', 'empty', 'no performance data')); return; }
    var stats = el('div', 'stats');
    PERF_STATS.forEach(function (s) {
      var kv = el('div', 'kv');
      kv.appendChild(el('div', 'k', s[1]));
      var raw = total[s[0]];
      var v = el('div', 'v', raw === null || raw === undefined ? DASH : s[2](raw));
      v.id = 'perf-' + s[0].replace(/_/g, '-');
      if (s[2] === pnl) { var cls = signClass(raw); if (cls) v.classList.add(cls); }
      kv.appendChild(v);
      stats.appendChild(kv);
    });
    box.appendChild(stats);
    var totals = lastPositions && lastPositions.totals;
    box.appendChild(drawCurve(total.equity_curve, totals && totals.priced > 0 ? totals.unrealized_pnl : null, Date.now()));
  }
  function perfUnavailable(err) {
    var box = $('perf');
    clear(box);
    box.appendChild(el('div', 'empty', 'no performance data'));
    if (err && err.status !== 404) box.appendChild(el('div', 'err', show(err.message)));
  }

  function section(id, err) {
    var e = $(id);
    e.textContent = err ? 'could not load: ' + show(err.message || err) : '';
  }

  /** Nothing shown may outlive a token the API refused: every section is emptied. */
  function clearAll(why) {
    ['h-status', 'h-mode', 'h-stream', 'h-entries', 'h-reconcile', 'h-actors', 'h-drift'].forEach(function (id) { var e = $(id); e.textContent = DASH; e.className = 'v'; e.title = ''; });
    ['hl-realized', 'hl-unrealized', 'hl-total', 'hl-value', 'hl-covered', 'hl-acting'].forEach(function (id) { var e = $(id); e.textContent = DASH; e.className = 'v'; e.title = ''; });
    $('hl-unrealized-note').textContent = '';
    ['orders-body', 'state-counts', 'fills-body', 'positions-body', 'cooldowns-body', 'alarm-unprotected', 'alarm-drift'].forEach(function (id) { clear($(id)); });
    $('alarm-unprotected').className = 'alarm'; $('alarm-drift').className = 'alarm';
    $('mode-banner').textContent = ''; $('mode-banner').className = '';
    $('orders-total').textContent = ''; $('orders-more').textContent = '';
    ['orders-empty', 'fills-empty', 'positions-empty', 'cooldowns-empty'].forEach(function (id) { empty(id, 'not loaded \\u2014 ' + why); });
    clear($('perf')); $('perf').appendChild(el('div', 'empty', 'not loaded \\u2014 ' + why));
    lastHealth = null; lastPositions = null; lastPerformance = null;
  }

  var PATHS = ['./health', './orders', './fills?limit=50', './performance', './positions', './cooldowns'];
  function refresh() {
    if (busy || needToken) return;
    busy = true;
    var results = PATHS.map(function (p, i) {
      // /health's answer is the sign of life, as soon as it comes: a slow /performance is not a dead API.
      function heard(e) { if (i === 0 && !(e && e.unreachable)) lastAnswerAt = Date.now(); }
      return get(p).then(function (v) { heard(null); return { ok: true, v: v }; }, function (e) { heard(e); return { ok: false, e: e }; });
    });
    Promise.all(results).then(function (r) {
      var health = r[0], orders = r[1], fills = r[2], perf = r[3], positions = r[4], cooldowns = r[5];
      // No answer from /health: the page keeps what it showed, greyed, and says since when.
      if (!health.ok && health.e && health.e.unreachable) { setStale(true); return; }
      answered();
      var auth = r.filter(function (x) { return !x.ok && x.e instanceof AuthError; })[0];
      if (auth) {
        clearAll('bearer token required');
        askToken(auth.e.hadToken);
        $('updated').textContent = 'unauthorized \\u2014 ' + clock(Date.now());
        return;
      }
      banner(null);
      var driftIds = {};
      lastHealth = health.ok ? health.v : null;
      if (positions.ok) lastPositions = positions.v;
      if (perf.ok) lastPerformance = perf.v;
      if (health.ok) {
        renderHealth(health.v);
        (health.v.drift || []).forEach(function (x) { if (x && x.order_id) driftIds[x.order_id] = true; });
      }
      section('health-err', health.ok ? null : health.e);
      if (!health.ok) banner(['Cannot read /health: ', show(health.e && health.e.message)]);
      if (positions.ok) renderPositions(positions.v, lastHealth);
      alarms(lastHealth);
      section('positions-err', positions.ok ? null : positions.e);
      renderHeadline();
      if (cooldowns.ok) renderCooldowns(cooldowns.v);
      section('cooldowns-err', cooldowns.ok ? null : cooldowns.e);
      if (orders.ok) renderOrders(orders.v, driftIds);
      section('orders-err', orders.ok ? null : orders.e);
      if (fills.ok) renderFills(fills.v);
      section('fills-err', fills.ok ? null : fills.e);
      if (perf.ok) renderPerformance(perf.v); else perfUnavailable(perf.e);
      $('updated').textContent = 'updated ' + clock(Date.now());
    }).catch(function (e) {
      banner(['Dashboard error: ', show(e && e.message)]);
    }).then(function () {
      busy = false;
      document.body.setAttribute('data-loaded', 'true');
    });
  }

  // An old bookmark may still carry a query string (a token, once): drop it from the address bar and history, unread.
  if (window.location.search) window.history.replaceState(null, '', window.location.pathname);
  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('token-input');
    var value = String(input.value || '').trim();
    input.value = '';
    if (!value) return;
    setToken(value);
    needToken = false;
    $('token-form').hidden = true;
    banner(null);
    refresh();
  });
  $('token-forget').addEventListener('click', function () {
    setToken('');
    clearAll('token forgotten');
    askToken(false);
  });
  $('btn-pause').addEventListener('click', function () { action('pause entries', 'POST', './control/pause'); });
  $('btn-resume').addEventListener('click', function () { action('resume entries', 'POST', './control/resume'); });
  $('token-forget').hidden = !getToken();

  if (accountIgnored !== null) {
    var ignoredMsg = $('action-msg');
    ignoredMsg.className = 'err';
    ignoredMsg.setAttribute('data-status', 'account_ignored');
    ignoredMsg.textContent = 'ignored ?account=' + accountIgnored + ' in the address: an account name is a-z, 0-9, _ and -, up to 32 characters';
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(tick, 1000);
})();
`;

const HEALTH_FIELDS: ReadonlyArray<[id: string, label: string]> = [
  ['h-status', 'status'],
  ['h-mode', 'mode'],
  ['h-stream', 'stream'],
  ['h-entries', 'entries'],
  ['h-reconcile', 'last reconcile'],
  ['h-actors', 'actors active / terminal'],
  ['h-drift', 'drift'],
];

const HEADLINE: ReadonlyArray<[id: string, label: string, note?: string]> = [
  ['hl-realized', 'realized P&L'],
  ['hl-unrealized', 'unrealized P&L', 'hl-unrealized-note'],
  ['hl-total', 'total P&L'],
  ['hl-value', 'market value'],
  ['hl-covered', 'fully covered'],
  ['hl-acting', 'stops'],
];

const POSITION_HEADS = ['', 'symbol', 'qty', 'avg entry', 'last', 'market value', 'unrealized P&L', 'P&L %', 'covered / qty', 'nearest stop', 'distance', 'stops act now', ''];
const NUMERIC_HEADS = new Set(['qty', 'avg entry', 'last', 'market value', 'unrealized P&L', 'P&L %', 'covered / qty', 'nearest stop', 'distance']);
const th = (label: string) => `<th${NUMERIC_HEADS.has(label) ? ' class="num"' : ''}>${label.replace(/&/g, '&amp;')}</th>`;

export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>crazy-trade</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>crazy-trade</h1>
${HEALTH_FIELDS.map(([id, label]) => `<div class="kv"><span class="k">${label}</span><span class="v" id="${id}">\u2014</span></div>`).join('\n')}
<span class="updated" id="updated">loading\u2026</span>
<span class="err" id="health-err"></span>
<button type="button" id="token-forget" hidden>forget token</button>
</header>
<div id="mode-banner" role="status"></div>
<div id="stale-banner" role="alert"></div>
<div id="alarm-unprotected" class="alarm" role="alert"></div>
<div id="alarm-drift" class="alarm" role="alert"></div>
<div id="banner" role="alert"></div>
<form id="token-form" hidden>
<span id="token-why">This API needs its token (CT_API_TOKEN).</span>
<label>API token <input id="token-input" type="password" autocomplete="off" spellcheck="false" aria-label="API token"></label>
<button type="submit" id="token-save">Use token</button>
<span class="sub">kept in this browser tab only (sessionStorage), sent as an Authorization header</span>
</form>
<div id="headline">
${HEADLINE.map(([id, label, note]) => `<div class="kv"><div class="k">${label.replace(/&/g, '&amp;')}</div><div class="v" id="${id}">\u2014</div>${note ? `<div class="s" id="${note}"></div>` : ''}</div>`).join('\n')}
<div class="controls" id="control">
<span>entries: <b id="entries-state">\u2014</b></span>
<button type="button" id="btn-pause">Pause entries</button>
<button type="button" id="btn-resume">Resume entries</button>
<span id="action-msg" role="status"></span>
</div>
</div>
<main>
<section id="positions" class="wide">
<h2>Positions <span class="sub">average entry of the open FIFO lots; click a row for its stops</span></h2>
<div class="err" id="positions-err"></div>
<table id="positions-table">
<thead><tr>${POSITION_HEADS.map(th).join('')}</tr></thead>
<tbody id="positions-body"></tbody>
</table>
<div class="empty" id="positions-empty">loading\u2026</div>
</section>
<section id="performance">
<h2>P&amp;L <span class="sub">realized by FIFO lots, step at each close; dashed: with the open positions now</span></h2>
<div id="perf"><div class="empty">loading\u2026</div></div>
</section>
<section id="fills">
<h2>Fills <span class="sub">newest 50; realized P&amp;L of each exit (FIFO, before fees)</span></h2>
<div class="err" id="fills-err"></div>
<table id="fills-table">
<thead><tr><th>time</th><th>symbol</th><th>side</th><th>role</th><th class="num">qty</th><th class="num">price</th><th class="num">realized P&amp;L</th><th>order</th></tr></thead>
<tbody id="fills-body"></tbody>
</table>
<div class="empty" id="fills-empty">loading\u2026</div>
</section>
<section id="cooldowns">
<h2>Cooldowns <span class="sub">no entries until they end</span></h2>
<div class="err" id="cooldowns-err"></div>
<table id="cooldowns-table">
<thead><tr><th>symbol</th><th>until</th><th class="num">time left</th><th></th></tr></thead>
<tbody id="cooldowns-body"></tbody>
</table>
<div class="empty" id="cooldowns-empty">loading\u2026</div>
</section>
<section id="actors">
<h2>Order actors <span class="sub" id="orders-total"></span> <span class="sub" id="orders-more"></span></h2>
<div class="counts" id="state-counts"></div>
<div class="err" id="orders-err"></div>
<table id="orders-table">
<thead><tr><th>id</th><th>symbol</th><th>side</th><th>role</th><th>state</th><th class="num">filled qty</th><th class="num">avg price</th><th>stop order</th></tr></thead>
<tbody id="orders-body"></tbody>
</table>
<div class="empty" id="orders-empty">loading\u2026</div>
</section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
