import type { Context, Next } from 'koa';
import type { Logger } from '../log.js';
import { LeadershipLost } from '../store/leadership-lost.js';

/** An error a handler raises on purpose: answered as `{ error: { code, message } }` with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** More fields of the error object (e.g. a cooldown's `until`, a validation's `issues`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        throw new HttpError(404, 'not_found', `no route ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof LeadershipLost) {
        // Another instance took the account over since this request began: ask it instead.
        ctx.status = 503;
        ctx.body = { error: { code: 'not_leader', message: err.message } };
        return;
      }
      if (err instanceof HttpError) {
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.message, ...err.extra } };
        return;
      }
      log.error({ event: 'api_error', err, path: ctx.path }, 'status API handler failed');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'internal error' } };
    }
  };
}
