/**
 * One job: the dashboard page served at `GET /` (DESIGN §5): one HTML document with inline CSS and inline
 * vanilla JS, no framework, no build step, no request outside its own origin. It is embedded here
 * as strings (the build copies no .html files), and dashboard.ts hashes STYLE and SCRIPT for the
 * Content-Security-Policy — so they must be inserted into the markup byte for byte.
 *
 * The script reads the JSON endpoints of the same origin every 5 s and writes every value with
 * textContent / setAttribute, never as markup. Decimal strings are shown as the API sends them;
 * they become Numbers only for SVG coordinates, distances and time left. Keep the script free of
 * backticks and `${`.
 *
 * The API token (CT_API_TOKEN) is asked for once, in a small form, kept in this tab's
 * sessionStorage and sent as `Authorization: Bearer …` on every fetch — never in a URL. The
 * buttons (pause / resume entries, close a position, clear a cooldown) call the write routes the
 * same way and show the server's JSON error when the answer is not 2xx.
 */

export const STYLE = `
:root { color-scheme: light; --fg: #1c2430; --muted: #5f6b7a; --line: #dde3ea; --bg: #f5f7fa; --card: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #1c2430; color: #fff; padding: 12px 20px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 22px; }
header h1 { font-size: 18px; margin: 0 10px 0 0; font-weight: 600; letter-spacing: .2px; }
header .kv { display: flex; flex-direction: column; min-width: 0; }
header .k { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: #9fb0c3; }
header .v { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; white-space: nowrap; }
header .updated { margin-left: auto; font-size: 12px; color: #9fb0c3; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; background: #3a4656; }
.pill.good { background: var(--ok); }
.pill.warn { background: var(--warn); }
.pill.bad { background: var(--bad); }
.pill.idle { background: #4a4f57; color: var(--muted); font-weight: 400; margin-left: 4px; }
#mode-banner { display: none; padding: 8px 20px; background: #fff8c5; color: #4d2d00; border-bottom: 1px solid #d4a72c; font-weight: 600; }
#mode-banner.show { display: block; }
#mode-banner.paper { background: #ddf4ff; color: #0a3069; border-bottom-color: #54aeff; }
#mode-banner.live { background: #cf222e; color: #fff; border-bottom-color: #82071e; letter-spacing: .3px; }
#banner, .alarm { display: none; margin: 14px 20px 0; padding: 10px 14px; border-radius: 6px; border: 1px solid #f1aeb5; background: #fff0f1; color: #82071e; }
#banner.show, .alarm.show { display: block; }
.alarm.warn { border-color: #d4a72c; background: #fff8c5; color: #4d2d00; }
#banner code { background: #fff; padding: 1px 5px; border-radius: 4px; border: 1px solid #f1aeb5; }
#token-form { margin: 14px 20px 0; padding: 10px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; }
#token-form[hidden] { display: none; }
#token-form input { font: 13px ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; padding: 4px 8px; min-width: 320px; border: 1px solid #8c959f; border-radius: 5px; }
#token-form .sub, .note { font-size: 12px; color: var(--muted); }
button { font: inherit; font-size: 13px; padding: 3px 10px; border-radius: 6px; border: 1px solid #8c959f; background: #f6f8fa; color: var(--fg); cursor: pointer; }
button:hover:not(:disabled) { background: #eaeef2; }
button:disabled { opacity: .5; cursor: default; }
button[hidden] { display: none; }
button.danger { border-color: var(--bad); color: var(--bad); }
header button { background: #3a4656; color: #fff; border-color: #5f6b7a; font-size: 12px; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; }
#action-msg { font-size: 13px; }
#action-msg.ok { color: var(--ok); }
#action-msg.err { color: var(--bad); }
.stop-line { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; }
tr.unprot td { background: #fff0f1; }
td.uncovered { color: var(--bad); font-weight: 600; }
main { padding: 14px 20px 28px; display: grid; gap: 16px; grid-template-columns: minmax(0, 5fr) minmax(0, 6fr); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } }
h2 { font-size: 15px; margin: 0 0 10px; display: flex; align-items: baseline; gap: 10px; }
h2 .sub { font-size: 12px; font-weight: 400; color: var(--muted); }
.err { color: var(--bad); font-size: 13px; }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
.stats { display: flex; flex-wrap: wrap; gap: 8px 20px; margin-bottom: 10px; }
.stats .k { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); }
.stats .v { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 15px; }
.pos { color: var(--ok); }
.neg { color: var(--bad); }
.chart { width: 100%; height: auto; display: block; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .zero { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 4 4; }
.chart .curve { fill: none; stroke: var(--accent); stroke-width: 2; }
.chart .dot { fill: var(--accent); }
.chart .area { fill: rgba(9, 105, 218, .08); stroke: none; }
.chart text { font: 12px ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; fill: var(--muted); }
.chart text.note { font: italic 14px system-ui, sans-serif; }
.counts { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 10px; }
.chip { font-size: 12px; border: 1px solid var(--line); border-radius: 12px; padding: 1px 9px; background: #f6f8fa; }
.chip b { font-weight: 600; margin-left: 4px; }
.scroll { overflow: auto; max-height: 460px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { position: sticky; top: 0; background: #f6f8fa; text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; text-align: right; }
td.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; color: var(--muted); }
td.buy { color: var(--ok); font-weight: 600; }
td.sell { color: var(--bad); font-weight: 600; }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; background: #eaeef2; }
.st-protected { background: #dafbe1; color: #116329; }
.st-pending, .st-partiallyFilled, .st-placingStop { background: #fff8c5; color: #7d4e00; }
.st-exited, .st-done { background: #ddf4ff; color: #0a3069; }
.st-canceled, .st-rejected, .st-expired, .st-replaced { background: #eaeef2; color: #57606a; }
.drift { color: #fff; background: var(--bad); }
tr.drift-row td { background: #fff0f1; }
`;

