/**
 * One job: the order actors' runtime around the supervisor. It routes broker reports to the
 * supervisor with the facts only the runtime knows (role, tracked or not), provides the order
 * machine's side effects, restores live actors at restart (src/runtime/restart.ts runs it), and
 * does what follows each commit (commit-step.ts persists each processed event's snapshots with
 * their fills; after-batch.ts runs the exit walk and wakes the stop worker once per batch).
 */
import { createActor, initialTransition, type Actor, type ActorScope, type AnyActorRef, type InspectionEvent } from 'xstate';
import type { ExecutionChange, ExecutionReport, FeeReport, OrderReport, TradeUpdateReport } from '../domain/reports.js';
import type { Database } from '../store/database.js';
import { ExitCooldowns } from './exit-cooldowns.js';
import { PositionFollowing } from './position-follow.js';
import type { Logger } from '../log.js';
import { assetClassOf } from '../domain/symbols.js';
import { D, normalize } from '../decimal.js';
import { brokerOutcome, entryOfStop, placedByUs } from '../domain/orders.js';
import { fillOfExecution } from '../store/fill-changes.js';
import { applyPending, commitChange, type ChangeCommitted, type ChangeDeps, type ChangeOutcome } from './fill-change-commit.js';
import { orderMachine, type OrderContext } from '../../machines/order.machine.js';
import { activeCooldown } from '../store/cooldowns.js';
import { ledgerOf, noteExecutionId } from '../store/ledger.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { entriesWithCanceledStops, stopCanceledForClose } from '../store/stops.js';
import { OrderRoutes } from './order-routes.js';
import { commitFee, type CommitDeps } from './order-commit.js';
import { commitOptionEvent } from './option-commit.js';
import { optionEventOrderId, type OptionEventReport } from '../domain/option-events.js';
import { roleAtFirstFill } from '../../machines/position.js';
import { CommitStep, type CommitOutcome } from './commit-step.js';
import { AfterBatch } from './after-batch.js';
import { orderActorId, supervisorMachine, type SupervisorEvent } from '../../machines/supervisor.machine.js';
import { positionActorId } from '../../machines/position.machine.js';
import { stopActorsOf } from '../protection/stop-actors.js';
import { readStopExpiry, wakeShortStops } from '../protection/stop-transitions.js';
import { assembleSupervisorSnapshot, restorableOrder, stateName, type Rebuild } from './rehydrate.js';

export interface OrderActorsOptions {
  db: Database;
  log: Logger;
  /** CT_ADOPT: whether entries placed outside the service get stops. */
  adopt: 'protect' | 'record';
  /** The broker's current view of one order (null when it does not know it). */
  fetchOrder: (orderId: string) => Promise<OrderReport | null>;
  /**
   * One order's fills as executed (activities by `order_id`, broker/order-fills.ts), null when they
   * cannot be read so: an unpriced gap is filled with the fills themselves before the order is read.
   */
  orderFills?: (orderId: string) => Promise<ExecutionReport[] | null>;
  /** Called when the store cannot be written: the process must stop rather than run on unpersisted. */
  onFatal: (err: unknown) => void;
  /** CT_COOLDOWN_MINUTES: cooldown after an exit that closes a position. */
  cooldownMinutes?: number;
  /**
   * Called after a commit that wrote fills or stops, once the position book has them too
   * (and after the batch in progress): the stop worker has work, and reads a current book.
   */
  onIntents?: () => void;
  /** An order (not one of our stops) of this symbol ended: what it held or crossed is gone (the stop worker lifts a wash-trade block). */
  onOrderEnded?: (symbol: string) => void;
  /** An inspection observer (the Stately inspector): it sees the actors, it persists nothing. */
  extraInspect?: (ev: InspectionEvent) => void;
}



