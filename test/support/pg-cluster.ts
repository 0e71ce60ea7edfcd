import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A PostgreSQL server for tests. Plain TypeScript (no vitest), so tests and `tsx` scripts share it.
 *
 * - `CT_TEST_PG_URL` set: that server (one where we may CREATE DATABASE) is used as is; stop() leaves it alone.
 * - Otherwise a throwaway cluster from Debian's `postgresql` package (/usr/lib/postgresql/<highest>/bin):
 *   initdb into a temp dir, C collation (text orders as in SQLite), trust auth, fsync off, listening on a
 *   free 127.0.0.1 port with its Unix socket in the temp dir (never the system server's). As root (here
 *   and in CI) the server runs as the `postgres` user, which PostgreSQL insists on.
 * - Neither: `{ skip }`, or an Error when `CT_REQUIRE_PG=1` (CI), so the PostgreSQL tests are never skipped there.
 */
export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/DBNAME */
  url: string;
  stop(): Promise<void>;
}

export const PG_ROOT = '/usr/lib/postgresql';

export const NO_PG_MESSAGE =
  'PostgreSQL tests skipped: no initdb under /usr/lib/postgresql/*/bin and CT_TEST_PG_URL is not set (apt-get install postgresql)';

/** True when CT_REQUIRE_PG=1: a missing PostgreSQL fails instead of skipping. */
export function pgRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CT_REQUIRE_PG === '1';
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The bin dir of the highest installed version that has initdb, pg_ctl and postgres, or undefined. */
export function findPgBin(root: string = PG_ROOT): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return undefined;
  }
  const byVersion = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => {
      const [a1 = 0, a2 = 0] = a.split('.').map(Number);
      const [b1 = 0, b2 = 0] = b.split('.').map(Number);
      return b1 - a1 || b2 - a2;
    });
  for (const v of byVersion) {
    const bin = join(root, v, 'bin');
    if (['initdb', 'pg_ctl', 'postgres'].every((p) => isExecutable(join(bin, p)))) return bin;
  }
  return undefined;
}

/** A loopback port free right now (a small race with other processes remains; start retries). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** uid/gid of the `postgres` system user, via `id`, or undefined when there is none. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  const u = Number(uid.stdout.trim());
  const g = Number(gid.stdout.trim());
  return Number.isInteger(u) && Number.isInteger(g) ? { uid: u, gid: g } : undefined;
}

/** [cmd, args] for a server binary: through `runuser -u postgres --` when we are root. */
function asServerUser(asRoot: boolean, cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** Runs a command to its end, output captured; rejects with the output on a non-zero exit. */
function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${[cmd, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.trim()}`));
    });
  });
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Single-quoted for the shell pg_ctl runs the server's -o options through. */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Clusters started and not yet stopped; the exit hook stops these. */
const live = new Set<{ stopSync(): void }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of [...live]) c.stopSync();
  });
}

/**
 * `own`: a throwaway cluster even when CT_TEST_PG_URL names a server (the helper's own test, which
 * stops what it started).
 */
export async function startPgCluster(opts: { name?: string; own?: boolean } = {}): Promise<{ cluster: PgCluster } | { skip: string }> {
  const external = process.env.CT_TEST_PG_URL;
  if (!opts.own && external !== undefined && external !== '') {
    return { cluster: { url: external, stop: async () => {} } };
  }

  const bin = findPgBin();
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? postgresUser() : undefined;
  const unavailable =
    bin === undefined
      ? NO_PG_MESSAGE
      : asRoot && user === undefined
        ? `PostgreSQL tests skipped: running as root and there is no \`postgres\` user for the server to run as (apt-get install postgresql creates it), and CT_TEST_PG_URL is not set`
        : undefined;
  if (unavailable !== undefined) {
    if (pgRequired()) throw new Error(`${unavailable} (CT_REQUIRE_PG=1)`);
    return { skip: unavailable };
  }

  // The postgres user must reach the dir: under root, a TMPDIR it cannot traverse falls back to /tmp.
  let base = tmpdir();
  if (asRoot) {
    try {
      if ((statSync(base).mode & 0o001) === 0) base = '/tmp';
    } catch {
      base = '/tmp';
    }
  }
  const tag = (opts.name ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20);
  const dir = mkdtempSync(join(base, `ct-pg-${tag ? `${tag}-` : ''}`));
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  const initdb = join(bin!, 'initdb');
  const pgCtl = join(bin!, 'pg_ctl');

  let started = false;
  const stopSync = () => {
    live.delete(handle);
    if (started) {
      const [c, a] = asServerUser(asRoot, pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
      const r = spawnSync(c, a, { cwd: dir, stdio: 'ignore', timeout: 30_000 });
      if (r.status !== 0) killPostmaster(data);
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const handle = { stopSync };
  live.add(handle);
  installExitHook();

  try {
    if (asRoot) chownSync(dir, user!.uid, user!.gid);
    {
      const [c, a] = asServerUser(asRoot, initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '--encoding=UTF8', '-N']);
      await run(c, a, dir);
    }
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const serverOpts = `-h 127.0.0.1 -p ${port} -k ${shq(dir)} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
      const [c, a] = asServerUser(asRoot, pgCtl, ['-D', data, '-l', log, '-w', '-o', serverOpts, 'start']);
      try {
        started = true; // from here on a stop is due even if pg_ctl gave up half way
        await run(c, a, dir);
        break;
      } catch (err) {
        // Most likely someone took the port between freePort() and the bind: try another one.
        if (attempt >= 3 || !/could not bind|could not create any TCP\/IP sockets|address already in use/i.test(tail(log))) {
          throw new Error(`${(err as Error).message}\n--- server log ---\n${tail(log)}`);
        }
        killPostmaster(data);
      }
    }

    let stopping: Promise<void> | undefined;
    const cluster: PgCluster = {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      stop() {
        stopping ??= (async () => {
          live.delete(handle);
          if (started) {
            const [c, a] = asServerUser(asRoot, pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
            await run(c, a, dir).catch(() => killPostmaster(data));
            started = false;
          }
          rmSync(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
    return { cluster };
  } catch (err) {
    stopSync();
    throw err;
  }
}

/** Last resort when pg_ctl cannot stop it: SIGQUIT (immediate shutdown) to the postmaster in postmaster.pid. */
function killPostmaster(data: string): void {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    // no pid file or no such process: nothing running
  }
}

/** The URL with its database (path) replaced, query string kept. */
function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a server going away mid-call surfaces through the query instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A fresh empty database `ct_<8 hex>` on the cluster, C collation and UTF8 even on a CT_TEST_PG_URL server
 * whose default differs. drop() removes it (WITH (FORCE): open connections to it are cut), and may be called twice.
 */
export async function freshDatabase(cluster: PgCluster): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ct_${randomBytes(4).toString('hex')}`;
  await admin(cluster.url, (c) =>
    c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`),
  );
  let dropping: Promise<void> | undefined;
  return {
    url: withDatabase(cluster.url, name),
    drop() {
      dropping ??= admin(cluster.url, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
      return dropping;
    },
  };
}
