import type Router from '@koa/router';
import { D, normalize } from '../decimal.js';
import type { Database } from '../store/database.js';
import { ledgerPositions } from '../store/ledger.js';
import { listCooldowns } from '../store/cooldowns.js';

/**
 * GET /positions — what the ledger holds per symbol and how much of it live protective stops
 * cover; GET /cooldowns — the cooldowns running now (?all=1: every one ever started).
 */
export function positionRoutes(router: Router, db: Database): void {
  router.get('/positions', (ctx) => {
    const stops = db.all(
      db.kysely
        .selectFrom('intents')
        .select(['symbol', 'broker_order_id', 'placed_qty', 'entry_order_id'])
        .where('status', '=', 'confirmed')
        .where('cancel_requested', '=', 0),
    );
    const positions = [...ledgerPositions(db)]
      .filter(([, qty]) => qty !== '0')
      .map(([symbol, qty]) => {
        const mine = stops.filter((s) => s.symbol === symbol);
        const protectedQty = mine.reduce((sum, s) => sum.plus(s.placed_qty ?? 0), new D(0));
        return {
          symbol,
          qty,
          side: qty.startsWith('-') ? 'short' : 'long',
          protected_qty: normalize(protectedQty),
          stops: mine.map((s) => ({ stop_order_id: s.broker_order_id, entry_order_id: s.entry_order_id, qty: s.placed_qty })),
        };
      })
      .sort((a, b) => a.symbol.localeCompare(b.symbol));
    ctx.body = { positions };
  });

  router.get('/cooldowns', (ctx) => {
    const all = ctx.query.all === '1' || ctx.query.all === 'true';
    const now = new Date();
    ctx.body = {
      cooldowns: listCooldowns(db, all ? {} : { activeAt: now }).map((c) => ({
        symbol: c.symbol,
        until: c.until,
        exit_fill_id: c.exit_fill_id,
        started_at: c.started_at,
        active: c.until > now.toISOString(),
      })),
    };
  });
}
