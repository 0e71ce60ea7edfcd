import type { AccountConfig } from '../config.js';
import type { Database } from '../store/database.js';
import type { OrderReport } from '../domain/reports.js';
import type { BrokerPosition } from '../broker/positions.js';
import { D, normalize } from '../decimal.js';
import { entryOfStop, placedByUs, stopRowIdOf } from '../domain/orders.js';
import { stopAsk, type StopAsk } from '../domain/protection.js';
import { isCrypto, positionPathSymbol } from '../domain/symbols.js';
import { assessCoverage, closingSide, holderAsks, OPTION, stopCoverOf, type SymbolCoverage } from '../protection/coverage.js';
import { equityStopPrice } from '../protection/stop-order.js';
import { openOrdersHolding, type OrderHolder } from '../store/order-holders.js';
import { orderRow } from '../store/order-rows.js';
import { readStopRow, type StoredStopRow } from '../store/stops.js';
import { guardExits } from '../store/guard-exits.js';
import { wantedOf } from '../../machines/stop-policy.js';
import { stopWants } from '../../machines/position.js';
import { PLANNED_ID_PREFIX, type KeptRequest } from './dry-broker.js';
import type { Plan, PlannedAdopt, PlannedCooldown, PlannedLeave, PlannedStop } from './types.js';

/**
 * Turns what the dry start did (./dry-start.ts: the order changes it would have sent, and the
 * scratch store as it left it) into the plan, each item with its reason. Decides nothing the
 * runtime decides: coverage is src/protection/coverage.ts's, the stops are the stop worker's.
 */

/** What the scratch store held before the start ran (a copy of the real database, or nothing). */
export interface Before {
  stops: Map<string, StoredStopRow>;
  orderIds: Set<string>;
  cooldownIds: Set<string>;
}

export function readBefore(db: Database): Before {
  const stops = new Map<string, StoredStopRow>();
  for (const r of db.all(db.kysely.selectFrom('stops').select('client_order_id'))) {
    const row = readStopRow(db, r.client_order_id);
    if (row) stops.set(r.client_order_id, row);
  }
  return {
    stops,
    orderIds: new Set(db.all(db.kysely.selectFrom('orders').select('order_id')).map((r) => r.order_id)),
    cooldownIds: new Set(db.all(db.kysely.selectFrom('cooldowns').select('exit_fill_id')).map((r) => r.exit_fill_id)),
  };
}

export interface ExplainInput {
  db: Database;
  account: AccountConfig;
  before: Before;
  requests: readonly KeptRequest[];
  /** Signed ledger positions after the start (fills less fees). */
  ledger: ReadonlyMap<string, string>;
  broker: readonly BrokerPosition[];
  openOrders: readonly OrderReport[];
  /** Latest trade prices of the symbols with stops (for the reasons and a trailing stop's level now). */
  latest: ReadonlyMap<string, string>;
  /** Crypto stops the ratchet raised: client order id → new stop price. */
  raised: ReadonlyMap<string, string>;
  /** The equity session now (null: not known). */
  session: string | null;
  protectGraceS: number;
}

const side = (pos: string) => (new D(pos).isNegative() ? 'short' : 'long');
const abs = (q: string) => normalize(new D(q).abs());
const named = (holders: readonly OrderHolder[]) => holders.map((h) => `${h.orderId}${h.clientOrderId ? ` (${h.clientOrderId})` : ''}${h.qty ? ` holding ${h.qty}` : ''}`).join(', ');

export function explain(input: ExplainInput): Plan {
  const stops = plannedStops(input);
  const refusedBySymbol = finalRefusals(input);
  return {
    stops,
    adopt: adopted(input),
    leave: leftAlone(input, stops, refusedBySymbol),
    cooldowns: cooldowns(input),
  };
}

/** The stop row a request is for (its client order id, or the working order it names). */
function rowOf(db: Database, r: KeptRequest, before: Before): StoredStopRow | undefined {
  const cid = r.post?.clientOrderId ?? r.patch?.clientOrderId ?? r.answer?.client_order_id ?? null;
  const id = cid ? stopRowIdOf(cid) : null;
  if (id) return readStopRow(db, id);
  if (r.orderId) {
    for (const row of before.stops.values()) if (row.broker_order_id === r.orderId) return readStopRow(db, row.client_order_id) ?? row;
  }
  return undefined;
}

