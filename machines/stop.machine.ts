import { assign, setup } from 'xstate';
import type { StopRow } from '../src/domain/protection.js';
import { STOP_STATES, stopStateOf, type StopEffect, type StopEvent, type StopPatch, type StopState } from './stop-model.js';
import { acceptedEvents, stopStep } from './stop.js';

/**
 * One actor per protective order (DESIGN §3): the statechart of a stop's life. Its states are the
 * stop machine's states (machines/stop.ts: pending → sending → working → replacing / cancelling →
 * done, plus unknown and refused), each listing the events it accepts; every transition is the pure
 * `stopStep`, guarded on the state it leads to. Its context is the stop's row: the runtime persists
 * it as the `stops` row (the actor's snapshot, and the outbox the stop worker reads) and carries out
 * the effects of `last` (look up, post, patch, delete, tell the entry). No I/O here.
 *
 * An event the current state does not list, or whose guard fails, leaves the actor as it was: the
 * caller sees `last.seq` unchanged and treats the event as refused.
 */

/** An event of the stop machine with the time it happens (the machine reads no clock). */
export type StopActorEvent = StopEvent & { now: number };

/** The last transition taken: what it changed and what the runtime is to do. */
export interface StopTaken {
  seq: number;
  from: StopState;
  to: StopState;
  patch: StopPatch;
  effects: StopEffect[];
}

export interface StopActorContext {
  row: StopRow;
  last: StopTaken | null;
}

export const stopActorId = (clientOrderId: string) => `stop:${clientOrderId}`;

/** Transitions of `state`: for each event it accepts, one guarded candidate per target state. */
function transitionsOf(state: StopState) {
  const candidates = STOP_STATES.map((to) => ({ guard: { type: 'leadsTo' as const, params: { to } }, target: `#stop.${to}`, actions: 'take' as const }));
  return Object.fromEntries(acceptedEvents(state).map((type) => [type, candidates]));
}

export const stopMachine = setup({
  types: {
    context: {} as StopActorContext,
    input: {} as { row: StopRow },
    events: {} as StopActorEvent,
  },
  guards: {
    leadsTo: ({ context, event }, p: { to: StopState }) => {
      const step = stopStep(context.row, event, event.now);
      return step.allowed && step.to === p.to;
    },
    startsIn: ({ context }, p: { state: StopState }) => stopStateOf(context.row) === p.state,
  },
  actions: {
    take: assign(({ context, event }) => {
      const step = stopStep(context.row, event, event.now);
      return {
        row: { ...context.row, ...step.next },
        last: { seq: (context.last?.seq ?? 0) + 1, from: step.from, to: step.to, patch: step.next, effects: step.effects },
      };
    }),
  },
}).createMachine({
  id: 'stop',
  context: ({ input }) => ({ row: input.row, last: null }),
  initial: 'restoring',
  states: {
    /** The state is read from the row it is restored from (or the row just created). */
    restoring: {
      always: STOP_STATES.map((state) => ({ guard: { type: 'startsIn' as const, params: { state } }, target: state })),
    },
    ...Object.fromEntries(STOP_STATES.map((state) => [state, { tags: state === 'done' ? ['ended'] : ['live'], on: transitionsOf(state) }])),
  } as Record<'restoring' | StopState, object>,
});

export type StopMachine = typeof stopMachine;
