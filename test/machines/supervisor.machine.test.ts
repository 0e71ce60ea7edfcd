import { describe, expect, it } from 'vitest';
import { createActor, type AnyActorRef } from 'xstate';
import { positionActorId } from '../../machines/position.machine.js';
import { orderActorId, supervisorMachine } from '../../machines/supervisor.machine.js';
import { execution, orderReport } from './helpers.js';

function run() {
  const untracked: string[] = [];
  const errors: unknown[] = [];
  const machine = supervisorMachine.provide({
    actions: { untrackedFillDetected: (_, p) => untracked.push(p.orderId) },
  });
  const actor = createActor(machine);
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  const child = (orderId: string) => actor.system.get(orderActorId(orderId)) as AnyActorRef | undefined;
  return { actor, untracked, errors, child };
}

const routing = { role: 'entry' as const, untracked: true, protect: false };

describe('supervisor', () => {
  it('spawns one actor per unseen order and forwards later reports to it', () => {
    const { actor, child, errors } = run();
    const o = orderReport();
    actor.send({ type: 'broker.order', order: o, ...routing });
    expect(child(o.orderId)?.getSnapshot().value).toBe('pending');
    actor.send({ type: 'broker.order', order: o, ...routing });
    actor.send({ type: 'broker.execution', execution: execution(o, { cumQty: '3', qty: '3' }), order: null, ...routing });
    // One order actor, and the symbol's position actor spawned before it (its fills go there).
    expect(Object.keys(actor.getSnapshot().children)).toEqual([positionActorId(o.symbol), orderActorId(o.orderId)]);
    expect(actor.system.get(positionActorId(o.symbol))?.getSnapshot().value).toBe('flat');
    expect(child(o.orderId)?.getSnapshot().value).toBe('partiallyFilled');
    expect(errors).toEqual([]);
  });

  it('logs untracked_fill_detected when an unseen order first shows up as a fill', () => {
    const { actor, untracked, child } = run();
    const o = orderReport();
    actor.send({ type: 'broker.execution', execution: execution(o, { cumQty: '3', qty: '3', orderStatus: 'partially_filled' }), order: null, ...routing });
    expect(untracked).toEqual([o.orderId]);
    expect(child(o.orderId)?.getSnapshot().context.ledger.filledQty).toBe('3');
    actor.send({ type: 'broker.execution', execution: execution(o, { cumQty: '5', qty: '2' }), order: null, ...routing });
    expect(untracked).toEqual([o.orderId]);
  });

  it('stops finished actors and relays a filled stop to its entry', () => {
    const { actor, child } = run();
    const entry = orderReport();
    actor.send({ type: 'broker.execution', execution: execution(entry, { cumQty: '10', qty: '10', orderStatus: 'filled' }), order: entry, role: 'entry', untracked: true, protect: true });
    expect(child(entry.orderId)?.getSnapshot().value).toBe('placingStop');
    actor.send({ type: 'stop.working', entryOrderId: entry.orderId, stopOrderId: 'stop-order' });
    expect(child(entry.orderId)?.getSnapshot().value).toBe('protected');

    const stop = orderReport({ side: 'sell', type: 'trailing_stop', clientOrderId: `ct-stop-${entry.orderId}` });
    actor.send({ type: 'broker.order', order: stop, role: 'stop', untracked: false, protect: true });
    actor.send({ type: 'broker.execution', execution: execution(stop, { cumQty: '10', qty: '10', orderStatus: 'filled' }), order: null, role: 'stop', untracked: false, protect: true });
    // Both finished: the stop (done) and the entry it protected (exited); both stopped and gone.
    expect(child(stop.orderId)).toBeUndefined();
    expect(child(entry.orderId)).toBeUndefined();
    expect(Object.keys(actor.getSnapshot().children)).toEqual([positionActorId(entry.symbol)]);
  });

  it('routes position.closed to the entry: a protected entry ends exited and is stopped', () => {
    const { actor, child } = run();
    const entry = orderReport();
    actor.send({ type: 'broker.execution', execution: execution(entry, { cumQty: '10', qty: '10', orderStatus: 'filled' }), order: entry, role: 'entry', untracked: true, protect: true });
    actor.send({ type: 'stop.working', entryOrderId: entry.orderId, stopOrderId: 'stop-order' });
    expect(child(entry.orderId)?.getSnapshot().value).toBe('protected');
    actor.send({ type: 'position.closed', entryOrderId: 'no-such-order' });
    actor.send({ type: 'position.closed', entryOrderId: entry.orderId });
    expect(child(entry.orderId)).toBeUndefined();
    expect(Object.keys(actor.getSnapshot().children)).toEqual([positionActorId(entry.symbol)]);
  });
});
