import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, writeSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StartupRefusal } from '../src/startup-refusal.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { acquireProcessLock } from '../src/store/process-lock.js';
import { startBot } from './support/bot-process.js';

const dirs: string[] = [];
const dbs: Database[] = [];
const procs: ChildProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
  }
  for (const db of dbs.splice(0)) await db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ct-safety-'));
  dirs.push(dir);
  return dir;
}

const mode = (path: string) => statSync(path).mode & 0o777;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function refusalOf(p: Promise<unknown>): Promise<StartupRefusal> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StartupRefusal);
  return err as StartupRefusal;
}

describe('database files', () => {
  it('creates the folder 0700 and the database, its -wal and -shm 0600', async () => {
    const dir = tempDir();
    const path = join(dir, 'a', 'b', 'ct.db');
    const db = await openDatabase(path);
    dbs.push(db);
    db.run(db.kysely.insertInto('sync_state').values({ key: 'k', value: 'v', updated_at: 'now' }));
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(true);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    expect(mode(`${path}-shm`)).toBe(0o600);
    expect(mode(`${path}.lock`)).toBe(0o600);
    expect(mode(`${path}.lock.holder`)).toBe(0o600);
    expect(mode(join(dir, 'a'))).toBe(0o700);
    expect(mode(join(dir, 'a', 'b'))).toBe(0o700);
  });

  it('leaves an existing folder alone but tightens an existing database and its leftovers to 0600', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const path = join(dir, 'ct.db');
    const first = await openDatabase(path);
    await first.close();
    chmodSync(path, 0o644);
    writeFileSync(`${path}.lock`, '');
    chmodSync(`${path}.lock`, 0o666);
    const db = await openDatabase(path);
    dbs.push(db);
    db.run(db.kysely.insertInto('sync_state').values({ key: 'k', value: 'v', updated_at: 'now' }));
    expect(mode(dir)).toBe(0o755);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    expect(mode(`${path}-shm`)).toBe(0o600);
    expect(mode(`${path}.lock`)).toBe(0o600);
  });

  it('an open error names the absolute path and refuses the start', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain-file'), 'not a folder');
    const path = join(dir, 'plain-file', 'ct.db');
    const err = await refusalOf(openDatabase(path));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^cannot /);
    expect(err.message).toContain(resolve(path));
    expect(err.message).toMatch(/\((ENOTDIR|EEXIST|SQLITE_CANTOPEN)\)$/);
  });

  it('a folder where the database should be is refused as unable to open, naming the path', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    mkdirSync(path);
    const err = await refusalOf(openDatabase(path));
    expect(err.message).toBe(`cannot open database at ${path}: unable to open database file (SQLITE_CANTOPEN)`);
    expect(mode(path) & 0o100).toBe(0o100); // not "tightened" into an unusable folder
  });

  it('a file that is not a database is refused with its path', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    writeFileSync(path, 'x'.repeat(4096));
    const err = await refusalOf(openDatabase(path));
    expect(err.message).toBe(`cannot open database at ${path}: file is not a database (SQLITE_NOTADB)`);
    expect(readFileSync(path, 'utf8')).toBe('x'.repeat(4096));
    // The lock went with the failed open.
    acquireProcessLock(path).release();
  });

  it('in-memory databases take no lock and may be opened side by side', async () => {
    const a = await openDatabase(':memory:');
    const b = await openDatabase(':memory:');
    dbs.push(a, b);
    expect(a.sqlite.pragma('journal_mode', { simple: true })).toBe('memory');
  });
});