export class OrderActors {
  private actor: Actor<typeof supervisorMachine> | null = null;
  /**
   * Live orders whose actors a restart left unrestored (order id → the state its row has): each is
   * restored (`wake`) before an event reaches it; until then its row is all it is.
   */
  private readonly dormant = new Map<string, string>();
  private readonly snapshotRequests = new Set<string>();
  private readonly following: PositionFollowing;
  private readonly routes: OrderRoutes;
  private readonly step: CommitStep;
  private exits: ExitCooldowns;
  /** The exit walk and the stop worker's wake-up, each once after the batch in progress. */
  private readonly exitWalk = new AfterBatch(() => this.walkExits(), () => this.actor !== null);
  private readonly stopsWake = new AfterBatch(() => this.opts.onIntents?.(), () => this.actor !== null);
  /** Busts and corrections a fill's commit let through (pending ones): what follows them, after that commit. */
  private released: ChangeCommitted[] = [];
  /** The fills (executionKey) the report being handled recorded with their execution ids. */
  private readonly wroteExecution = new Set<string>();
  /** Fill rows committed by this process (reconcile_done reports the difference per run). */
  fillsRecorded = 0;
  /** Fee rows (CFEE activities) committed by this process. */
  feesRecorded = 0;
  /** Option exercise / assignment rows (OPEXC, OPASN, OPTRD) committed by this process. */
  optionEventsRecorded = 0;

  /**
   * Commits that failed in this process (each also stopped it, or stepped the leader down): a caller
   * that writes a cursor in the transaction of the reports it handed in checks this did not move.
   */
  get commitFailures(): number {
    return this.step.failures + this.optionFailures;
  }

  /** Option exercise / assignment commits that failed (each also stopped the process). */
  private optionFailures = 0;

  constructor(private readonly opts: OrderActorsOptions) {
    this.exits = new ExitCooldowns(opts.db, opts.cooldownMinutes ?? 0, opts.log);
    this.step = new CommitStep({ log: opts.log, deps: () => this.commitDeps, committed: (o) => this.afterCommit(o), onFatal: (err) => opts.onFatal(err) });
    this.following = new PositionFollowing(opts.db);
    this.routes = new OrderRoutes(opts.db, opts.log, opts.adopt, (id) => this.live(id) !== undefined, (symbol) => this.ledgerPosition(symbol));
  }

  /** What a transition's commit needs of the runtime (order-commit.ts), and a bust's or correction's (fill-change-commit.ts). */
  private get commitDeps(): ChangeDeps {
    return {
      db: this.opts.db,
      log: this.opts.log,
      exits: this.exits,
      following: this.following,
      positionActor: (symbol) => this.positionActor(symbol),
      protects: (clientOrderId) => placedByUs(clientOrderId) || this.opts.adopt === 'protect',
      // Inside an order's commit (its fill just recorded): what follows is done after that commit.
      applyPending: (executionId, now) => {
        const done = applyPending(this.commitDeps, executionId, now);
        if (done.applied.length > 0) this.released.push(done);
        return done.followed;
      },
    };
  }

  /**
   * Restart, step 1 (src/runtime/restart.ts runs the steps in order): every non-terminal order
   * actor from its row, the supervisor started, one position actor per symbol with a position or a
   * live stop. Returns the rows that could not be restored, for `recover`.
   */
  restore(): Rebuild[] {
    const { db, log } = this.opts;
    this.exits = new ExitCooldowns(db, this.opts.cooldownMinutes ?? 0, log);
    // With an inspector watching, every actor is restored now (it shows what is live); otherwise
    // each when an event first reaches it.
    const { snapshot, restored, rebuild, dormant } = assembleSupervisorSnapshot(db, log, { lazy: !this.opts.extraInspect });
    for (const r of restored) this.step.restored(r.orderId, r.json, r.state);
    this.dormant.clear();
    for (const [orderId, state] of dormant) this.dormant.set(orderId, state);

    const machine = supervisorMachine.provide({
      actors: { order: restorable(this.provideOrderMachine()), position: this.following.machine() },
      actions: {
        untrackedFillDetected: (_, p) =>
          log.info({ event: 'untracked_fill_detected', order_id: p.orderId, symbol: p.symbol, cum_qty: p.cumQty, source: p.source }, 'fill on an order this service did not place'),
        orderSpawned: ({ system }, p) => {
          const ref = system.get(orderActorId(p.orderId)) as AnyActorRef | undefined;
          if (ref) this.step.watch(ref, true);
          // Final on its first step (an order that ended, seen for the first time): gone from the
          // system already. The machine is pure, so its snapshot is that step's, computed again.
          else this.step.queue(orderMachine, initialTransition(orderMachine, p.input)[0] as unknown as Parameters<CommitStep['queue']>[1]);
        },
      },
    });
    const actor = createActor(machine, { systemId: 'supervisor', snapshot, ...(this.opts.extraInspect ? { inspect: this.opts.extraInspect } : {}) });
    actor.subscribe({ error: (err) => log.error({ event: 'supervisor_error', err }, 'supervisor actor error') });
    this.actor = actor;
    actor.start();
    for (const [id, ref] of this.children()) if (id.startsWith('order:')) this.step.watch(ref, false);
    // One position actor per symbol with a position or a live stop; the stop actors keep theirs current.
    for (const position of this.following.restoreInputs()) actor.send({ type: 'position.ensure', position });
    stopActorsOf(db).onChange = (row) => this.positionActor(row.symbol)?.send({ type: 'stop.changed', row });
    // One line for the lot (10,000 info lines cost a restart hundreds of ms); each actor at debug.
    const byState: Record<string, number> = {};
    for (const r of restored) byState[r.state] = (byState[r.state] ?? 0) + 1;
    for (const state of this.dormant.values()) byState[state] = (byState[state] ?? 0) + 1;
    const live = restored.length + this.dormant.size;
    log.info(
      { event: 'actors_rehydrated', restored: live, restored_now: restored.length, rebuild: rebuild.length, by_state: byState },
      `${live} order actors rehydrated (${this.dormant.size} restored when an event first reaches them)`,
    );
    if (log.isLevelEnabled('debug')) for (const r of restored) log.debug({ event: 'actor_rehydrated', order_id: r.orderId, state: r.state }, `order actor rehydrated in ${r.state}`);
    return rebuild;
  }

