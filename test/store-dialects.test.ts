import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initialStop } from '../machines/stop-model.js';
import type { FillRecord, StopAsk } from '../src/domain/protection.js';
import { canonicalTime } from '../src/time.js';
import { activeCooldown, clearCooldowns, listCooldowns, startCooldown, startExitCooldown } from '../src/store/cooldowns.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { openPgDatabase } from '../src/store/database-pg.js';
import { entriesPaused, setEntriesPaused } from '../src/store/entries-paused.js';
import { feeTotals, insertFee, listFees } from '../src/store/fees.js';
import {
  backedOffStops,
  confirmedCryptoStops,
  dueStops,
  entriesWithCanceledStops,
  insertStopRow,
  liveEquityEntryStops,
  liveStopRowsBySymbol,
  positionStopRows,
  readStopRow,
  stopCanceledForClose,
  stopClientIdOfBrokerOrder,
  stopRowsOf,
  updateStopRow,
  writeStopPatch,
} from '../src/store/stops.js';
import { fillCount, fillsSince, hasFill, insertFills, latestFillTimes, ledgerOf, ledgerPositions } from '../src/store/ledger.js';
import { migrationProvider } from '../src/store/migrations.js';
import { insertNotification, listNotifications, markDelivered, markFailed, pendingCounts, pendingNotifications } from '../src/store/notifications.js';
import { countOrders } from '../src/store/order-counts.js';
import { openOrdersHolding } from '../src/store/order-holders.js';
import { appendHistory, liveOrderRows, orderByClientOrderId, orderHistory, orderRow, upsertOrderRow, type OrderRow } from '../src/store/order-rows.js';
import { deleteSyncState, readSyncState, writeSyncState } from '../src/store/sync-state.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';

/**
 * The store's contract on both servers: every case below runs on SQLite (a file, so it can be
 * reopened) and on PostgreSQL (a fresh database on a throwaway cluster, the account's tables in
 * schema `acct_test`), through the store modules' own functions. Without PostgreSQL the postgres
 * cases are skipped with one console line (CT_REQUIRE_PG=1 makes that a failure instead).
 */
const SCHEMA = 'acct_test';
const T0 = Date.parse('2026-03-02T15:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);

let cluster: PgCluster | undefined;
let pgSkip: string | undefined;

beforeAll(async () => {
  const started = await startPgCluster({ name: 'dialects' });
  if ('skip' in started) {
    pgSkip = started.skip;
    console.log(`store-dialects.test.ts: postgres cases skipped: ${pgSkip}`);
  } else {
    cluster = started.cluster;
  }
});

/** What each test opened: closed (and its PostgreSQL database dropped, its SQLite folder removed) after it. */
const cleanups: Array<() => Promise<void>> = [];
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}
afterEach(cleanUp);
afterAll(async () => {
  await cleanUp();
  await cluster?.stop();
});

type Dialect = 'sqlite' | 'postgres';

interface Store {
  db: Database;
  /** Closes `db` and opens the same file / database and schema again (it migrates again, if it must). */
  reopen(): Promise<Database>;
}

async function openStore(dialect: Dialect): Promise<Store> {
  let open: () => Promise<Database>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ct-dialects-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    open = () => openDatabase(join(dir, 'ct.db'));
  } else {
    const fresh = await freshDatabase(cluster!);
    cleanups.push(() => fresh.drop());
    open = () => openPgDatabase({ url: fresh.url, schema: SCHEMA, applicationName: 'ct-store-dialects' });
  }
  const track = async () => {
    const db = await open();
    cleanups.push(() => db.close());
    return db;
  };
  const store: Store = {
    db: await track(),
    async reopen() {
      await store.db.close();
      store.db = await track();
      return store.db;
    },
  };
  return store;
}

// --- rows as the runtime writes them -------------------------------------------------------------

const fillRec = (over: Partial<FillRecord> = {}): FillRecord => ({
  orderId: 'o1',
  symbol: 'AAPL',
  side: 'buy',
  cumQty: '1',
  qty: '1',
  price: '10',
  source: 'stream',
  execId: null,
  at: '2026-03-02T15:00:00Z',
  ...over,
});

/** A raw fills row (set-up for the constraint checks: insertFills skips a duplicate by design). */
const fillRow = (over: Record<string, unknown> = {}) => ({
  order_id: 'o1',
  cum_qty: '1',
  qty: '1',
  price: '10',
  symbol: 'AAPL',
  side: 'buy' as const,
  exec_id: null,
  source: 'stream' as const,
  filled_at: '2026-03-02T15:00:00.000000000Z',
  recorded_at: '2026-03-02T15:00:00.000Z',
  ...over,
});

/** An orders-table row as the order actors persist it (snapshot: the XState snapshot, its order in context). */
function orderRowOf(o: {
  id: string;
  cid?: string;
  symbol?: string;
  side?: 'buy' | 'sell';
  qty?: string | null;
  status?: string;
  state?: string;
  filled?: string;
  brokerFilled?: string;
  terminal?: 0 | 1;
  at?: string;
}): OrderRow {
  const symbol = o.symbol ?? 'AAPL';
  const side = o.side ?? 'sell';
  const assetClass = symbol.includes('/') ? 'crypto' : 'us_equity';
  const order = {
    orderId: o.id,
    clientOrderId: o.cid ?? `user-${o.id}`,
    symbol,
    assetClass,
    side,
    type: 'limit',
    qty: o.qty === undefined ? '4' : o.qty,
    status: o.status ?? 'new',
    brokerFilledQty: o.brokerFilled ?? o.filled ?? '0',
  };
  const state = o.state ?? (o.terminal ? 'canceled' : 'working');
  return {
    order_id: o.id,
    client_order_id: order.clientOrderId,
    symbol,
    side,
    type: 'limit',
    asset_class: assetClass,
    role: null,
    state,
    terminal: o.terminal ?? 0,
    filled_qty: o.filled ?? '0',
    filled_avg_price: null,
    stop_order_id: null,
    machine_version: 1,
    snapshot: JSON.stringify({ status: o.terminal ? 'done' : 'active', value: state, context: { order } }),
    created_at: o.at ?? '2026-03-02T14:59:40.000Z',
    updated_at: o.at ?? '2026-03-02T14:59:40.000Z',
  };
}

