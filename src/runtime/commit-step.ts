/**
 * The commit step (issue 22 item 3; docs/architecture.md): after each event the supervisor has
 * processed, every order actor snapshot that event produced is persisted, in the order the actors
 * took them, each in its own transaction with the fills its transition buffered. Snapshots are
 * observed through XState's actor subscriptions, never through an inspector; effects leave only
 * after their commit (the `committed` hook runs after it).
 */
import type { AnyActorRef } from 'xstate';
import type { Logger } from '../log.js';
import type { OrderContext } from '../../machines/order.machine.js';
import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { crashPoint } from './crash-points.js';
import { commitTransition, type CommitDeps, type Committed, type PendingWrites } from './order-commit.js';
import { stateName } from './rehydrate.js';

/** An order actor's snapshot waiting for its commit, with the event that made it. */
interface Changed {
  /** Its machine: how the snapshot is serialised. */
  logic: { getPersistedSnapshot(snapshot: unknown): unknown };
  snap: { status: string; value: unknown; context: OrderContext };
  eventType: string;
  /** What the transition's actions buffered (its fills): committed with this snapshot, not a later one. */
  writes: PendingWrites | undefined;
}

/** One snapshot committed: what the runtime does after it (logs, stops, ending entries). */
export interface CommitOutcome {
  c: OrderContext;
  committed: Committed;
  state: string;
  terminal: boolean;
  now: Date;
}

export interface CommitHooks {
  log: Logger;
  deps: () => CommitDeps;
  committed: (o: CommitOutcome) => void;
  /** The store could not be written (or another instance leads): the account must stop. */
  onFatal: (err: unknown) => void;
}

export class CommitStep {
  private readonly pending = new Map<string, PendingWrites>();
  /**
   * Last persisted snapshot JSON and state per live order: unchanged snapshots are not rewritten;
   * with the head of its row when this process wrote it (only what changed is set again).
   */
  private readonly persisted = new Map<string, { json: string; state: string; head: string | null }>();
  /** The snapshot object last seen per order: an event that changed nothing hands back the same one. */
  private readonly lastSeen = new Map<string, unknown>();
  /** Order actors' new snapshots since the last commit, in the order they were taken. */
  private readonly changed: Changed[] = [];
  /** The order event the supervisor is routing now (named in each snapshot's history row). */
  private routing: { orderId: string | null; eventType: string } = { orderId: null, eventType: 'xstate.init' };
  /** A commit was fenced off (another instance leads): said once. */
  private fenced = false;
  /** Commits that failed (fenced off or not persisted). */
  failures = 0;

  constructor(private readonly hooks: CommitHooks) {}

  /** A row restored at start: what is on disk already. */
  restored(orderId: string, json: string, state: string): void {
    this.persisted.set(orderId, { json, state, head: null });
  }

  /** The writes an order's transition buffers (its fills), committed with its next snapshot. */
  buffer(orderId: string): PendingWrites {
    let p = this.pending.get(orderId);
    if (!p) this.pending.set(orderId, (p = { fills: [] }));
    return p;
  }

  /** Processes one event (`deliver` sends it to the supervisor), then commits what it changed. */
  process(event: SupervisorEvent, deliver: () => void): void {
    const outer = this.routing;
    this.routing = routedEvent(event);
    try {
      deliver();
    } finally {
      this.routing = outer;
    }
    this.commit();
  }

  /** A snapshot to commit that no subscription saw (an order final on its first step). */
  queue(logic: Changed['logic'], snap: Changed['snap']): void {
    this.changed.push({ logic, snap, eventType: 'xstate.init', writes: undefined });
  }

  /** Observes an order actor's snapshots (XState's subscription, not the inspector); a new one's first is queued now. */
  watch(ref: AnyActorRef, spawned: boolean): void {
    const id = (ref as AnyActorRef & { systemId?: string }).systemId ?? ref.id;
    const orderId = id.slice('order:'.length);
    const logic = (ref as unknown as { logic: Changed['logic'] }).logic;
    if (spawned) this.changed.push({ logic, snap: ref.getSnapshot(), eventType: 'xstate.init', writes: undefined });
    // An instance of a class, not an object of closures: a restart subscribes to 10,000 actors.
    ref.subscribe(new OrderWatch(this, orderId, logic));
  }