  /**
   * Restart, step 2: what a crash left half done. Exits recorded but not walked are walked;
   * entries whose stop was canceled for a closed position but whose own transition a crash cut off
   * get it; rows `restore` set aside are rebuilt from the broker's order.
   */
  async recover(rebuild: Rebuild[]): Promise<void> {
    const { db, log } = this.opts;
    if (this.exits.hasPending()) this.walkExits();
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
    this.dormant.clear();
  }

  /**
   * A stream trade update: its execution (fill events) or its order state. The stream delivers each
   * as it happens, so it is a batch of its own: the stop worker wakes as soon as it is committed,
   * not after the other I/O of this turn (another source's report of the same fill, which changes
   * nothing) — the fill's stop is on its way sooner. The exit walk still runs after the batch.
   */
  handleTradeUpdate(u: TradeUpdateReport): void {
    if (u.execution) this.handleExecution(u.execution, u.order);
    else this.handleOrder(u.order);
    this.stopsWake.hurry();
  }

  /**
   * A real-time source (the activity event stream) committed a report of its own, in a transaction
   * of its own: as for a trade update, the stop worker wakes now rather than after this turn's other I/O.
   */
  hurryStops(): void {
    this.stopsWake.hurry();
  }

  handleExecution(execution: ExecutionReport, order: OrderReport | null): void {
    if (order) this.readExpiry(order);
    const routing = this.routes.routing(execution.orderId, order?.clientOrderId ?? '', {
      symbol: execution.symbol,
      side: execution.side,
      assetClass: order?.assetClass ?? assetClassOf(execution.symbol),
    });
    this.wroteExecution.clear();
    if (!routing) this.routes.dropForFinishedOrder(execution.orderId, execution.cumQty, execution.source);
    else this.send({ type: 'broker.execution', execution: this.withRecorded(execution), order, ...routing });
    // A fill this report recorded just now carries its execution id already.
    if (execution.executionId !== null && !this.wroteExecution.has(executionKey(execution.orderId, execution.cumQty, execution.executionId))) this.keepExecutionId(execution);
  }

  /**
   * For an order a bust or correction changed (its actor's ledger has `changedAt`), whether the
   * report's execution id is one the ledger holds: a replay in the numbering of before the change
   * (machines/fill-plan.ts). Any other report goes as it is (no lookup on the usual path).
   */
  private withRecorded(execution: ExecutionReport): ExecutionReport {
    if (execution.executionId === null) return execution;
    const ledger = (this.live(execution.orderId)?.getSnapshot().context as OrderContext | undefined)?.ledger;
    if (ledger?.changedAt === undefined) return execution;
    return { ...execution, executionRecorded: fillOfExecution(this.opts.db, execution.executionId) !== undefined };
  }

