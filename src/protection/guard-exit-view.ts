import type { GuardExit } from '../domain/extended-hours-guard.js';

/** An extended-hours guard exit as /health and /positions show it: a state of the position, not an alarm. */
export interface GuardExitView {
  symbol: string;
  /** `stops_canceling`: its stops are being canceled (the exit is not placed yet); `exit_working`: the limit order is placed. */
  phase: 'stops_canceling' | 'exit_working';
  side: 'buy' | 'sell';
  client_order_id: string;
  order_id: string | null;
  limit_price: string | null;
  reprices: number;
  /** The stop level the latest trade crossed, that trade, and the session it happened in. */
  level: string;
  trigger: string;
  session: string;
  since: string;
}

export function guardExitView(e: GuardExit): GuardExitView {
  return {
    symbol: e.symbol,
    phase: e.orderId ? 'exit_working' : 'stops_canceling',
    side: e.side,
    client_order_id: e.cid,
    order_id: e.orderId,
    limit_price: e.limitPrice,
    reprices: e.reprices,
    level: e.level,
    trigger: e.trigger,
    session: e.session,
    since: e.startedAt,
  };
}
