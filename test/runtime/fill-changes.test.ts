/**
 * Trade busts and corrections applied to the ledger (src/runtime/fill-change-commit.ts, issue 26
 * items 3, 4), by the real order actors over a real store (SQLite, and PostgreSQL where available):
 * the fill marked busted or given its new terms, its change rows, positions, the stop, the
 * notification; applied once however often it comes; a change before its fill waits pending and is
 * applied in the transaction that records that execution id; a live order's actor reads the broker's
 * filled_qty less what moved.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { TEST_STORES, pgSkipReason, stopTestStores, type TestStore } from '../support/test-stores.js';
import { OrderActors } from '../../src/runtime/order-actors.js';
import { restart } from '../../src/runtime/restart.js';
import type { ExecutionChange, OrderReport, TradeUpdateReport } from '../../src/domain/reports.js';
import { ledgerPositions } from '../../src/store/ledger.js';
import { pendingChanges } from '../../src/store/fill-changes.js';
import { stopAsk } from '../../src/domain/protection.js';
import { captureLogger } from '../support/log-capture.js';
import { execution, orderReport } from '../machines/helpers.js';

const pgSkip = await pgSkipReason();
let store: TestStore = TEST_STORES[0]!;
afterAll(() => stopTestStores(), 30_000);

const open: Array<{ actors: OrderActors; db: Database }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.actors.stop();
    await o.db.close();
  }
});

async function boot(db?: Database) {
  const database = db ?? (await store.open());
  const cap = captureLogger('debug');
  const fatal: unknown[] = [];
  const actors = new OrderActors({ db: database, log: cap.log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => fatal.push(e), cooldownMinutes: 0 });
  await restart({ actors });
  open.push({ actors, db: database });
  const events = (name: string) => cap.lines().filter((l) => l.event === name);
  return { db: database, actors, events, fatal };
}

const fillUpdate = (o: OrderReport, cum: string, qty: string, price: string, status: string, executionId: string): TradeUpdateReport => ({
  event: status === 'filled' ? 'fill' : 'partial_fill',
  at: '2026-01-02T15:00:01Z',
  order: { ...o, status, filledQty: cum, filledAvgPrice: price },
  execution: execution(o, { cumQty: cum, qty, price, avgPrice: price, orderStatus: status, executionId, execId: executionId }),
  positionQty: cum,
});

const change = (type: 'bust' | 'correct', refId: string, previousId: string, terms: { qty?: string; price?: string } = {}): ExecutionChange => ({
  type,
  refId,
  previousId,
  qty: terms.qty ?? null,
  price: terms.price ?? null,
  orderId: null,
  symbol: 'AAPL',
  side: 'buy',
  at: '2026-01-02T15:05:00Z',
});

const fillRows = (db: Database) => db.all(db.kysely.selectFrom('fills').select(['order_id', 'cum_qty', 'qty', 'price', 'busted', 'corrected', 'execution_id']).orderBy('id'));
const changeRows = (db: Database) => db.all(db.kysely.selectFrom('fill_changes').select(['ref_id', 'kind', 'previous_id', 'old_qty', 'old_price', 'new_qty', 'new_price']).where('applied_at', 'is not', null).orderBy('event_id'));
const stopOf = (db: Database, orderId: string) => db.first(db.kysely.selectFrom('stops').selectAll().where('client_order_id', '=', `ct-stop-${orderId}`));
const wanted = (db: Database, orderId: string) => {
  const r = stopOf(db, orderId)!;
  return { asked: stopAsk(r).qty, cut: r.cut_qty, cancel: r.cancel_requested };
};
/** The ledger's AAPL position (fills less busted ones): no row, flat. */
const position = (db: Database) => ledgerPositions(db).get('AAPL') ?? '0';
const notes = (db: Database) => db.all(db.kysely.selectFrom('notifications').select(['id', 'kind', 'data']).where('kind', 'in', ['fill_busted', 'fill_corrected']).orderBy('created_at'));