function plannedStops(input: ExplainInput): PlannedStop[] {
  const { db, requests, before } = input;
  const out: PlannedStop[] = [];
  requests.forEach((r, i) => {
    if (r.outcome !== 'accepted') return;
    const row = rowOf(db, r, before);
    if (!row) return;
    const ask = stopAsk(row);
    const refusedFirst = requests.slice(0, i).reverse().find((p) => p.outcome === 'refused' && rowOf(db, p, before)?.client_order_id === row.client_order_id);
    if (r.kind === 'delete') {
      // A stop planned and canceled in the same run was never sent: neither is shown.
      if (r.orderId?.startsWith(PLANNED_ID_PREFIX)) {
        const at = out.findIndex((s) => stopRowIdOf(s.client_order_id) === row.client_order_id && s.action !== 'cancel');
        if (at >= 0) out.splice(at, 1);
        return;
      }
      const was = before.stops.get(row.client_order_id) ?? row;
      // As the broker has the order (its type, level), else as the row kept it.
      const o = input.openOrders.find((x) => x.orderId === r.orderId);
      const crypto = isCrypto(ask.symbol, ask.assetClass);
      const type = o?.type ?? (crypto ? 'stop_limit' : was.placed_trail_percent !== null ? 'trailing_stop' : 'stop');
      const trail = o?.trailPercent ?? was.placed_trail_percent;
      const level = o?.stopPrice ?? was.placed_stop_price;
      out.push({
        symbol: row.symbol,
        qty: o?.qty ?? was.placed_qty ?? wantedOf(was),
        type,
        ...(type === 'trailing_stop' && trail !== null ? { trail_percent: trail } : level !== null ? { stop_price: level } : {}),
        ...(o?.limitPrice ? { limit_price: o.limitPrice } : {}),
        side: ask.side,
        time_in_force: o?.timeInForce ?? (crypto || type === 'trailing_stop' ? 'gtc' : 'day'),
        action: 'cancel',
        client_order_id: o?.clientOrderId ?? row.current_client_order_id ?? row.client_order_id,
        entry_order_id: ask.entryOrderId,
        order_id: r.orderId!,
        reason: cancelReason(input, row),
      });
      return;
    }
    const a = r.answer!;
    const fields = {
      symbol: row.symbol,
      qty: a.qty ?? '0',
      type: a.type ?? '',
      ...(a.type === 'trailing_stop' ? { trail_percent: a.trail_percent ?? '' } : { stop_price: a.stop_price ?? '' }),
      ...(a.limit_price ? { limit_price: a.limit_price } : {}),
    };
    const price = input.latest.get(row.symbol);
    const level = a.type === 'trailing_stop' && price && a.trail_percent ? { level_now: trailLevel(price, a.trail_percent, ask.side) } : {};
    const draft: PlannedStop = {
      ...fields,
      ...level,
      side: ask.side,
      time_in_force: a.time_in_force ?? '',
      action: r.kind === 'patch' ? 'replace' : 'place',
      client_order_id: a.client_order_id ?? '',
      entry_order_id: ask.entryOrderId,
      ...(r.kind === 'patch' ? { order_id: r.orderId! } : {}),
      reason: '',
    };
    const stop: PlannedStop = { ...draft, reason: r.kind === 'patch' ? replaceReason(input, row, draft) : placeReason(input, row, ask, draft, refusedFirst) };
    // A replace of a stop planned in this run is the same request, grown: shown once, as placed.
    const earlier = r.orderId?.startsWith(PLANNED_ID_PREFIX) ? out.findIndex((s) => stopRowIdOf(s.client_order_id) === row.client_order_id && s.action !== 'cancel') : -1;
    if (earlier >= 0) out.splice(earlier, 1, { ...stop, action: out[earlier]!.action, reason: out[earlier]!.reason });
    else out.push(stop);
  });
  return out;
}

/**
 * Where a trailing stop placed now would start: the latest trade less the trail (a sell), or plus it
 * (a buy, protecting a short), on Alpaca's equity tick. Alpaca moves it with the high-water mark.
 */
