import { createActor, type Actor, type AnyActorRef, type InspectionEvent } from 'xstate';
import type { ExecutionReport, OrderReport, TradeUpdateReport } from '../domain/reports.js';
import type { Database } from '../store/database.js';
import { insertFills, latestFillTimes, ledgerOf } from '../store/ledger.js';
import { canonicalTime } from '../time.js';
import { LateExits } from './late-exits.js';
import { PositionFollowing, type Followed } from './position-follow.js';
import { appendHistory, orderRow, upsertOrderRow } from '../store/order-rows.js';
import type { Logger } from '../log.js';
import { D } from '../decimal.js';
import type { FillRecord, OrderRole, StopIntent } from '../domain/protection.js';
import { brokerOutcome, entryOfStop, placedByUs, stopClientOrderId } from '../domain/orders.js';
import { assetClassOf } from '../domain/symbols.js';
import { ledgerAvgPrice } from '../../machines/fill-plan.js';
import { ORDER_MACHINE_VERSION, orderMachine, type OrderContext } from '../../machines/order.machine.js';
import { activeCooldown, type StartedCooldown } from '../store/cooldowns.js';
import { entriesWithCanceledStops, stopCanceledForClose, stopClientIdOfBrokerOrder } from '../store/intents.js';
import { applyStopTransition, upsertStopIntent } from '../protection/stop-transitions.js';
import { crashPoint } from './crash-points.js';
import { orderActorId, supervisorMachine, type Routing, type SupervisorEvent } from '../../machines/supervisor.machine.js';
import { positionActorId } from '../../machines/position.machine.js';
import { roleAtFirstFill } from '../../machines/position.js';
import { stopActorsOf } from '../protection/stop-actors.js';
import { assembleSupervisorSnapshot, stateName } from './rehydrate.js';

export interface OrderActorsOptions {
  db: Database;
  log: Logger;
  /** CT_ADOPT: whether entries placed outside the service get stops. */
  adopt: 'protect' | 'record';
  /** The broker's current view of one order (null when it does not know it). */
  fetchOrder: (orderId: string) => Promise<OrderReport | null>;
  /** Called when the store cannot be written: the process must stop rather than run on unpersisted. */
  onFatal: (err: unknown) => void;
  /** CT_COOLDOWN_MINUTES: cooldown after an exit that closes a position. */
  cooldownMinutes?: number;
  /**
   * Called after a commit that wrote fills or stop intents, once the position book has them too
   * (and after the batch in progress): the stop worker has work, and reads a current book.
   */
  onIntents?: () => void;
  /** Another inspection observer (the Stately inspector); runs after persistence. */
  extraInspect?: (ev: InspectionEvent) => void;
}

type PendingWrites = { fills: Array<FillRecord & { role: OrderRole | null }>; intents: StopIntent[] };

/**
 * The runtime around the supervisor: provides the order machine's side effects, persists every
 * order actor's snapshot (with the fills and stop intents its transition produced, in one SQLite
 * transaction) from the root inspect observer, rehydrates live actors at boot, and routes broker
 * reports to the supervisor with the facts only the runtime knows (role, tracked or not).
 */
export class OrderActors {
  private actor: Actor<typeof supervisorMachine> | null = null;
  private readonly pending = new Map<string, PendingWrites>();
  /** Last persisted snapshot JSON and state per live order: unchanged snapshots are not rewritten. */
  private readonly persisted = new Map<string, { json: string; state: string }>();
  /** The snapshot object last seen per order: an event that changed nothing hands back the same one. */
  private readonly lastSeen = new Map<string, unknown>();
  private readonly terminal = new Set<string>();
  private readonly snapshotRequests = new Set<string>();
  private readonly following: PositionFollowing;
  private lateExits: LateExits;
  private replayScheduled = false;
  private kickScheduled = false;
  /** Fill rows committed by this process (reconcile_done reports the difference per run). */
  fillsRecorded = 0;

