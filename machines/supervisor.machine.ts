import { enqueueActions, setup, stopChild, type AnyActorRef } from 'xstate';
import type { ExecutionReport, OrderReport } from '../src/domain/reports.js';
import type { OrderLedger, OrderRole } from '../src/domain/protection.js';
import { assetClassOf } from '../src/domain/symbols.js';
import { positionActorId, positionMachine, type PositionInput } from './position.machine.js';
import { orderMachine, summarize, type OrderEvent, type OrderInput, type OrderOutput, type OrderSummary } from './order.machine.js';

/**
 * Routes broker reports to one actor per order (DESIGN §1), and keeps one position actor per symbol
 * (`position:<symbol>`, machines/position.machine.ts) live before any order of that symbol reports. An order it has never seen gets an
 * actor spawned from the string key 'order' (so it can be persisted and restored), with systemId
 * `order:<id>`; a report for a live actor is forwarded to it. Finished actors are stopped.
 * Pure: logging is a named action the runtime provides.
 */

/** What the runtime decided about an order before routing a report for it. */
export interface Routing {
  role: OrderRole;
  untracked: boolean;
  protect: boolean;
  /** When the order's actor is gone (unrestorable snapshot) but the ledger holds fills: its seed. */
  ledger?: OrderLedger;
  /** The order's client order id when the runtime knows it and the report may not (an activity). */
  clientOrderId?: string;
}

export type SupervisorEvent =
  | ({ type: 'broker.order'; order: OrderReport } & Routing)
  | ({ type: 'broker.execution'; execution: ExecutionReport; order: OrderReport | null } & Routing)
  /** The entry's stop actor reached working (its order at the broker): the entry's lifecycle shows "stop placed". */
  | { type: 'stop.working'; entryOrderId: string; stopOrderId: string }
  /** The entry's stop was canceled because its position is gone (routed like stop.working). */
  | { type: 'position.closed'; entryOrderId: string }
  /** A trade bust or correction of a recorded fill of a live order: its actor's ledger follows (`fill.changed`). */
  | { type: 'order.fillChanged'; orderId: string; qty: string; notional: string }
  /** A position actor for the symbol, unless it has one (the runtime's start: every symbol with a position or a live stop). */
  | { type: 'position.ensure'; position: PositionInput }
  /**
   * A live order's actor restored from its persisted snapshot (a restart leaves each order's actor
   * unrestored until an event first reaches it): spawned as at a restore, with `restore` as its
   * input (the runtime's 'order' logic starts from that snapshot), unless it is live already.
   */
  | { type: 'order.restore'; orderId: string; snapshot: unknown }
  | { type: `xstate.done.actor.${string}`; output: OrderOutput; actorId: string };

export const orderActorId = (orderId: string) => `order:${orderId}`;

/** Enough of an order to start its actor when only an execution (an activity) is known. */
function summaryFromExecution(e: ExecutionReport, clientOrderId = ''): OrderSummary {
  return {
    orderId: e.orderId,
    clientOrderId,
    symbol: e.symbol,
    assetClass: assetClassOf(e.symbol),
    side: e.side,
    type: 'unknown',
    qty: null,
    status: e.orderStatus ?? 'partially_filled',
    brokerFilledQty: '0',
  };
}

/** The part of enqueueActions' `enqueue` routing uses (its own type is too generic to name). */
interface RouteEnqueue {
  (action: { type: 'orderSpawned'; params: { orderId: string; input: OrderInput } }): void;
  sendTo(to: AnyActorRef | string, event: OrderEvent): void;
  spawnChild(src: 'order', options: { id: string; systemId: string; input: OrderInput }): void;
  spawnChild(src: 'position', options: { id: string; systemId: string; input: PositionInput }): void;
}

/** Spawns the symbol's position actor unless it is live (a symbol never seen starts flat, without stops). */
function ensurePosition(enqueue: RouteEnqueue, system: { get(id: string): unknown }, position: PositionInput): void {
  const id = positionActorId(position.symbol);
  if (!system.get(id)) enqueue.spawnChild('position', { id, systemId: id, input: position });
}

