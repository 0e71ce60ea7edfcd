import { closeSync, existsSync, openSync, readSync, rmSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { StartupRefusal } from '../startup-refusal.js';

/**
 * Demo mode's database: a fresh one each run (its fills come from a fresh simulator), so the last
 * run's is deleted at start. The demo deletes only what it created: its database carries SQLite's
 * `application_id` DEMO_APPLICATION_ID in its header, written when it is created (before WAL mode,
 * so a crash can never leave the mark only in a -wal file), and any other file at that path (a
 * ledger, a copy, anything) is refused, never deleted or overwritten.
 */
export const DEMO_APPLICATION_ID = 0x43544430; // "CTD0"

/**
 * Replaces the last demo run's database at `path` (its -wal/-shm too) with a new, empty, marked
 * one, or refuses if what is there is not the demo's. Call with the path's process lock held.
 */
export function freshDemoDatabase(path: string): void {
  const parts = ['', '-wal', '-shm'].map((suffix) => path + suffix);
  if (parts.some((p) => existsSync(p))) {
    if (!isDemoDatabase(path)) {
      throw new StartupRefusal(
        `demo mode will not delete ${path}: it is not a demo database this service created (it may be a ledger); move it away, or set CT_DB_PATH to a path in another folder`,
      );
    }
    for (const p of parts) rmSync(p, { force: true });
  }
  const created = new BetterSqlite3(path);
  try {
    created.pragma(`application_id = ${DEMO_APPLICATION_ID}`);
  } finally {
    created.close();
  }
}

function isDemoDatabase(path: string): boolean {
  if (!existsSync(path)) return false; // a -wal or -shm without its database: not ours to judge
  try {
    // The SQLite header: "SQLite format 3\0", then application_id big-endian at offset 68.
    const header = Buffer.alloc(100);
    const fd = openSync(path, 'r');
    let read: number;
    try {
      read = readSync(fd, header, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
    if (read < 100 || header.subarray(0, 16).toString('latin1') !== 'SQLite format 3\0') return false;
    return header.readUInt32BE(68) === DEMO_APPLICATION_ID;
  } catch {
    return false;
  }
}