function trailLevel(price: string, trailPercent: string, stopSide: 'buy' | 'sell'): string {
  if (stopSide === 'sell') return equityStopPrice(price, trailPercent);
  const level = new D(price).times(new D(1).plus(new D(trailPercent).div(100)));
  return normalize(level.toDecimalPlaces(level.gte(1) ? 2 : 4, D.ROUND_UP));
}

function entryWords(input: ExplainInput, ask: StopAsk): string {
  const entry = orderRow(input.db, ask.entryOrderId);
  if (!entry) return `order ${ask.entryOrderId}`;
  if (placedByUs(entry.client_order_id)) return `order ${ask.entryOrderId} (placed through this service)`;
  const adopt = input.account.adopt === 'protect' ? ', protected as CT_ADOPT=protect asks' : '';
  return `order ${ask.entryOrderId} (placed outside this service${adopt})`;
}

function trailWords(ask: StopAsk, input: ExplainInput): string {
  return ask.trailPercent !== undefined ? `${ask.trailPercent}% (set for this stop)` : `${input.account.trailPercent}% (CT_TRAIL_PERCENT)`;
}

function placeReason(input: ExplainInput, row: StoredStopRow, ask: StopAsk, stop: PlannedStop, refusedFirst: KeptRequest | undefined): string {
  const pos = input.ledger.get(row.symbol) ?? '0';
  const what = `${side(pos)} ${abs(pos)} ${row.symbol}: ${entryWords(input, ask)} opened ${stopWants({ asked: ask.qty, cut: row.cut_qty })} of it`;
  const price = input.latest.get(row.symbol);
  const at = price ? ` under the latest trade ${price}` : ' under the latest trade';
  let how: string;
  if (isCrypto(ask.symbol, ask.assetClass)) {
    how = `crypto has no trailing stop at Alpaca: a gtc stop-limit ${trailWords(ask, input)}${at}, on the asset's price increment, its limit 1% under the stop; the service raises it as the price rises`;
  } else if (stop.type === 'trailing_stop') {
    how = `a gtc trailing stop ${trailWords(ask, input)} for the whole shares`;
  } else if (ask.part === 'fraction') {
    how = `the fraction ${stop.qty} that a trailing stop cannot take: fractional shares cannot trail, so a day stop ${trailWords(ask, input)}${at}, placed again each session`;
  } else {
    how = `under one share, and fractional shares cannot trail: a day stop ${trailWords(ask, input)}${at}, placed again each session`;
  }
  const parts = [`${what}; ${how}`];
  if (refusedFirst) {
    const holders = openOrdersHolding(input.db, [{ symbol: row.symbol, side: ask.side }]).get(row.symbol) ?? [];
    parts.push(`only ${stop.qty} of ${wantedOf(row)} is free: Alpaca would refuse the whole ("${refusedFirst.message}")${holders.length ? `, held by open order(s) ${named(holders)}` : ''}; the stop grows when they end`);
  }
  if (!isCrypto(ask.symbol, ask.assetClass) && input.session && input.session !== 'regular') parts.push(`the market is ${input.session} now: equity stops act from the next regular session`);
  const broker = input.broker.find((b) => positionPathSymbol(b.symbol) === positionPathSymbol(row.symbol));
  if (broker && !new D(broker.qty).eq(pos)) parts.push(`the broker holds ${broker.qty}, the ledger ${pos}: reported as ledger drift`);
  return parts.join('; ');
}

function replaceReason(input: ExplainInput, row: StoredStopRow, stop: PlannedStop): string {
  const was = input.before.stops.get(row.client_order_id);
  const raised = input.raised.get(row.client_order_id);
  if (raised) return `the service trails crypto stops itself: the latest trade ${input.latest.get(row.symbol) ?? ''} puts this stop at ${raised}, above its ${was?.placed_stop_price ?? 'placed'} price`;
  if (was?.expires_at && (was.placed_qty === stop.qty || was.placed_qty === null)) return `its working order ${was.broker_order_id} nears Alpaca's aged-order expiry (${was.expires_at}): replaced by a fresh one (CT_REARM_BEFORE_H)`;
  if (was?.placed_qty && was.placed_qty !== stop.qty) return `its working order ${was.broker_order_id} covers ${was.placed_qty}; the position it protects wants ${stop.qty} now (fills while the service was down): resized`;
  return `its working order ${was?.broker_order_id ?? ''} differs from what the stop wants now: replaced`;
}

