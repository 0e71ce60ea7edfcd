/**
 * A fill keeps the broker's execution id (fills.execution_id, migration 0011) wherever a source
 * tells it, on its one row (order_id, cum_qty): written with a new fill, filled in when a later
 * report of a fill already recorded knows it, never a second row, never overwritten. Real order
 * actors over in-memory SQLite.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import type { ExecutionReport } from '../src/domain/reports.js';
import { captureLogger } from './support/log-capture.js';

let db: Database;
let actors: OrderActors;

beforeEach(async () => {
  db = await openDatabase(':memory:');
  actors = new OrderActors({ db, log: captureLogger('info').log, adopt: 'record', cooldownMinutes: 0, fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  await restart({ actors });
});
afterEach(async () => {
  actors.stop();
  await db.close();
});

const report = (over: Partial<ExecutionReport>): ExecutionReport => ({
  orderId: 'o1',
  symbol: 'AAPL',
  side: 'buy',
  source: 'activity',
  cumQty: '1',
  qty: '1',
  price: '100',
  avgPrice: null,
  execId: '20260302100000000::a',
  executionId: null,
  orderStatus: 'partially_filled',
  at: '2026-03-02T15:00:00Z',
  ...over,
});

const rows = () => db.sqlite.prepare('select cum_qty, qty, source, exec_id, execution_id from fills order by id').all();

describe('fills.execution_id', () => {
  it('a fill recorded from REST (no execution id) gets it from a later report of the same fill, on the same row', () => {
    actors.handleExecution(report({}), null);
    expect(rows()).toEqual([{ cum_qty: '1', qty: '1', source: 'activity', exec_id: '20260302100000000::a', execution_id: null }]);

    actors.handleExecution(report({ source: 'event', execId: '01JNQ5P0000000000000000001', executionId: 'x-1' }), null);
    expect(rows()).toEqual([{ cum_qty: '1', qty: '1', source: 'activity', exec_id: '20260302100000000::a', execution_id: 'x-1' }]);

    // Known once, kept: another report cannot change it.
    actors.handleExecution(report({ source: 'stream', execId: 'x-2', executionId: 'x-2' }), null);
    expect(rows()).toEqual([expect.objectContaining({ execution_id: 'x-1' })]);
  });

  it('a new fill is written with the execution id; a gap it jumps is inferred and has none', () => {
    actors.handleExecution(report({ source: 'stream', execId: 'x-1', executionId: 'x-1' }), null);
    // cum 3 by a fill of 1: the fill of 1 between (cum 2) was missed, priced from the VWAP.
    actors.handleExecution(report({ source: 'event', cumQty: '3', qty: '1', price: '102', avgPrice: '101', execId: 'E3', executionId: 'x-3' }), null);
    expect(rows()).toEqual([
      { cum_qty: '1', qty: '1', source: 'stream', exec_id: 'x-1', execution_id: 'x-1' },
      { cum_qty: '2', qty: '1', source: 'inferred', exec_id: null, execution_id: null },
      { cum_qty: '3', qty: '1', source: 'event', exec_id: 'E3', execution_id: 'x-3' },
    ]);
  });
});
