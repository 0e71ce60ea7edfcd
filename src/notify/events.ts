import type { Database } from '../store/database.js';
import type { FillRecord, OrderRole, StopRow } from '../domain/protection.js';
import { stopAsk } from '../domain/protection.js';
import type { StopEffect, StopEvent, StopState } from '../../machines/stop-model.js';
import { notificationChannelsOf, notify, type Notification } from './outbox.js';
import { writeNotification } from '../store/notifications.js';
import { D, normalize, type Dec } from '../decimal.js';

/**
 * What each fact says, and the id it is known by: one function per kind, called by the code that
 * commits the fact, inside its transaction. Ids are derived from the fact so that committing it
 * again (a crash, a replay) writes nothing new; facts with episodes (an uncovered position, drift,
 * the stream away) carry the episode's start, so each episode is told once.
 */

const verb = (side: string) => (side === 'buy' ? 'bought' : 'sold');

/**
 * A fill the ledger recorded, folded with the other fills its transaction records into one
 * notification (a reconcile page is one alert, not a hundred): one fill is `fill:<order_id>:<cum_qty>`
 * (the fill's identity), several are `fills:<order_id>:<cum_qty>` of the first (written once, so the
 * id is too), kind `fills`, with every fill in `data.fills`.
 */
export function notifyFill(db: Database, f: FillRecord, role: OrderRole | null, now: Date): void {
  db.fold<FillFact>('notify:fill', { f, role, now }, (items) => writeNotification(db, fillsNotification(items), notificationChannelsOf(db), items[0]!.now));
}

interface FillFact {
  f: FillRecord;
  role: OrderRole | null;
  now: Date;
}

const fillData = ({ f, role }: FillFact) => ({ order_id: f.orderId, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, cum_qty: f.cumQty, role, source: f.source, filled_at: f.at });

/** What one transaction's fills say: one fill as itself, several as one summary line per symbol and side. */
export function fillsNotification(items: readonly FillFact[]): Notification {
  const first = items[0]!;
  if (items.length === 1) {
    const { f, role } = first;
    const who = role === 'stop' ? 'protective stop' : role === 'exit' ? 'exit' : role === 'entry' ? 'entry' : 'order';
    return {
      id: `fill:${f.orderId}:${f.cumQty}`,
      kind: 'fill',
      text: `${f.symbol}: ${verb(f.side)} ${f.qty} @ ${f.price} (${who} ${f.orderId}, ${f.cumQty} filled)`,
      data: fillData(first),
    };
  }
  const groups = new Map<string, { symbol: string; side: string; qty: Dec; low: Dec; high: Dec; n: number }>();
  for (const { f } of items) {
    const key = `${f.symbol} ${f.side}`;
    const g = groups.get(key);
    const price = new D(f.price);
    if (!g) groups.set(key, { symbol: f.symbol, side: f.side, qty: new D(f.qty), low: price, high: price, n: 1 });
    else Object.assign(g, { qty: g.qty.plus(f.qty), low: D.min(g.low, price), high: D.max(g.high, price), n: g.n + 1 });
  }
  const parts = [...groups.values()].map(
    (g) => `${g.symbol}: ${verb(g.side)} ${normalize(g.qty)} @ ${g.low.eq(g.high) ? normalize(g.low) : `${normalize(g.low)}–${normalize(g.high)}`} (${g.n} fill${g.n === 1 ? '' : 's'})`,
  );
  return {
    id: `fills:${first.f.orderId}:${first.f.cumQty}`,
    kind: 'fills',
    text: `${items.length} fills: ${parts.join('; ')}`,
    data: { count: items.length, fills: items.map(fillData) },
  };
}

/**
 * A trade bust or correction applied to a recorded fill: `fill_busted:<ref_id>` /
 * `fill_corrected:<ref_id>` (the change's own execution id: a replayed event adds nothing).
 */
