import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../log.js';
import { HttpError } from './errors.js';

/**
 * Who may read and who may write.
 *
 * - Reads (GET/HEAD) need the bearer token only when CT_API_TOKEN is set. The dashboard page itself
 *   (GET /) is static and carries no data: it is always served, and its own requests send the token
 *   as `Authorization: Bearer …` (never in a URL; the query string is not read for it).
 * - Writes (every other method) always need the token: with CT_API_TOKEN unset they are refused
 *   (403 `write_disabled`), even on loopback, since any local process or page could send them.
 * - A wrong token counts as a failed attempt, logged (`api_auth_failed`, client address and path,
 *   never what was given) and limited twice: per client address ({@link AuthOptions.maxFailures}
 *   in a window) and for all addresses together ({@link AuthOptions.globalMaxFailures}), so
 *   rotating source addresses buys no more tries. Past either budget, further tries answer 429
 *   unchecked, and so do writes, the right token's included, until the window has passed. Reads
 *   with the right token (`/health` included) are never locked out: behind a reverse proxy every
 *   client shares one address, and a stranger's guesses must not blind the operator. The token
 *   is at least 16 characters (config), so the limits bound noise, not a search. A missing token
 *   is not an attempt (a page that has none yet is not guessing): 401 without counting.
 * - The inspector's feed (src/inspect/inspector.ts) checks the same token and, given the same
 *   {@link TokenFailures} (src/main.ts), spends the same budgets.
 */
export interface AuthOptions {
  token?: string;
  /** CT_API_TOKEN_NAME: who acts with the token (ctx.state.who). */
  tokenName?: string;
  log: Logger;
  /** Failed attempts allowed per client address in a window (10). */
  maxFailures?: number;
  /** Failed attempts allowed from all addresses together in a window (100). */
  globalMaxFailures?: number;
  /** The window, in ms (60 s). */
  windowMs?: number;
  now?: () => number;
  /** Failure budgets shared with another door to the same token (the inspector's feed); made here when absent. */
  failures?: TokenFailures;
}

const isRead = (method: string) => method === 'GET' || method === 'HEAD';

/** `Bearer <token>`, the scheme in any case (RFC 7235: schemes are case-insensitive). */
export function bearerOf(header: string): string | null {
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Equal in constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameToken(given: string, expected: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given, 'utf8').digest(), expected);
}

/** A check of `given` against `token` in constant time (only the token's hash is kept). */
export function tokenMatcher(token: string): (given: string) => boolean {
  const expected = createHash('sha256').update(token, 'utf8').digest();
  return (given) => sameToken(given, expected);
}

/** Failed attempts per client address in a sliding window; bounded in memory. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxClients = 10_000,
  ) {}

  private recent(client: string, now: number): number[] {
    const list = (this.failures.get(client) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length === 0) this.failures.delete(client);
    else this.failures.set(client, list);
    return list;
  }

  /** Seconds until the address may try again, or 0 when it may now. */
  retryAfterS(client: string, now: number): number {
    const list = this.recent(client, now);
    if (list.length < this.max) return 0;
    return Math.max(1, Math.ceil((list[list.length - this.max]! + this.windowMs - now) / 1000));
  }

  /** Records a failure; returns how many the address has in the window now. */
  fail(client: string, now: number): number {
    const list = this.recent(client, now);
    list.push(now);
    this.failures.delete(client);
    this.failures.set(client, list.slice(-this.max));
    // Many addresses (a scan): forget the least recently failing ones first.
    while (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!);
    return list.length;
  }
}

/** Wrong-token budgets, per client address and for all together; one for every door to the token. */
export interface TokenFailures {
  /** Seconds until `client` may try a token again (0: now), and which budget is spent. */
  lockedFor(client: string, t: number): { wait: number; scope: string };
  /** Records a wrong token from `client`: its failures in the window, and everyone's. */
  fail(client: string, t: number): { failures: number; all: number };
}

export function tokenFailures(opts: Pick<AuthOptions, 'maxFailures' | 'globalMaxFailures' | 'windowMs'> = {}): TokenFailures {
  const windowMs = opts.windowMs ?? 60_000;
  const perAddress = new FailureLimiter(opts.maxFailures ?? 10, windowMs);
  // Every address together: rotating source addresses (127.1.x.y) get no more tries than this.
  const everyone = new FailureLimiter(opts.globalMaxFailures ?? 100, windowMs, 1);
  return {
    lockedFor(client, t) {
      const own = perAddress.retryAfterS(client, t);
      const all = everyone.retryAfterS(ALL, t);
      return own >= all ? { wait: own, scope: 'from this address' } : { wait: all, scope: 'from all addresses' };
    },
    fail: (client, t) => ({ failures: perAddress.fail(client, t), all: everyone.fail(ALL, t) }),
  };
}

export function apiAuth(opts: AuthOptions) {
  const matches = opts.token ? tokenMatcher(opts.token) : null;
  const failed = opts.failures ?? tokenFailures(opts);
  const now = opts.now ?? Date.now;
  const lockedFor = (client: string, t: number) => failed.lockedFor(client, t);
  const tooMany = (ctx: Context, lock: { wait: number; scope: string }, what: string): never => {
    ctx.set('Retry-After', String(lock.wait));
    throw new HttpError(429, 'too_many_attempts', `too many failed token attempts ${lock.scope}; ${what} in ${lock.wait} s`);
  };
  return async (ctx: Context, next: Next) => {
    const read = isRead(ctx.method);
    // The dashboard page and the API's description carry no data: served without the token.
    if (read && (ctx.path === '/' || ctx.path === '/openapi.json')) return next();
    if (!matches) {
      if (read) return next();
      throw new HttpError(403, 'write_disabled', 'writes need CT_API_TOKEN: set it (and send Authorization: Bearer <token>) to enable them');
    }
    const client = ctx.request.ip || 'unknown';
    const t = now();
    const header = ctx.get('authorization');
    const given = bearerOf(header);
    if (given !== null && matches(given)) {
      // The right token: reads (/health included) are never locked out by failures, anyone's; writes
      // wait while this address, or all of them together, are past their budget.
      if (!read) {
        const lock = lockedFor(client, t);
        if (lock.wait > 0) tooMany(ctx, lock, 'writes resume');
      }
      // Who asked, for the write routes' logs and notifications (src/api/entries.ts requester).
      ctx.state.who = opts.tokenName ?? 'operator';
      return next();
    }
    ctx.set('WWW-Authenticate', 'Bearer');
    if (header === '') {
      // Not an attempt (a page that has no token yet is not guessing).
      opts.log.info({ event: 'api_auth_failed', client, method: ctx.method, path: ctx.path, reason: 'missing' }, 'status API: bearer token missing');
      throw new HttpError(401, 'unauthorized', 'bearer token required');
    }
    const lock = lockedFor(client, t);
    if (lock.wait > 0) tooMany(ctx, lock, 'retry');
    const reason = given === null ? 'malformed' : 'wrong_token';
    const { failures, all } = failed.fail(client, t);
    // What was given is never logged: only that it was wrong, from where, for what.
    opts.log.warn({ event: 'api_auth_failed', client, method: ctx.method, path: ctx.path, reason, failures, failures_all: all }, 'status API: bearer token wrong');
    throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token');
  };
}

/** The global budget's one key. */
const ALL = '*';
