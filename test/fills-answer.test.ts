import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnswerCache } from '../src/api/answer-cache.js';
import { fillRole, fillsPage } from '../src/api/fills.js';
import { ledgerBooks } from '../src/api/ledger-books.js';
import { encodeCursor } from '../src/api/query.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { openPgDatabase } from '../src/store/database-pg.js';
import { insertFills, noteExecutionId } from '../src/store/ledger.js';
import { applyChangeToFill, fillOfExecution, insertChange } from '../src/store/fill-changes.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';

/**
 * GET /fills's answer (src/api/fills.ts) on SQLite and PostgreSQL: SQLite writes each fill's stored
 * columns as JSON text (src/api/fill-json.ts), and the answer must be, byte for byte, what
 * JSON.stringify makes of the documented objects, whatever the stored strings hold. Answers are kept
 * while the database is unchanged (src/api/answer-cache.ts): any committed write, through this
 * store, its handle, or another connection, makes the next answer afresh.
 */
const SCHEMA = 'acct_test';
let cluster: PgCluster | undefined;
let pgSkip: string | undefined;

beforeAll(async () => {
  const started = await startPgCluster({ name: 'fills-answer' });
  if ('skip' in started) {
    pgSkip = started.skip;
    console.log(`fills-answer.test.ts: postgres cases skipped: ${pgSkip}`);
  } else {
    cluster = started.cluster;
  }
});
afterAll(async () => {
  await cluster?.stop();
});

type Dialect = 'sqlite' | 'postgres';

/** The answer as the route built it before the database wrote its JSON: objects, stringified. */
function reference(db: Database, limit: number): string {
  const rows = db.all(
    db.kysely
      .selectFrom('fills')
      .leftJoin('orders', 'orders.order_id', 'fills.order_id')
      .select(['fills.id', 'fills.order_id', 'fills.exec_id', 'fills.execution_id', 'fills.cum_qty', 'fills.qty', 'fills.price', 'fills.symbol', 'fills.side', 'fills.filled_at', 'fills.source', 'orders.role', 'orders.client_order_id', 'fills.busted', 'fills.corrected'])
      .orderBy('fills.id', 'desc')
      .limit(limit + 1),
  );
  const page = rows.slice(0, limit);
  const realized = ledgerBooks(db).realized;
  const changes = db.all(db.kysely.selectFrom('fill_changes').select(['fill_id', 'old_qty', 'old_price']).where('applied_at', 'is not', null).orderBy('event_id'));
  const original = (id: number) => changes.find((c) => c.fill_id === id);
  return JSON.stringify({
    fills: page.map(({ role, client_order_id, busted, corrected, ...stored }) => {
      const pnl = realized.get(stored.id) ?? null;
      return {
        ...stored,
        role: fillRole(client_order_id === null ? null : { role, client_order_id }, pnl !== null),
        realized_pnl: pnl,
        busted: busted !== 0,
        corrected: corrected !== 0,
        original_qty: corrected !== 0 ? (original(stored.id)?.old_qty ?? null) : null,
        original_price: corrected !== 0 ? (original(stored.id)?.old_price ?? null) : null,
      };
    }),
    next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null,
  });
}

