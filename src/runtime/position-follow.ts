import type { Actor, AnyActorRef } from 'xstate';
import type { Database } from '../store/database.js';
import { entryOfStop, stopClientOrderId } from '../domain/orders.js';
import type { FillRecord, StopIntent, StopRow } from '../domain/protection.js';
import type { FillOrder, PositionCommand } from '../../machines/position.js';
import { positionMachine, type PositionEvent } from '../../machines/position.machine.js';
import { startExitCooldown, type StartedCooldown } from '../store/cooldowns.js';
import { ledgerPositions } from '../store/ledger.js';
import { positionStopRows, stopRowsOf, liveStopSymbols } from '../store/intents.js';
import type { StopEvent } from '../../machines/stop.js';
import { applyStopTransition } from '../protection/stop-transitions.js';

/** What a batch of fills did to protection: cooldowns started, and orders whose stops were taken off. */
export interface Followed {
  started: StartedCooldown[];
  closed: string[];
}

/** The fills event of one order's batch, as the commit hands it over. */
export interface FollowBatch {
  order: FillOrder;
  symbol: string;
  fills: readonly FillRecord[];
  late: ReadonlySet<FillRecord>;
  now: Date;
}

/**
 * The runtime side of the position actors (machines/position.machine.ts): what each is restored
 * from at start, the fills it is sent inside the commit's transaction, and the commands it hands
 * back, performed here — a stop's as an event of that stop's actor (`applyStopTransition`), a
 * cooldown as a row, an entry's `position.closed` collected for the caller. Decides nothing.
 */
export class PositionFollowing {
  private current: Followed | null = null;

  constructor(
    private readonly db: Database,
    private readonly cooldownMinutes: number,
  ) {}

  /** The position machine with its `carryOut` performed here. */
  machine() {
    return positionMachine.provide({
      actions: {
        carryOut: ({ context, event }, cmd) => {
          if (event.type === 'fills') this.carryOut(cmd, context.symbol, event);
        },
      },
    });
  }

  /** What every symbol's position actor starts from: the ledger's quantity and its live stops. */
  restoreInputs(): Array<{ symbol: string; qty: string; stops: StopRow[] }> {
    const qty = ledgerPositions(this.db);
    const symbols = new Set([...[...qty].filter(([, q]) => q !== '0').map(([s]) => s), ...liveStopSymbols(this.db)]);
    return [...symbols].map((symbol) => ({ symbol, qty: qty.get(symbol) ?? '0', stops: positionStopRows(this.db, symbol, []) }));
  }

  /**
   * Sends the fills the commit wrote to the symbol's position actor and returns what its commands
   * started. Runs inside the commit's transaction: the actor takes the event synchronously.
   */
  follow(actor: AnyActorRef, p: FollowBatch): Followed {
    const out: Followed = { started: [], closed: [] };
    if (p.fills.length === 0) return out;
    const ids = [stopClientOrderId(p.order.orderId)];
    const stopOf = p.order.role === 'stop' ? entryOfStop(p.order.clientOrderId) : null;
    if (stopOf) ids.push(stopClientOrderId(stopOf));
    const event: PositionEvent = {
      type: 'fills',
      order: p.order,
      fills: p.fills.map((f) => ({ orderId: f.orderId, symbol: f.symbol, side: f.side, cumQty: f.cumQty, qty: f.qty, late: p.late.has(f) })),
      own: stopRowsOf(this.db, ids),
      now: p.now.getTime(),
    };
    this.current = out;
    try {
      (actor as Actor<typeof positionMachine>).send(event);
    } finally {
      this.current = null;
    }
    return out;
  }

  private carryOut(cmd: PositionCommand, symbol: string, e: Extract<PositionEvent, { type: 'fills' }>): void {
    const now = new Date(e.now);
    switch (cmd.type) {
      case 'cover': {
        const ask: StopIntent = { entryOrderId: cmd.stopOf, clientOrderId: stopClientOrderId(cmd.stopOf), symbol, assetClass: e.order.assetClass, side: cmd.side, qty: cmd.qty };
        // A re-arm: the stop ended (it starts over under its next client order id) or its cancel is withdrawn.
        this.stopEvent(ask.clientOrderId, cmd.rearm ? { type: 'rearmed', ask, cut: cmd.rearm.cut } : { type: 'asked', ask }, now);
        return;
      }
      case 'cut':
      case 'shrink':
        // A shrink resizes the stop now; a cut (its own fill, an entry closing others' position) waits.
        this.stopEvent(stopClientOrderId(cmd.stopOf), { type: 'cut', cutQty: cmd.cutQty, wake: cmd.type === 'shrink' }, now);
        return;
      case 'cancel':
        this.stopEvent(stopClientOrderId(cmd.stopOf), { type: 'cancelRequested' }, now);
        return;
      case 'startCooldown': {
        const cd = startExitCooldown(this.db, cmd.fill, this.cooldownMinutes, now);
        if (cd) this.current?.started.push(cd);
        return;
      }
      case 'positionClosed':
        this.current?.closed.push(cmd.entryOrderId);
        return;
    }
  }

  private stopEvent(clientOrderId: string, event: StopEvent, now: Date): void {
    applyStopTransition(this.db, clientOrderId, event, now);
  }
}
