import type { Context, Next } from 'koa';

/**
 * Headers on every answer, errors included: `X-Content-Type-Options: nosniff` (a browser never
 * reads a JSON answer as a script or a page) and `Cache-Control: no-store` (positions, orders and
 * fills are never kept by a browser or a proxy cache). Set before the handlers run, so an answer
 * made by the error middleware carries them too.
 */
export function answerHeaders() {
  return async (ctx: Context, next: Next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
