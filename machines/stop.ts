/**
 * A protective stop's life, as one pure machine (no I/O): `stopStep(row, event, now)` returns the
 * row's next columns and the effects the stop worker is to carry out (look up, post, patch, delete,
 * back off). Every write to an `stops` row goes through it (src/protection/stop-transitions.ts
 * `applyStopTransition`), whoever learned the fact: the order actors, the position-following code,
 * the crypto ratchet, the stop worker.
 *
 * This file is the table: which events each state takes, and which step handles each. A plain
 * `(state, event) → handler` table, like nautilus_trader's order FSM: an event the table does not
 * list for a state, or whose guard fails (not due yet, about an older client order id, prepared from
 * a row that has changed since), is refused and changes nothing. The states, events and effects are
 * stop-model.ts's; the steps are stop-asks.ts (what the runtime tells it), stop-clock.ts (when it is
 * due) and stop-outcomes.ts (what the worker tells it).
 */
import { stopStateOf, type StopEvent, type StopEventType, type StopRow, type StopState, type StopStep } from './stop-model.js';
import type { Handler, Handlers } from './stop-handler.js';
import { asked, cancelRequested, causeGone, causeGoneInFlight, cut, expiryRead, orderFinished, raised, rearmCancelling, rearmDone, restarted } from './stop-asks.js';
import { aging, dueCancelling, duePlace, dueProbe, dueReplacing, dueWorking, postponed } from './stop-clock.js';
import {
  accepted,
  cancelConfirmed,
  cancelLandedAfterRearm,
  deferred,
  duplicate,
  lookupAbsent,
  lookupFound,
  lookupFoundCancelling,
  notNeeded,
  outcomeUnknown,
  refused,
  sendStarted,
  unchanged,
} from './stop-outcomes.js';


const onAsk = { asked, cut, cancelRequested, orderFinished, restarted, expiryRead } satisfies Handlers;
const onSent = { deferred, notNeeded, sendStarted, accepted, refused, outcomeUnknown, duplicate, lookupFound, lookupAbsent, cancelConfirmed: cancelLandedAfterRearm } satisfies Handlers;

const TABLE: Record<StopState, Handlers> = {
  pending: { ...onAsk, due: duePlace, deferred, notNeeded, sendStarted, cancelConfirmed: cancelLandedAfterRearm },
  sending: { ...onAsk, ...onSent, causeGone: causeGoneInFlight, due: dueProbe },
  unknown: { ...onAsk, ...onSent, causeGone: causeGoneInFlight, due: dueProbe },
  replacing: { ...onAsk, ...onSent, causeGone: causeGoneInFlight, unchanged, due: dueReplacing },
  working: { ...onAsk, raised, aging, causeGone: () => ({ next: { next_attempt_at: 0 } }), due: dueWorking, cancelConfirmed: cancelLandedAfterRearm },
  cancelling: {
    asked,
    cut,
    rearmed: rearmCancelling,
    restarted,
    expiryRead,
    orderFinished: (row, e, now) => (e.outcome === 'filled' ? orderFinished(row, e, now) : null),
    due: dueCancelling,
    deferred,
    accepted,
    refused,
    outcomeUnknown,
    duplicate,
    lookupFound: lookupFoundCancelling,
    lookupAbsent,
    cancelConfirmed,
  },
  refused: { asked, cut, cancelRequested, orderFinished, expiryRead, causeGone, due: duePlace, postponed, deferred, notNeeded, sendStarted, cancelConfirmed: cancelLandedAfterRearm },
  done: { asked, rearmed: rearmDone },
};

/** The events a state accepts (guards aside). */
export function acceptedEvents(state: StopState): StopEventType[] {
  return Object.keys(TABLE[state]) as StopEventType[];
}

/** One transition: the row's next columns and the effects the worker is to carry out. */
export function stopStep(row: StopRow, event: StopEvent, now: number): StopStep {
  const from = stopStateOf(row);
  const handler = TABLE[from][event.type] as Handler<StopEventType> | undefined;
  const out = handler ? handler(row, event as never, now) : null;
  if (!out) return { allowed: false, from, to: from, next: {}, effects: [] };
  return { allowed: true, from, to: stopStateOf({ ...row, ...out.next }), next: out.next, effects: out.effects ?? [] };
}