describe.each(TEST_STORES.map((s) => [s.name, s] as const))('on %s', (name, s) => {
  beforeAll(() => {
    store = s;
  });
  if (name === 'postgres' && pgSkip) return void it.skip('PostgreSQL unavailable', () => undefined);

  it('a bust marks the fill busted (kept), takes it out of the position, shrinks the entry\'s own stop first; a repeat changes nothing', async () => {
    const { db, actors, events } = await boot();
    const a = orderReport({ qty: '10' });
    const b = orderReport({ qty: '5' });
    actors.handleTradeUpdate(fillUpdate(a, '10', '10', '100', 'filled', 'xa'));
    actors.handleTradeUpdate(fillUpdate(b, '5', '5', '101', 'filled', 'xb'));
    expect(position(db)).toBe('15');

    expect(actors.applyChange('E1', change('bust', 'bust-b', 'xb'))).toBe('applied');
    expect(fillRows(db)).toEqual([
      expect.objectContaining({ order_id: a.orderId, qty: '10', busted: 0 }),
      expect.objectContaining({ order_id: b.orderId, qty: '5', busted: 1, corrected: 0 }),
    ]);
    expect(changeRows(db)).toEqual([{ ref_id: 'bust-b', kind: 'bust', previous_id: 'xb', old_qty: '5', old_price: '101', new_qty: '0', new_price: null }]);
    expect(position(db)).toBe('10');
    expect(actors.ledgerPosition('AAPL')).toBe('10');
    // b's own stop gave up its 5 and is canceled; a's is untouched.
    expect(wanted(db, b.orderId)).toEqual({ asked: '5', cut: '5', cancel: 1 });
    expect(wanted(db, a.orderId)).toEqual({ asked: '10', cut: '0', cancel: 0 });
    expect(notes(db)).toEqual([expect.objectContaining({ id: 'fill_busted:bust-b', kind: 'fill_busted' })]);
    expect(events('execution_change_applied')).toHaveLength(1);

    // The same event again (a replay, a repeat): nothing.
    const before = JSON.stringify([fillRows(db), changeRows(db), stopOf(db, a.orderId), stopOf(db, b.orderId), notes(db)]);
    expect(actors.applyChange('E1', change('bust', 'bust-b', 'xb'))).toBe('duplicate');
    expect(JSON.stringify([fillRows(db), changeRows(db), stopOf(db, a.orderId), stopOf(db, b.orderId), notes(db)])).toBe(before);
    expect(events('execution_change_applied')).toHaveLength(1);
    expect(events('execution_change_seen')).toHaveLength(1);

    // A restart rebuilds the position without the busted fill.
    actors.stop();
    open.splice(open.findIndex((o) => o.actors === actors), 1);
    const again = await boot(db);
    expect(again.actors.ledgerPosition('AAPL')).toBe('10');
  });

  it('a correction replaces qty and price (the original kept in its history); a correction of it names its ref_id; the stop follows', async () => {
    const { db, actors } = await boot();
    const a = orderReport({ qty: '10' });
    actors.handleTradeUpdate(fillUpdate(a, '10', '10', '100', 'filled', 'xa'));
    expect(actors.applyChange('E2', change('correct', 'c1', 'xa', { qty: '12', price: '99' }))).toBe('applied');
    expect(wanted(db, a.orderId)).toEqual({ asked: '12', cut: '0', cancel: 0 });
    expect(actors.applyChange('E3', change('correct', 'c2', 'c1', { qty: '11', price: '99.5' }))).toBe('applied');
    expect(fillRows(db)).toEqual([expect.objectContaining({ cum_qty: '10', qty: '11', price: '99.5', corrected: 1, busted: 0, execution_id: 'xa' })]);
    expect(changeRows(db)).toEqual([
      { ref_id: 'c1', kind: 'correct', previous_id: 'xa', old_qty: '10', old_price: '100', new_qty: '12', new_price: '99' },
      { ref_id: 'c2', kind: 'correct', previous_id: 'c1', old_qty: '12', old_price: '99', new_qty: '11', new_price: '99.5' },
    ]);
    expect(position(db)).toBe('11');
    expect(actors.ledgerPosition('AAPL')).toBe('11');
    expect(wanted(db, a.orderId)).toEqual({ asked: '12', cut: '1', cancel: 0 });
    expect(notes(db).map((n) => n.id)).toEqual(['fill_corrected:c1', 'fill_corrected:c2']);
    expect(JSON.parse(notes(db)[0]!.data)).toMatchObject({ old_qty: '10', old_price: '100', new_qty: '12', new_price: '99' });
    // A bust of the corrected fill names the latest correction.
    expect(actors.applyChange('E4', change('bust', 'b1', 'c2'))).toBe('applied');
    expect(position(db)).toBe('0');
    expect(wanted(db, a.orderId).cancel).toBe(1);
  });

  it('a change before its fill is kept pending, and applied in the transaction that records that execution id (chains too)', async () => {
    const { db, actors, events } = await boot();
    expect(actors.applyChange('E5', change('correct', 'c5', 'x5', { qty: '4', price: '100' }))).toBe('pending');
    expect(actors.applyChange('E6', change('bust', 'b5', 'c5'))).toBe('pending');
    expect(events('execution_change_pending')).toHaveLength(2);
    expect(pendingChanges(db).map((r) => r.ref_id)).toEqual(['c5', 'b5']);

    const a = orderReport({ qty: '6' });
    actors.handleTradeUpdate(fillUpdate(a, '6', '6', '100', 'filled', 'x5'));
    expect(pendingChanges(db)).toEqual([]);
    expect(fillRows(db)).toEqual([expect.objectContaining({ qty: '4', busted: 1, corrected: 1 })]);
    expect(changeRows(db).map((r) => [r.ref_id, r.old_qty, r.new_qty])).toEqual([['c5', '6', '4'], ['b5', '4', '0']]);
    expect(position(db)).toBe('0');
    expect(actors.ledgerPosition('AAPL')).toBe('0');
    expect(wanted(db, a.orderId).cancel).toBe(1);

    // A fill recorded without its execution id (REST) and told it later: the pending bust applies then.
    const b = orderReport({ qty: '2' });
    expect(actors.applyChange('E7', change('bust', 'b7', 'x7'))).toBe('pending');
    actors.handleExecution(execution(b, { source: 'activity', cumQty: '2', qty: '2', price: '100', orderStatus: 'filled' }), null);
    expect(position(db)).toBe('2');
    actors.handleExecution(execution(b, { source: 'event', cumQty: '2', qty: '2', price: '100', executionId: 'x7', orderStatus: 'filled' }), null);
    expect(position(db)).toBe('0');
    expect(actors.ledgerPosition('AAPL')).toBe('0');
  });

  it('a busted fill of a live order: its actor reads the broker\'s filled_qty less it, so polls record nothing wrong and a new fill is recorded', async () => {
    const { db, actors, events } = await boot();
    const a = orderReport({ qty: '10', type: 'limit' });
    actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled', 'x1'));
    expect(actors.applyChange('E8', change('bust', 'b8', 'x1'))).toBe('applied');
    const snap = JSON.parse(db.first(db.kysely.selectFrom('orders').select('snapshot').where('order_id', '=', a.orderId))!.snapshot);
    expect(snap.context.ledger).toEqual({ filledQty: '4', notional: '0', changed: '-4', changedAt: '4' });
    // The broker's order after the bust: 0 filled. Nothing to record.
    actors.handleOrder({ ...a, status: 'partially_filled', filledQty: '0', filledAvgPrice: null });
    expect(fillRows(db)).toHaveLength(1);
    // It fills again, 3 @ 102 (the broker's cum_qty 3): a new fill, not a duplicate of the busted cum 4.
    actors.handleTradeUpdate(fillUpdate(a, '3', '3', '102', 'partially_filled', 'x2'));
    expect(fillRows(db)).toEqual([
      expect.objectContaining({ cum_qty: '4', qty: '4', busted: 1 }),
      expect.objectContaining({ cum_qty: '7', qty: '3', price: '102', busted: 0, execution_id: 'x2' }),
    ]);
    expect(position(db)).toBe('3');
    // A correction up of that fill, then a poll showing the broker's 5 filled: nothing recorded twice.
    expect(actors.applyChange('E9', change('correct', 'c9', 'x2', { qty: '5', price: '102' }))).toBe('applied');
    actors.handleOrder({ ...a, status: 'partially_filled', filledQty: '5', filledAvgPrice: '102' });
    expect(fillRows(db)).toHaveLength(2);
    expect(position(db)).toBe('5');
    expect(events('ledger_drift')).toEqual([]);
  });
});
