import type { Actor, AnyActorRef } from 'xstate';
import type { Database } from '../store/database.js';
import { entryOfStop, stopClientOrderId } from '../domain/orders.js';
import { stopAsk, type FillRecord, type StopAsk } from '../domain/protection.js';
import type { FillChange, FillOrder, PositionCommand } from '../../machines/position.js';
import { positionMachine, type PositionEvent, type PositionInput } from '../../machines/position.machine.js';
import { ledgerPositions } from '../store/ledger.js';
import { endedStopRowsSince, liveStopRowsBySymbol, stopRowsOf, type StoredStopRow } from '../store/stops.js';
import type { StopEvent } from '../../machines/stop-model.js';
import { applyStopTransition } from '../protection/stop-transitions.js';

/** What a batch of fills did to protection: the orders whose stops were taken off, and whether a stop was asked for. */
export interface Followed {
  closed: string[];
  /** A stop was asked for (placed, grown or re-armed). */
  asked: boolean;
}

/** The fills event of one order's batch, as the commit hands it over. */
export interface FollowBatch {
  order: FillOrder;
  symbol: string;
  fills: readonly FillRecord[];
  now: Date;
  /** The order's own stop rows (ownStopIds), read ahead with the commit's first statement; read here when absent. */
  own?: () => StoredStopRow[];
}

/** The stops a fills event of this order carries as its own: the order's, and its entry's when it is a stop order. */
export function ownStopIds(order: FillOrder): string[] {
  const ids = [stopClientOrderId(order.orderId)];
  const stopOf = order.role === 'stop' ? entryOfStop(order.clientOrderId) : null;
  if (stopOf) ids.push(stopClientOrderId(stopOf));
  return ids;
}

/**
 * The runtime side of the position actors (machines/position.machine.ts): what each is restored
 * from at start, the fills (and crypto fees) it is sent inside the commit's transaction, and the commands it hands
 * back, performed here — a stop's as an event of that stop's actor (`applyStopTransition`), an
 * entry's `position.closed` collected for the caller. Decides nothing (cooldowns: exit-cooldowns.ts).
 */
export class PositionFollowing {
  private current: Followed | null = null;
  /** A command that failed: rethrown to the commit (XState would otherwise stop the actor quietly). */
  private failure: { err: unknown } | null = null;

  constructor(private readonly db: Database) {}

  /** The position machine with its `carryOut` performed here. */
  machine() {
    return positionMachine.provide({
      actions: {
        carryOut: ({ context, event }, cmd) => {
          try {
            if (event.type === 'fills') this.carryOut(cmd, context.symbol, event.order.assetClass, new Date(event.now));
            // A fee is crypto's only (and never covers: it only shrinks or cancels).
            else if (event.type === 'fee') this.carryOut(cmd, context.symbol, 'crypto', new Date(event.now));
            else if (event.type === 'change') this.carryOut(cmd, context.symbol, event.order.assetClass, new Date(event.now));
            else if (event.type === 'stops.resume') this.carryOut(cmd, context.symbol, event.assetClass, new Date(event.now));
          } catch (err) {
            this.failure ??= { err };
          }
        },
      },
    });
  }

  /** What every symbol's position actor starts from: the ledger's quantity and its live stops. */
  restoreInputs(): PositionInput[] {
    const qty = ledgerPositions(this.db);
    const stops = liveStopRowsBySymbol(this.db);
    const symbols = new Set([...[...qty].filter(([, q]) => q !== '0').map(([s]) => s), ...stops.keys()]);
    return [...symbols].map((symbol) => ({ symbol, qty: qty.get(symbol) ?? '0', stops: stops.get(symbol) ?? [] }));
  }

  /**
   * Sends the fills the commit wrote to the symbol's position actor and returns what its commands
   * did. Runs inside the commit's transaction: the actor takes the event synchronously.
   */
  follow(actor: AnyActorRef, p: FollowBatch): Followed {
    const out: Followed = { closed: [], asked: false };
    if (p.fills.length === 0) return out;
    const event: PositionEvent = {
      type: 'fills',
      order: p.order,
      fills: p.fills.map((f) => ({ orderId: f.orderId, symbol: f.symbol, side: f.side, cumQty: f.cumQty, qty: f.qty })),
      own: p.own ? p.own() : stopRowsOf(this.db, ownStopIds(p.order)),
      now: p.now.getTime(),
    };
    this.deliver(actor, event, out);
    return out;
  }

  /**
   * Sends a crypto fee the store just wrote to the symbol's position actor and returns what its
   * commands did (stops shrunk, or canceled with their entries told). Runs inside the fee's transaction.
   */
  followFee(actor: AnyActorRef, fee: { qty: string; now: Date }): Followed {
    const out: Followed = { closed: [], asked: false };
    this.deliver(actor, { type: 'fee', qty: fee.qty, now: fee.now.getTime() }, out);
    return out;
  }