  constructor(private readonly opts: OrderActorsOptions) {
    this.lateExits = new LateExits(opts.db, new Map());
    this.following = new PositionFollowing(opts.db, opts.cooldownMinutes ?? 0);
  }

  /** Rehydrates every non-terminal actor from its row, then starts the supervisor. */
  async start(): Promise<void> {
    const { db, log } = this.opts;
    this.lateExits = new LateExits(db, latestFillTimes(db));
    const { snapshot, restored, rebuild } = assembleSupervisorSnapshot(db, log);
    for (const r of restored) this.persisted.set(r.orderId, { json: r.json, state: r.state });

    const machine = supervisorMachine.provide({
      actors: { order: this.provideOrderMachine(), position: this.following.machine() },
      actions: {
        untrackedFillDetected: (_, p) =>
          log.info({ event: 'untracked_fill_detected', order_id: p.orderId, symbol: p.symbol, cum_qty: p.cumQty, source: p.source }, 'fill on an order this service did not place'),
      },
    });
    // Persistence first: xstate calls the observer without a try/catch, so nothing may precede it.
    const actor = createActor(machine, {
      systemId: 'supervisor',
      snapshot,
      inspect: (ev) => {
        this.inspect(ev);
        this.opts.extraInspect?.(ev);
      },
    });
    actor.subscribe({ error: (err) => log.error({ event: 'supervisor_error', err }, 'supervisor actor error') });
    this.actor = actor;
    actor.start();
    // One position actor per symbol with a position or a live stop; the stop actors keep theirs current.
    for (const position of this.following.restoreInputs()) actor.send({ type: 'position.ensure', position });
    stopActorsOf(db).onChange = (row) => this.positionActor(row.symbol)?.send({ type: 'stop.changed', row });
    for (const r of restored) log.info({ event: 'actor_rehydrated', order_id: r.orderId, state: r.state }, `order actor rehydrated in ${r.state}`);

    // Late fills recorded before a crash whose exits were not walked yet.
    if (this.lateExits.hasPending()) this.replayLateExits();
    // Entries whose stop was canceled (their position closed) but whose own transition a crash cut off.
    for (const entryOrderId of entriesWithCanceledStops(db)) this.send({ type: 'position.closed', entryOrderId });

    for (const row of rebuild) {
      log.warn({ event: 'actor_rebuild', order_id: row.orderId, reason: row.reason }, 'order snapshot not restorable: rebuilding from the broker');
      await this.refreshOrder(row.orderId, row.reason);
    }
  }

  /**
   * Stops taking reports. Every transition is committed as it happens, so nothing is flushed here;
   * and xstate's own stop() of a supervisor walks its children with a copy of the map per child
   * (quadratic: minutes for 10,000 live actors, past any kill timeout), so the system is let go
   * rather than stopped. Its actors hold no timers or invoked work.
   */
  stop(): void {
    this.actor = null;
  }

  /** A stream trade update: its execution (fill events) or its order state. */
  handleTradeUpdate(u: TradeUpdateReport): void {
    if (u.execution) this.handleExecution(u.execution, u.order);
    else this.handleOrder(u.order);
  }

  handleExecution(execution: ExecutionReport, order: OrderReport | null): void {
    const routing = this.routing(execution.orderId, order?.clientOrderId ?? '', {
      symbol: execution.symbol,
      side: execution.side,
      assetClass: order?.assetClass ?? assetClassOf(execution.symbol),
    });
    if (!routing) {
      this.dropForFinishedOrder(execution.orderId, execution.cumQty, execution.source);
      return;
    }
    this.send({ type: 'broker.execution', execution, order, ...routing });
  }

  handleOrder(order: OrderReport): void {
    const routing = this.routing(order.orderId, order.clientOrderId, order);
    if (!routing) {
      this.dropForFinishedOrder(order.orderId, order.filledQty, 'order');
      return;
    }
    this.send({ type: 'broker.order', order, ...routing });
  }

