import { createActor, type Actor } from 'xstate';
import type { Database } from '../store/database.js';
import type { StoredStopRow } from '../store/stops.js';
import type { StopRow } from '../domain/protection.js';
import { stopMachine, type StopTaken } from '../../machines/stop.machine.js';
import type { StopEvent } from '../../machines/stop-model.js';

/**
 * The live stop actors of one database: one per protective order that is not done, created from
 * its row (the actor's persisted snapshot) the first time an event reaches it and let go when it
 * ends (a re-arm restores it from its row). The `stops` row stays the durable truth: an actor whose
 * row has moved on without it (a rolled-back transaction, a test writing a row) is restored again.
 */
export class StopActors {
  private readonly actors = new Map<string, Actor<typeof stopMachine>>();
  /** Told after every event an actor took (the position actors keep what each stop covers). */
  onChange: ((row: StopRow) => void) | null = null;

  /** Runs `event` on the stop's actor: the transition it took, or null when its state refused it. */
  send(row: StoredStopRow, event: StopEvent, now: number): StopTaken | null {
    const actor = this.actorFor(row);
    const before = actor.getSnapshot().context.last?.seq ?? 0;
    actor.send({ ...event, now });
    const snap = actor.getSnapshot();
    const last = snap.context.last;
    if (!last || last.seq === before) return null;
    if (snap.hasTag('ended')) this.release(row.client_order_id);
    return last;
  }

  /** The live actors (the inspector and tests read them). */
  get size(): number {
    return this.actors.size;
  }

  has(clientOrderId: string): boolean {
    return this.actors.has(clientOrderId);
  }

  release(clientOrderId: string): void {
    this.actors.get(clientOrderId)?.stop();
    this.actors.delete(clientOrderId);
  }

  private actorFor(row: StoredStopRow): Actor<typeof stopMachine> {
    const { kind: _k, created_at: _c, updated_at: _u, ...stop } = row;
    const live = this.actors.get(row.client_order_id);
    if (live && sameRow(live.getSnapshot().context.row, stop)) return live;
    live?.stop();
    const actor = createActor(stopMachine, { input: { row: stop }, id: `stop:${row.client_order_id}` });
    actor.start();
    this.actors.set(row.client_order_id, actor);
    return actor;
  }
}

function sameRow(a: StopRow, b: StopRow): boolean {
  for (const k of Object.keys(b) as Array<keyof StopRow>) if (a[k] !== b[k]) return false;
  return true;
}

const registries = new WeakMap<Database, StopActors>();

/** The stop actors of a database (one set per open database, whoever sends them events). */
export function stopActorsOf(db: Database): StopActors {
  let r = registries.get(db);
  if (!r) registries.set(db, (r = new StopActors()));
  return r;
}
