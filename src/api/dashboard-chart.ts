/**
 * One job: the dashboard's P&L chart, hand-drawn SVG (no charting library: nothing to ship or to
 * allow in the CSP), as browser script inserted into the page's inline script after FORMAT_SCRIPT
 * (dashboard-format.ts), whose money() and clock() label the axes.
 *
 * Realized P&L changes only at closing fills, so it is a step line from 0 at the first close,
 * carried flat to now; a dashed tail at now adds the open positions' unrealized P&L. The value
 * axis has round ticks labelled in dollars with 2 places, and its margin is as wide as its widest
 * label (a long figure used to be clipped to its last digits); the time axis has ticks on round
 * local times of day. Decimal strings become Numbers here only for coordinates.
 *
 * Keep this text free of backticks and `${` (it sits inside template literals).
 */
export const CHART_SCRIPT = String.raw`
  var SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  /** A round step (1, 2, 2.5, 5 × 10^n) that cuts span into about count parts; at least a cent. */
  function niceStep(span, count) {
    var raw = span / Math.max(count, 1);
    if (!(raw > 0)) return 0.01;
    var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var n = raw / mag;
    return Math.max(0.01, (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag);
  }
  /** Round ticks covering lo..hi: { lo, hi, ticks }. */
  function valueTicks(lo, hi, count) {
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    var step = niceStep(hi - lo, count);
    var a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
    var ticks = [];
    for (var i = 0; a + i * step <= b + step / 2 && i < 50; i++) ticks.push(Number((a + i * step).toFixed(2)));
    return { lo: a, hi: b, ticks: ticks };
  }
  var MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var TIME_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];
  /** Ticks on round local times between t0 and t1 (epoch ms), at most about count: { step, ticks }. */
  function timeTicks(t0, t1, count) {
    var step = TIME_STEPS[TIME_STEPS.length - 1];
    for (var i = 0; i < TIME_STEPS.length; i++) if ((t1 - t0) / TIME_STEPS[i] <= count) { step = TIME_STEPS[i]; break; }
    // Local time = UTC + offset: round in local time, so 15-minute and day ticks fall on the local clock.
    var offset = -new Date(t0).getTimezoneOffset() * MINUTE;
    var ticks = [];
    for (var t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1 && ticks.length < 60; t += step) ticks.push(t);
    return { step: step, ticks: ticks };
  }
  function timeLabel(t, step) {
    var d = new Date(t);
    return step >= DAY || (d.getHours() === 0 && d.getMinutes() === 0) ? dayLabel(t) : clock(t, true);
  }
  /** The offset of local time as "UTC+01:00" (the axis says which clock it shows). */
  function zoneLabel(t) {
    var off = -new Date(t).getTimezoneOffset();
    return 'UTC' + (off < 0 ? '\u2212' : '+') + pad2(Math.floor(Math.abs(off) / 60)) + ':' + pad2(Math.abs(off) % 60);
  }

  /**
   * The chart: curve = /performance total.equity_curve ({ at, realized_pnl }), unrealized = the
   * positions' unrealized P&L now (a decimal string, or null), nowMs = the page's clock.
   */
  function drawCurve(curve, unrealized, nowMs) {
    var W = 640, H = 250, R = 14, T = 22, B = 30, CH = 7.3;
    var root = svg('svg', { id: 'equity-curve', class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'realized P&L over time, in US dollars' });
    var pts = [];
    (Array.isArray(curve) ? curve : []).forEach(function (p) {
      var y = Number(p && p.realized_pnl), t = timeMs(p && p.at);
      if (isFinite(y) && isFinite(t)) pts.push({ t: t, y: y, at: p.at, v: p.realized_pnl });
    });
    if (pts.length === 0) {
      root.appendChild(svg('line', { class: 'zero', x1: 60, x2: W - R, y1: H / 2, y2: H / 2 }));
      root.appendChild(svg('text', { class: 'note', x: W / 2, y: H / 2 - 10, 'text-anchor': 'middle' }, 'no closing fills yet \u2014 realized P&L is ' + money('0')));
      return root;
    }
    var last = pts[pts.length - 1];
    var t1 = Math.max(nowMs, last.t);
    var t0 = Math.min(pts[0].t, t1 - 10 * MINUTE);
    var open = unrealized !== null && unrealized !== undefined && isFinite(Number(unrealized)) ? last.y + Number(unrealized) : null;
    var ys = pts.map(function (p) { return p.y; }).concat([0]);
    if (open !== null) ys.push(open);
    var yt = valueTicks(Math.min.apply(null, ys), Math.max.apply(null, ys), 4);
    var labels = yt.ticks.map(function (v) { return money(v.toFixed(2)); });
    var L = 10 + CH * Math.max.apply(null, labels.map(function (s) { return s.length; }));
    function X(t) { return L + (W - L - R) * (t - t0) / (t1 - t0); }
    function Y(v) { return T + (H - T - B) * (1 - (v - yt.lo) / (yt.hi - yt.lo)); }
    yt.ticks.forEach(function (v, i) {
      root.appendChild(svg('line', { class: v === 0 ? 'zero' : 'grid', x1: L, x2: W - R, y1: Y(v).toFixed(1), y2: Y(v).toFixed(1) }));
      root.appendChild(svg('text', { class: 'ytick', x: L - 6, y: (Y(v) + 4).toFixed(1), 'text-anchor': 'end' }, labels[i]));
    });
    var xt = timeTicks(t0, t1, 6);
    xt.ticks.forEach(function (t) {
      var x = X(t), label = timeLabel(t, xt.step), half = label.length * CH / 2;
      root.appendChild(svg('line', { class: 'tick', x1: x.toFixed(1), x2: x.toFixed(1), y1: H - B, y2: H - B + 4 }));
      // Kept inside the drawing: a label at either end is anchored to its edge, not cut by it.
      var anchor = x - half < L ? 'start' : x + half > W - R ? 'end' : 'middle';
      root.appendChild(svg('text', { class: 'xtick', x: (anchor === 'start' ? Math.max(x, L) : anchor === 'end' ? Math.min(x, W - R) : x).toFixed(1), y: H - B + 17, 'text-anchor': anchor }, label));
    });
    root.appendChild(svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    root.appendChild(svg('text', { class: 'unit', x: 4, y: 12, 'text-anchor': 'start' }, 'USD'));
    root.appendChild(svg('text', { class: 'unit', x: W - R, y: 12, 'text-anchor': 'end' }, 'local time (' + zoneLabel(t1) + ')'));
    // The step line: 0 until the first close, each close's new total, flat to now.
    var d = 'M' + X(pts[0].t).toFixed(1) + ' ' + Y(0).toFixed(1);
    var prev = 0;
    pts.forEach(function (p) {
      var x = X(p.t).toFixed(1);
      d += ' L' + x + ' ' + Y(prev).toFixed(1) + ' L' + x + ' ' + Y(p.y).toFixed(1);
      prev = p.y;
    });
    d += ' L' + X(t1).toFixed(1) + ' ' + Y(last.y).toFixed(1);
    root.appendChild(svg('path', { class: 'area', d: d + ' L' + X(t1).toFixed(1) + ' ' + Y(0).toFixed(1) + ' Z' }));
    root.appendChild(svg('path', { class: 'curve', d: d }));
    if (pts.length <= 80) {
      pts.forEach(function (p) {
        var c = svg('circle', { class: 'dot', cx: X(p.t).toFixed(1), cy: Y(p.y).toFixed(1), r: 3 });
        c.appendChild(svg('title', {}, when(p.at, nowMs).text + '  realized ' + pnl(p.v)));
        root.appendChild(c);
      });
    }
    if (open !== null) {
      root.appendChild(svg('line', { class: 'open', x1: X(t1).toFixed(1), x2: X(t1).toFixed(1), y1: Y(last.y).toFixed(1), y2: Y(open).toFixed(1) }));
      var o = svg('circle', { class: 'open-dot', cx: X(t1).toFixed(1), cy: Y(open).toFixed(1), r: 4 });
      o.appendChild(svg('title', {}, 'now, with the open positions: ' + pnl(open.toFixed(2)) + ' (unrealized ' + pnl(unrealized) + ')'));
      root.appendChild(o);
    }
    return root;
  }
`;