describe.each<{ dialect: Dialect }>([{ dialect: 'sqlite' }, { dialect: 'postgres' }])('the /fills answer on $dialect', ({ dialect }) => {
  let db: Database;
  /** Where the database is: the SQLite file, or the PostgreSQL URL. */
  let where: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async (ctx) => {
    if (dialect === 'postgres' && pgSkip !== undefined) ctx.skip(pgSkip);
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'ct-fills-answer-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      where = join(dir, 'ct.db');
      db = await openDatabase(where);
    } else {
      const fresh = await freshDatabase(cluster!);
      cleanups.push(() => fresh.drop());
      where = fresh.url;
      db = await openPgDatabase({ url: fresh.url, schema: SCHEMA, applicationName: 'ct-fills-answer' });
    }
    cleanups.push(() => db.close());
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** Runs `statement` on a connection of its own to the same database, and closes it. */
  const fromAnotherConnection = async (statement: string) => {
    if (dialect === 'sqlite') {
      const other = new BetterSqlite3(where);
      other.prepare(statement).run();
      other.close();
      return;
    }
    const other = new pg.Client({ connectionString: where, options: `-c search_path=${SCHEMA}` });
    await other.connect();
    await other.query(statement);
    await other.end();
  };

  // Any text (PostgreSQL's text holds no NUL): quotes, backslashes, control characters, astral planes.
  const text = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => (dialect === 'postgres' ? s.replaceAll('\u0000', '') : s));
  const fill = fc.record({
    order_id: text,
    exec_id: fc.option(text),
    execution_id: fc.option(text),
    symbol: fc.constantFrom('AAPL', 'BTC/USD', 'é"\\\n'),
    filled_at: text,
    buy: fc.boolean(),
    qty: fc.integer({ min: 1, max: 5 }),
    price: fc.integer({ min: 90, max: 110 }),
    source: fc.constantFrom('stream' as const, 'activity' as const, 'event' as const),
    order: fc.option(fc.record({ client_order_id: fc.oneof(text, text.map((s) => `ct-${s}`)), role: fc.constantFrom('entry' as const, 'exit' as const, 'stop' as const, null) })),
    change: fc.constantFrom('none', 'busted', 'corrected'),
    original: text,
  });

  it('is the JSON of the documented fill objects, byte for byte, whatever the stored strings hold', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(fill, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 10 }), (fills, limit) => {
        run++;
        // Rows are only ever added to the ledger: each run adds its own (ids and identities unique to it).
        for (const [i, f] of fills.entries()) {
          const orderId = `${run}:${i}:${f.order_id}`;
          const { id } = db.all(
            db.kysely
              .insertInto('fills')
              .values({ order_id: orderId, cum_qty: `${i}${f.filled_at}`, qty: String(f.qty), price: String(f.price), symbol: f.symbol, side: f.buy ? 'buy' : 'sell', exec_id: f.exec_id, execution_id: f.execution_id, source: f.source, filled_at: f.filled_at, recorded_at: 'r', busted: f.change === 'busted' ? 1 : 0, corrected: f.change === 'corrected' ? 1 : 0 })
              .returning('id'),
          )[0]!;
          if (f.order) {
            const o = { order_id: orderId, client_order_id: f.order.client_order_id, symbol: f.symbol, side: 'buy' as const, type: 'market', asset_class: 'us_equity', role: f.order.role, state: 'filled', terminal: 1, filled_qty: '1', filled_avg_price: null, stop_order_id: null, machine_version: 1, snapshot: '{}', created_at: 'c', updated_at: 'u' };
            db.run(db.kysely.insertInto('orders').values(o));
          }
          if (f.change === 'corrected') {
            db.run(db.kysely.insertInto('fill_changes').values({ ref_id: `${run}:${i}`, event_id: `${run}:${i}`, kind: 'correct', previous_id: 'x', fill_id: id, order_id: orderId, symbol: f.symbol, side: 'buy', qty: '1', price: '1', old_qty: f.original, old_price: `${f.original}"`, new_qty: '1', new_price: '1', executed_at: 'e', recorded_at: 'r', applied_at: 'a' }));
          }
        }
        expect(fillsPage(db, { limit }).toString('utf8')).toBe(reference(db, limit));
      }),
      { numRuns: dialect === 'sqlite' ? 60 : 20 },
    );
  });

  it('writes a fill out again after its stored columns or its extras changed, however they changed', async () => {
    // SQLite keeps each fill's written-out row between answers (src/api/stored-fill-texts.ts); each
    // way the service changes a recorded fill, and an edit from another connection, must show.
    const at = '2026-03-02T15:00:00Z';
    insertFills(db, [
      { orderId: 'o1', symbol: 'AAPL', side: 'buy', cumQty: '1', qty: '1', price: '10', source: 'activity', execId: null, at },
      { orderId: 'o2', symbol: 'AAPL', side: 'sell', cumQty: '1', qty: '1', price: '12', source: 'stream', execId: null, executionId: 'x2', at },
    ]);
    const same = () => expect(fillsPage(db, { limit: 10 }).toString('utf8')).toBe(reference(db, 10));
    // Asked twice: the rows of a page asked again are kept.
    same();
    same();
    // A later report's execution id, kept on the row.
    expect(noteExecutionId(db, 'o1', '1', 'x1')).toBe(true);
    same();
    expect(fillsPage(db, { limit: 10 }).toString('utf8')).toContain('"execution_id":"x1"');
    // A correction: new terms, and the original ones beside them.
    const now = new Date(at);
    db.transaction(() => {
      insertChange(db, 'ev1', { type: 'correct', refId: 'c1', previousId: 'x1', qty: '2', price: '11', orderId: 'o1', symbol: 'AAPL', side: 'buy', at }, now);
      applyChangeToFill(db, 'c1', fillOfExecution(db, 'x1')!, { qty: '2', price: '11' }, true, now);
    });
    same();
    expect(fillsPage(db, { limit: 10 }).toString('utf8')).toContain('"qty":"2","price":"11"');
    // A bust of the other fill, then its order learned (its role).
    db.transaction(() => {
      insertChange(db, 'ev2', { type: 'bust', refId: 'b2', previousId: 'x2', qty: null, price: null, orderId: 'o2', symbol: 'AAPL', side: 'sell', at }, now);
      applyChangeToFill(db, 'b2', fillOfExecution(db, 'x2')!, null, true, now);
    });
    same();
    const order = { order_id: 'o2', client_order_id: 'ct-x', symbol: 'AAPL', side: 'sell' as const, type: 'market', asset_class: 'us_equity', role: 'exit' as const, state: 'filled', terminal: 1, filled_qty: '1', filled_avg_price: null, stop_order_id: null, machine_version: 1, snapshot: '{}', created_at: 'c', updated_at: 'u' };
    db.run(db.kysely.insertInto('orders').values(order));
    same();
    // Another connection's edit of a stored column.
    await fromAnotherConnection("update fills set exec_id = 'edited' where order_id = 'o2'");
    same();
    expect(fillsPage(db, { limit: 10 }).toString('utf8')).toContain('"exec_id":"edited"');
  });

  it('gives a kept answer again only while nothing was written, by whatever wrote it', async () => {
    const answers = new AnswerCache(db);
    let made = 0;
    const answer = () => Number(answers.answer('page', () => Buffer.from(String(++made))).toString());
    /** The next answer is made afresh (a new one) or the one kept (no new one). */
    const fresh = () => {
      const before = made;
      expect(answer()).toBe(before + 1);
    };
    const kept = () => {
      const before = made;
      expect(answer()).toBe(before);
      expect(made).toBe(before);
    };
    const fill = (cumQty: string) => ({ orderId: 'o1', symbol: 'AAPL', side: 'buy' as const, cumQty, qty: '1', price: '10', source: 'stream' as const, execId: null, at: '2026-03-02T15:00:00Z' });
    insertFills(db, [fill('1')]);
    fresh();
    kept();
    // Another key is answered on its own, and leaves this one kept.
    expect(answers.answer('other', () => Buffer.from('x')).toString()).toBe('x');
    kept();

    // Through the store.
    insertFills(db, [fill('2')]);
    fresh();
    kept();
    db.run(db.kysely.updateTable('fills').set({ busted: 1 }).where('cum_qty', '=', '2'));
    fresh();
    // A write that changes nothing leaves it kept.
    insertFills(db, [fill('2')]);
    kept();
    // Inside a transaction nothing is kept (what it wrote may roll back), and after it the answer is new.
    db.transaction(() => {
      db.run(db.kysely.updateTable('fills').set({ busted: 0 }).where('cum_qty', '=', '2'));
      fresh();
      fresh();
    });
    fresh();
    kept();

    // SQLite: the store's own handle, used directly.
    if (dialect === 'sqlite') {
      db.sqlite.prepare("update fills set exec_id = 'handle' where cum_qty = '1'").run();
      fresh();
      kept();
    }
    // Another connection's commit.
    await fromAnotherConnection("update fills set exec_id = 'other' where cum_qty = '1'");
    fresh();
    kept();
  });
});
