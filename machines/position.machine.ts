import { assign, enqueueActions, setup } from 'xstate';
import { D } from '../src/decimal.js';
import { stopAsk, type StopRow } from '../src/domain/protection.js';
import { followChange, followFee, followFill, resumeStops, type FillChange, type FillOrder, type PositionCommand, type PositionFill, type PositionState, type StopCover } from './position.js';
import { stopStateOf } from './stop-model.js';

/**
 * One actor per symbol (DESIGN §3.4), spawned by the supervisor (`position:<symbol>`): it owns the
 * signed position the ledger implies and what each of the symbol's stops covers. Every fill the
 * store commits reaches it as `fills` (inside the commit's transaction); each goes through the pure
 * step `followFill` (opened / increased / reduced / closed / crossed) — and every crypto fee as `fee`,
 * through `followFee` (a reduction, or a close without cooldown), every trade bust or correction of
 * a recorded fill as `change`, through `followChange` — and the commands that step
 * returns — cover, cut, shrink, cancel a stop; start a cooldown; tell an entry its position closed —
 * are handed to the runtime as `carryOut` actions (runtime/position-follow.ts performs them). The
 * stop actors tell it what they cover now (`stop.changed`): a stop that ended leaves its list.
 *
 * Not persisted: a restart rebuilds it from the ledger (its quantity) and the live stop rows (its
 * stops), which are what every step was committed with.
 */

export interface PositionInput {
  symbol: string;
  qty: string;
  /** The symbol's live stops, oldest first, as their rows have them. */
  stops: CoverRow[];
}

/** What a stop covers, from its row (the stop actor's snapshot). */
/** The columns of a stop's row that say what it covers. */
export type CoverRow = Pick<StopRow, 'entry_order_id' | 'payload' | 'cut_qty' | 'cancel_requested' | 'status' | 'broker_order_id' | 'version' | 'last_error'>;

export function coverOf(row: CoverRow): StopCover {
  const ask = stopAsk(row);
  return {
    stopOf: row.entry_order_id,
    side: ask.side,
    asked: ask.qty,
    cut: row.cut_qty,
    cancelRequested: row.cancel_requested !== 0,
    done: stopStateOf(row) === 'done',
  };
}

export type PositionEvent =
  /**
   * Fills the store just wrote, of one order. `own`: the order's own stops (and, for a protective
   * stop, the entry's) as their rows have them, ended ones included: an ended stop may be re-armed.
   */
  | { type: 'fills'; order: FillOrder; fills: PositionFill[]; own: StopRow[]; now: number }
  /**
   * A trade bust or correction the store just applied to a recorded fill of `order` (`followChange`).
   * `ended`: the symbol's stops that ended or are being canceled (rows), which a grown-back position may re-arm.
   */
  | { type: 'change'; change: FillChange; order: FillOrder; ended: CoverRow[]; now: number }
  /** A crypto fee the store just wrote: `qty` of the coin left the position (Alpaca's CFEE). */
  | { type: 'fee'; qty: string; now: number }
  /** A stop actor's row after its transition. */
  | { type: 'stop.changed'; row: StopRow }
  /** Stops the extended-hours guard took off, the position still open at the regular open: asked again (`resumeStops`). */
  | { type: 'stops.resume'; rows: CoverRow[]; assetClass: string; now: number };

export const positionActorId = (symbol: string) => `position:${symbol}`;

/** The symbol's stops with `own` merged in (what the actor knows of a stop wins: it is as recent). */
function withOwn(stops: StopCover[], own: StopCover[]): StopCover[] {
  const known = new Set(stops.map((s) => s.stopOf));
  return [...stops, ...own.filter((s) => !known.has(s.stopOf))];
}

/** Runs the fills through the pure step: the position after them and every command, in order. */
export function followAll(state: PositionState, fills: readonly PositionFill[], order: FillOrder): { next: PositionState; commands: PositionCommand[] } {
  let next = state;
  const commands: PositionCommand[] = [];
  for (const fill of fills) {
    const step = followFill(next, fill, order);
    commands.push(...step.commands);
    next = step.next;
  }
  return { next, commands };
}

const sign = (qty: string) => new D(qty).comparedTo(0);

export const positionMachine = setup({
  types: {
    context: {} as PositionState,
    input: {} as PositionInput,
    events: {} as PositionEvent,
  },
  actions: {
    /** Runtime: perform one command of the step (a stop's event, a cooldown, an entry's `position.closed`). */
    carryOut: (_, _cmd: PositionCommand) => {},
  },
  guards: {
    long: ({ context }) => sign(context.qty) > 0,
    short: ({ context }) => sign(context.qty) < 0,
  },
}).createMachine({
  id: 'position',
  context: ({ input }) => ({ symbol: input.symbol, qty: input.qty, stops: input.stops.map(coverOf).filter((s) => !s.done) }),
  initial: 'settling',
  on: {
    fills: {
      target: '.settling',
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { next, commands } = followAll({ ...context, stops: withOwn(context.stops, event.own.map(coverOf)) }, event.fills, event.order);
        // An ended stop leaves the list (an order's own comes back with its next fills, in `own`).
        enqueue.assign({ qty: next.qty, stops: next.stops.filter((s) => !s.done) });
        for (const cmd of commands) enqueue({ type: 'carryOut', params: cmd });
      }),
    },
    fee: {
      target: '.settling',
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { next, commands } = followFee(context, event.qty);
        enqueue.assign({ qty: next.qty, stops: next.stops });
        for (const cmd of commands) enqueue({ type: 'carryOut', params: cmd });
      }),
    },
    change: {
      target: '.settling',
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { next, commands } = followChange(context, event.change, event.order, event.ended.map(coverOf));
        enqueue.assign({ qty: next.qty, stops: next.stops.filter((s) => !s.done) });
        for (const cmd of commands) enqueue({ type: 'carryOut', params: cmd });
      }),
    },
    'stops.resume': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { next, commands } = resumeStops(context, event.rows.map(coverOf));
        enqueue.assign({ stops: next.stops });
        for (const cmd of commands) enqueue({ type: 'carryOut', params: cmd });
      }),
    },
    'stop.changed': {
      // An entry's fraction stop follows the entry's stop (machines/fraction-stop.ts): the entry's is the one covered here.
      guard: ({ event }) => stopAsk(event.row).part !== 'fraction',
      actions: assign(({ context, event }) => {
        const cover = coverOf(event.row);
        const rest = context.stops.filter((s) => s.stopOf !== cover.stopOf);
        if (cover.done) return { stops: rest };
        const at = context.stops.findIndex((s) => s.stopOf === cover.stopOf);
        if (at < 0) return { stops: [...rest, cover] };
        const stops = [...context.stops];
        stops[at] = cover;
        return { stops };
      }),
    },
  },
  states: {
    /** Which way the position points, after each batch of fills. */
    settling: { always: [{ guard: 'long', target: 'long' }, { guard: 'short', target: 'short' }, { target: 'flat' }] },
    flat: {},
    long: {},
    short: {},
  },
});

export type PositionMachine = typeof positionMachine;