  /**
   * A trade bust or correction the store just applied to a fill of `p.order`, sent to the symbol's
   * position actor with the symbol's stops that ended since the fill was recorded (the ones its
   * exit may have ended: a grown-back position re-arms them) and the order's own. Runs inside the
   * change's transaction.
   */
  followChange(actor: AnyActorRef, p: { order: FillOrder; change: FillChange; recordedAt: string; now: Date }): Followed {
    const out: Followed = { closed: [], asked: false };
    const ids = [stopClientOrderId(p.order.orderId)];
    const stopOf = p.order.role === 'stop' ? entryOfStop(p.order.clientOrderId) : null;
    if (stopOf) ids.push(stopClientOrderId(stopOf));
    const own = stopRowsOf(this.db, ids);
    const since = endedStopRowsSince(this.db, p.change.symbol, p.recordedAt);
    const seen = new Set(own.map((r) => r.client_order_id));
    const ended = [...own, ...since.filter((r) => !seen.has(r.client_order_id))].filter((r) => stopAsk(r).part !== 'fraction');
    this.deliver(actor, { type: 'change', change: p.change, order: p.order, ended, now: p.now.getTime() }, out);
    return out;
  }

  /**
   * Stops the extended-hours guard took off, asked again of the symbol's position actor (it sizes
   * them to the position now). Runs inside the caller's transaction.
   */
  resume(actor: AnyActorRef, p: { stopIds: readonly string[]; now: Date }): Followed {
    const out: Followed = { closed: [], asked: false };
    const byId = new Map(stopRowsOf(this.db, p.stopIds).map((r) => [r.client_order_id, r]));
    // An entry's fraction stop follows its entry's stop (machines/fraction-stop.ts): the entry's is asked.
    const rows = p.stopIds.map((id) => byId.get(id)).filter((r): r is StoredStopRow => r !== undefined && stopAsk(r).part !== 'fraction');
    if (rows.length === 0) return out;
    this.deliver(actor, { type: 'stops.resume', rows, assetClass: stopAsk(rows[0]!).assetClass, now: p.now.getTime() }, out);
    return out;
  }

  /**
   * Sends one event and collects what its commands did. A command that threw, or an actor that is
   * no longer active, fails the commit (and stops the process) rather than recording fills whose
   * protection was not followed.
   */
  private deliver(actor: AnyActorRef, event: PositionEvent, out: Followed): void {
    this.current = out;
    this.failure = null;
    try {
      (actor as Actor<typeof positionMachine>).send(event);
    } finally {
      this.current = null;
    }
    const failure = this.failure as { err: unknown } | null;
    const snap = actor.getSnapshot() as { status: string; error?: unknown; context: { symbol: string } };
    if (failure) throw failure.err;
    if (snap.status !== 'active') throw snap.error ?? new Error(`position actor for ${snap.context.symbol} is ${snap.status}`);
  }

  private carryOut(cmd: PositionCommand, symbol: string, assetClass: string, now: Date): void {
    switch (cmd.type) {
      case 'cover': {
        const ask: StopAsk = { entryOrderId: cmd.stopOf, clientOrderId: stopClientOrderId(cmd.stopOf), symbol, assetClass, side: cmd.side, qty: cmd.qty };
        // A re-arm: the stop ended (it starts over under its next client order id) or its cancel is withdrawn.
        this.stopEvent(ask.clientOrderId, cmd.rearm ? { type: 'rearmed', ask, cut: cmd.rearm.cut } : { type: 'asked', ask }, now);
        if (this.current) this.current.asked = true;
        return;
      }
      case 'cut':
      case 'shrink':
        // A shrink resizes the stop now; a cut (its own fill, an entry closing others' position) waits.
        this.stopEvent(stopClientOrderId(cmd.stopOf), { type: 'cut', cutQty: cmd.cutQty, wake: cmd.type === 'shrink' }, now);
        return;
      case 'restore':
        // A position grown back (a busted exit): the cut given back, resized now.
        this.stopEvent(stopClientOrderId(cmd.stopOf), { type: 'cut', cutQty: cmd.cutQty, wake: true }, now);
        if (this.current) this.current.asked = true;
        return;
      case 'cancel':
        this.stopEvent(stopClientOrderId(cmd.stopOf), { type: 'cancelRequested' }, now);
        return;
      case 'positionClosed':
        this.current?.closed.push(cmd.entryOrderId);
        return;
    }
  }

  private stopEvent(clientOrderId: string, event: StopEvent, now: Date): void {
    applyStopTransition(this.db, clientOrderId, event, now);
  }
}
