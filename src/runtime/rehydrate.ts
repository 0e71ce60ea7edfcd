import type { Snapshot } from 'xstate';
import type { Database } from '../store/database.js';
import { liveOrderRows, type LiveOrderRow } from '../store/order-rows.js';
import type { Logger } from '../log.js';
import { ORDER_MACHINE_VERSION, orderMachine } from '../../machines/order.machine.js';
import { orderSnapshotMigrations } from '../../machines/order.migrations.js';
import { orderActorId } from '../../machines/supervisor.machine.js';

const ORDER_STATES = new Set(Object.keys(orderMachine.root.states));

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

/**
 * The one place that assembles the supervisor's persisted snapshot from the orders table: one
 * child per non-terminal row, under the string src 'order' and systemId `order:<id>`, so
 * `createActor(supervisor, { snapshot })` restores every live order actor as it was.
 */
export function assembleSupervisorSnapshot(db: Database, log?: Logger): { snapshot: Snapshot<unknown>; restored: Restored[]; rebuild: Rebuild[] } {
  const children: Record<string, unknown> = {};
  const restored: Restored[] = [];
  const rebuild: Rebuild[] = [];
  for (const row of liveOrderRows(db)) {
    const result = migrate(row);
    if ('reason' in result) {
      rebuild.push({ orderId: row.order_id, reason: result.reason });
      continue;
    }
    const id = orderActorId(row.order_id);
    children[id] = { snapshot: result.snapshot, src: 'order', systemId: id, syncSnapshot: false };
    restored.push({
      orderId: row.order_id,
      json: row.machine_version === ORDER_MACHINE_VERSION ? row.snapshot : JSON.stringify(result.snapshot),
      state: row.state,
    });
  }
  log?.debug({ event: 'supervisor_assembled', restored: restored.length, rebuild: rebuild.length }, 'supervisor snapshot assembled');
  const snapshot = { status: 'active', value: 'running', historyValue: {}, children, output: undefined, error: undefined };
  return { snapshot: snapshot as unknown as Snapshot<unknown>, restored, rebuild };
}