/** A protective stop's ask, as the order machine makes it. */
const ask = (entry: string, over: Partial<StopAsk> = {}): StopAsk => ({
  entryOrderId: entry,
  clientOrderId: `ct-stop-${entry}${over.part === 'fraction' ? '-f' : ''}`,
  symbol: 'AAPL',
  assetClass: 'us_equity',
  side: 'sell',
  qty: '10',
  ...over,
});

/** Inserts a stop's first row as the stop machine starts it (store function insertStopRow). */
function addStop(db: Database, a: StopAsk, now: Date, columns: Partial<ReturnType<typeof initialStop>> = {}): string {
  insertStopRow(db, a, { ...initialStop(a), ...columns }, now);
  return a.clientOrderId;
}

const countFills = (db: Database) => db.first(db.kysely.selectFrom('fills').select((eb) => eb.fn.countAll<number>().as('n')))!.n;

const migrationsOf = (db: Database) =>
  db.all(db.kysely.selectFrom('kysely_migration' as any).select(['name', 'timestamp'] as any).orderBy('name' as any)) as Array<{ name: string; timestamp: unknown }>;

/** A unique or check violation, in either server's words. */
const UNIQUE = /UNIQUE constraint failed|duplicate key value violates unique constraint/;
const CHECK = /CHECK constraint failed|violates check constraint/;

