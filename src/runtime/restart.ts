/**
 * Restart, in one place: the order in which a starting account (a process start, or an instance
 * taking an account's leadership) restores its actors, finishes what a crash left half done,
 * resumes its stops and reconciles with the broker. docs/architecture.md ("Restart") lists the
 * same steps; nothing else in the code restores, resumes or reconciles at start.
 */
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { OrderActors } from './order-actors.js';
import { followFractionStops, restartStops } from '../protection/stop-transitions.js';

export interface RestartParts {
  log?: Logger;
  actors: OrderActors;
  /** The stops' table and the stop worker, whose passes begin once the stops are resumed. Absent where a caller runs the actors alone (tests, benches). */
  stops?: { db: Database; worker: { start(intervalMs: number): void }; passMs: number };
  /** The reconciler: its first run (`start`) is started, not awaited (the stream and the API start while it reads). */
  reconciler?: { trigger(reason: 'start'): Promise<unknown> };
}

export async function restart(p: RestartParts): Promise<void> {
  const started = performance.now();
  // 1. Order actors from their rows, the supervisor, and a position actor per symbol with a
  //    position or a live stop (its stop actors wired to it).
  const rebuild = p.actors.restore();
  // 2. What a crash cut off: exits not walked, entries whose stop was canceled for a closed
  //    position, rows set aside rebuilt from the broker's order.
  await p.actors.recover(rebuild);
  if (p.stops) {
    // 3. Stops: backed-off ones are due at once (refused ones keep their backoff); every equity
    //    entry's fraction stop is brought in line with its entry stop; then the worker's passes.
    restartStops(p.stops.db);
    followFractionStops(p.stops.db);
    p.stops.worker.start(p.stops.passMs);
  }
  // 4. The broker: fee backfill, activities from the watermark, windows, open orders, lookups, drift.
  if (p.reconciler) void p.reconciler.trigger('start');
  p.log?.info({ event: 'restarted', ms: Math.round(performance.now() - started), rebuilt: rebuild.length }, 'actors restored, stops resumed, reconcile started');
}
