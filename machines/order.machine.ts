import { and, assign, enqueueActions, setup } from 'xstate';
import { D, normalize } from '../src/decimal.js';
import { executionFromOrder, type ExecutionReport, type OrderReport, type Side } from '../src/domain/reports.js';
import { brokerOutcome, entryOfStop, stopClientOrderId } from '../src/domain/orders.js';
import type { FillRecord, OrderLedger, OrderRole } from '../src/domain/protection.js';
import { brokerFilledOf, changeLedger, EMPTY_LEDGER, planFills } from './fill-plan.js';

/**
 * One actor per broker order (DESIGN §2): its fills and its lifecycle. Pure: every side effect is a
 * named action the runtime provides — recording a fill, asking for the order's broker state, logging
 * a duplicate. It decides nothing about stops: the position actor sizes them and the stop actor
 * reports when an entry's stop works at the broker (`stop.working` → protected). Bump
 * ORDER_MACHINE_VERSION whenever a persisted snapshot of the previous version would not restore.
 */
export const ORDER_MACHINE_VERSION = 1;

/** What the actor keeps of the broker's order (its filled_qty as the broker last said it). */
export type OrderSummary = Pick<OrderReport, 'orderId' | 'clientOrderId' | 'symbol' | 'assetClass' | 'side' | 'type' | 'qty' | 'status'> & {
  brokerFilledQty: string;
};

export interface OrderInput {
  order: OrderSummary;
  /** Placed outside this service (by hand, another tool, before a restart that lost it). */
  untracked: boolean;
  /** Whether an entry gets a protective stop (CT_ADOPT decides it for untracked orders). */
  protect: boolean;
  role?: OrderRole | null;
  /** Seed when an actor is rebuilt: what the ledger already holds for this order. */
  ledger?: OrderLedger;
}

export interface OrderOutput {
  orderId: string;
  role: OrderRole | null;
  filledQty: string;
  /** For a protective stop: the entry order it protects. */
  stopOf: string | null;
  /** The identity of the order's last fill, "<order_id>:<cum_qty>". */
  exitFillId: string | null;
}

export interface OrderContext {
  order: OrderSummary;
  untracked: boolean;
  protect: boolean;
  role: OrderRole | null;
  ledger: OrderLedger;
  /** The entry's stop as its stop actor last reported it working (orderId null: not since the last fill). */
  stop: { clientOrderId: string; orderId: string | null } | null;
  exitFillId: string | null;
}

export type OrderEvent =
  | { type: 'order.report'; order: OrderReport; role: OrderRole }
  | { type: 'execution'; execution: ExecutionReport; role: OrderRole }
  /** The entry's stop actor reached `working`: the broker holds the stop for what its position wants. */
  | { type: 'stop.working'; stopOrderId: string }
  | { type: 'stop.filled'; exitFillId: string }
  /**
   * A trade bust or correction of one of its recorded fills: the broker's filled_qty moved by `qty`
   * (signed) and its value by `notional`. The ledger keeps its highest cum_qty (the fills' identity)
   * and reads later reports less what moved (machines/fill-plan.ts `changeLedger`).
   */
  | { type: 'fill.changed'; qty: string; notional: string }
  /**
   * The entry's stop was taken off because none of its position is left (another order closed the
   * position, or exits cut the stop to nothing): a finished entry is over.
   */
  | { type: 'position.closed' };

export function summarize(order: OrderReport): OrderSummary {
  return {
    orderId: order.orderId,
    clientOrderId: order.clientOrderId,
    symbol: order.symbol,
    assetClass: order.assetClass,
    side: order.side,
    type: order.type,
    qty: order.qty,
    status: order.status,
    brokerFilledQty: order.filledQty,
  };
}

const opposite = (side: Side): Side => (side === 'buy' ? 'sell' : 'buy');
const hasFills = (c: OrderContext) => c.ledger.filledQty !== '0';
const outcome = (c: OrderContext) => brokerOutcome(c.order.status);
/** The ledger holds at least what the broker last said was filled (a spawn may know the order first). */
const caughtUp = (c: OrderContext) => new D(brokerFilledOf(c.ledger)).gte(c.order.brokerFilledQty);
const fullyFilled = (c: OrderContext) =>
  hasFills(c) &&
  caughtUp(c) &&
  (outcome(c) === 'filled' || (c.order.qty !== null && new D(brokerFilledOf(c.ledger)).gte(c.order.qty)));