/** Forwards a report to the order's actor, spawning it first (never twice: system.get) if unseen. */
function routeToOrder(
  enqueue: RouteEnqueue,
  system: { get(id: string): unknown },
  routing: Routing,
  orderId: string,
  forward: OrderEvent,
  summary: () => OrderSummary,
  symbol: string,
  onSpawn?: () => void,
): void {
  // Its fills reach the symbol's position actor inside the order's commit: it must be live first.
  ensurePosition(enqueue, system, { symbol, qty: '0', stops: [] });
  const id = orderActorId(orderId);
  const existing = system.get(id) as AnyActorRef | undefined;
  if (existing) {
    enqueue.sendTo(existing, forward);
    return;
  }
  onSpawn?.();
  const input: OrderInput = { order: summary(), untracked: routing.untracked, protect: routing.protect, role: routing.role === 'stop' ? 'stop' : null, ledger: routing.ledger };
  enqueue.spawnChild('order', { id, systemId: id, input });
  // The runtime persists from here on: it watches the new actor before its first event arrives.
  enqueue({ type: 'orderSpawned', params: { orderId, input } });
  enqueue.sendTo(id, forward);
}

/** Forwards an event to an order's actor (an entry's, about its stop; any order's, about its fills), when it is live. */
function toEntry(enqueue: RouteEnqueue, system: { get(id: string): unknown }, entryOrderId: string, event: OrderEvent): void {
  const entry = system.get(orderActorId(entryOrderId)) as AnyActorRef | undefined;
  if (entry) enqueue.sendTo(entry, event);
}

export const supervisorMachine = setup({
  types: {
    events: {} as SupervisorEvent,
  },
  actors: { order: orderMachine, position: positionMachine },
  actions: {
    /** Runtime: log `untracked_fill_detected`. */
    untrackedFillDetected: (_, _p: { orderId: string; symbol: string; cumQty: string; source: string }) => {},
    /** Runtime: an order actor was spawned (it persists the actor's snapshots after each event from now on). */
    orderSpawned: (_, _p: { orderId: string; input: OrderInput }) => {},
  },
}).createMachine({
  id: 'supervisor',
  initial: 'running',
  states: {
    running: {
      on: {
        'broker.order': {
          actions: enqueueActions(({ event, system, enqueue }) =>
            routeToOrder(
              enqueue as unknown as RouteEnqueue,
              system,
              event,
              event.order.orderId,
              { type: 'order.report', order: event.order, role: event.role },
              () => summarize(event.order),
              event.order.symbol,
            ),
          ),
        },
        'broker.execution': {
          actions: enqueueActions(({ event, system, enqueue }) =>
            routeToOrder(
              enqueue as unknown as RouteEnqueue,
              system,
              event,
              event.execution.orderId,
              { type: 'execution', execution: event.execution, role: event.role },
              () => (event.order ? summarize(event.order) : summaryFromExecution(event.execution, event.clientOrderId)),
              event.execution.symbol,
              // An order never seen whose first report is a fill: placed elsewhere, found by its fill.
              () =>
                event.untracked &&
                enqueue({
                  type: 'untrackedFillDetected',
                  params: { orderId: event.execution.orderId, symbol: event.execution.symbol, cumQty: event.execution.cumQty, source: event.execution.source },
                }),
            ),
          ),
        },
        'stop.working': {
          actions: enqueueActions(({ event, system, enqueue }) =>
            toEntry(enqueue as unknown as RouteEnqueue, system, event.entryOrderId, { type: 'stop.working', stopOrderId: event.stopOrderId }),
          ),
        },
        'position.closed': {
          actions: enqueueActions(({ event, system, enqueue }) =>
            toEntry(enqueue as unknown as RouteEnqueue, system, event.entryOrderId, { type: 'position.closed' }),
          ),
        },
        'order.fillChanged': {
          actions: enqueueActions(({ event, system, enqueue }) =>
            toEntry(enqueue as unknown as RouteEnqueue, system, event.orderId, { type: 'fill.changed', qty: event.qty, notional: event.notional }),
          ),
        },
        'order.restore': {
          actions: enqueueActions(({ event, system, enqueue }) => {
            const id = orderActorId(event.orderId);
            if (system.get(id)) return;
            (enqueue as unknown as RouteEnqueue).spawnChild('order', { id, systemId: id, input: { restore: event.snapshot } as unknown as OrderInput });
          }),
        },
        'position.ensure': {
          actions: enqueueActions(({ event, system, enqueue }) => ensurePosition(enqueue as unknown as RouteEnqueue, system, event.position)),
        },
        'xstate.done.actor.*': {
          actions: [
            enqueueActions(({ event, system, enqueue }) => {
              const out = (event as { output?: OrderOutput }).output;
              if (!out?.stopOf || !out.exitFillId) return;
              const entry = system.get(orderActorId(out.stopOf)) as AnyActorRef | undefined;
              if (entry) enqueue.sendTo(entry, { type: 'stop.filled', exitFillId: out.exitFillId });
            }),
            stopChild(({ event }) => (event as { actorId: string }).actorId),
          ],
        },
      },
    },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
