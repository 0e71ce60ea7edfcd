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
 *   never what was given) and limited per client address: after {@link AuthOptions.maxFailures}
 *   in a window every request of that address answers 429 until the window has passed, the
 *   right token included. A missing token is not an attempt (a page that has none yet is not
 *   guessing), so it is answered 401 without counting.
 */
export interface AuthOptions {
  token?: string;
  /** CT_API_TOKEN_NAME: who acts with the token (ctx.state.who). */
  tokenName?: string;
  log: Logger;
  /** Failed attempts allowed per client address in a window (10). */
  maxFailures?: number;
  /** The window, in ms (60 s). */
  windowMs?: number;
  now?: () => number;
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

export function apiAuth(opts: AuthOptions) {
  const expected = opts.token ? createHash('sha256').update(opts.token, 'utf8').digest() : null;
  const limiter = new FailureLimiter(opts.maxFailures ?? 10, opts.windowMs ?? 60_000);
  const now = opts.now ?? Date.now;
  return async (ctx: Context, next: Next) => {
    const read = isRead(ctx.method);
    // The dashboard page and the API's description carry no data: served without the token.
    if (read && (ctx.path === '/' || ctx.path === '/openapi.json')) return next();
    const client = ctx.request.ip || 'unknown';
    const wait = limiter.retryAfterS(client, now());
    if (wait > 0) {
      ctx.set('Retry-After', String(wait));
      throw new HttpError(429, 'too_many_attempts', `too many failed token attempts from this address; retry in ${wait} s`);
    }
    if (!expected) {
      if (read) return next();
      throw new HttpError(403, 'write_disabled', 'writes need CT_API_TOKEN: set it (and send Authorization: Bearer <token>) to enable them');
    }
    const header = ctx.get('authorization');
    const given = bearerOf(header);
    if (given === null || !sameToken(given, expected)) {
      ctx.set('WWW-Authenticate', 'Bearer');
      const reason = header === '' ? 'missing' : given === null ? 'malformed' : 'wrong_token';
      const failures = reason === 'missing' ? undefined : limiter.fail(client, now());
      // What was given is never logged: only that it was wrong, from where, for what.
      opts.log[reason === 'missing' ? 'info' : 'warn']({ event: 'api_auth_failed', client, method: ctx.method, path: ctx.path, reason, failures }, 'status API: bearer token missing or wrong');
      throw new HttpError(401, 'unauthorized', header === '' ? 'bearer token required' : 'missing or wrong bearer token');
    }
    // Who asked, for the write routes' logs and notifications (src/api/entries.ts requester).
    ctx.state.who = opts.tokenName ?? 'operator';
    await next();
  };
}
