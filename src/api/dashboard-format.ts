/**
 * One job: how the dashboard writes numbers and times for people, as browser script (ES5 function
 * declarations, inserted into the page's one inline script by dashboard-page.ts, so the CSP hash
 * covers it; unit-tested by evaluating the same text, test/dashboard-format.test.ts).
 *
 * The API sends money and quantities as decimal strings. They are rounded here as strings, digit
 * by digit (half away from zero), never through a float: `-672.317783275` is `-$672.32`, and
 * `0.1 + 0.2` never shows. Money has 2 places; prices and quantities the places of the asset's
 * increment (`price_increment`, `min_trade_increment`) when /positions knows it, else: prices of
 * $1 and up 2 places, below $1 4 places for equities (sub-penny quotes) and 4 significant digits
 * for coins (SHIB's 0.00002345); quantities as exact as they are, trailing zeros dropped.
 * Percentages and ratios 2 places. Times are local (24 h), with the UTC instant to the
 * millisecond in the title (the ledger's nanoseconds are noise to a reader).
 *
 * Keep this text free of backticks and `${` (it sits inside template literals).
 */
export const FORMAT_SCRIPT = String.raw`
  var DASH = '\u2014';
  /** "-0012.50" → { neg: true, int: '12', frac: '50' }; null when not a plain decimal. */
  function decParts(v) {
    if (v === null || v === undefined || typeof v === 'boolean') return null;
    var m = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/.exec(String(v));
    if (!m || (m[2] === '' && !m[3])) return null;
    return { neg: m[1] === '-', int: m[2].replace(/^0+(?=\d)/, '') || '0', frac: m[3] || '' };
  }
  function zeros(n) { var s = ''; while (s.length < n) s += '0'; return s; }
  /** "1299" → "1300": one added to a string of digits. */
  function incDigits(s) {
    var a = s.split('');
    for (var i = a.length - 1; i >= 0; i--) {
      if (a[i] === '9') a[i] = '0';
      else { a[i] = String(Number(a[i]) + 1); return a.join(''); }
    }
    return '1' + a.join('');
  }
  /** A decimal string rounded to dp places, half away from zero, with exactly dp places; null if not a decimal. */
  function roundDec(v, dp) {
    var p = decParts(v);
    if (!p) return null;
    var digits = p.int + (p.frac + zeros(dp)).slice(0, dp);
    if (p.frac.length > dp && p.frac.charAt(dp) >= '5') digits = incDigits(digits);
    var int = digits.slice(0, digits.length - dp).replace(/^0+(?=\d)/, '') || '0';
    var frac = digits.slice(digits.length - dp);
    var isZero = !/[1-9]/.test(int + frac);
    return (p.neg && !isZero ? '-' : '') + int + (dp > 0 ? '.' + frac : '');
  }
  /** "1.2300" → "1.23", "5.000" → "5". */
  function trimZeros(s) { return s.indexOf('.') < 0 ? s : s.replace(/0+$/, '').replace(/\.$/, ''); }
  /** Thousands separators on the whole part: "-1234567.5" → "-1,234,567.5". */
  function group(s) {
    var m = /^(-?)(\d+)(\.\d+)?$/.exec(s);
    if (!m) return s;
    return m[1] + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (m[3] || '');
  }
  /** The places of an increment ("0.01" → 2, "1" → 0, "0.000000001" → 9); null when there is none. */
  function placesOf(increment) {
    var p = decParts(increment);
    if (!p || p.neg || !/[1-9]/.test(p.int + p.frac)) return null;
    return p.frac.replace(/0+$/, '').length;
  }
  function isZeroDec(v) { var p = decParts(v); return !!p && !/[1-9]/.test(p.int + p.frac); }
  function isNegDec(v) { var p = decParts(v); return !!p && p.neg && !isZeroDec(v); }
  /** Money: "$1,234.57", "-$672.32"; anything else as it came. */
  function money(v) {
    var r = roundDec(v, 2);
    if (r === null) return v === null || v === undefined || v === '' ? DASH : String(v);
    return r.charAt(0) === '-' ? '-$' + group(r.slice(1)) : '$' + group(r);
  }
  /** P&L: money with its sign, "+$12.30", "-$4.00", "$0.00". */
  function pnl(v) {
    var r = money(v);
    return r.charAt(0) === '$' && !isZeroDec(roundDec(v, 2)) ? '+' + r : r;
  }
  /** A percentage (already in %): "12.35%"; signed: "+12.35%". */
  function percent(v, signed) {
    var r = roundDec(v, 2);
    if (r === null) return v === null || v === undefined || v === '' ? DASH : String(v);
    return (signed && r.charAt(0) !== '-' && /[1-9]/.test(r) ? '+' : '') + group(r) + '%';
  }
  /** A ratio (0.6 → "0.60"). */
  function ratio(v) {
    var r = roundDec(v, 2);
    return r === null ? (v === null || v === undefined || v === '' ? DASH : String(v)) : group(r);
  }
  /** A ratio as a percentage, by moving the point (0.6 → "60.00%"). */
  function ratioPercent(v) {
    var p = decParts(v);
    if (!p) return v === null || v === undefined || v === '' ? DASH : String(v);
    var frac = p.frac + '00';
    return percent((p.neg ? '-' : '') + p.int + frac.slice(0, 2) + '.' + (frac.slice(2) || '0'), false);
  }
  /** Places to show 4 significant digits of a value below 1 (0.00002345 → 8), at least 2, at most 12. */
  function significantPlaces(v) {
    var p = decParts(v);
    if (!p || p.int !== '0') return 2;
    var lead = /^0*/.exec(p.frac)[0].length;
    return lead >= p.frac.length ? 2 : Math.max(2, Math.min(12, lead + 4));
  }
  /**
   * A price on the asset's increment, else by the rules above. crypto: true for a coin, false for an
   * equity, as /positions says (the server decides, src/domain/symbols.ts); unknown (a symbol no
   * longer held) rounds below $1 to 4 significant digits, which is 4 places for most equities too.
   */
  function price(v, increment, crypto) {
    var dp = placesOf(increment);
    if (dp === null) {
      var p = decParts(v);
      if (!p) return v === null || v === undefined || v === '' ? DASH : String(v);
      dp = p.int !== '0' ? 2 : crypto === false ? 4 : significantPlaces(v);
    }
    var r = roundDec(v, dp);
    return r === null ? String(v) : group(r);
  }
  /** A quantity on the asset's increment (trailing zeros dropped), else as exact as it is. */
  function qty(v, increment) {
    var p = decParts(v);
    if (!p) return v === null || v === undefined || v === '' ? DASH : String(v);
    var dp = placesOf(increment);
    var r = dp === null ? (p.neg && !isZeroDec(v) ? '-' : '') + p.int + (p.frac ? '.' + p.frac : '') : roundDec(v, dp);
    return group(trimZeros(r));
  }

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  /** An RFC 3339 time (nanoseconds allowed) as epoch ms; NaN when it is not one. */
  function timeMs(iso) {
    if (typeof iso !== 'string') return NaN;
    return Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
  }
  /** Local time of day, 24 h: "14:02:09" (minutes only: "14:02"). */
  function clock(ms, minutesOnly) {
    var d = new Date(ms);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (minutesOnly ? '' : ':' + pad2(d.getSeconds()));
  }
  function dayLabel(ms) { var d = new Date(ms); return MONTHS[d.getMonth()] + ' ' + d.getDate(); }
  function sameLocalDay(a, b) {
    var x = new Date(a), y = new Date(b);
    return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
  }
  /** "2026-01-02 15:00:01.5 UTC": the instant, to the millisecond. */
  function utcText(ms) {
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$/, 'Z').replace(/(\.\d*?)0*Z$/, '$1Z').replace(/Z$/, ' UTC');
  }
  /** { text, title } of a time: local time of day (with the date when not today), the UTC instant on hover. */
  function when(iso, nowMs) {
    var ms = timeMs(iso);
    if (!isFinite(ms)) return { text: iso === null || iso === undefined || iso === '' ? DASH : String(iso), title: '' };
    var now = nowMs === undefined ? Date.now() : nowMs;
    var d = new Date(ms);
    var text = sameLocalDay(ms, now) ? clock(ms) : (d.getFullYear() === new Date(now).getFullYear() ? dayLabel(ms) : d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate())) + ' ' + clock(ms);
    return { text: text, title: utcText(ms) };
  }
  /** "45 s", "3 min", "2 h 5 min". */
  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + ' s';
    var m = Math.round(s / 60);
    if (m < 90) return m + ' min';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
`;

/** The functions FORMAT_SCRIPT declares, for its tests. */
export const FORMAT_FUNCTIONS = ['roundDec', 'money', 'pnl', 'percent', 'ratio', 'ratioPercent', 'price', 'qty', 'placesOf', 'timeMs', 'clock', 'when', 'utcText', 'ago', 'isNegDec', 'group'] as const;
