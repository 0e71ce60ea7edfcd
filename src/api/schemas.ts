import { z } from 'zod';
import { D } from '../decimal.js';
import { MAX_TRAIL_PERCENT } from '../domain/protection.js';

/**
 * The status and control API's bodies, as zod schemas: the routes parse requests with them, and
 * GET /openapi.json is generated from them (openapi.ts). Money and quantities are decimal strings.
 */

/** A JSON number where a decimal string belongs is told how to send it (a float would round money). */
const decimal = z
  .string({ error: (iss) => (typeof iss.input === 'number' ? `send decimal strings, e.g. "${String(iss.input)}", not ${String(iss.input)}` : undefined) })
  .regex(/^\d+(\.\d+)?$/, 'a positive decimal string, e.g. "1.5"');
const positive = decimal.refine((v) => /[1-9]/.test(v), 'must be above 0');
const symbol = z.string().regex(/^[A-Za-z0-9./-]{1,32}$/, '1-32 letters, digits, ".", "/" or "-"');
const time = z.string().describe('RFC 3339 time (UTC)');

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()) })
  .meta({ id: 'Error', description: 'Every 4xx/5xx answer.' });

export const EntryRequestBody = z
  .object({
    symbol,
    side: z.enum(['buy', 'sell']),
    qty: positive.optional(),
    notional: positive.optional(),
    type: z.enum(['market', 'limit', 'stop', 'stop_limit']).default('market'),
    limit_price: positive.optional(),
    stop_price: positive.optional(),
    time_in_force: z.enum(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']).optional(),
    client_order_id: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/, '1-64 letters, digits, ".", "_", ":" or "-"')
      .optional()
      .describe('Your id for this entry: the same id sent again returns the same order, never a second one.'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.qty === undefined) === (b.notional === undefined)) ctx.addIssue({ code: 'custom', path: ['qty'], message: 'give exactly one of qty and notional' });
    if ((b.type === 'limit' || b.type === 'stop_limit') && b.limit_price === undefined) ctx.addIssue({ code: 'custom', path: ['limit_price'], message: `a ${b.type} order needs limit_price` });
    if ((b.type === 'stop' || b.type === 'stop_limit') && b.stop_price === undefined) ctx.addIssue({ code: 'custom', path: ['stop_price'], message: `a ${b.type} order needs stop_price` });
  })
  .meta({ id: 'EntryRequest' });

export const OrderView = z
  .object({
    id: z.string(),
    client_order_id: z.string(),
    symbol: z.string(),
    side: z.enum(['buy', 'sell']),
    type: z.string(),
    qty: decimal.nullable(),
    status: z.string(),
    filled_qty: decimal,
  })
  .meta({ id: 'Order' });

export const EntryResponse = OrderView.extend({ replayed: z.boolean().describe('true: this client_order_id was placed before; its order is returned') }).meta({ id: 'EntryResponse' });

export const PausedResponse = z.object({ entries_paused: z.boolean(), by: z.string().nullable(), since: time.nullable() }).meta({ id: 'EntriesPaused' });

export const CloseResponse = z
  .object({
    symbol: z.string(),
    status: z.enum(['flat', 'closing']),
    canceled_stops: z.array(z.string()),
    exit: OrderView.nullable(),
  })
  .meta({ id: 'PositionClose' });

export const TrailRequestBody = z
  .object({ trail_percent: positive.refine((v) => D(v).lte(MAX_TRAIL_PERCENT), `must be at most ${MAX_TRAIL_PERCENT} (the bound of CT_TRAIL_PERCENT)`).describe(`percent, above 0 and at most ${MAX_TRAIL_PERCENT}, e.g. "2.5"`) })
  .strict()
  .meta({ id: 'TrailRequest' });

export const TrailResponse = z
  .object({ entry_order_id: z.string(), client_order_id: z.string(), symbol: z.string(), trail_percent: z.string(), status: z.string() })
  .meta({ id: 'StopTrail' });

export const CooldownsCleared = z.object({ symbol: z.string(), cleared: z.number().int() }).meta({ id: 'CooldownsCleared' });

/** Whether a position's stops can trigger in the session now: a state, never an alarm (status stays ok). */
const sessionFields = {
  session: z
    .enum(['regular', 'pre', 'after', 'overnight', 'closed', 'continuous'])
    .nullable()
    .describe("Alpaca's session for the position now (crypto: continuous); null until Alpaca's clock was read"),
  stops_acting: z.boolean().nullable().describe('true when its covering stops can trigger in this session (equity stops: regular hours only)'),
  stops_acting_reason: z.enum(['outside_regular_hours']).nullable().describe('why they cannot, when stops_acting is false'),
};

