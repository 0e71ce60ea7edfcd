import type { Snapshot } from 'xstate';
import type { Database } from '../store/database.js';
import { liveOrderHeads, liveOrderRow, liveOrderRows, type LiveOrderRow } from '../store/order-rows.js';
import type { Logger } from '../log.js';
import { ORDER_MACHINE_VERSION, orderMachine } from '../../machines/order.machine.js';
import { orderSnapshotMigrations } from '../../machines/order.migrations.js';
import { orderActorId } from '../../machines/supervisor.machine.js';

const ORDER_STATES = new Set(Object.keys(orderMachine.root.states));
/** States an actor can be restored into and go on from (a row in a final one is rebuilt: migration 0005 reopens such rows). */
const NON_FINAL_STATES = new Set(Object.entries(orderMachine.root.states).filter(([, node]) => node.type !== 'final').map(([name]) => name));

/** A state value as one string ("placingStop", or "a.b" for nested values). */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}.${stateName(v)}`)
      .join(',');
  }
  return String(value);
}

export interface Restored {
  orderId: string;
  json: string;
  state: string;
}

/** A row whose snapshot cannot come back as it is: rebuilt from the broker's order and the ledger. */
export interface Rebuild {
  orderId: string;
  reason: string;
}

/** Brings a persisted snapshot to the current machine version, or says why it cannot. */
function migrate(row: LiveOrderRow): { snapshot: Record<string, unknown> } | { reason: string } {
  let snapshot: Record<string, unknown>;
  try {
    snapshot = JSON.parse(row.snapshot) as Record<string, unknown>;
  } catch {
    return { reason: 'snapshot is not JSON' };
  }
  for (let v = row.machine_version; v < ORDER_MACHINE_VERSION; v++) {
    const step = orderSnapshotMigrations[v];
    if (!step) return { reason: `no migration from machine version ${v}` };
    snapshot = step(snapshot);
  }
  if (row.machine_version > ORDER_MACHINE_VERSION) return { reason: `written by a newer machine (version ${row.machine_version})` };
  // Restoring into a state that no longer exists yields status "error" without throwing; for this
  // flat machine that is exactly "value is not one of its states" (checked without restoring twice).
  if (snapshot.status !== 'active' || typeof snapshot.value !== 'string' || !ORDER_STATES.has(snapshot.value)) {
    return { reason: `snapshot would restore with status error (state ${JSON.stringify(snapshot.value)})` };
  }
  if (typeof snapshot.context !== 'object' || snapshot.context === null) return { reason: 'snapshot has no context' };
  return { snapshot };
}

/** A live order's snapshot brought to the current machine version, ready to restore its actor. */
export interface Restorable {
  snapshot: Record<string, unknown>;
  /** What is on disk for it (the commit step rewrites the row only when a snapshot differs). */
  json: string;
  state: string;
}

/** One live row restorable as it is, or why it is not. */
function restorable(row: LiveOrderRow): Restorable | { reason: string } {
  const result = migrate(row);
  if ('reason' in result) return result;
  return {
    snapshot: result.snapshot,
    json: row.machine_version === ORDER_MACHINE_VERSION ? row.snapshot : JSON.stringify(result.snapshot),
    state: row.state,
  };
}

/**
 * One dormant order's snapshot, read when an event first reaches it (`OrderActors.wake`): null when
 * its row is gone or terminal (nothing to restore).
 */
export function restorableOrder(db: Database, orderId: string): Restorable | { reason: string } | null {
  const row = liveOrderRow(db, orderId);
  return row ? restorable(row) : null;
}

/**
 * The one place that assembles the supervisor's persisted snapshot from the orders table: one
 * child per non-terminal row restored now, under the string src 'order' and systemId `order:<id>`,
 * so `createActor(supervisor, { snapshot })` restores those order actors as they were.
 * `lazy`: rows of the current machine version in a non-final state it has (the `state` column,
 * written with the snapshot it names) are not read further nor restored now, but left `dormant`
 * (order id → state): each is restored when an event first reaches it (`OrderActors.wake`; an
 * actor holds no timers or invoked work, so until then it is its row). The rest (older versions,
 * unknown or final states) are read whole and migrated now, or set aside for rebuild.
 */
export function assembleSupervisorSnapshot(
  db: Database,
  log?: Logger,
  opts: { lazy: boolean } = { lazy: false },
): { snapshot: Snapshot<unknown>; restored: Restored[]; rebuild: Rebuild[]; dormant: Map<string, string> } {
  const children: Record<string, unknown> = {};
  const restored: Restored[] = [];
  const rebuild: Rebuild[] = [];
  const dormant = new Map<string, string>();
  const rows: LiveOrderRow[] = [];
  if (opts.lazy) {
    for (const head of liveOrderHeads(db)) {
      if (head.machine_version === ORDER_MACHINE_VERSION && NON_FINAL_STATES.has(head.state)) dormant.set(head.order_id, head.state);
      else {
        const row = liveOrderRow(db, head.order_id);
        if (row) rows.push(row);
      }
    }
  } else rows.push(...liveOrderRows(db));
  for (const row of rows) {
    const result = restorable(row);
    if ('reason' in result) {
      rebuild.push({ orderId: row.order_id, reason: result.reason });
      continue;
    }
    const id = orderActorId(row.order_id);
    children[id] = { snapshot: result.snapshot, src: 'order', systemId: id, syncSnapshot: false };
    restored.push({ orderId: row.order_id, json: result.json, state: result.state });
  }
  log?.debug({ event: 'supervisor_assembled', restored: restored.length, dormant: dormant.size, rebuild: rebuild.length }, 'supervisor snapshot assembled');
  const snapshot = { status: 'active', value: 'running', historyValue: {}, children, output: undefined, error: undefined };
  return { snapshot: snapshot as unknown as Snapshot<unknown>, restored, rebuild, dormant };
}
