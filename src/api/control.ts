import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { clearCooldowns } from '../store/cooldowns.js';
import { setEntriesPaused } from '../store/entries-paused.js';
import { canonicalSymbol } from '../domain/symbols.js';
import { CloseFailed, type PositionCloser } from '../protection/position-close.js';
import { HttpError } from './errors.js';
import { parseBody } from './body.js';
import { TrailRequestBody } from './schemas.js';
import { retrailStop } from '../protection/stop-trail.js';
import { stopAsk } from '../domain/protection.js';
import { orderView, requester } from './entries.js';

export interface ControlDeps {
  db: Database;
  log: Logger;
  closer: PositionCloser;
  /** Wakes the stop worker (a changed stop is carried out now, not at its next pass). */
  kickStops?: () => unknown;
  /** Told of every action taken (the notifications outbox), after it is done. */
  onAction?: (action: { action: string; by: string; detail: Record<string, unknown> }) => void;
}

const SYMBOL = /^[A-Za-z0-9./-]{1,32}$/;

function symbolOf(ctx: Context): string {
  const raw = ctx.params.symbol ?? '';
  if (!SYMBOL.test(raw)) throw new HttpError(400, 'bad_request', 'symbol must be 1-32 letters, digits, ".", "/" or "-" (BTC/USD as BTC%2FUSD or BTCUSD)');
  return canonicalSymbol(raw);
}

/**
 * The operator's controls: pause and resume entries (protection never pauses), close a position,
 * clear a symbol's cooldown. Every action is logged as `control_action` with who asked.
 */
export function controlRoutes(router: Router, deps: ControlDeps): void {
  const done = (ctx: Context, action: string, detail: Record<string, unknown>) => {
    const by = requester(ctx);
    deps.log.warn({ event: 'control_action', action, by, ...detail }, `control: ${action} by ${by}`);
    deps.onAction?.({ action, by, detail });
  };

  router.post('/control/pause', (ctx) => {
    const p = setEntriesPaused(deps.db, true, requester(ctx));
    done(ctx, 'pause', {});
    ctx.body = { entries_paused: p.paused, by: p.by, since: p.since };
  });

  router.post('/control/resume', (ctx) => {
    const p = setEntriesPaused(deps.db, false, requester(ctx));
    done(ctx, 'resume', {});
    ctx.body = { entries_paused: p.paused, by: p.by, since: p.since };
  });

  router.delete('/cooldowns/:symbol', (ctx) => {
    const symbol = symbolOf(ctx);
    const cleared = clearCooldowns(deps.db, symbol);
    done(ctx, 'clear_cooldown', { symbol, cleared });
    ctx.body = { symbol, cleared };
  });

  router.patch('/stops/:entry_order_id', async (ctx) => {
    const entry = ctx.params.entry_order_id ?? '';
    if (!/^[A-Za-z0-9-]{1,64}$/.test(entry)) throw new HttpError(400, 'bad_request', 'malformed entry order id');
    const { trail_percent } = await parseBody(ctx, TrailRequestBody);
    const r = retrailStop(deps.db, entry, trail_percent);
    if (!r.ok) throw new HttpError(r.code === 'no_stop' ? 404 : 409, r.code, r.code === 'no_stop' ? `no stop for entry ${entry}` : `the stop of entry ${entry} has ended`);
    deps.kickStops?.();
    done(ctx, 'set_trail', { entry_order_id: entry, trail_percent });
    ctx.body = { entry_order_id: entry, client_order_id: r.row.client_order_id, symbol: r.row.symbol, trail_percent: stopAsk(r.row).trailPercent ?? trail_percent, status: r.row.status };
  });

  router.post('/positions/:symbol/close', async (ctx) => {
    const symbol = symbolOf(ctx);
    try {
      const r = await deps.closer.close(symbol, requester(ctx));
      done(ctx, 'close_position', { symbol, status: r.status, exit_order_id: r.exit?.orderId ?? null, canceled_stops: r.canceledStops });
      ctx.status = r.status === 'flat' ? 200 : 202;
      ctx.body = { symbol: r.symbol, status: r.status, canceled_stops: r.canceledStops, exit: r.exit && orderView(r.exit) };
    } catch (err) {
      if (!(err instanceof CloseFailed)) throw err;
      done(ctx, 'close_position_failed', { symbol, code: err.code, unprotected: err.unprotected });
      throw new HttpError(err.code === 'stops_not_canceled' ? 409 : 502, err.code, err.message, { symbol, unprotected: err.unprotected });
    }
  });
}