  /**
   * The broker's execution id of a fill, kept on its one row (order_id, cum_qty) when the row was
   * recorded by a source that did not know it (a REST FILL activity, an order read): a correction or
   * bust names the execution it changes. A new fill's row was written with it already.
   */
  private keepExecutionId(execution: ExecutionReport): void {
    const { db, log } = this.opts;
    let kept = false;
    try {
      kept = noteExecutionId(db, execution.orderId, execution.cumQty, execution.executionId!);
      if (kept) log.debug({ event: 'execution_id_kept', order_id: execution.orderId, cum_qty: execution.cumQty, execution_id: execution.executionId, source: execution.source }, 'execution id kept on a recorded fill');
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      log.warn({ event: 'execution_id_not_kept', order_id: execution.orderId, err: String(err) }, 'could not keep a fill\'s execution id');
    }
    // A bust or correction that came before this fill's execution id was known applies now.
    if (!kept) return;
    try {
      this.changesCommitted(() => applyPending(this.commitDeps, execution.executionId!, new Date()), execution.symbol);
    } catch {
      // Said and fatal already (changesCommitted).
    }
  }

  /**
   * A trade bust or correction from the activity event stream (issue 26 items 3, 4), applied once to
   * the fill it names and followed by the symbol's position actor, in the caller's transaction (the
   * event stream's, with its cursor): fill-change-commit.ts. Pending when that fill is not in the
   * ledger yet: applied when its execution id is recorded.
   */
  applyChange(eventId: string, change: ExecutionChange, now = new Date()): ChangeOutcome {
    const symbol = fillOfExecution(this.opts.db, change.previousId)?.symbol ?? change.symbol;
    const done = this.changesCommitted(() => commitChange(this.commitDeps, eventId, change, now), symbol);
    const fields = { event_id: eventId, ref_id: change.refId, previous_id: change.previousId, execution_type: `trade_${change.type === 'bust' ? 'bust' : 'correct'}`, order_id: change.orderId };
    if (done.outcome === 'pending') {
      this.opts.log.warn({ event: 'execution_change_pending', ...fields }, 'a trade bust or correction names a fill the ledger does not hold yet: kept, applied when that execution is recorded');
    } else if (done.outcome === 'duplicate') {
      this.opts.log.debug({ event: 'execution_change_seen', ...fields }, 'a trade bust or correction applied already');
    }
    return done.outcome;
  }

  /**
   * Runs a change commit (its position actor live first), then logs what it applied and what follows
   * it. A commit that failed stops the account (`onFatal`) and is thrown on: the caller's transaction
   * (the event stream's cursor) rolls back with it.
   */
  private changesCommitted(commit: () => ChangeCommitted, symbol: string | null): ChangeCommitted {
    const { log } = this.opts;
    if (symbol) this.send({ type: 'position.ensure', position: { symbol, qty: '0', stops: [] } });
    let done: ChangeCommitted;
    try {
      done = commit();
    } catch (err) {
      if (!(err instanceof LeadershipLost)) log.fatal({ event: 'persist_failed', err }, 'could not apply a trade bust or correction');
      this.opts.onFatal(err);
      throw err;
    }
    this.afterChanges(done);
    return done;
  }

  private afterChanges(done: ChangeCommitted): void {
    this.logApplied(done);
    if (done.applied.length === 0) return;
    this.exitWalk.schedule();
    this.stopsWake.schedule();
    // A live order's actor reads the broker's filled_qty less what the change moved (fill-plan.ts `changeLedger`).
    for (const a of done.applied) {
      if (!this.live(a.fill.order_id)) continue;
      const qty = new D(a.qty).minus(a.fill.qty);
      const notional = new D(a.qty).times(a.price).minus(new D(a.fill.qty).times(a.fill.price));
      this.send({ type: 'order.fillChanged', orderId: a.fill.order_id, qty: normalize(qty), notional: normalize(notional) });
    }
    for (const entryOrderId of done.followed.closed) this.positionClosed(entryOrderId);
  }

