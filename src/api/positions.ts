import type Router from '@koa/router';
import { D, normalize } from '../decimal.js';
import type { Database } from '../store/database.js';
import { ledgerPositions } from '../store/ledger.js';
import { listCooldowns } from '../store/cooldowns.js';
import { stopAsk } from '../domain/protection.js';
import { isCrypto, isOption, multiplierOf } from '../domain/symbols.js';
import type { LastPrices } from './last-prices.js';
import { positionSession, stopsActing, type MarketSession } from '../domain/market-session.js';
import { guardExits } from '../store/guard-exits.js';
import { guardExitView } from '../protection/guard-exit-view.js';
import type { AssetGrid } from '../domain/grid.js';
import { ledgerBooks } from './ledger-books.js';
import { positionFigures, positionTotals, stopLevel } from './position-summary.js';

/**
 * What kind of stop covers a position, for the dashboard: the broker order's type as its actor
 * recorded it (else what the row asks for), and the stop price the broker confirmed when it was
 * placed — for a trailing stop, its level then (the broker trails it up since).
 */
function stopDetail(row: { payload: string; placed_stop_price: string | null; placed_trail_percent: string | null; order_type: string | null }, lastPrice: string | undefined) {
  const ask = stopAsk(row);
  const type = row.order_type ?? (isCrypto(ask.symbol, ask.assetClass) ? 'stop_limit' : ask.part === 'fraction' ? 'stop' : null);
  // How far the price may fall (a sell stop) or rise (a buy stop) before it triggers, in percent of the last price.
  const distance =
    lastPrice !== undefined && row.placed_stop_price !== null && new D(lastPrice).gt(0)
      ? normalize(new D(lastPrice).minus(row.placed_stop_price).times(ask.side === 'sell' ? 1 : -1).div(lastPrice).times(100).toDecimalPlaces(2))
      : null;
  return { type, side: ask.side, stop_price: row.placed_stop_price, trail_percent: row.placed_trail_percent ?? ask.trailPercent ?? null, distance_pct: distance };
}

/**
 * GET /positions — what the ledger holds per symbol, how much of it live protective stops cover,
 * and whether those stops can trigger in the session now (`session`, `stops_acting`: equity stops
 * act in regular hours only; a state, not an alarm); with the figures a trader reads off it
 * (position-summary.ts: average entry of the open FIFO lots, market value, unrealized P&L, the
 * nearest stop) and the asset's increments where they were read (for rounding on display), and
 * their `totals`. GET /cooldowns — the cooldowns running now (?all=1: every one ever started).
 */
export function positionRoutes(router: Router, db: Database, lastPrices?: LastPrices, marketSession?: () => MarketSession | null, assetGrid?: (symbol: string) => AssetGrid | undefined): void {
  router.get('/positions', async (ctx) => {
    const stops = db.all(
      db.kysely
        .selectFrom('stops')
        .leftJoin('orders', 'orders.order_id', 'stops.broker_order_id')
        .select(['stops.symbol', 'stops.broker_order_id', 'stops.placed_qty', 'stops.entry_order_id', 'stops.payload', 'stops.placed_stop_price', 'stops.placed_trail_percent', 'orders.type as order_type'])
        .where('stops.status', '=', 'confirmed')
        .where('stops.cancel_requested', '=', 0),
    );
    const held = [...ledgerPositions(db)].filter(([, qty]) => qty !== '0');
    const prices = lastPrices ? await lastPrices.of(held.map(([symbol]) => symbol)) : new Map<string, string>();
    const market = marketSession?.() ?? null;
    const exits = new Map(guardExits(db).map((e) => [e.symbol, guardExitView(e)]));
    const books = ledgerBooks(db);
    const positions = held
      .map(([symbol, qty]) => {
        const mine = stops.filter((s) => s.symbol === symbol);
        const protectedQty = mine.reduce((sum, s) => sum.plus(s.placed_qty ?? 0), new D(0));
        const session = positionSession(symbol, market);
        const last = prices.get(symbol) ?? null;
        const details = mine.map((s) => ({ s, d: stopDetail(s, prices.get(symbol)) }));
        const grid = assetGrid?.(symbol);
        return {
          symbol,
          crypto: isCrypto(symbol),
          // An option contract: recorded, never protected by a stop; money figures × its multiplier (100).
          option: isOption(symbol),
          multiplier: multiplierOf(symbol),
          qty,
          side: qty.startsWith('-') ? 'short' : 'long',
          protected_qty: normalize(protectedQty),
          session,
          ...stopsActing(session),
          // Only while the extended-hours guard exits it (CT_EXTENDED_HOURS_GUARD): its stops are canceled on purpose.
          ...(exits.has(symbol) ? { guard_exit: exits.get(symbol) } : {}),
          last_price: last,
          // Confirmed at the broker and not being canceled: each one is working.
          stops: details.map(({ s, d }) => ({ stop_order_id: s.broker_order_id, entry_order_id: s.entry_order_id, qty: s.placed_qty, ...d, state: 'working' as const, ...stopLevel(d, last) })),
          ...positionFigures(qty, books.open.get(symbol), last, details.map(({ s, d }) => ({ stop_order_id: s.broker_order_id, ...d })), multiplierOf(symbol)),
          price_increment: grid?.priceIncrement ?? null,
          qty_increment: grid?.minTradeIncrement ?? null,
        };
      })
      .sort((a, b) => a.symbol.localeCompare(b.symbol));
    ctx.body = { positions, totals: positionTotals(positions) };
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
