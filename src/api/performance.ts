import type Router from '@koa/router';
import type { Database } from '../store/database.js';
import { computePerformance, type PerformanceFee, type PerformanceFill } from '../performance/fifo.js';
import { listFees } from '../store/fees.js';
import { HttpError } from './errors.js';
import { symbolParam } from './query.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 timestamp as nanoseconds since the epoch, or null if the text is not one. Stored
 * times differ in precision ("…:05Z", "…:05.5Z", nanoseconds), so instants are compared, not strings.
 */
function instantNs(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone = '', zh = '00', zm = '00'] = m;
  const year = Number(y);
  const month = Number(mo);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || Number(d) < 1 || Number(d) > daysInMonth) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(zh) > 23 || Number(zm) > 59) return null;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone.toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
}

/** A ledger filled_at as an instant; text outside RFC 3339 falls back to Date.parse (ms). */
function filledAtNs(text: string): bigint | null {
  const ns = instantNs(text);
  if (ns !== null) return ns;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : BigInt(ms) * 1_000_000n;
}

/**
 * ?since= parsed to the nanosecond (query.ts's timeParam keeps milliseconds and also takes a bare
 * date); an empty value is no filter, as for the other status API parameters.
 */
function sinceParam(value: string | string[] | undefined): bigint | undefined {
  if (Array.isArray(value)) throw new HttpError(400, 'bad_request', 'since given more than once');
  if (value === undefined || value === '') return undefined;
  const ns = instantNs(value);
  if (ns === null) throw new HttpError(400, 'bad_request', 'since must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z');
  return ns;
}

/**
 * GET /performance?symbol=&since= (DESIGN §5): realized P&L by FIFO lots over the fills ledger, with
 * crypto fees (the `fees` table) reported apart (`fees`, `net_pnl`); figures defined in README.md.
 */
export function performanceRoutes(router: Router, db: Database): void {
  router.get('/performance', (ctx) => {
    const symbol = symbolParam(ctx.query);
    const since = sinceParam(ctx.query.since);

    let q = db.kysely
      .selectFrom('fills')
      .select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at'])
      // A busted fill is out of P&L; a corrected one counts at its new terms.
      .where('busted', '=', 0)
      .orderBy('filled_at')
      .orderBy('id');
    if (symbol !== undefined) q = q.where('symbol', '=', symbol);
    let fills: PerformanceFill[] = db.all(q);
    // Filtered here, not in SQL: string order of filled_at texts of mixed precision (or offsets in
    // rows older than UTC normalisation) is not time order.
    // Fills before `since` are left out entirely, so lots opened earlier are not carried in.
    if (since !== undefined) {
      fills = fills.filter((f) => {
        const at = filledAtNs(f.filled_at);
        return at !== null && at >= since;
      });
    }
    // Crypto fees taken in the coin leave the position too and are reported as `fees` (filtered by
    // `since` like the fills).
    let fees: PerformanceFee[] = listFees(db, symbol === undefined ? {} : { symbol });
    if (since !== undefined) {
      fees = fees.filter((f) => {
        const at = filledAtNs(f.at);
        return at !== null && at >= since;
      });
    }
    ctx.body = computePerformance(fills, { ...(symbol === undefined ? {} : { symbol }), fees });
  });
}