  /** Each applied change said once its transaction commits. */
  private logApplied(done: ChangeCommitted): void {
    for (const a of done.applied) {
      const f = a.fill;
      this.opts.db.afterCommit(() =>
        this.opts.log.info(
          { event: 'execution_change_applied', ref_id: a.row.ref_id, previous_id: a.row.previous_id, kind: a.row.kind, order_id: f.order_id, cum_qty: f.cum_qty, symbol: f.symbol, old_qty: f.qty, old_price: f.price, qty: a.qty, price: a.price, position: this.ledgerPosition(f.symbol) },
          a.row.kind === 'bust' ? `fill busted: ${f.side} ${f.qty} ${f.symbol} @ ${f.price} taken back` : `fill corrected: ${f.side} ${f.qty} ${f.symbol} @ ${f.price} is now ${a.qty} @ ${a.price}`,
        ),
      );
    }
  }

  handleOrder(order: OrderReport): void {
    this.readExpiry(order);
    const routing = this.routes.routing(order.orderId, order.clientOrderId, order);
    if (!routing) {
      this.routes.dropForFinishedOrder(order.orderId, order.filledQty, 'order');
      return;
    }
    this.send({ type: 'broker.order', order, ...routing });
  }

  /** A stop order's aged-order deadline, kept on its stop's row (the re-arm reads it from there). */
  private readExpiry(order: OrderReport): void {
    try {
      readStopExpiry(this.opts.db, order);
    } catch (err) {
      this.opts.log.fatal({ event: 'persist_failed', err }, 'could not record a stop order expiry');
      this.opts.onFatal(err);
    }
  }

  /**
   * A crypto fee taken in the coin (a CFEE activity): recorded once, and followed by its symbol's
   * position actor in the same transaction (order-commit.ts `commitFee`): its long shrinks, and its
   * stops with it, or they are canceled when nothing is left. False when it was recorded already.
   * `backfill`: an old fee read once after the upgrade that added fees; the exits it completed long
   * ago are not walked again (their cooldowns would start now).
   */
  recordFee(fee: FeeReport, opts: { backfill?: boolean } = {}, now = new Date()): boolean {
    const { log } = this.opts;
    // Its position actor must be live first (a symbol never seen starts flat).
    this.send({ type: 'position.ensure', position: { symbol: fee.symbol, qty: '0', stops: [] } });
    let committed: ReturnType<typeof commitFee>;
    try {
      committed = commitFee(this.commitDeps, fee, now, { walk: !opts.backfill });
    } catch (err) {
      log.fatal({ event: 'persist_failed', err }, 'could not record a crypto fee');
      this.opts.onFatal(err);
      return false;
    }
    if (!committed) return false;
    this.feesRecorded += 1;
    log.info(
      { event: 'fee_recorded', activity_id: fee.activityId, symbol: fee.symbol, qty: fee.qty, at: fee.at, exit_walk: committed.marked, position: this.ledgerPosition(fee.symbol) },
      `fee ${fee.qty} ${fee.symbol} taken from the position`,
    );
    if (committed.marked) this.exitWalk.schedule();
    this.stopsWake.schedule();
    for (const entryOrderId of committed.followed.closed) if (this.live(entryOrderId)) this.send({ type: 'position.closed', entryOrderId });
    return true;
  }