function cancelReason(input: ExplainInput, row: StoredStopRow): string {
  const pos = input.ledger.get(row.symbol) ?? '0';
  return new D(pos).isZero()
    ? `the ${row.symbol} position it protected is closed (fills while the service was down): its stop is canceled`
    : `the ${row.symbol} position shrank to ${pos} and its other stops cover it: this one is canceled`;
}

/** Requests refused with no later accepted one for the same stop: the stops the start would try and not get. */
function finalRefusals(input: ExplainInput): Map<string, Array<{ request: KeptRequest; row: StoredStopRow }>> {
  const out = new Map<string, Array<{ request: KeptRequest; row: StoredStopRow }>>();
  const { db, requests, before } = input;
  requests.forEach((r, i) => {
    if (r.outcome !== 'refused') return;
    const row = rowOf(db, r, before);
    if (!row) return;
    const later = requests.slice(i + 1).some((n) => n.outcome === 'accepted' && n.kind !== 'delete' && rowOf(db, n, before)?.client_order_id === row.client_order_id);
    if (later) return;
    const list = out.get(row.symbol) ?? [];
    if (!list.some((x) => x.row.client_order_id === row.client_order_id)) list.push({ request: r, row });
    out.set(row.symbol, list);
  });
  return out;
}

function adopted(input: ExplainInput): PlannedAdopt[] {
  const { db, before, account } = input;
  return input.openOrders.map((o) => {
    const ours = placedByUs(o.clientOrderId);
    const stopOf = entryOfStop(o.clientOrderId);
    const known = before.orderIds.has(o.orderId) || [...before.stops.values()].some((s) => s.broker_order_id === o.orderId);
    const pos = new D(input.ledger.get(o.symbol) ?? '0');
    const closing = !pos.isZero() && closingSide(pos) === o.side;
    const open = o.qty === null ? null : normalize(new D(o.qty).minus(o.filledQty));
    let reason: string;
    if (stopOf) {
      reason = `this service's stop for order ${stopOf} from an earlier run: kept as the protection of ${o.symbol}`;
    } else if (!ours && /stop/.test(o.type) && closing) {
      reason = `a ${o.type} order placed outside this service: its fills reach the ledger, but it is not counted as protection; the service protects with its own stops, and this order holds ${open ?? 'part'} of ${o.symbol} they cannot sell twice`;
    } else if (!ours && closing) {
      reason = `placed outside this service; it would reduce the ${o.symbol} position and holds ${open ?? 'part'} of it, which a stop cannot cover while it rests`;
    } else if (!ours) {
      reason = `placed outside this service; ${account.adopt === 'protect' ? 'what it fills gets a stop (CT_ADOPT=protect)' : 'what it fills is recorded without a stop (CT_ADOPT=record)'}`;
    } else {
      reason = `placed through this service; what it fills gets a stop`;
    }
    const row = orderRow(db, o.orderId);
    if (row?.role === 'entry' && new D(row.filled_qty).gt(0) && !stopOf) reason += ` (its ${row.filled_qty} filled so far is an entry)`;
    return {
      symbol: o.symbol,
      order_id: o.orderId,
      client_order_id: o.clientOrderId,
      side: o.side,
      type: o.type,
      qty: o.qty,
      status: o.status,
      ...(o.limitPrice ? { limit_price: o.limitPrice } : {}),
      ...(o.stopPrice ? { stop_price: o.stopPrice } : {}),
      ...(o.trailPercent ? { trail_percent: o.trailPercent } : {}),
      placed_by: ours ? 'this service' : 'outside',
      known,
      protection: stopOf !== null,
      reason: `${known ? 'already followed' : 'followed from the start'}: ${reason}`,
    };
  });
}