  /** An order actor took a snapshot (OrderWatch): queued with the event that made it and the writes its transition buffered. */
  took(orderId: string, logic: Changed['logic'], snap: Changed['snap']): void {
    const eventType = this.routing.orderId === orderId ? this.routing.eventType : 'stop.filled';
    const writes = this.pending.get(orderId);
    this.pending.delete(orderId);
    this.changed.push({ logic, snap, eventType, writes });
  }

  /** Each queued snapshot in its own transaction, in the order the actors took them. */
  commit(): void {
    while (this.changed.length > 0) {
      const { logic, snap, eventType, writes } = this.changed.shift()!;
      if (snap.status === 'stopped' || snap.status === 'error') continue;
      try {
        this.persist(logic, snap, eventType, writes);
      } catch (err) {
        this.failures += 1;
        this.changed.length = 0;
        if (err instanceof LeadershipLost) {
          // Not a failure: another instance leads the account now (PostgreSQL); said once, then the account steps down.
          if (!this.fenced) this.hooks.log.warn({ event: 'commit_fenced', err: err.message }, 'not recording: another instance leads the account');
          this.fenced = true;
        } else {
          this.hooks.log.fatal({ event: 'persist_failed', err }, 'could not persist an order actor');
        }
        this.hooks.onFatal(err);
        return;
      }
    }
  }

  private persist(logic: Changed['logic'], snap: Changed['snap'], eventType: string, writes: PendingWrites | undefined): void {
    const c = snap.context;
    const orderId = c.order.orderId;
    // An event that changed nothing returns the very same snapshot object: not re-serialised.
    if (!writes && this.lastSeen.get(orderId) === snap) return;
    this.lastSeen.set(orderId, snap);
    // The snapshot this step took, not the actor's latest (a later one of the same event is queued after it).
    const json = JSON.stringify(logic.getPersistedSnapshot(snap));
    const state = stateName(snap.value);
    const before = this.persisted.get(orderId);
    if (!writes && before?.json === json) return;

    const now = new Date();
    const terminal = snap.status === 'done';
    const committed = commitTransition(this.hooks.deps(), { c, writes, json, state, terminal, before: before?.state ?? null, head: before?.head ?? null, eventType, now });
    // Once it is on disk: inside a caller's transaction (the event stream's, with its cursor) that is when the caller commits.
    if (committed.stopsAsked) this.hooks.deps().db.afterCommit(() => crashPoint('after_intent_commit'));
    if (terminal) {
      this.lastSeen.delete(orderId);
      this.persisted.delete(orderId);
    } else {
      this.persisted.set(orderId, { json, state, head: committed.head });
    }
    this.hooks.committed({ c, committed, state, terminal, now });
  }
}

/** One order actor's subscription: each snapshot it takes goes to the commit step's queue. */
class OrderWatch {
  constructor(
    private readonly step: CommitStep,
    private readonly orderId: string,
    private readonly logic: Changed['logic'],
  ) {}

  next(snap: unknown): void {
    this.step.took(this.orderId, this.logic, snap as Changed['snap']);
  }

  /** An actor's error is the supervisor's to report (order-actors.ts); nothing is committed for it. */
  error(): void {}
}

/** The order a supervisor event is routed to, and the order machine's event for it. */
function routedEvent(event: SupervisorEvent): { orderId: string | null; eventType: string } {
  switch (event.type) {
    case 'broker.order':
      return { orderId: event.order.orderId, eventType: 'order.report' };
    case 'broker.execution':
      return { orderId: event.execution.orderId, eventType: 'execution' };
    case 'stop.working':
    case 'position.closed':
      return { orderId: event.entryOrderId, eventType: event.type };
    case 'order.fillChanged':
      return { orderId: event.orderId, eventType: 'fill.changed' };
    default:
      return { orderId: null, eventType: event.type };
  }
}