export const SCRIPT = `
(function () {
  'use strict';
  var REFRESH_MS = 5000;
  /** The API token lives in this tab's sessionStorage only; it is sent as a header, never in a URL. */
  var TOKEN_KEY = 'crazy-trade.api-token';
  var busy = false;
  /** Set when the API asked for a token the page does not have (or rejected it): polling waits for the form. */
  var needToken = false;
  var lastHealth = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function show(v) { return v === null || v === undefined || v === '' ? '\\u2014' : String(v); }
  function short(id) { return typeof id === 'string' && id.length > 8 ? id.slice(0, 8) + '\\u2026' : show(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function setText(id, v) { $(id).textContent = show(v); }
  function empty(id, text) { var e = $(id); e.hidden = !text; e.textContent = text || ''; }
  function sign(v) { return typeof v === 'string' && v.charAt(0) === '-' ? 'neg' : (typeof v === 'string' && /[1-9]/.test(v) ? 'pos' : ''); }

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
  function get(path) {
    var hadToken = !!getToken();
    return fetch(forAccount(path), { headers: headers(), cache: 'no-store', credentials: 'same-origin', redirect: 'error' }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.status === 401) throw new AuthError(401, hadToken, errorMessage(body, 401));
        // /health answers 503 with its full body when a position is unprotected: that body is the news.
        if (!res.ok && !(res.status === 503 && body && typeof body.status === 'string')) {
          var e = new Error(errorMessage(body, res.status)); e.status = res.status; throw e;
        }
        return body;
      });
    });
  }

  /** A write: POST / DELETE with the bearer header; resolves with { status, ok, body } whatever the answer. */
  function send(method, path) {
    var hadToken = !!getToken();
    var init = { method: method, headers: headers(method === 'POST' ? { 'Content-Type': 'application/json' } : {}), cache: 'no-store', credentials: 'same-origin', redirect: 'error' };
    if (method === 'POST') init.body = '{}';
    return fetch(forAccount(path), init).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.status === 401) askToken(hadToken);
        return { status: res.status, ok: res.ok, body: body };
      });
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
        a.appendChild(document.createTextNode((i ? '; ' : '') + show(u.symbol) + ' ' + show(u.position) + ' covered ' + show(u.covered) + ' since ' + show(u.since) + ' (' + show(u.reason) + ')'));
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
        return show(x.kind) + ' ' + show(x.symbol) + (x.order_id ? ' ' + short(x.order_id) : '') + ': ledger ' + show(x.ledger_qty) + ' vs broker ' + show(x.broker_qty) + ' since ' + show(x.since);
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
    status.className = 'v pill ' + (h.status === 'ok' ? 'good' : h.status === 'degraded' ? 'warn' : 'bad');
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
    var entries = $('h-entries');
    var paused = typeof h.entries_paused === 'boolean' ? h.entries_paused : null;
    entries.textContent = paused === null ? '\\u2014' : paused ? 'paused' : 'active';
    entries.className = 'v pill ' + (paused === null ? '' : paused ? 'warn' : 'good');
    $('entries-state').textContent = paused === null ? 'unknown (this /health does not say)' : paused ? 'paused \\u2014 new entries are refused' : 'active';
    $('btn-pause').disabled = paused === true;
    $('btn-resume').disabled = paused === false;
    setText('h-reconcile', h.last_reconcile_at);
    setText('h-watermark', h.watermark);
    var a = h.actors || {};
    setText('h-actors', show(a.active) + ' / ' + show(a.terminal));
    var drift = Array.isArray(h.drift) ? h.drift : [];
    var d = $('h-drift');
    d.textContent = String(drift.length);
    d.className = 'v pill ' + (drift.length > 0 ? 'bad drift' : 'good');
    d.title = drift.map(function (x) { return show(x.kind) + ' ' + show(x.symbol) + ' ' + show(x.order_id) + ': ledger ' + show(x.ledger_qty) + ' vs broker ' + show(x.broker_qty) + ' since ' + show(x.since); }).join('\\n');
  }

  /** "12.34%" from a reference price to a stop price (Numbers only for display), or null. */
  function distance(ref, stop) {
    var r = Number(ref), s = Number(stop);
    if (ref === null || ref === undefined || stop === null || stop === undefined || !isFinite(r) || !isFinite(s) || r <= 0) return null;
    return (Math.abs(r - s) / r * 100).toFixed(2) + '%';
  }
  function stopLine(s, lastPrice) {
    var parts = [show(s.type), show(s.qty)];
    // A trailing stop's price is its level when placed: the broker has trailed it up since.
    if (s.stop_price) parts.push('@ ' + s.stop_price + (s.type === 'trailing_stop' ? ' at placement' : ''));
    if (s.trail_percent) parts.push('trail ' + s.trail_percent + '%');
    var dist = s.distance_pct !== null && s.distance_pct !== undefined ? s.distance_pct + '%' : distance(lastPrice, s.stop_price);
    if (dist) parts.push('(' + dist + ' from last)');
    var line = el('div', 'stop-line', parts.join(' '));
    if (s.stop_order_id) line.title = 'stop order ' + s.stop_order_id + (s.entry_order_id ? ' for entry ' + s.entry_order_id : '');
    return line;
  }
  function renderPositions(body, health) {
    var positions = body && Array.isArray(body.positions) ? body.positions : [];
    var unprotected = {};
    var open = health && health.protection && Array.isArray(health.protection.unprotected) ? health.protection.unprotected : [];
    open.forEach(function (u) { if (u && u.symbol) unprotected[u.symbol] = u; });
    var tb = $('positions-body');
    clear(tb);
    positions.forEach(function (p) {
      var tr = el('tr');
      tr.setAttribute('data-symbol', show(p.symbol));
      if (unprotected[p.symbol]) tr.className = 'unprot';
      tr.appendChild(el('td', 'sym', show(p.symbol)));
      tr.appendChild(el('td', p.side === 'long' ? 'buy' : 'sell', show(p.side)));
      tr.appendChild(el('td', 'num', show(p.qty)));
      var qty = String(p.qty || '').replace('-', '');
      var covered = el('td', 'num covered', show(p.protected_qty) + ' / ' + show(qty));
      if (unprotected[p.symbol] || Number(p.protected_qty) < Number(qty)) covered.classList.add('uncovered');
      if (unprotected[p.symbol]) covered.title = show(unprotected[p.symbol].reason);
      tr.appendChild(covered);
      var stops = el('td', 'stops');
      var list = Array.isArray(p.stops) ? p.stops : [];
      if (list.length === 0) stops.appendChild(el('span', 'empty', 'no live stop'));
      list.forEach(function (s) { stops.appendChild(stopLine(s, p.last_price)); });
      // Outside regular hours equity stops cannot trigger: a state, not an alarm.
      if (p.stops_acting === false) {
        var idle = el('span', 'pill idle', 'stops idle: ' + show(p.stops_acting_reason).replace(/_/g, ' '));
        idle.title = 'session: ' + show(p.session) + '; stops and trailing stops trigger in regular hours only';
        stops.appendChild(idle);
      }
      // The extended-hours guard exits it (its stops canceled on purpose): a state, not an alarm.
      if (p.guard_exit) {
        var g = p.guard_exit;
        var exiting = el('span', 'pill idle', 'guard exit: ' + (g.limit_price ? g.side + ' limit ' + g.limit_price : 'stops canceling'));
        exiting.title = 'traded ' + show(g.trigger) + ' through the stop level ' + show(g.level) + ' (' + show(g.session) + ')';
        stops.appendChild(exiting);
      }
      tr.appendChild(stops);
      var act = el('td');
      var b = el('button', 'danger close', 'Close');
      b.type = 'button';
      b.addEventListener('click', function () {
        action('close ' + p.symbol, 'POST', './positions/' + encodeURIComponent(p.symbol) + '/close',
          'Close the whole ' + p.symbol + ' position (' + show(p.qty) + ') at market?');
      });
      act.appendChild(b);
      tr.appendChild(act);
      tb.appendChild(tr);
    });
    empty('positions-empty', positions.length ? null : 'no open positions');
  }

  function timeLeft(until) {
    var ms = Date.parse(until) - Date.now();
    if (!isFinite(ms)) return '\\u2014';
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
      tr.appendChild(el('td', 'mono', show(c.until)));
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

  var ORDER_COLS = ['id', 'symbol', 'side', 'role', 'state', 'filled_qty', 'filled_avg_price', 'stop_order_id'];
  var MAX_ORDER_ROWS = 200;
  function renderOrders(body, driftIds) {
    var orders = body && Array.isArray(body.orders) ? body.orders : [];
    var counts = {};
    orders.forEach(function (o) { var s = show(o.state); counts[s] = (counts[s] || 0) + 1; });
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
        else if (k === 'state') { td = el('td'); var s = el('span', 'state', show(o.state)); if (/^[A-Za-z]+$/.test(String(o.state))) s.classList.add('st-' + o.state); td.appendChild(s); }
        else if (k === 'side') td = el('td', o.side === 'buy' ? 'buy' : o.side === 'sell' ? 'sell' : '', show(o.side));
        else if (k === 'filled_qty' || k === 'filled_avg_price') td = el('td', 'num', show(o[k]));
        else td = el('td', '', show(o[k]));
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    empty('orders-empty', orders.length ? null : 'no order actors yet');
    $('orders-more').textContent = orders.length > MAX_ORDER_ROWS ? 'showing the newest ' + MAX_ORDER_ROWS + ' of ' + orders.length : '';
  }

  function renderFills(body) {
    var fills = body && Array.isArray(body.fills) ? body.fills : [];
    var tb = $('fills-body');
    clear(tb);
    fills.forEach(function (f) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', show(f.filled_at)));
      tr.appendChild(el('td', 'sym', show(f.symbol)));
      tr.appendChild(el('td', f.side === 'buy' ? 'buy' : f.side === 'sell' ? 'sell' : '', show(f.side)));
      tr.appendChild(el('td', 'num', show(f.qty)));
      tr.appendChild(el('td', 'num', show(f.price)));
      tr.appendChild(el('td', '', show(f.source)));
      var td = el('td', 'mono', short(f.order_id));
      if (f.order_id) td.title = String(f.order_id);
      tr.appendChild(td);
      tb.appendChild(tr);
    });
    empty('fills-empty', fills.length ? null : 'no fills yet');
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function drawCurve(curve) {
    var W = 640, H = 330, L = 74, R = 12, T = 12, B = 28;
    var root = svg('svg', { id: 'equity-curve', class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'realized equity curve' });
    var pts = [];
    curve.forEach(function (p, i) {
      var y = Number(p && p.realized_pnl);
      if (!isFinite(y)) return;
      var t = Date.parse(p.at);
      pts.push({ i: i, t: isFinite(t) ? t : NaN, y: y, at: p.at, v: p.realized_pnl });
    });
    if (pts.length === 0) {
      root.appendChild(svg('line', { class: 'zero', x1: L, x2: W - R, y1: H / 2, y2: H / 2 }));
      root.appendChild(svg('text', { class: 'note', x: W / 2, y: H / 2 - 10, 'text-anchor': 'middle' }, 'no closing fills yet \\u2014 realized P&L is 0'));
      return root;
    }
    var useTime = pts.every(function (p) { return isFinite(p.t); }) && pts[pts.length - 1].t > pts[0].t;
    var x0 = useTime ? pts[0].t : 0, x1 = useTime ? pts[pts.length - 1].t : Math.max(pts.length - 1, 1);
    var ys = pts.map(function (p) { return p.y; }).concat([0]);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (y1 === y0) { y1 += 1; y0 -= 1; }
    var pad = (y1 - y0) * 0.08; y1 += pad; y0 -= pad;
    function X(p, idx) { var v = useTime ? p.t : idx; return L + (W - L - R) * (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)); }
    function Y(v) { return T + (H - T - B) * (1 - (v - y0) / (y1 - y0)); }
    for (var g = 0; g <= 4; g++) {
      var gy = T + (H - T - B) * g / 4;
      root.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: gy, y2: gy }));
    }
    root.appendChild(svg('line', { class: 'zero', x1: L, x2: W - R, y1: Y(0), y2: Y(0) }));
    // Realized P&L changes only at closing fills: a step line from 0 at the first close.
    var d = 'M' + X(pts[0], 0).toFixed(1) + ' ' + Y(0).toFixed(1);
    var prevY = 0;
    pts.forEach(function (p, idx) {
      var x = X(p, idx).toFixed(1);
      d += ' L' + x + ' ' + Y(prevY).toFixed(1) + ' L' + x + ' ' + Y(p.y).toFixed(1);
      prevY = p.y;
    });
    var last = pts[pts.length - 1];
    var endX = X(last, pts.length - 1).toFixed(1);
    root.appendChild(svg('path', { class: 'area', d: d + ' L' + endX + ' ' + Y(0).toFixed(1) + ' Z' }));
    root.appendChild(svg('path', { class: 'curve', d: d }));
    pts.forEach(function (p, idx) {
      var c = svg('circle', { class: 'dot', cx: X(p, idx).toFixed(1), cy: Y(p.y).toFixed(1), r: pts.length > 60 ? 1.5 : 3 });
      c.appendChild(svg('title', {}, show(p.at) + '  ' + show(p.v)));
      root.appendChild(c);
    });
    // Axis labels: the extreme points' own decimal strings, and the first / last close times.
    var hi = pts.reduce(function (a, b) { return b.y > a.y ? b : a; });
    var lo = pts.reduce(function (a, b) { return b.y < a.y ? b : a; });
    if (hi.y > 0) root.appendChild(svg('text', { x: L - 6, y: Y(hi.y) + 4, 'text-anchor': 'end' }, hi.v));
    if (lo.y < 0) root.appendChild(svg('text', { x: L - 6, y: Y(lo.y) + 4, 'text-anchor': 'end' }, lo.v));
    root.appendChild(svg('text', { x: L - 6, y: Y(0) + 4, 'text-anchor': 'end' }, '0'));
    root.appendChild(svg('text', { x: L, y: H - 6, 'text-anchor': 'start' }, show(pts[0].at)));
    if (pts.length > 1) root.appendChild(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, show(last.at)));
    return root;
  }

  var PERF_STATS = [['realized_pnl', 'realized P&L'], ['round_trips', 'round trips'], ['win_rate', 'win rate'], ['profit_factor', 'profit factor'], ['max_drawdown', 'max drawdown'], ['expectancy', 'expectancy']];
  function renderPerformance(body) {
    var box = $('perf');
    clear(box);
    var total = body && body.total;
    if (!total || typeof total !== 'object') { box.appendChild(el('div', 'empty', 'no performance data')); return; }
    var stats = el('div', 'stats');
    PERF_STATS.forEach(function (s) {
      var kv = el('div', 'kv');
      kv.appendChild(el('div', 'k', s[1]));
      var v = el('div', 'v', show(total[s[0]]));
      v.id = 'perf-' + s[0].replace(/_/g, '-');
      if (s[0] === 'realized_pnl') { var cls = sign(total.realized_pnl); if (cls) v.classList.add(cls); }
      kv.appendChild(v);
      stats.appendChild(kv);
    });
    box.appendChild(stats);
    box.appendChild(drawCurve(Array.isArray(total.equity_curve) ? total.equity_curve : []));
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
    ['h-status', 'h-mode', 'h-stream', 'h-entries', 'h-reconcile', 'h-watermark', 'h-actors', 'h-drift'].forEach(function (id) { var e = $(id); e.textContent = '\\u2014'; e.className = 'v'; e.title = ''; });
    ['orders-body', 'state-counts', 'fills-body', 'positions-body', 'cooldowns-body', 'alarm-unprotected', 'alarm-drift'].forEach(function (id) { clear($(id)); });
    $('alarm-unprotected').className = 'alarm'; $('alarm-drift').className = 'alarm';
    $('mode-banner').textContent = ''; $('mode-banner').className = '';
    $('orders-total').textContent = ''; $('orders-more').textContent = '';
    ['orders-empty', 'fills-empty', 'positions-empty', 'cooldowns-empty'].forEach(function (id) { empty(id, 'not loaded \\u2014 ' + why); });
    clear($('perf')); $('perf').appendChild(el('div', 'empty', 'not loaded \\u2014 ' + why));
    lastHealth = null;
  }

  var PATHS = ['./health', './orders', './fills?limit=50', './performance', './positions', './cooldowns'];
  function refresh() {
    if (busy || needToken) return;
    busy = true;
    var results = PATHS.map(function (p) {
      return get(p).then(function (v) { return { ok: true, v: v }; }, function (e) { return { ok: false, e: e }; });
    });
    Promise.all(results).then(function (r) {
      var health = r[0], orders = r[1], fills = r[2], perf = r[3], positions = r[4], cooldowns = r[5];
      var auth = r.filter(function (x) { return !x.ok && x.e instanceof AuthError; })[0];
      if (auth) {
        clearAll('bearer token required');
        askToken(auth.e.hadToken);
        $('updated').textContent = 'unauthorized \\u2014 ' + new Date().toLocaleTimeString();
        return;
      }
      banner(null);
      var driftIds = {};
      lastHealth = health.ok ? health.v : null;
      if (health.ok) {
        renderHealth(health.v);
        (health.v.drift || []).forEach(function (x) { if (x && x.order_id) driftIds[x.order_id] = true; });
      }
      section('health-err', health.ok ? null : health.e);
      if (!health.ok) banner(['Cannot read /health: ', show(health.e && health.e.message)]);
      alarms(lastHealth);
      if (positions.ok) renderPositions(positions.v, lastHealth);
      section('positions-err', positions.ok ? null : positions.e);
      if (cooldowns.ok) renderCooldowns(cooldowns.v);
      section('cooldowns-err', cooldowns.ok ? null : cooldowns.e);
      if (orders.ok) renderOrders(orders.v, driftIds);
      section('orders-err', orders.ok ? null : orders.e);
      if (fills.ok) renderFills(fills.v);
      section('fills-err', fills.ok ? null : fills.e);
      if (perf.ok) renderPerformance(perf.v); else perfUnavailable(perf.e);
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
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
  setInterval(tickCooldowns, 1000);
})();
`;