describe('a database from a newer version', () => {
  it('is refused, naming the migration, and left exactly as it was', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    const db = await openDatabase(path);
    db.run(db.kysely.insertInto('sync_state').values({ key: 'k', value: 'v', updated_at: 'now' }));
    await db.close();
    const raw = new BetterSqlite3(path);
    raw.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('9999_from_the_future', new Date().toISOString());
    raw.close();
    const before = sha(path);
    const tables = () => {
      const d = new BetterSqlite3(path, { readonly: true });
      const names = d.prepare("select name from sqlite_master order by name").all();
      const applied = d.prepare('select name from kysely_migration order by name').all();
      d.close();
      return { names, applied };
    };
    const schemaBefore = tables();
    const hashAfterTables = sha(path);
    expect(hashAfterTables).toBe(before);

    const err = await refusalOf(openDatabase(path));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(
      `database at ${path} was written by a newer version of crazy-trade (migration 9999_from_the_future); upgrade, or point CT_DB_PATH elsewhere`,
    );
    expect(sha(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(tables()).toEqual(schemaBefore);
    // Refusing released the lock.
    acquireProcessLock(path).release();
  });
});

describe('one process per database (in process)', () => {
  it('a second open of the same file is refused while the first is open, and allowed after close', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    const db = await openDatabase(path);
    const err = await refusalOf(openDatabase(join(dir, '.', 'ct.db')));
    expect(err.message).toMatch(
      new RegExp(
        `^database ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another crazy-trade process \\(pid ${process.pid} on host ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); stop it first or point CT_DB_PATH elsewhere$`,
      ),
    );
    // The refused open did not disturb the holder's lock.
    await refusalOf(openDatabase(path));
    await db.close();
    expect(existsSync(`${path}.lock.holder`)).toBe(false);
    const again = await openDatabase(path);
    dbs.push(again);
  });

  it('without a readable holder file the refusal still names the database', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    const lock = acquireProcessLock(path);
    rmSync(`${path}.lock.holder`);
    const err = await refusalOf(Promise.resolve().then(() => acquireProcessLock(path)));
    expect(err.message).toBe(
      `database ${path} is in use by another crazy-trade process (holder unknown: ${path}.lock.holder is missing or stale); stop it first or point CT_DB_PATH elsewhere`,
    );
    lock.release();
  });

  it('a lock taken up front is used by openDatabase and released with it', async () => {
    const dir = tempDir();
    const path = join(dir, 'demo.db');
    const lock = acquireProcessLock(path);
    await refusalOf(openDatabase(path));
    const db = await openDatabase(path, { lock });
    await refusalOf(Promise.resolve().then(() => acquireProcessLock(path)));
    await db.close();
    lock.release(); // idempotent
    acquireProcessLock(path).release();
  });

  it('a lock for another path is a programming error', async () => {
    const dir = tempDir();
    const lock = acquireProcessLock(join(dir, 'a.db'));
    await expect(openDatabase(join(dir, 'b.db'), { lock })).rejects.toThrow(/guards/);
    lock.release();
  });
});

interface Holder {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  held: Promise<void>;
}

function holdDb(path: string): Holder {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve('test/support/hold-db.ts'), path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const held = new Promise<void>((res, rej) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('held')) res();
    });
    void exited.then(({ code, signal }) => rej(new Error(`holder exited (${code ?? signal}) before holding: ${err}`)));
  });
  held.catch(() => {});
  return { proc, out: () => out, err: () => err, exited, held };
}

describe('one process per database (real processes)', () => {
  it('refuses a second process naming the holder, and a SIGKILLed holder does not block the next start', async () => {
    const dir = tempDir();
    const path = join(dir, 'data', 'ct.db');
    const first = holdDb(path);
    await first.held;

    const second = holdDb(path);
    const { code } = await second.exited;
    expect(code).toBe(2);
    const line = second.err().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain(`crazy-trade: database ${path} is in use by another crazy-trade process (pid ${first.proc.pid} on host ${hostname()}, since `);
    expect(line).toContain('; stop it first or point CT_DB_PATH elsewhere');
    expect(first.proc.exitCode).toBeNull();
    expect(first.proc.signalCode).toBeNull();

    // Killed without any chance to clean up: the holder file stays behind, the lock does not.
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(existsSync(`${path}.lock.holder`)).toBe(true);
    const taken = Date.now();
    acquireProcessLock(path).release();
    expect(Date.now() - taken).toBeLessThan(2_000);

    const t0 = Date.now();
    const third = holdDb(path);
    await third.held;
    // Spawning node + tsx dominates; the lock itself is taken at once.
    expect(Date.now() - t0).toBeLessThan(5_000);
    const holder = JSON.parse(readFileSync(`${path}.lock.holder`, 'utf8'));
    expect(holder.pid).toBe(third.proc.pid);

    // A clean stop removes the holder file and frees the database.
    third.proc.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(existsSync(`${path}.lock.holder`)).toBe(false);
    const db = await openDatabase(path);
    dbs.push(db);
  }, 60_000);

  it('the time to take over after a SIGKILL is the time to start, not a timeout', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'd'));
    const path = join(dir, 'd', 'ct.db');
    // Baseline: a start on a free database.
    let t0 = Date.now();
    const base = holdDb(path);
    await base.held;
    const baseline = Date.now() - t0;
    base.proc.kill('SIGKILL');
    await base.exited;

    t0 = Date.now();
    const next = holdDb(path);
    await next.held;
    const takeover = Date.now() - t0;
    // Under 2 s beyond a normal start (no busy-wait on a dead holder's lock).
    expect(takeover).toBeLessThan(baseline + 2_000);
  }, 60_000);
});