/** An exit by the extended-hours guard in progress (CT_EXTENDED_HOURS_GUARD): the position's stops are canceled on purpose. */
const guardExit = z
  .object({
    symbol: z.string(),
    phase: z.enum(['stops_canceling', 'exit_working']),
    side: z.enum(['buy', 'sell']),
    client_order_id: z.string(),
    order_id: z.string().nullable(),
    limit_price: z.string().nullable(),
    reprices: z.number().int(),
    level: z.string().describe('the stop level the latest trade crossed'),
    trigger: z.string().describe('that trade'),
    session: z.string(),
    since: z.string(),
  })
  .describe('an exit by the extended-hours guard in progress: a state, not an alarm');

const unprotected = z.object({ symbol: z.string(), position: z.string(), covered: z.string(), uncovered: z.string(), reason: z.string().nullable(), ...sessionFields }).catchall(z.unknown());

const leaderView = z.object({ leader: z.string(), epoch: z.number().int(), since: z.string(), heartbeat_at: z.string() }).describe('who leads the account (PostgreSQL); null on SQLite');

const AccountHealth = z
  .object({
    status: z.enum(['ok', 'degraded', 'critical']),
    reasons: z.array(z.string()),
    account: z.string().optional(),
    leader: leaderView.nullable().optional(),
    mode: z.string(),
    entries_paused: z.boolean(),
    stream: z.string(),
    event_stream: z.enum(['off', 'connecting', 'live', 'retrying', 'unavailable']).describe('the activity event stream (GET /v2beta1/events/activities): off with CT_EVENT_STREAM=0; unavailable: the host answers 404 or it kept failing (a reason, never critical)'),
    event_cursor: z.string().nullable().describe('the id of the last activity event handled: a restart replays from it'),
    last_reconcile_at: time.nullable(),
    watermark: z.string().nullable(),
    actors: z.object({}).catchall(z.unknown()),
    drift: z.array(z.object({ kind: z.enum(['order', 'position']), order_id: z.string().nullable(), symbol: z.string(), ledger_qty: z.string(), broker_qty: z.string(), since: z.string() })),
    protection: z
      .object({
        unprotected: z.array(unprotected),
        overprotected: z.array(z.object({ symbol: z.string(), ...sessionFields }).catchall(z.unknown())),
        grace_s: z.number(),
        session: z.enum(['regular', 'pre', 'after', 'overnight', 'closed']).nullable().describe("the equity session now, from Alpaca's clock and calendar; null until read"),
        guard_exits: z.array(guardExit).optional(),
      })
      .nullable(),
  })
  .catchall(z.unknown())
  .meta({ id: 'AccountHealth' });

/** Another instance leads the account (PostgreSQL): this one stands by. */
const StandbyHealth = z
  .object({ status: z.enum(['standby', 'starting']), reasons: z.array(z.string()), account: z.string(), leader: leaderView.nullable() })
  .meta({ id: 'StandbyHealth' });

/** Several accounts and no ?account=: each one, who leads it, its status here; the worst is the instance's. */
const HealthOverview = z
  .object({
    status: z.enum(['ok', 'degraded', 'critical', 'standby']),
    accounts: z.array(z.object({ account: z.string(), here: z.string(), status: z.string(), leader: leaderView.nullable() })),
  })
  .meta({ id: 'HealthOverview' });

export const HealthResponse = z.union([AccountHealth, StandbyHealth, HealthOverview]).meta({ id: 'Health' });

/** A decimal string that may be negative (P&L, a short's value). */
const signedDecimal = z.string().regex(/^-?\d+(\.\d+)?$/, 'a decimal string, e.g. "-1.5"');

/** A stop's level (a trailing stop's: the bound on it) and how far the last price is from it. */
const stopLevelFields = {
  level: signedDecimal.nullable().optional().describe("the stop level; a trailing stop's: a bound on it (level_is_bound)"),
  level_is_bound: z.boolean().optional().describe('true for a trailing stop: its level is at least `level` (a sell) or at most (a buy)'),
  level_distance_pct: signedDecimal.nullable().optional().describe('how far the price may move against the position before it triggers, % of the last price; negative: crossed'),
};

