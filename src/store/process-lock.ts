import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { StartupRefusal } from '../startup-refusal.js';

/**
 * One process per database. The lock is an OS lock, not a pid file: `<db>.lock` is a tiny SQLite
 * database held in exclusive locking mode with a committed write, so SQLite keeps an fcntl write
 * lock on it for the life of the connection and the kernel drops it the moment the holder exits,
 * however it exits (SIGKILL, OOM, power loss). Who holds it is written to `<db>.lock.holder` for
 * the refusal message only; a stale holder file left by a killed process is harmless because the
 * lock, not the file, decides.
 *
 * POSIX record locks belong to the process and vanish when *any* descriptor of the file is closed,
 * so nothing here opens `<db>.lock` except through SQLite (which keeps such descriptors open while
 * a lock is held); permissions are fixed by path.
 */
export interface ProcessLock {
  /** Absolute path of the database this lock guards. */
  readonly dbPath: string;
  readonly lockPath: string;
  /** Drops the lock (and the holder file). Idempotent. */
  release(): void;
}

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
}

const PRIVATE_FILE = 0o600;
const PRIVATE_DIR = 0o700;

/**
 * `cannot open database at <path>: [<context>: ]<reason> (<code>)`, a StartupRefusal: a human must
 * fix the path or its permissions.
 */
export function openFailure(path: string, err: unknown, context?: string): StartupRefusal {
  const e = err as NodeJS.ErrnoException & { code?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  let reason = e instanceof Error ? e.message : String(err);
  // Node's fs messages repeat the code in front: "ENOTDIR: not a directory, mkdir '/x'".
  if (code && reason.startsWith(`${code}: `)) reason = reason.slice(code.length + 2);
  return new StartupRefusal(`cannot open database at ${path}: ${context ? `${context}: ` : ''}${reason}${code ? ` (${code})` : ''}`);
}

/** Creates the folder for `file` (0700 for each folder it creates; existing ones are left alone). */
export function ensurePrivateDir(file: string): void {
  const dir = dirname(file);
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  if (first === undefined) return;
  // mkdir's mode is filtered by the umask; set it exactly on what we created.
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, PRIVATE_DIR);
    if (d === first || dirname(d) === d) break;
  }
}

/**
 * Makes `path` exist with mode 0600, or tightens an existing file to 0600. An existing file is
 * only touched by path (chmod), never opened, so no lock this process holds on it is disturbed.
 */
export function ensurePrivateFile(path: string): void {
  try {
    const fd = openSync(path, 'wx', PRIVATE_FILE);
    try {
      fchmodSync(fd, PRIVATE_FILE);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    tightenIfPresent(path);
  }
}

/**
 * Drops group/other permissions from an existing regular file (chmod by path, so no descriptor is
 * opened); ignores a missing path and leaves anything that is not a regular file to fail later.
 */
export function tightenIfPresent(path: string): void {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return;
    mode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((mode & ~PRIVATE_FILE) !== 0) chmodSync(path, mode & PRIVATE_FILE);
}

const isBusy = (err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
};

/**
 * Takes the process lock for the database at `dbPath` (not `:memory:`), creating its folder if
 * need be. Synchronous and immediate: throws StartupRefusal naming the holder if another process
 * (or another open in this process) holds it. Take it before touching the database files.
 */
export function acquireProcessLock(dbPath: string): ProcessLock {
  if (dbPath === ':memory:') throw new Error('an in-memory database has no process lock');
  const abs = resolve(dbPath);
  const lockPath = `${abs}.lock`;
  const holderPath = `${lockPath}.holder`;

  let conn: BetterSqlite3.Database;
  try {
    ensurePrivateDir(abs);
  } catch (err) {
    throw openFailure(abs, err);
  }
  try {
    ensurePrivateFile(lockPath);
    conn = new BetterSqlite3(lockPath);
  } catch (err) {
    throw openFailure(abs, err, `its lock file ${lockPath}`);
  }
  try {
    conn.pragma('busy_timeout = 0');
    conn.pragma('locking_mode = EXCLUSIVE');
    // No journal file beside the lock: there is nothing in here worth rolling back.
    conn.pragma('journal_mode = MEMORY');
    const me: LockHolder = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
    // The first write takes SQLite's EXCLUSIVE lock; in exclusive locking mode it is kept after
    // COMMIT until the connection closes.
    conn.exec('BEGIN EXCLUSIVE');
    conn.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, started_at TEXT NOT NULL)');
    conn.exec('DELETE FROM holder');
    conn.prepare('INSERT INTO holder (pid, host, started_at) VALUES (?, ?, ?)').run(me.pid, me.host, me.started_at);
    conn.exec('COMMIT');
    writeHolder(holderPath, me);
  } catch (err) {
    closeQuietly(conn);
    if (isBusy(err)) throw refusal(abs, holderPath);
    throw openFailure(abs, err, `its lock file ${lockPath}`);
  }

  let released = false;
  return {
    dbPath: abs,
    lockPath,
    release() {
      if (released) return;
      released = true;
      // Still holding the lock, so the holder file is ours to remove.
      try {
        rmSync(holderPath, { force: true });
      } catch {
        // informational only
      }
      closeQuietly(conn);
    },
  };
}

function closeQuietly(conn: BetterSqlite3.Database): void {
  try {
    conn.close();
  } catch {
    // nothing to do: the OS drops the lock with the descriptor at the latest at exit
  }
}

function writeHolder(path: string, holder: LockHolder): void {
  // Write-then-rename so a refused starter never reads half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', PRIVATE_FILE);
  try {
    fchmodSync(fd, PRIVATE_FILE);
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The holder as recorded, or null if the file is missing, unreadable or (on this host) names a dead process. */
export function readLockHolder(dbPath: string): LockHolder | null {
  const path = `${resolve(dbPath)}.lock.holder`;
  let holder: LockHolder;
  try {
    if (!existsSync(path)) return null;
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.started_at !== 'string') return null;
    holder = { pid: parsed.pid, host: parsed.host, started_at: parsed.started_at };
  } catch {
    return null;
  }
  if (holder.host === hostname() && !alive(holder.pid)) return null;
  return holder;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function refusal(abs: string, holderPath: string): StartupRefusal {
  // The holder writes its file right after taking the lock: if we raced it (no file yet, or a
  // stale one from a killed predecessor), give it a moment.
  let holder = readLockHolder(abs);
  for (let i = 0; !holder && i < 10; i++) {
    sleepSync(50);
    holder = readLockHolder(abs);
  }
  const who = holder
    ? `pid ${holder.pid} on host ${holder.host}, since ${holder.started_at}`
    : `holder unknown: ${holderPath} is missing or stale`;
  return new StartupRefusal(
    `database ${abs} is in use by another crazy-trade process (${who}); stop it first or point CT_DB_PATH elsewhere`,
  );
}
