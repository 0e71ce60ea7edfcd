import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { readSyncState, writeSyncState } from '../src/store/sync-state.js';
import { countOrders } from '../src/store/order-counts.js';
import { insertFee } from '../src/store/fees.js';
import { ledgerPositions } from '../src/store/ledger.js';
import { migrationProvider } from '../src/store/migrations.js';
import { readStopRow } from '../src/store/stops.js';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';

const dirs: string[] = [];
const dbs: Database[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fileDb(): Promise<{ db: Database; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-store-'));
  dirs.push(dir);
  const path = join(dir, 'nested', 'ct.db');
  const db = await openDatabase(path);
  dbs.push(db);
  return { db, path };
}

const fill = (over: Partial<Record<string, string>> = {}) => ({
  order_id: 'o1',
  cum_qty: '1',
  qty: '1',
  price: '10',
  symbol: 'AAPL',
  side: 'buy' as const,
  exec_id: null,
  source: 'stream' as const,
  filled_at: '2026-01-01T00:00:00Z',
  recorded_at: '2026-01-01T00:00:00Z',
  ...over,
});

describe('store', () => {
  it('creates its folder, runs in WAL mode and applies every migration', async () => {
    const { db } = await fileDb();
    expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.sqlite
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name")
      .all()
      .map((r: any) => r.name);
    expect(tables).toEqual(['cooldowns', 'fees', 'fill_changes', 'fills', 'notification_deliveries', 'notifications', 'order_history', 'orders', 'stops', 'sync_state']);
    const applied = db.sqlite.prepare('select name from kysely_migration').all().map((r: any) => r.name);
    expect(applied).toEqual(['0001_initial', '0002_stop_orders', '0003_intents_by_broker_order', '0004_fills_by_symbol_time', '0005_reopen_non_final_orders', '0006_fees', '0007_notifications', '0008_stop_trail', '0009_stop_expiry', '0010_stops_table', '0011_fill_execution_id', '0012_fill_changes']);
  });

  it('migration 0010 renames a ledger\'s `intents` table to `stops`, its rows and indexes with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-store-0010-'));
    dirs.push(dir);
    const path = join(dir, 'old.db');
    // A ledger as the release before wrote it: every migration up to 0009, a stop row in `intents`.
    const sqlite = new BetterSqlite3(path);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0009_stop_expiry');
    expect(error).toBeUndefined();
    const at = '2026-03-02T15:00:00.000Z';
    await old.insertInto('intents').values({ client_order_id: 'ct-stop-e1', kind: 'protective_stop', entry_order_id: 'e1', symbol: 'AAPL', payload: '{}', status: 'confirmed', broker_order_id: 'b1', attempts: 0, current_client_order_id: 'ct-stop-e1', placed_qty: '4', expires_at: '2026-06-01T20:00:00.000Z', created_at: at, updated_at: at }).execute();
    await old.destroy();

    const db = await openDatabase(path);
    dbs.push(db);
    expect(readStopRow(db, 'ct-stop-e1')).toMatchObject({ entry_order_id: 'e1', status: 'confirmed', broker_order_id: 'b1', placed_qty: '4', expires_at: '2026-06-01T20:00:00.000Z' });
    const names = (type: string) => db.sqlite.prepare(`select name from sqlite_master where type = ? and name not like 'sqlite_%' order by name`).all(type).map((r: any) => r.name);
    expect(names('table')).not.toContain('intents');
    expect(names('index').filter((n: string) => /^(intents|stops)_/.test(n))).toEqual(['stops_broker_order_id', 'stops_status', 'stops_status_expires_at']);
  });

  it('migration 0011 keeps every fill (ids, identity, indexes), adds execution_id and the `event` source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-store-0011-'));
    dirs.push(dir);
    const path = join(dir, 'old.db');
    const sqlite = new BetterSqlite3(path);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0010_stops_table');
    expect(error).toBeUndefined();
    const row = (id: number, cum: string) => ({ id, order_id: 'o1', cum_qty: cum, qty: '1', price: '100', symbol: 'AAPL', side: 'buy', exec_id: `a${id}`, source: 'activity', filled_at: '2026-03-02T15:00:00Z', recorded_at: '2026-03-02T15:00:01Z' });
    await old.insertInto('fills').values([row(3, '1'), row(7, '2')]).execute();
    await old.destroy();

    const db = await openDatabase(path);
    dbs.push(db);
    const fills = db.sqlite.prepare('select id, cum_qty, exec_id, execution_id from fills order by id').all();
    expect(fills).toEqual([
      { id: 3, cum_qty: '1', exec_id: 'a3', execution_id: null },
      { id: 7, cum_qty: '2', exec_id: 'a7', execution_id: null },
    ]);
    // The identity still holds, the next id follows the kept ones, and `event` is a source now.
    expect(() => db.run(db.kysely.insertInto('fills').values({ ...fill(), order_id: 'o1', cum_qty: '2' }))).toThrow(/UNIQUE/);
    db.run(db.kysely.insertInto('fills').values({ ...fill(), order_id: 'o2', source: 'event', execution_id: 'x1' }));
    expect(db.sqlite.prepare("select id from fills where order_id = 'o2'").get()).toEqual({ id: 8 });
    expect(() => db.run(db.kysely.insertInto('fills').values({ ...fill(), order_id: 'o3', source: 'guess' as any }))).toThrow(/CHECK/);
    const indexes = db.sqlite.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'fills' and name not like 'sqlite_%' order by name").all().map((r: any) => r.name);
    expect(indexes).toEqual(['fills_execution_id', 'fills_filled_at', 'fills_symbol_filled_at', 'fills_symbol_id']);
  });

  it('migration 0012 keeps every fill, none busted or corrected, and adds the fill_changes history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-store-0012-'));
    dirs.push(dir);
    const path = join(dir, 'old.db');
    const sqlite = new BetterSqlite3(path);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0011_fill_execution_id');
    expect(error).toBeUndefined();
    const row = (id: number, cum: string) => ({ id, order_id: 'o1', cum_qty: cum, qty: '1', price: '100', symbol: 'AAPL', side: 'buy', exec_id: `a${id}`, source: 'event', execution_id: `x${id}`, filled_at: '2026-03-02T15:00:00Z', recorded_at: '2026-03-02T15:00:01Z' });
    await old.insertInto('fills').values([row(3, '1'), row(7, '2')]).execute();
    await old.destroy();

    const db = await openDatabase(path);
    dbs.push(db);
    expect(db.sqlite.prepare('select id, execution_id, busted, corrected from fills order by id').all()).toEqual([
      { id: 3, execution_id: 'x3', busted: 0, corrected: 0 },
      { id: 7, execution_id: 'x7', busted: 0, corrected: 0 },
    ]);
    const change = { ref_id: 'b1', event_id: 'E1', kind: 'bust', previous_id: 'x3', executed_at: '2026-03-02T15:05:00Z', recorded_at: '2026-03-02T15:05:01Z' };
    db.run(db.kysely.insertInto('fill_changes').values(change as any));
    // Keyed by the change's own execution id: the same change twice is refused; only busts and corrections.
    expect(() => db.run(db.kysely.insertInto('fill_changes').values({ ...change, event_id: 'E2' } as any))).toThrow(/UNIQUE/);
    expect(() => db.run(db.kysely.insertInto('fill_changes').values({ ...change, ref_id: 'b2', kind: 'fill' } as any))).toThrow(/CHECK/);
  });

  it('reopening an existing file migrates nothing twice and keeps the data', async () => {
    const { db, path } = await fileDb();
    db.run(db.kysely.insertInto('fills').values(fill()));
    await db.close();
    dbs.pop();
    const again = await openDatabase(path);
    dbs.push(again);
    expect(again.all(again.kysely.selectFrom('fills').selectAll())).toHaveLength(1);
  });

  it('enforces fill identity (order_id, cum_qty) at the database', async () => {
    const db = await openDatabase(':memory:');
    dbs.push(db);
    db.run(db.kysely.insertInto('fills').values(fill()));
    expect(() => db.run(db.kysely.insertInto('fills').values(fill({ exec_id: 'other' })))).toThrow(/UNIQUE/);
    db.run(db.kysely.insertInto('fills').values(fill({ cum_qty: '2' })));
    expect(db.all(db.kysely.selectFrom('fills').select('cum_qty').orderBy('id'))).toEqual([{ cum_qty: '1' }, { cum_qty: '2' }]);
  });

  it('rolls a transaction back whole when any statement fails', async () => {
    const db = await openDatabase(':memory:');
    dbs.push(db);
    expect(() =>
      db.transaction(() => {
        db.run(db.kysely.insertInto('fills').values(fill({ cum_qty: '5' })));
        writeSyncState(db, 'fill_watermark', 'w1');
        db.run(db.kysely.insertInto('fills').values(fill({ cum_qty: '5' })));
      }),
    ).toThrow();
    expect(db.all(db.kysely.selectFrom('fills').selectAll())).toHaveLength(0);
    expect(readSyncState(db, 'fill_watermark')).toBeNull();
  });

  it('keeps sync state and counts actors for /health', async () => {
    const db = await openDatabase(':memory:');
    dbs.push(db);
    writeSyncState(db, 'fill_watermark', 'a');
    writeSyncState(db, 'fill_watermark', 'b');
    expect(readSyncState(db, 'fill_watermark')).toBe('b');
    expect(countOrders(db)).toEqual({ active: 0, terminal: 0 });
    const row = (id: string, terminal: number) => ({
      order_id: id, client_order_id: id, symbol: 'AAPL', side: 'buy' as const, type: 'market', asset_class: 'us_equity',
      role: null, state: terminal ? 'done' : 'pending', terminal, filled_qty: '0', filled_avg_price: null, stop_order_id: null,
      machine_version: 1, snapshot: '{}', created_at: 'x', updated_at: 'x',
    });
    db.run(db.kysely.insertInto('orders').values([row('a', 0), row('b', 1), row('c', 0)]));
    expect(countOrders(db)).toEqual({ active: 2, terminal: 1 });
  });

  it('rejects values outside the checked domains', async () => {
    const db = await openDatabase(':memory:');
    dbs.push(db);
    expect(() => db.run(db.kysely.insertInto('fills').values(fill({ source: 'guess' as any })))).toThrow(/CHECK/);
  });

  it('records a crypto fee once, and the ledger position is the fills less the fees', async () => {
    const { db } = await fileDb();
    db.run(db.kysely.insertInto('fills').values(fill({ symbol: 'BTC/USD', qty: '0.5', cum_qty: '0.5' })));
    db.run(db.kysely.insertInto('fills').values(fill({ order_id: 'o2', symbol: 'AAPL', qty: '3', cum_qty: '3' })));
    const fee = { activityId: '20260101000000001::f1', symbol: 'BTC/USD', qty: '0.00125', price: '60000', at: '2026-01-01T05:00:00.001000000Z', timed: true };
    expect(insertFee(db, fee)).toBe(true);
    expect(insertFee(db, fee)).toBe(false);
    expect(ledgerPositions(db)).toEqual(new Map([['BTC/USD', '0.49875'], ['AAPL', '3']]));
    // A fee of a symbol without fills still counts (its fills are not known yet).
    insertFee(db, { ...fee, activityId: '20260101000000002::f2', symbol: 'ETH/USD', qty: '0.001' });
    expect(ledgerPositions(db).get('ETH/USD')).toBe('-0.001');
  });

  it('migration 0006 asks for the CFEEs a FILL-only watermark went past', async () => {
    const { db } = await fileDb();
    // As a database migrated before 0006 with a watermark would be: 0006 runs over it again.
    db.sqlite.exec("drop table fees; insert into sync_state (key, value, updated_at) values ('fill_watermark', '20260101000000001::x', 't')");
    await (await migrationProvider.getMigrations())['0006_fees']!.up(db.kysely);
    expect(readSyncState(db, 'fee_backfill_until')).toBe('20260101000000001::x');
  });
});