export function notifyFillChanged(
  db: Database,
  c: { kind: 'bust' | 'correct'; refId: string; previousId: string; orderId: string; cumQty: string; symbol: string; side: string; oldQty: string; oldPrice: string; newQty: string | null; newPrice: string | null },
  now: Date,
): void {
  const busted = c.kind === 'bust';
  notify(
    db,
    {
      id: `${busted ? 'fill_busted' : 'fill_corrected'}:${c.refId}`,
      kind: busted ? 'fill_busted' : 'fill_corrected',
      text: busted
        ? `${c.symbol}: fill busted, ${c.side} ${c.oldQty} @ ${c.oldPrice} taken back (order ${c.orderId}, execution ${c.previousId})`
        : `${c.symbol}: fill corrected, ${c.side} ${c.oldQty} @ ${c.oldPrice} is now ${c.newQty} @ ${c.newPrice} (order ${c.orderId}, execution ${c.previousId})`,
      data: {
        symbol: c.symbol, order_id: c.orderId, cum_qty: c.cumQty, side: c.side, ref_id: c.refId, previous_id: c.previousId,
        old_qty: c.oldQty, old_price: c.oldPrice, ...(busted ? {} : { new_qty: c.newQty, new_price: c.newPrice }),
      },
    },
    now,
  );
}

/** The transition `applyStopTransition` took, as far as notifications need it. */
export interface StopTransitionFacts {
  applied: boolean;
  from: StopState | null;
  effects: readonly StopEffect[];
  row: StopRow | undefined;
}

/**
 * A stop's transition that the broker's answer decided: placed (or adopted, or resized) —
 * `stop_placed:<client order id of that broker order>`, one per order the broker took; refused —
 * `stop_refused:<client order id>:<kind>`, once per refusal episode of that order (its retries are
 * refused under the same id and kind; a different kind is news).
 */
export function notifyStopTransition(db: Database, event: StopEvent, t: StopTransitionFacts, now: Date): void {
  if (!t.applied || !t.row) return;
  const row = t.row;
  for (const e of t.effects) {
    if (e.type !== 'announce') continue;
    const ask = stopAsk(row);
    if (e.outcome === 'accepted') {
      const o = e.order;
      const replaced = t.from === 'replacing';
      const how = e.how === 'adopted' ? 'adopted' : replaced ? 'replaced' : 'placed';
      const price = o.trailPercent ? `trailing ${o.trailPercent}%` : o.stopPrice ? `stop ${o.stopPrice}` : o.type;
      notify(
        db,
        {
          id: `stop_placed:${o.clientOrderId}`,
          kind: 'stop_placed',
          text: `${row.symbol}: protective stop ${how}, ${ask.side} ${e.placedQty} ${price} (entry ${e.entryOrderId})`,
          data: {
            symbol: row.symbol,
            entry_order_id: e.entryOrderId,
            stop_order_id: o.orderId,
            client_order_id: o.clientOrderId,
            side: ask.side,
            qty: e.placedQty,
            type: o.type,
            stop_price: o.stopPrice,
            trail_percent: o.trailPercent,
            how,
          },
        },
        now,
      );
    } else if (event.type === 'refused') {
      const retryAt = row.next_attempt_at > 0 && row.next_attempt_at < 8.64e15 ? new Date(row.next_attempt_at).toISOString() : null;
      notify(
        db,
        {
          id: `stop_refused:${event.clientOrderId}:${event.kind}`,
          kind: 'stop_refused',
          text: `${row.symbol}: broker refused the protective stop (${event.kind}: ${event.message}); retrying${retryAt ? ` from ${retryAt}` : ''} (entry ${e.entryOrderId})`,
          data: {
            symbol: row.symbol,
            entry_order_id: e.entryOrderId,
            client_order_id: event.clientOrderId,
            refusal: event.kind,
            message: event.message,
            attempts: row.attempts,
            retry_at: retryAt,
          },
        },
        now,
      );
    }
  }
}

/** A protective stop's order filled: the exit by our stop, `stop_filled:<stop order id>`. */
export function notifyStopFilled(
  db: Database,
  s: { orderId: string; clientOrderId: string; entryOrderId: string; symbol: string; side: string; filledQty: string; avgPrice: string | null },
  now: Date,
): void {
  notify(
    db,
    {
      id: `stop_filled:${s.orderId}`,
      kind: 'stop_filled',
      text: `${s.symbol}: protective stop filled, ${verb(s.side)} ${s.filledQty}${s.avgPrice ? ` @ ${s.avgPrice}` : ''} (entry ${s.entryOrderId})`,
      data: { symbol: s.symbol, stop_order_id: s.orderId, client_order_id: s.clientOrderId, entry_order_id: s.entryOrderId, side: s.side, filled_qty: s.filledQty, avg_price: s.avgPrice },
    },
    now,
  );
}

