/**
 * Pure snapshot migrations for the order machine, keyed by the version a snapshot was written by:
 * each turns a version-N persisted snapshot into a version-(N+1) one. A version with no entry here
 * cannot be migrated, and its actor is rebuilt from the broker's order and the ledger instead.
 */
export type SnapshotMigration = (snapshot: Record<string, unknown>) => Record<string, unknown>;

export const orderSnapshotMigrations: Record<number, SnapshotMigration> = {};