function coverage(input: ExplainInput): SymbolCoverage[] {
  const { db, account } = input;
  const rows = db.all(
    db.kysely
      .selectFrom('stops')
      .select(['symbol', 'payload', 'status', 'placed_qty', 'attempts', 'last_error', 'cancel_requested', 'cut_qty', 'broker_order_id', 'version'])
      .where('status', '!=', 'done'),
  );
  const stops = rows.map(stopCoverOf);
  const opts = { adopt: account.adopt, guarded: new Set(guardExits(db).map((e) => e.symbol)) };
  let report = assessCoverage(input.ledger, stops, opts);
  const asks = holderAsks(report);
  if (asks.length > 0) report = assessCoverage(input.ledger, stops, opts, openOrdersHolding(db, asks));
  return report.positions;
}

function leftAlone(input: ExplainInput, stops: readonly PlannedStop[], refused: Map<string, Array<{ request: KeptRequest; row: StoredStopRow }>>): PlannedLeave[] {
  const { db } = input;
  const out: PlannedLeave[] = [];
  const covered = new Map(coverage(input).map((c) => [positionPathSymbol(c.symbol), c]));
  const brokerOf = new Map(input.broker.map((b) => [positionPathSymbol(b.symbol), b]));
  const symbols = new Map<string, string>();
  for (const [s, q] of input.ledger) if (!new D(q).isZero()) symbols.set(positionPathSymbol(s), s);
  for (const b of input.broker) if (!symbols.has(positionPathSymbol(b.symbol))) symbols.set(positionPathSymbol(b.symbol), b.symbol);

  for (const [key, symbol] of [...symbols].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ledgerQty = input.ledger.get(symbol) ?? '0';
    const broker = brokerOf.get(key);
    const differs = broker !== undefined && !new D(broker.qty).eq(ledgerQty);
    const drift = differs ? { broker_qty: broker.qty } : {};
    const c = covered.get(key);
    if (!c) {
      out.push({
        symbol,
        qty: broker?.qty ?? ledgerQty,
        covered: '0',
        ...drift,
        reason:
          'no fill in the account’s activity history opens this position (shares transferred in, or fills older than the history Alpaca serves): the ledger does not know it, so the start places no stop; /health reports it as ledger drift',
      });
      continue;
    }
    const planned = stops.some((s) => s.symbol === symbol && s.action !== 'cancel');
    if (c.reason === null) {
      if (planned && !differs) continue;
      if (planned) {
        // Its stops are planned; the broker's count is what needs a word.
        out.push({ symbol, qty: ledgerQty, covered: c.covered, ...drift, reason: `the broker holds ${broker!.qty}, the ledger (the account’s fills) ${ledgerQty}: the stops cover the ledger’s; /health reports ledger drift` });
        continue;
      }
      const working = db.all(db.kysely.selectFrom('stops').select(['broker_order_id', 'placed_qty']).where('symbol', '=', symbol).where('status', '=', 'confirmed').where('cancel_requested', '=', 0));
      const ids = working.map((w) => w.broker_order_id).filter((id): id is string => id !== null);
      out.push({
        symbol,
        qty: ledgerQty,
        covered: c.covered,
        ...drift,
        ...(ids.length ? { order_ids: ids } : {}),
        reason: `already protected: working stop order${ids.length > 1 ? 's' : ''} ${ids.join(', ')} cover${ids.length > 1 ? '' : 's'} ${c.covered}${differs ? `; the broker holds ${broker!.qty}, the ledger ${ledgerQty} (ledger drift)` : ''}`,
      });
      continue;
    }
    out.push({ symbol, qty: ledgerQty, covered: c.covered, ...drift, ...uncoveredWords(input, c, refused.get(symbol) ?? []) });
  }
  return out;
}