describe.each<{ dialect: Dialect }>([{ dialect: 'sqlite' }, { dialect: 'postgres' }])('store on $dialect', ({ dialect }) => {
  let store: Store;
  let db: Database;

  beforeEach(async (ctx) => {
    if (dialect === 'postgres' && pgSkip !== undefined) ctx.skip(pgSkip);
    store = await openStore(dialect);
    db = store.db;
  });

  describe('after commit', () => {
    it('runs what waits for the outermost commit then, and drops what a rollback (or a savepoint\'s) took back', () => {
      const said: string[] = [];
      db.afterCommit(() => said.push('outside'));
      expect(said).toEqual(['outside']);
      db.transaction(() => {
        db.afterCommit(() => said.push('outer'));
        expect(() =>
          db.transaction(() => {
            db.afterCommit(() => said.push('inner, rolled back'));
            throw new Error('inner fails');
          }),
        ).toThrow('inner fails');
        db.transaction(() => db.afterCommit(() => said.push('inner, kept')));
        expect(said).toEqual(['outside']);
      });
      expect(said).toEqual(['outside', 'outer', 'inner, kept']);
      expect(() =>
        db.transaction(() => {
          db.afterCommit(() => said.push('never'));
          throw new Error('outer fails');
        }),
      ).toThrow('outer fails');
      expect(said).toEqual(['outside', 'outer', 'inner, kept']);
    });
  });

  describe('migrations', () => {
    it('applies every migration, and reopening migrates nothing twice and keeps the data', async () => {
      expect(db.dialect).toBe(dialect);
      const known = Object.keys(await migrationProvider.getMigrations());
      expect(known).toContain('0008_stop_trail');
      const applied = migrationsOf(db);
      expect(applied.map((m) => m.name)).toEqual(known);

      insertFills(db, [fillRec()], at(0));
      writeSyncState(db, 'fill_watermark', '20260302150000000::w1', at(0));
      expect(insertNotification(db, { id: 'n1', kind: 'fill', text: 'filled', data: { a: 1 } }, ['webhook'], at(0))).toBe(true);

      const again = await store.reopen();
      // Same rows, same timestamps: no migration ran again. 0006 in particular would have copied
      // the watermark written above into fee_backfill_until had it run once more.
      expect(migrationsOf(again)).toEqual(applied);
      expect(readSyncState(again, 'fee_backfill_until')).toBeNull();
      expect(hasFill(again, 'o1', '1')).toBe(true);
      expect(readSyncState(again, 'fill_watermark')).toBe('20260302150000000::w1');
      expect(pendingNotifications(again, 'webhook', 10).map((n) => n.id)).toEqual(['n1']);
      // Writable as before, ids continue.
      insertFills(again, [fillRec({ cumQty: '2' })], at(1));
      expect(fillCount(again, 'AAPL')).toBe(2);
    });
  });

  describe('ledger and fees', () => {
    it('enforces fill identity (order_id, cum_qty): the database refuses a duplicate, insertFills records it once', () => {
      const f1 = fillRec();
      const f2 = fillRec({ cumQty: '3', qty: '2', price: '11' });
      // The same fill seen twice in one batch (stream and activity): written once.
      expect(insertFills(db, [f1, { ...f1, source: 'activity', execId: 'x' }, f2], at(0))).toEqual([f1, f2]);
      expect(insertFills(db, [f1, f2], at(1))).toEqual([]);
      expect(countFills(db)).toBe(2);
      expect(() => db.run(db.kysely.insertInto('fills').values(fillRow({ exec_id: 'other' })))).toThrow(UNIQUE);
      // The same cum_qty of another order is another fill.
      expect(insertFills(db, [fillRec({ orderId: 'o2' })], at(2))).toHaveLength(1);

      expect(hasFill(db, 'o1', '3')).toBe(true);
      expect(hasFill(db, 'o1', '2')).toBe(false);
      expect(ledgerOf(db, 'o1')).toEqual({ filledQty: '3', notional: '32' });
      expect(ledgerOf(db, 'nope')).toEqual({ filledQty: '0', notional: '0' });
      expect(fillCount(db, 'AAPL')).toBe(3);
      expect(fillCount(db, 'MSFT')).toBe(0);
    });

    it('positions are the fills less the fees; a fee is recorded once; fills and fees read in time order', () => {
      insertFills(
        db,
        [
          fillRec({ orderId: 'b1', symbol: 'BTC/USD', cumQty: '0.5', qty: '0.5', price: '60000', at: '2026-03-02T15:00:01Z' }),
          fillRec({ orderId: 'a1', cumQty: '3', qty: '3', at: '2026-03-02T15:00:05Z' }),
          fillRec({ orderId: 'a2', side: 'sell', cumQty: '1', qty: '1', at: '2026-03-02T15:00:03Z' }),
          // Same time as a2: arrival (id) breaks the tie.
          fillRec({ orderId: 'a0', side: 'sell', cumQty: '0.5', qty: '0.5', at: '2026-03-02T15:00:03Z' }),
        ],
        at(10),
      );
      const fee = { activityId: '20260302150001001::f1', symbol: 'BTC/USD', qty: '0.00125', price: '60000', at: '2026-03-02T15:00:01.001000000Z', timed: true };
      expect(insertFee(db, fee, at(10))).toBe(true);
      expect(insertFee(db, fee, at(11))).toBe(false);
      expect(insertFee(db, { ...fee, activityId: '20260302150000001::f0', qty: '0.00025', at: '2026-03-02T15:00:00.500000000Z' }, at(11))).toBe(true);
      insertFee(db, { ...fee, activityId: '20260302150002001::f2', symbol: 'ETH/USD', qty: '0.001', price: null });

      expect(ledgerPositions(db)).toEqual(
        new Map([
          ['BTC/USD', '0.4985'],
          ['AAPL', '1.5'],
          ['ETH/USD', '-0.001'],
        ]),
      );
      expect(feeTotals(db)).toEqual(new Map([['BTC/USD', '0.0015'], ['ETH/USD', '0.001']]));
      expect(listFees(db, { symbol: 'BTC/USD' }).map((f) => f.activity_id)).toEqual(['20260302150000001::f0', '20260302150001001::f1']);
      expect(listFees(db, { from: '2026-03-02T15:00:01.000000000Z' }).map((f) => f.activity_id)).toEqual(['20260302150001001::f1', '20260302150002001::f2']);
      expect(listFees(db, { symbol: 'ETH/USD' })[0]).toEqual({ activity_id: '20260302150002001::f2', symbol: 'ETH/USD', qty: '0.001', price: null, at: fee.at });

      expect(latestFillTimes(db)).toEqual(
        new Map([
          ['AAPL', canonicalTime('2026-03-02T15:00:05Z')],
          ['BTC/USD', canonicalTime('2026-03-02T15:00:01Z')],
        ]),
      );
      expect(fillsSince(db, 'AAPL', canonicalTime('2026-03-02T15:00:03Z')!).map((f) => `${f.order_id}:${f.cum_qty}:${f.side}`)).toEqual(['a2:1:sell', 'a0:0.5:sell', 'a1:3:buy']);
      expect(fillsSince(db, 'AAPL', canonicalTime('2026-03-02T15:00:04Z')!).map((f) => f.order_id)).toEqual(['a1']);
    });
  });

  describe('transactions', () => {
    it('rolls back whole when a statement fails', () => {
      insertFills(db, [fillRec({ cumQty: '9' })]);
      expect(() =>
        db.transaction(() => {
          db.run(db.kysely.insertInto('fills').values(fillRow({ cum_qty: '5' })));
          writeSyncState(db, 'fill_watermark', 'w1');
          db.run(db.kysely.insertInto('fills').values(fillRow({ cum_qty: '5' })));
        }),
      ).toThrow(UNIQUE);
      expect(hasFill(db, 'o1', '5')).toBe(false);
      expect(readSyncState(db, 'fill_watermark')).toBeNull();
      expect(countFills(db)).toBe(1);
      // The connection is out of the transaction: the next one commits.
      expect(db.transaction(() => insertFills(db, [fillRec({ cumQty: '6' })]).length)).toBe(1);
      expect(hasFill(db, 'o1', '6')).toBe(true);
    });

    it('a nested transaction that throws rolls back only itself; the outer one commits', () => {
      const result = db.transaction(() => {
        insertFills(db, [fillRec({ cumQty: '1' })]);
        // A statement the server refuses inside the savepoint (PostgreSQL aborts the transaction
        // until the savepoint is rolled back) ...
        expect(() =>
          db.transaction(() => {
            writeSyncState(db, 'fill_watermark', 'inner-1');
            db.run(db.kysely.insertInto('fills').values(fillRow({ cum_qty: '1' })));
          }),
        ).toThrow(UNIQUE);
        // ... and one the code gives up on.
        expect(() =>
          db.transaction(() => {
            insertFills(db, [fillRec({ cumQty: '2' })]);
            throw new Error('changed my mind');
          }),
        ).toThrow('changed my mind');
        // A nested one that succeeds stays.
        db.transaction(() => writeSyncState(db, 'last_reconcile_at', 'nested-ok'));
        insertFills(db, [fillRec({ cumQty: '3' })]);
        return 'outer';
      });
      expect(result).toBe('outer');
      expect(db.all(db.kysely.selectFrom('fills').select('cum_qty').orderBy('id'))).toEqual([{ cum_qty: '1' }, { cum_qty: '3' }]);
      expect(readSyncState(db, 'fill_watermark')).toBeNull();
      expect(readSyncState(db, 'last_reconcile_at')).toBe('nested-ok');
    });

    it('db.write: sent with the next statement or the commit (PostgreSQL), its values as given, its failure the transaction\'s or its savepoint\'s', () => {
      // Values a literal must carry as a parameter would: quotes, backslashes, $1, a semicolon, unicode, null.
      const odd = "it's \\ a $1; 'quoted' \u00e9\u4e2d \\' end";
      const row = (id: string, over: Partial<OrderRow> = {}): OrderRow => ({ ...orderRowOf({ id, cid: `cid-${id}` }), ...over });
      db.transaction(() => {
        upsertOrderRow(db, row('w1', { client_order_id: odd, filled_avg_price: null }));
        appendHistory(db, { order_id: 'w1', at: '2026-03-02T15:00:00.000Z', event: odd, from_state: null, to_state: 'working' });
        // A read in the same transaction sees what was written before it.
        expect(orderRow(db, 'w1')?.client_order_id).toBe(odd);
        upsertOrderRow(db, row('w2'));
      });
      expect(orderRow(db, 'w1')).toMatchObject({ client_order_id: odd, filled_avg_price: null });
      expect(orderRow(db, 'w2')?.order_id).toBe('w2');
      expect(orderHistory(db, 'w1')).toEqual([{ at: '2026-03-02T15:00:00.000Z', event: odd, from: null, to: 'working' }]);
      // A write the server refuses fails the commit it went with: nothing of the transaction stays.
      expect(() =>
        db.transaction(() => {
          upsertOrderRow(db, row('w3'));
          db.write(db.kysely.insertInto('fills').values(fillRow({ cum_qty: '9', side: 'sideways' as 'buy' })));
        }),
      ).toThrow(CHECK);
      expect(orderRow(db, 'w3')).toBeUndefined();
      // In a savepoint, it fails that savepoint (its caller goes on), not the outer transaction.
      db.transaction(() => {
        upsertOrderRow(db, row('w4'));
        expect(() =>
          db.transaction(() => {
            upsertOrderRow(db, row('w5'));
            db.write(db.kysely.insertInto('fills').values(fillRow({ cum_qty: '9', side: 'sideways' as 'buy' })));
          }),
        ).toThrow(CHECK);
        upsertOrderRow(db, row('w6'));
      });
      expect(['w4', 'w5', 'w6'].map((id) => orderRow(db, id)?.order_id ?? null)).toEqual(['w4', null, 'w6']);
    });

    it('db.prefetch: read where it was asked, in order with the statements around it, its rows when called', () => {
      const ids = (rows: Array<{ order_id: string }>) => rows.map((r) => r.order_id);
      const all = () => db.kysely.selectFrom('orders').select('order_id').orderBy('order_id');
      upsertOrderRow(db, orderRowOf({ id: 'p1' }));
      const seen = db.transaction(() => {
        upsertOrderRow(db, orderRowOf({ id: 'p2' }));
        const before = db.prefetch(all());
        upsertOrderRow(db, orderRowOf({ id: 'p3' }));
        const after = db.prefetch(all());
        // The second is called first: it sends what is pending, the first read included.
        return { after: ids(after()), before: ids(before()) };
      });
      expect(seen).toEqual({ before: ['p1', 'p2'], after: ['p1', 'p2', 'p3'] });
      // Outside a transaction it reads at once.
      expect(ids(db.prefetch(all())())).toEqual(['p1', 'p2', 'p3']);
    });

    it('a transaction function returning a promise throws, and what it wrote is rolled back', () => {
      expect(() =>
        db.transaction(() => {
          insertFills(db, [fillRec({ cumQty: '7' })]);
          return Promise.resolve(1);
        }),
      ).toThrow(/promise/i);
      expect(hasFill(db, 'o1', '7')).toBe(false);
      expect(db.transaction(() => insertFills(db, [fillRec({ cumQty: '8' })]))).toHaveLength(1);
      expect(countFills(db)).toBe(1);
    });
  });

  describe('sync state, entries paused, order rows and counts', () => {
    it('writes, reads, overwrites and deletes sync state', () => {
      expect(readSyncState(db, 'fill_watermark')).toBeNull();
      writeSyncState(db, 'fill_watermark', 'a', at(0));
      writeSyncState(db, 'position_baseline', '{"AAPL":"1"}', at(0));
      writeSyncState(db, 'fill_watermark', 'b', at(5));
      expect(readSyncState(db, 'fill_watermark')).toBe('b');
      expect(db.first(db.kysely.selectFrom('sync_state').select('updated_at').where('key', '=', 'fill_watermark'))).toEqual({ updated_at: at(5).toISOString() });
      deleteSyncState(db, 'fill_watermark');
      expect(readSyncState(db, 'fill_watermark')).toBeNull();
      expect(readSyncState(db, 'position_baseline')).toBe('{"AAPL":"1"}');
      deleteSyncState(db, 'fill_watermark'); // deleting nothing is fine
    });

    it('pauses entries durably, keeps who paused first, and resumes', async () => {
      expect(entriesPaused(db)).toEqual({ paused: false, by: null, since: null });
      expect(setEntriesPaused(db, true, 'ops', at(0))).toEqual({ paused: true, by: 'ops', since: at(0).toISOString() });
      expect(setEntriesPaused(db, true, 'someone-else', at(9))).toEqual({ paused: true, by: 'ops', since: at(0).toISOString() });
      const again = await store.reopen();
      expect(entriesPaused(again)).toEqual({ paused: true, by: 'ops', since: at(0).toISOString() });
      expect(setEntriesPaused(again, false, 'ops', at(10))).toEqual({ paused: false, by: null, since: null });
      expect(readSyncState(again, 'entries_paused')).toBeNull();
    });

    it('upserts order rows, keeps their history in order, and counts live and finished orders', () => {
      expect(countOrders(db)).toEqual({ active: 0, terminal: 0 });
      upsertOrderRow(db, orderRowOf({ id: 'b', cid: 'cid-b', side: 'buy', state: 'working', at: '2026-03-02T15:00:02.000Z' }));
      upsertOrderRow(db, orderRowOf({ id: 'a', cid: 'cid-a', side: 'buy', state: 'working', at: '2026-03-02T15:00:01.000Z' }));
      upsertOrderRow(db, orderRowOf({ id: 'c', cid: 'cid-c', terminal: 1, status: 'canceled', at: '2026-03-02T15:00:00.000Z' }));

      // The update keeps created_at and the key, changes the rest.
      const updated = { ...orderRowOf({ id: 'b', cid: 'cid-b', side: 'buy', state: 'filled', status: 'filled', filled: '4', terminal: 1 }), created_at: 'ignored', updated_at: '2026-03-02T15:01:00.000Z' };
      upsertOrderRow(db, updated);
      expect(orderRow(db, 'b')).toEqual({ ...updated, created_at: '2026-03-02T15:00:02.000Z' });
      expect(orderRow(db, 'zz')).toBeUndefined();

      const counts = countOrders(db);
      expect(counts).toEqual({ active: 1, terminal: 2 });
      expect(typeof counts.active).toBe('number');

      upsertOrderRow(db, orderRowOf({ id: 'd', cid: 'cid-d', state: 'working', at: '2026-03-02T14:00:00.000Z' }));
      expect(liveOrderRows(db).map((r) => [r.order_id, r.state, r.machine_version])).toEqual([
        ['d', 'working', 1],
        ['a', 'working', 1],
      ]);

      expect(orderByClientOrderId(db, 'cid-b')).toEqual({ orderId: 'b', clientOrderId: 'cid-b', symbol: 'AAPL', side: 'buy', type: 'limit', qty: '4', status: 'filled', filledQty: '4', notional: null });
      expect(orderByClientOrderId(db, 'unknown')).toBeNull();

      appendHistory(db, { order_id: 'b', at: '2026-03-02T15:00:02.000Z', event: 'accepted', from_state: null, to_state: 'working' });
      appendHistory(db, { order_id: 'a', at: '2026-03-02T15:00:03.000Z', event: 'accepted', from_state: null, to_state: 'working' });
      // An earlier clock on a later event: history is in the order written, not by time.
      appendHistory(db, { order_id: 'b', at: '2026-03-02T15:00:01.000Z', event: 'fill', from_state: 'working', to_state: 'filled' });
      expect(orderHistory(db, 'b')).toEqual([
        { at: '2026-03-02T15:00:02.000Z', event: 'accepted', from: null, to: 'working' },
        { at: '2026-03-02T15:00:01.000Z', event: 'fill', from: 'working', to: 'filled' },
      ]);
      expect(orderHistory(db, 'a')).toHaveLength(1);
    });

    it('count(*) and sums come back as numbers, not strings', () => {
      insertFills(db, [fillRec(), fillRec({ cumQty: '2' }), fillRec({ orderId: 'o2', symbol: 'MSFT' })]);
      const n = countFills(db);
      expect(n).toBe(3);
      expect(typeof n).toBe('number');
      const grouped = db.all(db.kysely.selectFrom('fills').select(['symbol', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('symbol').orderBy('symbol'));
      expect(grouped).toEqual([
        { symbol: 'AAPL', n: 2 },
        { symbol: 'MSFT', n: 1 },
      ]);
      upsertOrderRow(db, orderRowOf({ id: 'x', terminal: 1 }));
      const raw = db.first(db.kysely.selectFrom('orders').select((eb) => eb.fn.sum<number>('terminal').as('s')));
      expect(raw).toEqual({ s: 1 });
    });
  });

  describe('intents (the stops outbox)', () => {
    it('inserts, reads and patches a stop row; epoch milliseconds round-trip as numbers', () => {
      const a = ask('e1');
      addStop(db, a, at(0));
      const row = readStopRow(db, a.clientOrderId)!;
      expect(row).toEqual({
        ...initialStop(a),
        client_order_id: 'ct-stop-e1',
        entry_order_id: 'e1',
        symbol: 'AAPL',
        kind: 'protective_stop',
        created_at: at(0).toISOString(),
        updated_at: at(0).toISOString(),
      });
      expect(readStopRow(db, 'ct-stop-none')).toBeUndefined();

      // Past 2^31 (and 2^32): an int4 would overflow, a bigint read as text would be a string.
      const later = Date.now() + 3_600_000;
      writeStopPatch(db, a.clientOrderId, { status: 'unknown', next_attempt_at: later, attempts: 2, sent_at: at(1).toISOString() }, at(1));
      const patched = readStopRow(db, a.clientOrderId)!;
      expect(patched.next_attempt_at).toBe(later);
      expect(typeof patched.next_attempt_at).toBe('number');
      expect(patched).toMatchObject({ status: 'unknown', attempts: 2, version: 0, updated_at: at(1).toISOString(), created_at: at(0).toISOString() });

      // Not due before its backoff, due at it; a restart makes it due (not refused).
      expect(dueStops(db, later - 1)).toEqual([]);
      expect(dueStops(db, later).map((r) => r.client_order_id)).toEqual(['ct-stop-e1']);
      expect(backedOffStops(db)).toEqual(['ct-stop-e1']);
      updateStopRow(db, a.clientOrderId, { status: 'done' }, at(2));
      expect(backedOffStops(db)).toEqual([]);
      expect(dueStops(db, later)).toEqual([]);
    });

    it('positionStopRows and liveStopRowsBySymbol keep insertion order among stops created together; fraction stops (payload.part) are left out', () => {
      // Inserted in an order that is neither the ids' nor the entries' alphabetical one, all at the same time.
      const z = addStop(db, ask('z9', { qty: '1' }), at(0));
      const m = addStop(db, ask('m5', { qty: '2' }), at(0));
      const mf = addStop(db, ask('m5', { part: 'fraction', qty: '0.5' }), at(0));
      const a = addStop(db, ask('a1', { qty: '3' }), at(0));
      const early = addStop(db, ask('q7', { qty: '4' }), at(-10));
      const done = addStop(db, ask('d0', { qty: '5' }), at(-20), { status: 'done' });
      addStop(db, ask('t1', { symbol: 'TSLA' }), at(0));
      addStop(db, ask('b1', { symbol: 'BTC/USD', assetClass: 'crypto', qty: '0.5' }), at(0));

      expect(positionStopRows(db, 'AAPL', []).map((r) => r.client_order_id)).toEqual([early, z, m, mf, a]);
      // Named rows come whatever their status; no extra column leaks out of the sort.
      const withDone = positionStopRows(db, 'AAPL', [done, 'ct-stop-t1']);
      expect(withDone.map((r) => r.client_order_id)).toEqual([done, early, z, m, mf, a]);
      expect(Object.keys(withDone[0]!).sort()).toEqual(Object.keys(readStopRow(db, done)!).sort());

      const bySymbol = liveStopRowsBySymbol(db);
      expect([...bySymbol.keys()].sort()).toEqual(['AAPL', 'BTC/USD', 'TSLA']);
      expect(bySymbol.get('AAPL')!.map((r) => [r.entry_order_id, JSON.parse(r.payload).qty])).toEqual([
        ['q7', '4'],
        ['z9', '1'],
        ['m5', '2'],
        ['a1', '3'],
      ]);
      expect(bySymbol.get('AAPL')![0]).toEqual({
        symbol: 'AAPL',
        entry_order_id: 'q7',
        payload: JSON.stringify(ask('q7', { qty: '4' })),
        cut_qty: '0',
        cancel_requested: 0,
        status: 'pending',
        broker_order_id: null,
        version: 0,
        last_error: null,
      });
    });

    it('liveEquityEntryStops and confirmedCryptoStops select by payload.assetClass and payload.part', () => {
      const eq = addStop(db, ask('e1'), at(0));
      addStop(db, ask('e1', { part: 'fraction', qty: '0.3' }), at(0));
      const btc = addStop(db, ask('c1', { symbol: 'BTC/USD', assetClass: 'crypto', qty: '0.5' }), at(1), { status: 'confirmed', broker_order_id: 'bo-c1' });
      const eth = addStop(db, ask('c2', { symbol: 'ETH/USD', assetClass: 'crypto', qty: '2' }), at(2));
      const eqDone = addStop(db, ask('e2', { qty: '2.5' }), at(3), { status: 'done' });
      const eqConfirmed = addStop(db, ask('e3', { symbol: 'MSFT', qty: '2.5' }), at(4), { status: 'confirmed' });
      // Whole, nothing cut to a fraction, no fraction stop: nothing for a fraction stop to follow.
      const eqWhole = addStop(db, ask('e4', { symbol: 'SPY' }), at(5), { status: 'confirmed' });
      const eqWholeDoneFraction = addStop(db, ask('e5', { symbol: 'SPY' }), at(6), { status: 'confirmed' });
      addStop(db, ask('e5', { symbol: 'SPY', part: 'fraction', qty: '0.5' }), at(6), { status: 'done' });
      // Whole asked, cut to a fraction: followed.
      const eqCut = addStop(db, ask('e6', { symbol: 'SPY' }), at(7), { status: 'confirmed', cut_qty: '3.5' });

      expect(liveEquityEntryStops(db).map((r) => r.client_order_id).sort()).toEqual([eq, eqConfirmed, eqCut].sort());
      expect(liveEquityEntryStops(db).map((r) => r.client_order_id)).not.toContain(eqWhole);
      expect(liveEquityEntryStops(db).map((r) => r.client_order_id)).not.toContain(eqWholeDoneFraction);
      expect(confirmedCryptoStops(db).map((r) => r.client_order_id)).toEqual([btc]);
      updateStopRow(db, eth, { status: 'confirmed' }, at(5));
      expect(confirmedCryptoStops(db).map((r) => r.client_order_id).sort()).toEqual([btc, eth]);
      expect(liveEquityEntryStops(db).map((r) => r.client_order_id)).not.toContain(eqDone);
    });

    it('finds stops by broker order, by name, and entries whose stop was canceled for a close', () => {
      const s1 = addStop(db, ask('e1'), at(0));
      const s2 = addStop(db, ask('e2'), at(1));
      const s3 = addStop(db, ask('e3'), at(2));
      writeStopPatch(db, s1, { status: 'confirmed', broker_order_id: 'bo-1', current_client_order_id: `${s1}-v2`, version: 2 }, at(3));
      writeStopPatch(db, s2, { status: 'confirmed', broker_order_id: 'bo-2' }, at(3));
      expect(stopClientIdOfBrokerOrder(db, 'bo-1')).toBe(`${s1}-v2`);
      expect(stopClientIdOfBrokerOrder(db, 'bo-2')).toBe(s2);
      expect(stopClientIdOfBrokerOrder(db, 'bo-none')).toBeUndefined();

      expect(stopRowsOf(db, [s3, s1, 'ct-stop-none']).map((r) => r.client_order_id).sort()).toEqual([s1, s3]);
      expect(stopRowsOf(db, [])).toEqual([]);

      // e1 and e2 are protected entries; e3's order row finished already.
      upsertOrderRow(db, orderRowOf({ id: 'e1', side: 'buy', state: 'protected' }));
      upsertOrderRow(db, orderRowOf({ id: 'e2', side: 'buy', state: 'placingStop' }));
      upsertOrderRow(db, orderRowOf({ id: 'e3', side: 'buy', state: 'exited', terminal: 1 }));
      updateStopRow(db, s1, { cancel_requested: 1 }, at(4));
      updateStopRow(db, s3, { cancel_requested: 1 }, at(4));
      expect(entriesWithCanceledStops(db)).toEqual(['e1']);
      expect(stopCanceledForClose(db, 'e1')).toBe(true);
      expect(stopCanceledForClose(db, 'e2')).toBe(false);
      expect(stopCanceledForClose(db, 'nope')).toBe(false);
    });
  });

  describe('order holders', () => {
    it('names the open orders holding a position from fields of orders.snapshot', () => {
      upsertOrderRow(db, orderRowOf({ id: 'tp-2', qty: '3', at: '2026-03-02T14:59:50.000Z' }));
      upsertOrderRow(db, orderRowOf({ id: 'tp-1', qty: '4', filled: '3' }));
      // The broker says more filled than our fills: what is left follows the broker.
      upsertOrderRow(db, orderRowOf({ id: 'tp-0', qty: '5', filled: '1', brokerFilled: '2', at: '2026-03-02T14:59:45.000Z' }));
      upsertOrderRow(db, orderRowOf({ id: 'stop-1', cid: 'ct-stop-e1' }));
      upsertOrderRow(db, orderRowOf({ id: 'bid', side: 'buy' }));
      upsertOrderRow(db, orderRowOf({ id: 'gone', status: 'canceled', terminal: 1 }));
      upsertOrderRow(db, orderRowOf({ id: 'final', status: 'filled', filled: '4' }));
      upsertOrderRow(db, orderRowOf({ id: 'full', qty: '4', filled: '4', status: 'partially_filled' }));
      upsertOrderRow(db, orderRowOf({ id: 'btc', symbol: 'BTC/USD', qty: null, status: 'accepted' }));
      upsertOrderRow(db, orderRowOf({ id: 'tsla', symbol: 'TSLA' }));

      expect(
        openOrdersHolding(db, [
          { symbol: 'AAPL', side: 'sell' },
          { symbol: 'BTC/USD', side: 'sell' },
        ]),
      ).toEqual(
        new Map([
          [
            'AAPL',
            [
              { orderId: 'tp-1', clientOrderId: 'user-tp-1', qty: '1' },
              { orderId: 'tp-0', clientOrderId: 'user-tp-0', qty: '3' },
              { orderId: 'tp-2', clientOrderId: 'user-tp-2', qty: '3' },
            ],
          ],
          // A notional order: JSON null, what it holds is not known.
          ['BTC/USD', [{ orderId: 'btc', clientOrderId: 'user-btc', qty: null }]],
        ]),
      );
      expect(openOrdersHolding(db, [{ symbol: 'AAPL', side: 'buy' }])).toEqual(new Map([['AAPL', [{ orderId: 'bid', clientOrderId: 'user-bid', qty: '4' }]]]));
      expect(openOrdersHolding(db, [])).toEqual(new Map());
    });
  });

  describe('cooldowns', () => {
    it('starts one cooldown per exit fill, finds the running one, lists and clears', () => {
      expect(startExitCooldown(db, { orderId: 'x1', cumQty: '5', symbol: 'AAPL' }, 10, at(0))).toEqual({ exitFillId: 'x1:5', symbol: 'AAPL', until: at(600) });
      expect(startExitCooldown(db, { orderId: 'x1', cumQty: '5', symbol: 'AAPL' }, 10, at(30))).toBeNull();
      expect(startExitCooldown(db, { orderId: 'x9', cumQty: '1', symbol: 'AAPL' }, 0, at(0))).toBeNull();
      expect(startCooldown(db, { exitFillId: 'x2:1', symbol: 'AAPL', startedAt: at(60), until: at(120) })).toBe(true);
      expect(startCooldown(db, { exitFillId: 'x2:1', symbol: 'AAPL', startedAt: at(61), until: at(999) })).toBe(false);
      startCooldown(db, { exitFillId: 'y1:1', symbol: 'MSFT', startedAt: at(10), until: at(20) });

      expect(activeCooldown(db, 'AAPL', at(100))).toEqual({ exit_fill_id: 'x1:5', symbol: 'AAPL', started_at: at(0).toISOString(), until: at(600).toISOString() });
      expect(activeCooldown(db, 'MSFT', at(20))).toBeUndefined();
      expect(listCooldowns(db).map((c) => c.exit_fill_id)).toEqual(['x2:1', 'y1:1', 'x1:5']);
      expect(listCooldowns(db, { activeAt: at(119) }).map((c) => c.exit_fill_id)).toEqual(['x2:1', 'x1:5']);

      expect(clearCooldowns(db, 'AAPL', at(119))).toBe(2);
      expect(activeCooldown(db, 'AAPL', at(119))).toBeUndefined();
      expect(clearCooldowns(db, 'AAPL', at(119))).toBe(0);
    });
  });

  describe('notifications outbox', () => {
    it('pending in insertion order per channel, delivery and failure marks, counts as numbers', () => {
      const n = (id: string) => ({ id, kind: 'fill', text: `text ${id}`, data: { id, qty: '1' } });
      // Same time: insertion order decides (ids deliberately not in alphabetical order).
      expect(insertNotification(db, n('n-c'), ['webhook', 'telegram'], at(0))).toBe(true);
      expect(insertNotification(db, n('n-a'), ['webhook', 'telegram'], at(0))).toBe(true);
      expect(insertNotification(db, n('n-b'), ['webhook'], at(0))).toBe(true);
      expect(insertNotification(db, n('n-0'), ['webhook'], at(-5))).toBe(true);
      // The same fact committed again adds nothing (and no second delivery row).
      expect(insertNotification(db, { ...n('n-a'), text: 'again' }, ['webhook'], at(9))).toBe(false);

      expect(pendingNotifications(db, 'webhook', 10).map((p) => p.id)).toEqual(['n-0', 'n-c', 'n-a', 'n-b']);
      expect(pendingNotifications(db, 'webhook', 2).map((p) => p.id)).toEqual(['n-0', 'n-c']);
      expect(pendingNotifications(db, 'telegram', 10)[1]).toEqual({ id: 'n-a', kind: 'fill', text: 'text n-a', data: JSON.stringify(n('n-a').data), created_at: at(0).toISOString(), attempts: 0 });
      expect(pendingCounts(db)).toEqual(new Map([['telegram', 2], ['webhook', 4]]));

      const retryAt = Date.now() + 30_000;
      markFailed(db, 'webhook', ['n-c', 'n-a'], 'HTTP 503 '.repeat(100), retryAt);
      const failed = db.all(
        db.kysely.selectFrom('notification_deliveries').select(['notification_id', 'attempts', 'next_attempt_at', 'last_error']).where('channel', '=', 'webhook').where('attempts', '>', 0).orderBy('notification_id'),
      );
      expect(failed.map((d) => [d.notification_id, d.attempts, d.next_attempt_at, d.last_error!.length])).toEqual([
        ['n-a', 1, retryAt, 500],
        ['n-c', 1, retryAt, 500],
      ]);
      expect(typeof failed[0]!.next_attempt_at).toBe('number');

      markDelivered(db, 'webhook', ['n-0', 'n-c'], at(20));
      markDelivered(db, 'webhook', [], at(20));
      expect(pendingNotifications(db, 'webhook', 10).map((p) => [p.id, p.attempts])).toEqual([
        ['n-a', 1],
        ['n-b', 0],
      ]);
      expect(pendingNotifications(db, 'telegram', 10).map((p) => p.id)).toEqual(['n-c', 'n-a']);
      expect(pendingCounts(db)).toEqual(new Map([['telegram', 2], ['webhook', 2]]));
      expect(db.first(db.kysely.selectFrom('notification_deliveries').select(['attempts', 'delivered_at', 'last_error']).where('notification_id', '=', 'n-c').where('channel', '=', 'webhook'))).toEqual({
        attempts: 2,
        delivered_at: at(20).toISOString(),
        last_error: null,
      });

      // History: newest first, the later inserted first among equal times; the rows as written.
      const history = listNotifications(db);
      expect(history.map((h) => h.id)).toEqual(['n-b', 'n-a', 'n-c', 'n-0']);
      expect(history[1]).toEqual({ id: 'n-a', kind: 'fill', text: 'text n-a', data: JSON.stringify(n('n-a').data), created_at: at(0).toISOString() });
      expect(listNotifications(db, { limit: 1 }).map((h) => h.id)).toEqual(['n-b']);
    });
  });

  describe('constraints', () => {
    it('check constraints and keys reject bad values', () => {
      expect(() => db.run(db.kysely.insertInto('fills').values(fillRow({ source: 'guess' })))).toThrow(CHECK);
      expect(() => db.run(db.kysely.insertInto('fills').values(fillRow({ side: 'short' })))).toThrow(CHECK);
      const cid = addStop(db, ask('e1'), at(0));
      expect(() => updateStopRow(db, cid, { status: 'lost' as any }, at(1))).toThrow(CHECK);
      expect(readStopRow(db, cid)!.status).toBe('pending');
      // A second row for the same stop is refused (its client order id is the key).
      expect(() => addStop(db, ask('e1'), at(2))).toThrow(UNIQUE);
      // A delivery row needs its notification.
      expect(() => db.run(db.kysely.insertInto('notification_deliveries').values({ notification_id: 'missing', channel: 'webhook', delivered_at: null, last_error: null }))).toThrow(
        /FOREIGN KEY constraint failed|violates foreign key constraint/,
      );
      expect(countFills(db)).toBe(0);
    });
  });
});