/** A terminal broker outcome, once every fill the broker reported is recorded. */
const finished = (c: OrderContext, o: ReturnType<typeof outcome>) => outcome(c) === o && caughtUp(c);
/** The entry's position is final (filled, or terminal after a partial fill) and must be protected. */
const needsProtection = (c: OrderContext) =>
  c.role === 'entry' && c.protect && hasFills(c) && (fullyFilled(c) || (outcome(c) !== 'working' && caughtUp(c)));
/** Its stop reported working since the entry's last fill. */
const stopWorks = (c: OrderContext) => c.stop?.orderId != null;

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
    output: {} as OrderOutput,
  },
  actions: {
    /** Runtime: write the fill row in the same transaction as this actor's next snapshot. */
    recordFill: (_, _fill: FillRecord & { role: OrderRole | null }) => {},
    /** Runtime: log `fill_already_processed`. */
    duplicateFill: (_, _p: { orderId: string; cumQty: string; source: string }) => {},
    /** What `stop.working` records: the order that now holds the entry's stop. */
    stopWorking: assign({
      stop: ({ context, event }) => ({
        clientOrderId: context.stop?.clientOrderId ?? stopClientOrderId(context.order.orderId),
        orderId: event.type === 'stop.working' ? event.stopOrderId : (context.stop?.orderId ?? null),
      }),
    }),
    /**
     * Runtime: fetch the order from the broker and send it back as `order.report`. `gapBefore`: the
     * cum_qty of the report that jumped past unrecorded fills (the runtime reads that order's fills first).
     */
    requestOrderSnapshot: (_, _p: { orderId: string; reason: string; gapBefore?: string }) => {},
  },
  guards: {
    needsProtection: ({ context }) => needsProtection(context),
    stopWorks: ({ context }) => stopWorks(context),
    fullyFilled: ({ context }) => fullyFilled(context),
    canceled: ({ context }) => finished(context, 'canceled'),
    expired: ({ context }) => finished(context, 'expired'),
    rejected: ({ context }) => finished(context, 'rejected'),
    replaced: ({ context }) => finished(context, 'replaced'),
    hasFills: ({ context }) => hasFills(context),
  },
}).createMachine({
  id: 'order',
  // What the supervisor learns when the actor finishes (xstate.done.actor.*): a filled protective
  // stop names the entry it protected, so the entry can move to exited.
  output: ({ context }): OrderOutput => ({
    orderId: context.order.orderId,
    role: context.role,
    filledQty: context.ledger.filledQty,
    stopOf: context.role === 'stop' ? entryOfStop(context.order.clientOrderId) : null,
    exitFillId: context.ledger.filledQty === '0' ? null : `${context.order.orderId}:${context.ledger.filledQty}`,
  }),
  context: ({ input }) => ({
    order: input.order,
    untracked: input.untracked,
    protect: input.protect,
    role: input.role ?? (entryOfStop(input.order.clientOrderId) ? 'stop' : null),
    ledger: input.ledger ?? EMPTY_LEDGER,
    stop: null,
    exitFillId: null,
  }),
  initial: 'settling',
  on: {
    // The entry's protective stop filled (it may beat its own acknowledgement): the position is out.
    'stop.filled': {
      guard: ({ context }) => context.role === 'entry',
      target: '.exited',
      actions: assign({ exitFillId: ({ event }) => event.exitFillId }),
    },
    // A bust or correction moved what the broker says is filled: later reports are read less it.
    'fill.changed': {
      actions: assign(({ context, event }) => {
        const ledger = changeLedger(context.ledger, event);
        const brokerFilledQty = normalize(D.max(0, new D(context.order.brokerFilledQty).plus(event.qty)));
        return { ledger, order: { ...context.order, brokerFilledQty } };
      }),
    },
    // A fill from any source, in any non-final state: record what is new, drop what is not.
    execution: {
      target: '.settling',
      actions: enqueueActions(({ context, event, enqueue }) => applyExecution(context, event.execution, event.role, enqueue as unknown as Enqueue)),
    },
    // The broker's view of the order. Quantity it reports beyond the ledger is recorded from the
    // VWAP difference (source "order"): the itemised sources did not deliver it.
    'order.report': {
      target: '.settling',
      actions: enqueueActions(({ context, event, enqueue }) => {
        const next = summarize(event.order);
        const merged: OrderContext = {
          ...context,
          order: { ...next, clientOrderId: next.clientOrderId || context.order.clientOrderId },
        };
        enqueue.assign({ order: merged.order });
        const execution = executionFromOrder(event.order);
        if (execution && new D(execution.cumQty).gt(brokerFilledOf(context.ledger))) {
          applyExecution(merged, execution, event.role, enqueue as unknown as Enqueue);
        }
      }),
    },
  },
  states: {
    /** Transient: routes to the state the order's facts imply. */
    settling: {
      always: [
        { guard: 'needsProtection', target: 'filled' },
        { guard: 'fullyFilled', target: 'filled' },
        { guard: 'canceled', target: 'canceled' },
        { guard: 'expired', target: 'expired' },
        { guard: 'rejected', target: 'rejected' },
        { guard: 'replaced', target: 'replaced' },
        { guard: 'hasFills', target: 'partiallyFilled' },
        { target: 'pending' },
      ],
    },
    pending: {},
    partiallyFilled: {
      on: { 'stop.working': { actions: 'stopWorking' } },
    },
    /** Transient: a finished fill goes on to protection (entries) or to done. */
    filled: {
      always: [
        { guard: and(['needsProtection', 'stopWorks']), target: 'protected' },
        { guard: 'needsProtection', target: 'placingStop' },
        { target: 'done' },
      ],
    },
    /** Its stop is being placed or resized for what the entry filled; the stop actor says when it works. */
    placingStop: {
      on: {
        'stop.working': { target: 'protected', actions: 'stopWorking' },
        'position.closed': { target: 'exited' },
      },
    },
    /** "stop placed": the broker holds the entry's stop. */
    protected: {
      on: {
        'stop.working': { actions: 'stopWorking' },
        'position.closed': { target: 'exited' },
      },
    },
    exited: { type: 'final' },
    done: { type: 'final' },
    canceled: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
    replaced: { type: 'final' },
  },
});