export const PositionsResponse = z
  .object({
    positions: z.array(
      z
        .object({
          symbol: z.string(),
          qty: z.string(),
          side: z.enum(['long', 'short']),
          protected_qty: decimal,
          ...sessionFields,
          guard_exit: guardExit.optional(),
          stops: z.array(
            z
              .object({
                stop_order_id: z.string().nullable(),
                entry_order_id: z.string(),
                qty: decimal.nullable(),
                state: z.enum(['working']).optional().describe('confirmed at the broker and not being canceled'),
                ...stopLevelFields,
              })
              .catchall(z.unknown()),
          ),
          last_price: signedDecimal.nullable().optional(),
          avg_entry: signedDecimal.nullable().optional().describe('Σ cost / Σ qty of the open FIFO lots'),
          cost_basis: signedDecimal.nullable().optional().describe('avg_entry × qty (× multiplier), signed like qty'),
          market_value: signedDecimal.nullable().optional().describe('qty × last_price (× multiplier), signed like qty'),
          unrealized_pnl: signedDecimal.nullable().optional().describe('market_value − cost_basis, before fees'),
          unrealized_pnl_pct: signedDecimal.nullable().optional().describe('unrealized_pnl / |cost_basis| in %, 2 places'),
          nearest_stop: z
            .object({ stop_order_id: z.string().nullable(), type: z.string().nullable(), ...stopLevelFields })
            .nullable()
            .optional()
            .describe('the stop that triggers first (smallest distance)'),
          crypto: z.boolean().optional().describe('a coin pair (BTC/USD), not an equity'),
          option: z.boolean().optional().describe('an option contract (OCC symbol): recorded, never protected by a stop, no cooldowns'),
          multiplier: z.number().int().optional().describe('shares per unit: 100 for an option contract (cost_basis, market_value and P&L are × it), else 1'),
          price_increment: z.string().nullable().optional().describe("the asset's price_increment where it was read (crypto), else null"),
          qty_increment: z.string().nullable().optional().describe("the asset's min_trade_increment where it was read (crypto), else null"),
        })
        .catchall(z.unknown()),
    ),
    totals: z
      .object({
        market_value: signedDecimal,
        unrealized_pnl: signedDecimal,
        cost_basis: signedDecimal,
        priced: z.number().int().describe('positions with a last price and an average entry: the sums are over these'),
        positions: z.number().int(),
      })
      .optional(),
  })
  .meta({ id: 'Positions' });

export const CooldownsResponse = z
  .object({ cooldowns: z.array(z.object({ symbol: z.string(), until: time, exit_fill_id: z.string(), started_at: time, active: z.boolean() })) })
  .meta({ id: 'Cooldowns' });

const storedOrder = z
  .object({
    id: z.string(),
    client_order_id: z.string(),
    symbol: z.string(),
    side: z.string(),
    type: z.string(),
    state: z.string(),
    filled_qty: z.string(),
    filled_avg_price: z.string().nullable(),
    role: z.string().nullable(),
    stop_order_id: z.string().nullable(),
  })
  .catchall(z.unknown());

export const OrdersResponse = z.object({ orders: z.array(storedOrder) }).meta({ id: 'Orders' });
export const OrderResponse = storedOrder.extend({ history: z.array(z.object({ at: z.string(), event: z.string(), from: z.string().nullable(), to: z.string() })) }).meta({ id: 'OrderWithHistory' });

export const FillsResponse = z
  .object({
    fills: z.array(
      z.object({
        id: z.number().int(),
        order_id: z.string(),
        exec_id: z.string().nullable().describe('the id of the report that brought it: the stream execution id, the REST activity id or the event id'),
        execution_id: z.string().nullable().describe("the broker's execution id (trade_updates execution_id, the event stream's ref_id), once any source told it; a correction or bust names it"),
        cum_qty: z.string(),
        qty: z.string(),
        price: z.string(),
        symbol: z.string(),
        side: z.string(),
        filled_at: z.string(),
        source: z.enum(['stream', 'activity', 'order', 'inferred', 'event']).describe('stream: trade_updates; activity: REST activities; order: an order read; inferred: a gap priced from the VWAP; event: the activity event stream'),
        role: z.enum(['entry', 'exit', 'stop', 'outside']).optional().describe('stop: a protective stop filled; outside: an order not placed by this service'),
        realized_pnl: signedDecimal.nullable().optional().describe('what the FIFO lots this fill closed realized, before fees; null when it closed none'),
        busted: z.boolean().describe('a trade bust took this execution back: kept here, out of positions, P&L, cooldowns and stops'),
        corrected: z.boolean().describe('a trade correction replaced its qty / price (shown as corrected)'),
        original_qty: z.string().nullable().describe('a corrected fill: the qty it was recorded with; else null'),
        original_price: z.string().nullable().describe('a corrected fill: the price it was recorded with; else null'),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'Fills' });

export const PerformanceResponse = z.object({}).catchall(z.unknown()).describe('Figures defined in the README ("Performance")').meta({ id: 'Performance' });