  tick(now = Date.now()): void {
    this.send({ type: 'clock.tick', now });
  }

  stopAccepted(entryOrderId: string, stopOrderId: string, qty: string): void {
    this.send({ type: 'stop.accepted', entryOrderId, stopOrderId, qty });
  }

  stopRejected(entryOrderId: string, reason: string): void {
    this.send({ type: 'stop.rejected', entryOrderId, reason });
  }

  /** Live actor for an order, if any (the API reads state and history through the store). */
  live(orderId: string): AnyActorRef | undefined {
    return this.actor?.system.get(orderActorId(orderId)) as AnyActorRef | undefined;
  }

  /** The signed position in a symbol as the committed ledger has it (its position actor's). */
  ledgerPosition(symbol: string): string {
    return (this.positionActor(symbol)?.getSnapshot().context as { qty: string } | undefined)?.qty ?? '0';
  }

  /** Every symbol's signed position as the committed ledger has it (the position actors', not the fills table). */
  ledgerPositions(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, ref] of this.children()) if (id.startsWith('position:')) out.set(id.slice('position:'.length), (ref.getSnapshot().context as { qty: string }).qty);
    return out;
  }

  private positionActor(symbol: string): AnyActorRef | undefined {
    return this.actor?.system.get(positionActorId(symbol)) as AnyActorRef | undefined;
  }

  private children(): Array<[string, AnyActorRef]> {
    return Object.entries((this.actor?.getSnapshot().children ?? {}) as Record<string, AnyActorRef>);
  }

  /** Every live order actor with its current state. */
  liveStates(): Array<{ orderId: string; state: string }> {
    return this.children()
      .filter(([id]) => id.startsWith('order:'))
      .map(([id, ref]) => ({ orderId: id.slice('order:'.length), state: stateName(ref.getSnapshot().value) }));
  }

  /** Asks the broker for an order and routes what it says (unpriced gaps, rebuilds, reconciliation). */
  async refreshOrder(orderId: string, reason: string): Promise<void> {
    if (this.snapshotRequests.has(orderId)) return;
    this.snapshotRequests.add(orderId);
    try {
      const order = await this.opts.fetchOrder(orderId);
      if (order) this.handleOrder(order);
      else this.opts.log.warn({ event: 'order_unknown_at_broker', order_id: orderId, reason }, 'broker does not know this order');
    } catch (err) {
      this.opts.log.warn({ event: 'order_refresh_failed', order_id: orderId, reason, err: String(err) }, 'could not fetch order from broker');
    } finally {
      this.snapshotRequests.delete(orderId);
    }
  }

  private send(event: SupervisorEvent): void {
    if (!this.actor) throw new Error('order actors are not running');
    this.actor.send(event);
  }

  private provideOrderMachine() {
    const { log } = this.opts;
    const buffer = (orderId: string) => {
      let p = this.pending.get(orderId);
      if (!p) this.pending.set(orderId, (p = { fills: [], intents: [] }));
      return p;
    };
    return orderMachine.provide({
      actions: {
        recordFill: ({ context }, fill) => void buffer(context.order.orderId).fills.push(fill),
        requestStop: ({ context }, intent) => void buffer(context.order.orderId).intents.push(intent),
        duplicateFill: (_, p) =>
          log.info({ event: 'fill_already_processed', order_id: p.orderId, cum_qty: p.cumQty, source: p.source }, 'duplicate fill report ignored'),
        requestOrderSnapshot: (_, p) => void this.refreshOrder(p.orderId, p.reason),
      },
    });
  }

  /** Decides role / tracked / protect for a report; null when the order's actor already finished. */
  private routing(orderId: string, clientOrderId: string, order: Pick<OrderReport, 'symbol' | 'side' | 'assetClass'>): Routing | null {
    if (this.live(orderId)) {
      return { role: roleAtFirstFill(this.ledgerPosition(order.symbol), { ...order, clientOrderId }), untracked: !placedByUs(clientOrderId), protect: true };
    }
    if (this.terminal.has(orderId)) return null;
    const row = orderRow(this.opts.db, orderId);
    if (row?.terminal) {
      this.terminal.add(orderId);
      return null;
    }
    // A FILL activity has no client order id: a stop we placed is still known by its broker id.
    const knownClientId = clientOrderId || row?.client_order_id || stopClientIdOfBrokerOrder(this.opts.db, orderId) || '';
    const untracked = !placedByUs(knownClientId);
    const ledger = ledgerOf(this.opts.db, orderId);
    return {
      clientOrderId: knownClientId,
      role: (row?.role as OrderRole | null) ?? roleAtFirstFill(this.ledgerPosition(order.symbol), { ...order, clientOrderId: knownClientId }),
      untracked,
      protect: untracked ? this.opts.adopt === 'protect' : true,
      ledger: ledger.filledQty === '0' ? undefined : ledger,
    };
  }

  /**
   * Protection follows the position (DESIGN §3.4), whatever role the order has: the pure step
   * (machines/position.ts) decides, per fill, what the stops cover, which are canceled and which
   * cooldown starts; here its commands are written in this transaction. The book moves after the
   * commit, so the batch starts from the book's position.
   */
  private followPosition(c: OrderContext, written: FillRecord[], late: ReadonlySet<FillRecord>, now: Date): Followed {
    if (written.length === 0) return { started: [], closed: [] };
    const position = this.positionActor(c.order.symbol);
    if (!position) throw new Error(`no position actor for ${c.order.symbol}: its fills cannot be followed`);
    return this.following.follow(position, {
      order: { orderId: c.order.orderId, role: c.role, assetClass: c.order.assetClass, clientOrderId: c.order.clientOrderId },
      symbol: c.order.symbol,
      fills: written,
      late,
      now,
    });
  }

  /** Starts the cooldowns late fills call for, walking their symbols in the broker's order. */
  private replayLateExits(): void {
    try {
      this.logCooldowns(this.lateExits.replay((symbol) => this.ledgerPosition(symbol), this.opts.cooldownMinutes ?? 0));
    } catch (err) {
      this.opts.log.fatal({ event: 'persist_failed', err }, 'could not record cooldowns for late fills');
      this.opts.onFatal(err);
    }
  }

  private logCooldowns(started: StartedCooldown[]): void {
    for (const cd of started) {
      this.opts.log.info({ event: 'cooldown_started', symbol: cd.symbol, exit_fill_id: cd.exitFillId, until: cd.until.toISOString() }, `${cd.symbol} cooling down`);
    }
  }

  /**
   * A protective stop's order that finished, as an event of the stop's machine (machines/stop.ts):
   * filled (any fill) → the stop is done; gone unfilled → it is placed again under its next client
   * order id, unless its cancel was asked for (the stop worker settles that). A replaced order is
   * the worker's own resize.
   */
  private settleStopIntent(c: OrderContext, now: Date): void {
    const entry = entryOfStop(c.order.clientOrderId);
    if (!entry) return;
    const status = brokerOutcome(c.order.status);
    if (status === 'replaced' || status === 'working') return;
    const outcome = c.ledger.filledQty !== '0' ? 'filled' : status;
    const t = applyStopTransition(this.opts.db, stopClientOrderId(entry), { type: 'orderFinished', orderId: c.order.orderId, clientOrderId: c.order.clientOrderId, outcome }, now);
    if (t.applied && outcome !== 'filled') {
      // Canceled, expired or rejected without a fill: the entry is unprotected again.
      this.opts.log.warn({ event: 'stop_lost', entry_order_id: entry, stop_order_id: c.order.orderId, status: c.order.status }, 'protective stop ended unfilled; placing it again');
    }
  }

  private dropForFinishedOrder(orderId: string, cumQty: string, source: string): void {
    const row = orderRow(this.opts.db, orderId);
    if (row && new D(cumQty).gt(row.filled_qty)) {
      this.opts.log.warn(
        { event: 'ledger_drift', order_id: orderId, ledger_qty: row.filled_qty, broker_filled_qty: cumQty, source },
        'broker reports more fill for an order whose actor finished',
      );
      return;
    }
    if (cumQty !== '0') this.opts.log.info({ event: 'fill_already_processed', order_id: orderId, cum_qty: cumQty, source }, 'report for a finished order ignored');
  }

  /** Root inspect observer: persists order actors' snapshots (DESIGN §6). */
  private inspect(ev: InspectionEvent): void {
    if (ev.type !== '@xstate.snapshot') return;
    const ref = ev.actorRef as AnyActorRef & { systemId?: string };
    if (!ref.systemId?.startsWith('order:')) return;
    const snap = ev.snapshot as unknown as { status: string; value: unknown; context: OrderContext };
    if (snap.status === 'stopped' || snap.status === 'error') return;
    try {
      this.persist(ref, snap, ev.event.type);
    } catch (err) {
      this.opts.log.fatal({ event: 'persist_failed', err }, 'could not persist an order actor');
      this.opts.onFatal(err);
    }
  }

  private persist(ref: AnyActorRef, snap: { status: string; value: unknown; context: OrderContext }, eventType: string): void {
    const c = snap.context;
    const orderId = c.order.orderId;
    const writes = this.pending.get(orderId);
    this.pending.delete(orderId);
    // A restored actor's first snapshot is the row it was restored from; an event that changed
    // nothing (most clock ticks) returns the very same snapshot object. Neither is re-serialised.
    if (!writes && ((eventType === 'xstate.init' && this.persisted.has(orderId)) || this.lastSeen.get(orderId) === snap)) return;
    this.lastSeen.set(orderId, snap);
    const json = JSON.stringify(ref.getPersistedSnapshot());
    const state = stateName(snap.value);
    const before = this.persisted.get(orderId);
    if (!writes && before?.json === json) return;

    const now = new Date();
    const terminal = snap.status === 'done';
    const committed = this.commit({ c, writes, json, state, terminal, before: before?.state ?? null, eventType, now });
    if (writes?.intents.length) crashPoint('after_intent_commit');
    this.afterCommit(c, committed, now);
    if (terminal) {
      this.lastSeen.delete(orderId);
      this.persisted.delete(orderId);
      this.terminal.add(orderId);
    } else {
      this.persisted.set(orderId, { json, state });
    }
    // Last: ending those entries runs their transitions (and this method for them).
    this.closeEntries(c, state, committed.closed);
  }

  /** One transaction: the fills, the stop intents, the actor's row and what the fills do to protection. */
  private commit(p: {
    c: OrderContext;
    writes: PendingWrites | undefined;
    json: string;
    state: string;
    terminal: boolean;
    before: string | null;
    eventType: string;
    now: Date;
  }): Committed {
    const { db } = this.opts;
    const { c, writes, now } = p;
    const out: Committed = { written: [], late: new Set(), started: [], closed: [], intents: (writes?.intents.length ?? 0) > 0 };
    db.transaction(() => {
      out.written = insertFills(db, writes?.fills ?? [], now);
      for (const f of out.written) {
        if (this.lateExits.isLate(f.symbol, fillTime(f))) {
          out.late.add(f);
          this.lateExits.mark(f.symbol, fillTime(f));
        }
      }
      for (const intent of writes?.intents ?? []) upsertStopIntent(db, intent, now);
      upsertOrderRow(db, {
        order_id: c.order.orderId,
        client_order_id: c.order.clientOrderId,
        symbol: c.order.symbol,
        side: c.order.side,
        type: c.order.type,
        asset_class: c.order.assetClass,
        role: c.role,
        state: p.state,
        terminal: p.terminal ? 1 : 0,
        filled_qty: c.ledger.filledQty,
        filled_avg_price: ledgerAvgPrice(c.ledger),
        stop_order_id: c.stop?.orderId ?? null,
        machine_version: ORDER_MACHINE_VERSION,
        snapshot: p.json,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
      });
      if (p.before !== p.state) {
        appendHistory(db, { order_id: c.order.orderId, at: now.toISOString(), event: p.eventType, from_state: p.before, to_state: p.state });
      }
      const followed = this.followPosition(c, out.written, out.late, now);
      out.started = followed.started;
      out.closed = followed.closed;
      if (p.terminal && c.role === 'stop') this.settleStopIntent(c, now);
      if (writes?.intents.length) crashPoint('before_intent_commit');
    });
    return out;
  }

  /** After the commit: the position book, logs, the late-exit walk, and then the stop worker. */
  private afterCommit(c: OrderContext, committed: Committed, now: Date): void {
    const { db, log } = this.opts;
    const { written, late } = committed;
    this.fillsRecorded += written.length;
    for (const f of written) {
      this.lateExits.committed(f.symbol, fillTime(f));
      log.info(
        { event: 'fill_received', order_id: f.orderId, symbol: f.symbol, side: f.side, cum_qty: f.cumQty, qty: f.qty, price: f.price, source: f.source, role: c.role },
        `fill ${f.side} ${f.qty} ${f.symbol} @ ${f.price}`,
      );
    }
    this.logCooldowns(committed.started);
    if (late.size > 0 && !this.replayScheduled) {
      // After the batch in progress (a reconcile page commits many orders in one go).
      this.replayScheduled = true;
      setImmediate(() => {
        this.replayScheduled = false;
        if (this.actor) this.replayLateExits();
      });
    }
    if (written.length > 0 && c.role === 'entry' && written[0]!.cumQty === written[0]!.qty) {
      const cooling = activeCooldown(db, c.order.symbol, now);
      if (cooling) {
        log.warn(
          { event: 'entry_during_cooldown', order_id: c.order.orderId, symbol: c.order.symbol, until: cooling.until, untracked: c.untracked },
          'an entry placed outside the service during a cooldown: protected, and flagged',
        );
      }
    }
    // Fills and intents may have changed what the stops must be. The book is current now.
    if (written.length > 0 || committed.intents) this.kickStopWorker();
  }

  /**
   * Wakes the stop worker once the batch in progress (a reconcile page, a burst of stream reports)
   * is committed and in the book: it then sees every fill of the batch, so a stop is sent for what
   * the entry filled in all, not for its first part and resized after.
   */
  private kickStopWorker(): void {
    if (this.kickScheduled || !this.opts.onIntents) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      if (this.actor) this.opts.onIntents?.();
    });
  }

  /**
   * Entries whose stops were taken off because nothing of their position is left end `exited`
   * (the machine accepts it once they finished filling); so does this order itself, when it is
   * such an entry that finished filling only now.
   */
  private closeEntries(c: OrderContext, state: string, closed: string[]): void {
    const ids = new Set(closed);
    if (c.role === 'entry' && (state === 'placingStop' || state === 'protected') && stopCanceledForClose(this.opts.db, c.order.orderId)) {
      ids.add(c.order.orderId);
    }
    for (const entryOrderId of ids) {
      if (this.live(entryOrderId)) this.send({ type: 'position.closed', entryOrderId });
    }
  }
}

/** A fill's time as the broker's order of fills compares it. */
const fillTime = (f: FillRecord) => canonicalTime(f.at) ?? f.at;

/** What one commit wrote and started. */
interface Committed {
  written: FillRecord[];
  late: Set<FillRecord>;
  started: StartedCooldown[];
  /** Orders whose stops the commit took off (their positions are gone). */
  closed: string[];
  /** It wrote stop intents. */
  intents: boolean;
}