/** A cooldown an exit fill started: `cooldown_started:<exit fill id>` (one cooldown per exit fill). */
export function notifyCooldownStarted(db: Database, cd: { exitFillId: string; symbol: string; until: Date }, now: Date): void {
  notify(
    db,
    {
      id: `cooldown_started:${cd.exitFillId}`,
      kind: 'cooldown_started',
      text: `${cd.symbol}: cooldown until ${cd.until.toISOString()} (exit fill ${cd.exitFillId})`,
      data: { symbol: cd.symbol, exit_fill_id: cd.exitFillId, until: cd.until.toISOString() },
    },
    now,
  );
}

/** A position uncovered past the grace period: `position_unprotected:<symbol>:<episode start>`. */
export function notifyPositionUnprotected(
  db: Database,
  u: { symbol: string; position: string; covered: string; uncovered: string; reason: string; since: string; graceS: number },
  now: Date,
): void {
  notify(
    db,
    {
      id: `position_unprotected:${u.symbol}:${u.since}`,
      kind: 'position_unprotected',
      text: `${u.symbol}: position UNPROTECTED, ${u.uncovered} of ${u.position.replace('-', '')} uncovered for more than ${u.graceS} s: ${u.reason}`,
      data: { symbol: u.symbol, position: u.position, covered: u.covered, uncovered: u.uncovered, reason: u.reason, since: u.since, grace_s: u.graceS },
    },
    now,
  );
}

/** That episode's end (covered again, or closed): `position_protected:<symbol>:<episode start>`. */
export function notifyPositionProtected(
  db: Database,
  p: { symbol: string; position: string; covered: string; since: string; uncoveredForS: number; closed: boolean },
  now: Date,
): void {
  notify(
    db,
    {
      id: `position_protected:${p.symbol}:${p.since}`,
      kind: 'position_protected',
      text: p.closed ? `${p.symbol}: position closed after ${p.uncoveredForS} s uncovered` : `${p.symbol}: position covered again after ${p.uncoveredForS} s`,
      data: { symbol: p.symbol, position: p.position, covered: p.covered, since: p.since, uncovered_for_s: p.uncoveredForS, closed: p.closed },
    },
    now,
  );
}

/** Ledger and broker disagree (confirmed): `ledger_drift:<order:… | position:…>:<episode start>`. */
export function notifyLedgerDrift(
  db: Database,
  d: { key: string; kind: string; order_id: string | null; symbol: string; ledger_qty: string; broker_qty: string; since: string },
  now: Date,
): void {
  notify(
    db,
    {
      id: `ledger_drift:${d.key}:${d.since}`,
      kind: 'ledger_drift',
      text: `ledger drift on ${d.kind} ${d.order_id ?? d.symbol}: ledger ${d.ledger_qty}, broker ${d.broker_qty}`,
      data: { kind: d.kind, order_id: d.order_id, symbol: d.symbol, ledger_qty: d.ledger_qty, broker_qty: d.broker_qty, since: d.since },
    },
    now,
  );
}

/** The trade_updates stream away for longer than the limit: `stream_down:<episode start>`. */
export function notifyStreamDown(db: Database, s: { since: string; state: string; forS: number }, now: Date): void {
  notify(
    db,
    {
      id: `stream_down:${s.since}`,
      kind: 'stream_down',
      text: `trade_updates stream ${s.state} for ${s.forS} s (since ${s.since}); polling only`,
      data: { since: s.since, state: s.state, down_for_s: s.forS },
    },
    now,
  );
}

/** It came back after a `stream_down`: `stream_restored:<episode start>`. */
export function notifyStreamRestored(db: Database, s: { since: string; forS: number }, now: Date): void {
  notify(
    db,
    {
      id: `stream_restored:${s.since}`,
      kind: 'stream_restored',
      text: `trade_updates stream connected again after ${s.forS} s`,
      data: { since: s.since, down_for_s: s.forS },
    },
    now,
  );
}

/** A process start / its clean stop: `started:<start time>:<pid>`, `stopped:<same>`. */
export function notifyLifecycle(
  db: Database,
  kind: 'started' | 'stopped',
  p: { startedAt: string; pid: number; mode: string; host: string; reason?: string },
  now: Date,
): void {
  notify(
    db,
    {
      id: `${kind}:${p.startedAt}:${p.pid}`,
      kind,
      text: kind === 'started' ? `crazy-trade started (${p.mode} mode, pid ${p.pid} on ${p.host})` : `crazy-trade stopping (${p.reason ?? 'shutdown'}; pid ${p.pid} on ${p.host})`,
      data: { mode: p.mode, pid: p.pid, host: p.host, started_at: p.startedAt, ...(kind === 'stopped' ? { reason: p.reason ?? 'shutdown' } : {}) },
    },
    now,
  );
}