const HEALTH_FIELDS: ReadonlyArray<[id: string, label: string]> = [
  ['h-status', 'status'],
  ['h-mode', 'mode'],
  ['h-stream', 'stream'],
  ['h-entries', 'entries'],
  ['h-reconcile', 'last reconcile'],
  ['h-watermark', 'watermark'],
  ['h-actors', 'actors active / terminal'],
  ['h-drift', 'drift'],
];

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
<div id="alarm-unprotected" class="alarm" role="alert"></div>
<div id="alarm-drift" class="alarm" role="alert"></div>
<div id="banner" role="alert"></div>
<form id="token-form" hidden>
<span id="token-why">This API needs its token (CT_API_TOKEN).</span>
<label>API token <input id="token-input" type="password" autocomplete="off" spellcheck="false" aria-label="API token"></label>
<button type="submit" id="token-save">Use token</button>
<span class="sub">kept in this browser tab only (sessionStorage), sent as an Authorization header</span>
</form>
<main>
<section id="control" class="wide">
<h2>Control <span class="sub">write routes: need CT_API_TOKEN</span></h2>
<div class="controls">
<span>entries: <b id="entries-state">\u2014</b></span>
<button type="button" id="btn-pause">Pause entries</button>
<button type="button" id="btn-resume">Resume entries</button>
<span id="action-msg" role="status"></span>
</div>
</section>
<section id="positions" class="wide">
<h2>Positions <span class="sub">/positions: what live stops cover</span></h2>
<div class="err" id="positions-err"></div>
<div class="scroll">
<table id="positions-table">
<thead><tr><th>symbol</th><th>side</th><th>qty</th><th>covered</th><th>stops</th><th></th></tr></thead>
<tbody id="positions-body"></tbody>
</table>
<div class="empty" id="positions-empty">loading\u2026</div>
</div>
</section>
<section id="cooldowns">
<h2>Cooldowns <span class="sub">no entries until they end</span></h2>
<div class="err" id="cooldowns-err"></div>
<div class="scroll">
<table id="cooldowns-table">
<thead><tr><th>symbol</th><th>until</th><th>time left</th><th></th></tr></thead>
<tbody id="cooldowns-body"></tbody>
</table>
<div class="empty" id="cooldowns-empty">loading\u2026</div>
</div>
</section>
<section id="performance">
<h2>Realized equity curve <span class="sub">/performance, FIFO lots</span></h2>
<div id="perf"><div class="empty">loading\u2026</div></div>
</section>
<section id="actors">
<h2>Live actor states <span class="sub" id="orders-total"></span> <span class="sub" id="orders-more"></span></h2>
<div class="counts" id="state-counts"></div>
<div class="err" id="orders-err"></div>
<div class="scroll">
<table id="orders-table">
<thead><tr><th>id</th><th>symbol</th><th>side</th><th>role</th><th>state</th><th>filled_qty</th><th>filled_avg_price</th><th>stop_order_id</th></tr></thead>
<tbody id="orders-body"></tbody>
</table>
<div class="empty" id="orders-empty">loading\u2026</div>
</div>
</section>
<section id="fills" class="wide">
<h2>Fills <span class="sub">newest 50</span></h2>
<div class="err" id="fills-err"></div>
<div class="scroll">
<table id="fills-table">
<thead><tr><th>filled_at</th><th>symbol</th><th>side</th><th>qty</th><th>price</th><th>source</th><th>order</th></tr></thead>
<tbody id="fills-body"></tbody>
</table>
<div class="empty" id="fills-empty">loading\u2026</div>
</div>
</section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