  /**
   * An option exercise or assignment activity (OPEXC, OPASN or OPTRD, from REST or the event stream):
   * recorded once, as a fill of an order placed elsewhere (runtime/option-commit.ts), and followed by
   * its symbol's position actor in the same transaction — shares bought are protected as an outside
   * position is (CT_ADOPT), shares sold shrink or cancel the stops that covered them, contracts never
   * get stops. False when it was recorded already (the other source's report of it).
   */
  recordOptionEvent(e: OptionEventReport, now = new Date()): boolean {
    const { log } = this.opts;
    this.send({ type: 'position.ensure', position: { symbol: e.symbol, qty: '0', stops: [] } });
    const side = e.qty.startsWith('-') ? 'sell' : 'buy';
    const assetClass = assetClassOf(e.symbol);
    const orderId = optionEventOrderId(e.kind, e.key);
    const order = {
      orderId,
      role: roleAtFirstFill(this.ledgerPosition(e.symbol), { clientOrderId: '', symbol: e.symbol, side, assetClass }),
      assetClass,
      clientOrderId: '',
      protect: this.opts.adopt === 'protect',
    } as const;
    let committed: ReturnType<typeof commitOptionEvent>;
    try {
      committed = commitOptionEvent(this.commitDeps, e, order, now);
    } catch (err) {
      this.optionFailures += 1;
      if (!(err instanceof LeadershipLost)) log.fatal({ event: 'persist_failed', err }, 'could not record an option exercise or assignment');
      this.opts.onFatal(err);
      return false;
    }
    if (!committed) {
      log.debug({ event: 'option_event_already_recorded', kind: e.kind, key: e.key, source: e.source }, 'option activity recorded already');
      return false;
    }
    this.optionEventsRecorded += 1;
    this.fillsRecorded += 1;
    log.info(
      { event: 'option_event_recorded', kind: e.kind, order_id: orderId, symbol: e.symbol, qty: e.qty, price: e.price, contract: e.contractSymbol, source: e.source, role: order.role, position: this.ledgerPosition(e.symbol) },
      `${e.kind} ${e.qty} ${e.symbol}${e.kind === 'OPTRD' ? ` @ ${e.price}` : ''} recorded`,
    );
    this.exitWalk.schedule();
    this.stopsWake.schedule();
    for (const entryOrderId of committed.followed.closed) if (this.live(entryOrderId)) this.send({ type: 'position.closed', entryOrderId });
    return true;
  }

  /** The entry's stop actor reached working: its lifecycle shows "stop placed". */
  stopWorking(entryOrderId: string, stopOrderId: string): void {
    this.send({ type: 'stop.working', entryOrderId, stopOrderId });
  }

  /** The entry's stop ended with nothing to protect (flat at the broker and in the ledger): the entry is over. */
  positionClosed(entryOrderId: string): void {
    if (this.live(entryOrderId)) this.send({ type: 'position.closed', entryOrderId });
  }

  /**
   * Stops the extended-hours guard took off, asked again of the symbol's position actor (it sizes
   * them to the position now), with `alsoWrite` (the guard's own record) in the same transaction.
   */
  resumeStops(symbol: string, stopIds: readonly string[], alsoWrite: () => void, now = new Date()): void {
    const actor = this.positionActor(symbol);
    const followed = this.opts.db.transaction(() => {
      const f = actor ? this.following.resume(actor, { stopIds, now }) : { closed: [], asked: false };
      alsoWrite();
      return f;
    });
    this.stopsWake.schedule();
    for (const entryOrderId of followed.closed) this.positionClosed(entryOrderId);
  }

  /** Live actor for an order, if any, restored first if a restart left it dormant (the API reads state and history through the store). */
  live(orderId: string): AnyActorRef | undefined {
    this.wake(orderId);
    return this.actor?.system.get(orderActorId(orderId)) as AnyActorRef | undefined;
  }

  /**
   * Restores a dormant order's actor from its row (the supervisor's `order.restore`) and watches it,
   * as `restore` does for those it restores at once. A row that cannot be restored as it is (its
   * snapshot unreadable) is rebuilt from the broker's order, as `recover` rebuilds: until then the
   * order has no actor, so a report for it is routed as for an order whose actor is gone (seeded
   * from its ledger).
   */
  private wake(orderId: string): void {
    const actor = this.actor;
    if (!actor || !this.dormant.delete(orderId)) return;
    const { db, log } = this.opts;
    const result = restorableOrder(db, orderId);
    if (result === null) return;
    if ('reason' in result) {
      log.warn({ event: 'actor_rebuild', order_id: orderId, reason: result.reason }, 'order snapshot not restorable: rebuilding from the broker');
      void this.refreshOrder(orderId, result.reason);
      return;
    }
    this.step.restored(orderId, result.json, result.state);
    actor.send({ type: 'order.restore', orderId, snapshot: result.snapshot });
    const ref = actor.system.get(orderActorId(orderId)) as AnyActorRef | undefined;
    if (ref) this.step.watch(ref, false);
    log.debug({ event: 'actor_rehydrated', order_id: orderId, state: result.state }, `order actor rehydrated in ${result.state}`);
  }