/** The part of enqueueActions' `enqueue` the ledger step uses (its own type is too generic to name). */
interface Enqueue {
  (action: { type: 'recordFill' | 'duplicateFill' | 'requestOrderSnapshot'; params: object }): void;
  assign(values: Partial<OrderContext>): void;
}

/** Records what an execution adds to the ledger (or drops it as a duplicate) — shared by both report kinds. */
function applyExecution(context: OrderContext, execution: ExecutionReport, eventRole: OrderRole, enqueue: Enqueue): void {
  const role = context.role ?? eventRole;
  const plan = planFills(context.ledger, execution);
  if (plan.kind === 'duplicate') {
    enqueue({ type: 'duplicateFill', params: { orderId: context.order.orderId, cumQty: execution.cumQty, source: execution.source } });
    return;
  }
  if (plan.kind === 'unpricedGap') {
    enqueue({
      type: 'requestOrderSnapshot',
      params: { orderId: context.order.orderId, reason: `unpriced gap before cum_qty ${execution.cumQty}`, gapBefore: execution.cumQty },
    });
    return;
  }
  for (const fill of plan.fills) enqueue({ type: 'recordFill', params: { ...fill, role } });
  const status = execution.orderStatus ?? context.order.status;
  enqueue.assign({
    role,
    ledger: plan.ledger,
    order: { ...context.order, status, brokerFilledQty: maxDecimal(context.order.brokerFilledQty, brokerFilledOf(plan.ledger)) },
  });
  // The position actor resizes the entry's stop for this fill: protected again once it reports working.
  if (role === 'entry' && context.protect) enqueue.assign({ stop: { clientOrderId: stopClientOrderId(context.order.orderId), orderId: null } });
}

function maxDecimal(a: string, b: string): string {
  return normalize(D.max(a, b));
}

export type OrderMachine = typeof orderMachine;
