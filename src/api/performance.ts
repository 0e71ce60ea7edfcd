import type Router from '@koa/router';
import type { Database } from '../store/database.js';
import { computePerformance, type PerformanceFill } from '../performance/fifo.js';
import { HttpError } from './errors.js';

const SYMBOL = /^[A-Za-z0-9./-]{1,32}$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 timestamp as nanoseconds since the epoch, or null if the text is not one. Broker
 * timestamps keep their own text (offsets, nanoseconds), so instants are compared, not strings.
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

function queryParam(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw new HttpError(400, 'bad_request', `${name} may be given once`);
  return value;
}

/** GET /performance?symbol=&since= (DESIGN §5): realized P&L by FIFO lots over the fills ledger. */
export function performanceRoutes(router: Router, db: Database): void {
  router.get('/performance', (ctx) => {
    const symbol = queryParam(ctx.query.symbol, 'symbol');
    if (symbol !== undefined && !SYMBOL.test(symbol)) {
      throw new HttpError(400, 'bad_request', 'symbol must be 1-32 characters of A-Z, a-z, 0-9, ".", "/", "-"');
    }
    const sinceText = queryParam(ctx.query.since, 'since');
    const since = sinceText === undefined ? null : instantNs(sinceText);
    if (sinceText !== undefined && since === null) {
      throw new HttpError(400, 'bad_request', 'since must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z');
    }

    let q = db.kysely
      .selectFrom('fills')
      .select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at'])
      .orderBy('filled_at')
      .orderBy('id');
    if (symbol !== undefined) q = q.where('symbol', '=', symbol);
    let fills: PerformanceFill[] = db.all(q);
    // Filtered here, not in SQL: stored filled_at texts differ in offset and precision.
    // Fills before `since` are left out entirely, so lots opened earlier are not carried in.
    if (since !== null) {
      fills = fills.filter((f) => {
        const at = filledAtNs(f.filled_at);
        return at !== null && at >= since;
      });
    }
    ctx.body = computePerformance(fills, symbol === undefined ? {} : { symbol });
  });
}