/** A ledger of some size, closed cleanly (no -wal left): `pages` pages of 4 KiB. */
async function ledgerFile(path: string): Promise<number> {
  const db = await openDatabase(path);
  db.sqlite.exec('create table filler (id integer primary key, body text)');
  const insert = db.sqlite.prepare('insert into filler (body) values (?)');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run(`row ${i} `.padEnd(300, 'x'));
  });
  await db.close();
  return statSync(path).size / 4096;
}

/** The env of a real (non-demo) start whose broker is never reached: the database is refused first. */
const realStart = (dbPath: string) => ({
  APCA_API_KEY_ID: 'PKTESTNEVERSENT',
  APCA_API_SECRET_KEY: 'never-sent-secret-0123456789',
  ALPACA_API_URL: 'http://127.0.0.1:9',
  ALPACA_STREAM_URL: 'ws://127.0.0.1:9',
  ALPACA_DATA_URL: 'http://127.0.0.1:9',
  CT_DB_PATH: dbPath,
  CT_API_PORT: '0',
});

describe('bad databases are refused at start, with one line saying what to do, and nothing left behind', () => {
  it('a corrupt page in the middle of the file (PRAGMA quick_check at open): exit 2, the file untouched, no -wal/-shm', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    const pages = await ledgerFile(path);
    expect(pages).toBeGreaterThan(100);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(pages / 2) * 4096);
    closeSync(fd);
    const before = sha(path);

    const err = await refusalOf(openDatabase(path));
    expect(err.message).toMatch(new RegExp(`^database at ${path} is corrupt \\(.+\\): keep the file, and restore the ledger from a backup, or move it away to start a new one$`));
    expect(sha(path)).toBe(before);
    for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(path + suffix)).toBe(false);

    // The whole start: exit 2, that one line on stderr, before any broker request.
    const bot = startBot(realStart(path));
    procs.push(bot.proc);
    expect((await bot.exited).code).toBe(2);
    const lines = bot.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`database at ${path} is corrupt`);
    expect(sha(path)).toBe(before);
    for (const suffix of ['-wal', '-shm']) expect(existsSync(path + suffix)).toBe(false);
  }, 30_000);

  it('a read-only database: exit 2 naming the path and the chmod, no -wal/-shm left, and the start works once the mode is fixed', async () => {
    const dir = tempDir();
    const path = join(dir, 'ct.db');
    await ledgerFile(path);
    // Root may write any file; the bot runs as root without that override (setpriv), so the 0400 mode binds it.
    const asRoot = process.getuid?.() === 0;
    const user = { modesBind: asRoot };
    chmodSync(path, 0o400);

    const bot = startBot(realStart(path), user);
    procs.push(bot.proc);
    expect((await bot.exited).code).toBe(2);
    const lines = bot.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`crazy-trade: cannot open database at ${path}: the file is not writable by this user (mode 0400, EACCES): chmod u+rw ${path}, or run as its owner`);
    for (const suffix of ['-wal', '-shm']) expect(existsSync(path + suffix)).toBe(false);

    // Fixed: the next start opens it (it goes on to the broker, which is not there; the database is past).
    chmodSync(path, 0o600);
    const next = startBot(realStart(path), user);
    procs.push(next.proc);
    await next.waitFor((l) => l.event === 'store_opened', 20_000);
  }, 40_000);
});
