/**
 * The dashboard page served at `GET /` (DESIGN §5): one HTML document with inline CSS and inline
 * vanilla JS, no framework, no build step, no request outside its own origin. It is embedded here
 * as strings (the build copies no .html files), and dashboard.ts hashes STYLE and SCRIPT for the
 * Content-Security-Policy — so they must be inserted into the markup byte for byte.
 *
 * The script reads the JSON endpoints of the same origin every 5 s and writes every value with
 * textContent / setAttribute, never as markup. Decimal strings are shown as the API sends them;
 * they become Numbers only for SVG coordinates. Keep the script free of backticks and `${`.
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
#mode-banner { display: none; padding: 8px 20px; background: #fff8c5; color: #4d2d00; border-bottom: 1px solid #d4a72c; font-weight: 600; }
#mode-banner.show { display: block; }
#banner { display: none; margin: 14px 20px 0; padding: 10px 14px; border-radius: 6px; border: 1px solid #f1aeb5; background: #fff0f1; color: #82071e; }
#banner.show { display: block; }
#banner code { background: #fff; padding: 1px 5px; border-radius: 4px; border: 1px solid #f1aeb5; }
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
  var token = new URLSearchParams(window.location.search).get('token');
  var busy = false;

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

  function AuthError(status) { this.status = status; }
  function get(path) {
    var headers = { 'Accept': 'application/json' };
    if (token) headers['Authorization'] = 'Bearer ' + token;
    return fetch(path, { headers: headers, cache: 'no-store', credentials: 'same-origin', redirect: 'error' }).then(function (res) {
      if (res.status === 401) throw new AuthError(401);
      return res.json().catch(function () { return null; }).then(function (body) {
        // /health answers 503 with its full body when a position is unprotected: that body is the news.
        if (!res.ok && !(res.status === 503 && body && typeof body.status === 'string')) {
          var msg = body && body.error && body.error.message ? body.error.message : 'HTTP ' + res.status;
          var e = new Error(msg); e.status = res.status; throw e;
        }
        return body;
      });
    });
  }

  function banner(parts) {
    var b = $('banner');
    clear(b);
    b.removeAttribute('data-unprotected');
    if (!parts) { b.classList.remove('show'); return; }
    parts.forEach(function (p) { b.appendChild(typeof p === 'string' ? document.createTextNode(p) : p); });
    b.classList.add('show');
  }
  function authBanner() {
    if (token) {
      banner([el('strong', '', 'The API rejected the token. '), 'The ', el('code', '', 'token'),
        ' query parameter of this page does not match CT_API_TOKEN; open ', el('code', '', '/?token=<CT_API_TOKEN>'), ' with the right value.']);
    } else {
      banner([el('strong', '', 'This status API requires a bearer token. '), 'Open this page as ',
        el('code', '', '/?token=<CT_API_TOKEN>'), ' \\u2014 the page then sends it as ', el('code', '', 'Authorization: Bearer \\u2026'), ' on every request.']);
    }
  }

  /** The worst news first: positions no live stop covers. */
  function protectionBanner(h) {
    var open = h.protection && Array.isArray(h.protection.unprotected) ? h.protection.unprotected : [];
    if (open.length === 0) return;
    var parts = [el('strong', '', h.status === 'critical' ? 'UNPROTECTED POSITIONS. ' : 'Positions waiting for their stops: ')];
    open.forEach(function (u, i) {
      parts.push((i ? '; ' : '') + show(u.symbol) + ' ' + show(u.position) + ' covered ' + show(u.covered) + ' since ' + show(u.since) + ' (' + show(u.reason) + ')');
    });
    banner(parts);
    $('banner').setAttribute('data-unprotected', open.map(function (u) { return u.symbol; }).join(','));
  }

  function renderHealth(h) {
    var status = $('h-status');
    status.textContent = show(h.status);
    status.className = 'v pill ' + (h.status === 'ok' ? 'good' : h.status === 'degraded' ? 'warn' : 'bad');
    status.title = Array.isArray(h.reasons) ? h.reasons.join('; ') : '';
    setText('h-mode', h.mode);
    var modeBanner = $('mode-banner');
    modeBanner.textContent = h.mode === 'demo' ? 'DEMO \u2014 the embedded Alpaca simulator: no real account is watched or protected.' : '';
    modeBanner.className = h.mode === 'demo' ? 'show' : '';
    var stream = $('h-stream');
    stream.textContent = show(h.stream);
    stream.className = 'v pill ' + (h.stream === 'connected' ? 'good' : h.stream === 'reconnecting' ? 'warn' : 'bad');
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

  function refresh() {
    if (busy) return;
    busy = true;
    var results = ['./health', './orders', './fills?limit=50', './performance'].map(function (p) {
      return get(p).then(function (v) { return { ok: true, v: v }; }, function (e) { return { ok: false, e: e }; });
    });
    Promise.all(results).then(function (r) {
      var health = r[0], orders = r[1], fills = r[2], perf = r[3];
      if (r.some(function (x) { return !x.ok && x.e instanceof AuthError; })) {
        authBanner();
        // Nothing shown may outlive a rejected token: clear every section.
        ['h-status', 'h-mode', 'h-stream', 'h-reconcile', 'h-watermark', 'h-actors', 'h-drift'].forEach(function (id) { var e = $(id); e.textContent = '\\u2014'; e.className = 'v'; e.title = ''; });
        clear($('orders-body')); clear($('state-counts')); clear($('fills-body'));
        $('orders-total').textContent = ''; $('orders-more').textContent = '';
        empty('orders-empty', 'not loaded \\u2014 bearer token required');
        empty('fills-empty', 'not loaded \\u2014 bearer token required');
        clear($('perf')); $('perf').appendChild(el('div', 'empty', 'not loaded \\u2014 bearer token required'));
        $('updated').textContent = 'unauthorized \\u2014 ' + new Date().toLocaleTimeString();
        return;
      }
      banner(null);
      var driftIds = {};
      if (health.ok) {
        renderHealth(health.v);
        (health.v.drift || []).forEach(function (x) { if (x && x.order_id) driftIds[x.order_id] = true; });
      }
      section('health-err', health.ok ? null : health.e);
      if (!health.ok) banner(['Cannot reach /health: ', show(health.e && health.e.message)]);
      if (health.ok) protectionBanner(health.v);
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

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
`;

const HEALTH_FIELDS: ReadonlyArray<[id: string, label: string]> = [
  ['h-status', 'status'],
  ['h-mode', 'mode'],
  ['h-stream', 'stream'],
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
</header>
<div id="mode-banner" role="status"></div>
<div id="banner" role="alert"></div>
<main>
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