function uncoveredWords(input: ExplainInput, c: SymbolCoverage, refused: Array<{ request: KeptRequest; row: StoredStopRow }>): { reason: string; order_ids?: string[] } {
  const { db, account } = input;
  const holders = openOrdersHolding(db, [{ symbol: c.symbol, side: closingSide(c.position) }]).get(c.symbol) ?? [];
  const ids = holders.length ? { order_ids: holders.map((h) => h.orderId) } : {};
  const held = holders.length ? `held by open order(s) ${named(holders)}` : 'held by other open orders';
  const reason = c.reason ?? '';
  if (reason === OPTION) {
    return { reason: 'an option contract: recorded, never protected by a stop and never cooled down (issue 26); /health never alarms on it' };
  }
  if (reason === 'adopt_record') {
    return { reason: `placed outside this service and CT_ADOPT=record: recorded, not protected (no stop for ${c.uncovered}; /health says adopt_record, never critical)` };
  }
  if (refused.length > 0) {
    const r = refused[0]!;
    const body = r.request.post ?? r.request.patch;
    const tried = body ? `${r.row.symbol} ${'side' in body ? `${body.side} ` : ''}${body.qty ?? ''}`.trim() : r.row.symbol;
    const refusal = `its stop (${tried}) would be refused by Alpaca: "${r.request.message}"`;
    const retry = `The service retries (backing off up to a minute) and /health turns critical after CT_PROTECT_GRACE_S (${input.protectGraceS} s)`;
    if (/wash trade/i.test(r.request.message ?? '')) {
      const stopSide = stopAsk(r.row).side;
      const crossing = input.openOrders.filter((o) => o.symbol === c.symbol && o.side !== stopSide);
      const which = crossing.map((o) => `${o.orderId} (${o.side} ${o.qty ?? ''} ${o.type}${o.limitPrice ? ` limit ${o.limitPrice}` : ''})`).join(', ');
      return {
        ...(crossing.length ? { order_ids: crossing.map((o) => o.orderId) } : {}),
        reason: `${refusal}: open order(s) ${which || 'on the other side'} could trade with it. ${retry} while they rest; cancel them (or let them fill) to let the stop in`,
      };
    }
    return { ...ids, reason: `${refusal}; ${c.uncovered} of ${abs(c.position)} is ${held}. ${retry} until the shares are free; cancel the order(s) holding them to let the stop in` };
  }
  if (reason.startsWith('held_for_orders')) return { ...ids, reason: `${c.uncovered} of ${abs(c.position)} is ${held}: the stop covers only what is free (${c.covered}) and grows when they end` };
  if (reason === 'stop_pending') {
    const row = db.first(db.kysely.selectFrom('stops').select(['last_error']).where('symbol', '=', c.symbol).where('status', '=', 'pending').where('last_error', 'is not', null));
    return { reason: `its stop could not be prepared${row?.last_error ? `: ${row.last_error}` : ''}; the service retries` };
  }
  if (reason === 'no_stop') {
    return {
      reason: `no stop is asked for ${c.uncovered} of it: ${isCrypto(c.symbol) && new D(c.position).isNegative() ? 'crypto cannot be short, so no buy stop protects a balance below flat (fills not known yet)' : `no entry in the ledger opened that part${account.adopt === 'record' ? ' (CT_ADOPT=record)' : ''}`}`,
    };
  }
  if (reason === 'guard_exit') return { reason: 'the extended-hours guard is exiting this position: its stops are off on purpose' };
  if (reason === 'stop_unknown') return { reason: 'the outcome of its stop is not known yet: the service looks it up by client order id before sending again' };
  if (reason === 'stop_too_small') return { reason: `its stops cover ${c.covered} of ${abs(c.position)}: the rest is below what an order can take` };
  return { ...ids, reason };
}

function cooldowns(input: ExplainInput): PlannedCooldown[] {
  const { db, before, account } = input;
  const rows = db.all(db.kysely.selectFrom('cooldowns').selectAll().orderBy('symbol').orderBy('exit_fill_id'));
  return rows
    .filter((r) => !before.cooldownIds.has(r.exit_fill_id))
    .map((r) => {
      const cut = r.exit_fill_id.lastIndexOf(':');
      const orderId = r.exit_fill_id.slice(0, cut);
      const fill = db.first(db.kysely.selectFrom('fills').select(['side', 'qty', 'price', 'filled_at']).where('order_id', '=', orderId).where('cum_qty', '=', r.exit_fill_id.slice(cut + 1)));
      const what = fill ? `${fill.side} ${fill.qty} ${r.symbol} at ${fill.price} on ${fill.filled_at} (order ${orderId})` : `order ${orderId}`;
      return {
        symbol: r.symbol,
        exit_fill_id: r.exit_fill_id,
        order_id: orderId,
        until: r.until,
        reason: `${what} closed the position; an exit found at start starts its cooldown from the start, for ${account.cooldownMinutes} min (CT_COOLDOWN_MINUTES): entries through the service's API are refused until ${r.until}, outside ones are flagged`,
      };
    });
}
