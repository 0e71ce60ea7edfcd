import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { HttpError } from './errors.js';

/**
 * Bearer-token check, active only when CT_API_TOKEN is set. The dashboard page itself (GET /) is
 * static and carries no data, and a browser cannot add a header to a page load: it is served
 * without the token, and its own requests for data send it (?token=…).
 */
export function bearerAuth(token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return async (ctx: Context, next: Next) => {
    if (expected && ctx.path !== '/') {
      const given = Buffer.from(ctx.get('authorization'));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token');
      }
    }
    await next();
  };
}