  /**
   * The order actors an event may reach, restored first: the order it is about and, when that is a
   * stop order, its entry (a stop order that ends tells its entry, machines/supervisor.machine.ts).
   */
  private wakeFor(event: SupervisorEvent): void {
    if (this.dormant.size === 0) return;
    let orderId: string;
    const clientIds: string[] = [];
    let stopRole = false;
    switch (event.type) {
      case 'broker.order':
        orderId = event.order.orderId;
        clientIds.push(event.order.clientOrderId);
        break;
      case 'broker.execution':
        orderId = event.execution.orderId;
        if (event.order) clientIds.push(event.order.clientOrderId);
        break;
      case 'stop.working':
      case 'position.closed':
        this.wake(event.entryOrderId);
        return;
      default:
        return;
    }
    if (event.clientOrderId) clientIds.push(event.clientOrderId);
    stopRole = event.role === 'stop';
    const c = this.live(orderId)?.getSnapshot().context as OrderContext | undefined;
    if (c) {
      clientIds.push(c.order.clientOrderId);
      stopRole ||= c.role === 'stop';
    }
    if (!stopRole) return;
    for (const clientOrderId of clientIds) {
      const entry = entryOfStop(clientOrderId);
      if (entry) this.wake(entry);
    }
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

  /** Every live order actor with its current state (a dormant one's is its row's). */
  liveStates(): Array<{ orderId: string; state: string }> {
    const out = this.children()
      .filter(([id]) => id.startsWith('order:'))
      .map(([id, ref]) => ({ orderId: id.slice('order:'.length), state: stateName(ref.getSnapshot().value) }));
    for (const [orderId, state] of this.dormant) out.push({ orderId, state });
    return out;
  }

  /**
   * Asks the broker for an order and routes what it says (unpriced gaps, rebuilds, reconciliation).
   * An unpriced gap (`gapBefore`: the cum_qty past it) is first filled from that order's own fills
   * (one activities request by `order_id`), each recorded as executed rather than one fill priced
   * from the order's VWAP; the order is read only when they do not reach `gapBefore` (not published
   * yet) or cannot be read.
   */
  async refreshOrder(orderId: string, reason: string, gapBefore?: string): Promise<void> {
    if (this.snapshotRequests.has(orderId)) return;
    this.snapshotRequests.add(orderId);
    try {
      if (gapBefore !== undefined && this.opts.orderFills && (await this.fillGap(orderId, gapBefore))) return;
      const order = await this.opts.fetchOrder(orderId);
      if (order) this.handleOrder(order);
      else this.opts.log.warn({ event: 'order_unknown_at_broker', order_id: orderId, reason }, 'broker does not know this order');
    } catch (err) {
      this.opts.log.warn({ event: 'order_refresh_failed', order_id: orderId, reason, err: String(err) }, 'could not fetch order from broker');
    } finally {
      this.snapshotRequests.delete(orderId);
    }
  }

  /** Routes the order's fills by `order_id`; true when the ledger then reaches `gapBefore`. */
  private async fillGap(orderId: string, gapBefore: string): Promise<boolean> {
    const { db, log } = this.opts;
    let fills: ExecutionReport[] | null;
    try {
      fills = await this.opts.orderFills!(orderId);
    } catch (err) {
      log.warn({ event: 'order_fills_failed', order_id: orderId, err: String(err) }, 'could not read the order\'s fills; reading the order');
      return false;
    }
    if (!fills) return false;
    for (const f of fills) this.handleExecution(f, null);
    const filled = ledgerOf(db, orderId).filledQty;
    const closed = new D(filled).gte(gapBefore);
    log.info({ event: 'order_fills_read', order_id: orderId, fills: fills.length, ledger_qty: filled, gap_before: gapBefore, closed }, closed ? 'unpriced gap filled from the order\'s fills' : 'the order\'s fills do not reach the gap yet; reading the order');
    return closed;
  }

  /** One event through the supervisor, then its commit step: every order actor it changed is persisted. */
  private send(event: SupervisorEvent): void {
    const actor = this.actor;
    if (!actor) throw new Error('order actors are not running');
    this.wakeFor(event);
    this.step.process(event, () => actor.send(event));
  }

  private provideOrderMachine() {
    const { log } = this.opts;
    return orderMachine.provide({
      actions: {
        recordFill: ({ context }, fill) => void this.step.buffer(context.order.orderId).fills.push(fill),
        duplicateFill: (_, p) =>
          log.debug({ event: 'fill_already_processed', order_id: p.orderId, cum_qty: p.cumQty, source: p.source }, 'duplicate fill report ignored'),
        requestOrderSnapshot: (_, p) => void this.refreshOrder(p.orderId, p.reason, p.gapBefore),
      },
    });
  }

  /** Starts the cooldowns the recorded fills call for, walking their symbols in the broker's order. */
  private walkExits(): void {
    try {
      this.exits.walk((symbol) => this.ledgerPosition(symbol));
    } catch (err) {
      if (!(err instanceof LeadershipLost)) this.opts.log.fatal({ event: 'persist_failed', err }, 'could not record cooldowns');
      this.opts.onFatal(err);
    }
  }

  /** After an order's commit: logs, the exit walk and the stop worker (after the batch), an ended order's consequences, then the entries it closed. */
  private afterCommit({ c, committed, state, terminal, now }: CommitOutcome): void {
    const { db, log } = this.opts;
    const { written } = committed;
    this.fillsRecorded += written.length;
    for (const f of written) if (f.executionId) this.wroteExecution.add(executionKey(f.orderId, f.cumQty, f.executionId));
    for (const f of written) {
      log.info(
        { event: 'fill_received', order_id: f.orderId, symbol: f.symbol, side: f.side, cum_qty: f.cumQty, qty: f.qty, price: f.price, source: f.source, role: c.role },
        `fill ${f.side} ${f.qty} ${f.symbol} @ ${f.price}`,
      );
    }
    if (written.length > 0) this.exitWalk.schedule();
    if (written.length > 0 && c.role === 'entry' && written[0]!.cumQty === written[0]!.qty) {
      const cooling = activeCooldown(db, c.order.symbol, now);
      if (cooling) {
        log.warn(
          { event: 'entry_during_cooldown', order_id: c.order.orderId, symbol: c.order.symbol, until: cooling.until, untracked: c.untracked },
          'an entry placed outside the service during a cooldown: protected, and flagged',
        );
      }
    }
    // Fills and stop asks may have changed what the stops must be. The book is current now.
    if (written.length > 0 || committed.stopsAsked) this.stopsWake.schedule();
    if (terminal) {
      this.routes.finished(c.order.orderId);
      // An order that ended holds nothing any more: stops of its symbol placed short of what they
      // want (its quantity was held) try to grow now rather than at their next recheck.
      // So does one of our stops canceled or expired (a bust's, a shrink's): the shares it held are free.
      const freed = c.role !== 'stop' || ['canceled', 'expired'].includes(brokerOutcome(c.order.status));
      if (c.role !== 'stop') this.opts.onOrderEnded?.(c.order.symbol);
      if (freed && wakeShortStops(db, c.order.symbol, now) > 0) this.stopsWake.schedule();
    }
    // Busts and corrections that waited for these fills: their orders' actors and entries follow.
    for (const done of this.released.splice(0)) this.afterChanges(done);
    // Last: ending those entries runs their transitions (and this step for them).
    this.closeEntries(c, state, committed.closed);
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

const executionKey = (orderId: string, cumQty: string, executionId: string) => `${orderId}\u0000${cumQty}\u0000${executionId}`;

/** The input of an order actor restored by the supervisor's `order.restore`: its persisted snapshot. */
interface RestoreInput {
  restore: unknown;
}

function isRestoreInput(input: unknown): input is RestoreInput {
  return typeof input === 'object' && input !== null && 'restore' in input;
}

/**
 * The order machine that starts from a persisted snapshot when spawned with one as its input (the
 * supervisor's `order.restore`), exactly as `createActor(machine, { snapshot })` would restore it;
 * with any other input it starts as the machine does.
 */
function restorable<T extends typeof orderMachine>(logic: T): T {
  const wrapped = Object.create(logic) as T;
  wrapped.getInitialSnapshot = function (this: T, scope: ActorScope<any, any, any, any>, input?: unknown) {
    return isRestoreInput(input)
      ? logic.restoreSnapshot.call(this, input.restore as never, scope as never)
      : logic.getInitialSnapshot.call(this, scope as never, input as never);
  } as T['getInitialSnapshot'];
  return wrapped;
}
