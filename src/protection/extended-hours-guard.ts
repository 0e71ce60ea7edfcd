import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import { fetchAvailableQty } from '../broker/positions.js';
import type { Database } from '../store/database.js';
import { fillCount } from '../store/ledger.js';
import { positionStopRows, readStopRow, type StoredStopRow } from '../store/stops.js';
import { deleteGuardExit, guardExits, readGuardExit, writeGuardExit } from '../store/guard-exits.js';
import { D, normalize } from '../decimal.js';
import { stopAsk } from '../domain/protection.js';
import type { OrderReport } from '../domain/reports.js';
import { isCrypto } from '../domain/symbols.js';
import type { MarketSession } from '../domain/market-session.js';
import { decideGuard, exitSide, guardClientOrderId, guardSessionOf, nextExitClientOrderId, type GuardDecision, type GuardExit } from '../domain/extended-hours-guard.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import type { Logger } from '../log.js';
import { applyStopTransition } from './stop-transitions.js';
import { exitOrderState, GuardExitOrders } from './guard-exit-order.js';

/**
 * CT_EXTENDED_HOURS_GUARD=1: outside regular hours, where Alpaca's stops do not trigger, an equity
 * whose latest trade crosses its nearest stop level is exited by an extended-hours limit order
 * (decisions: src/domain/extended-hours-guard.ts). Per symbol: its stops are canceled through
 * their actors (they hold the shares) in the transaction that records the exit (`guard_exit:<symbol>`
 * in sync_state); once they are gone the exit is placed (./guard-exit-order.ts) and re-priced every
 * `repriceMs` while it works; at the regular open an exit still working is canceled and the
 * position's stops are asked again of its position actor; a flat position ends the exit.
 */
export interface GuardDeps {
  db: Database;
  log: Logger;
  client: BrokerClient;
  actors: {
    ledgerPositions(): Map<string, string>;
    ledgerPosition(symbol: string): string;
    handleOrder(order: OrderReport): void;
    positionClosed(entryOrderId: string): void;
    resumeStops(symbol: string, stopIds: readonly string[], alsoWrite: () => void): void;
  };
  /** Latest stock trades (market data), one request for the symbols given. */
  latestTrades(symbols: string[]): Promise<Map<string, string>>;
  /** Alpaca's equity session now (broker/market-clock.ts); null while unknown. */
  session(): MarketSession | null;
  /** The broker's time now (epoch ms): the New York date in the exit's client order id. */
  brokerNow(): number;
  kickStops(): unknown;
  /**
   * False (CT_EXTENDED_HOURS_GUARD turned off with exits still recorded): no new exit starts, and
   * each one left is wound down as at the open (its order canceled, its stops placed again).
   */
  watching?: boolean;
  /** CT_GUARD_SLIPPAGE_PCT, CT_GUARD_REPRICE_S (in ms). */
  slippagePct: string;
  repriceMs: number;
  onLeadershipLost?: (err: LeadershipLost) => void;
}

export class ExtendedHoursGuard {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly orders: GuardExitOrders;
  /** Stop order id → its stop price: a trailing stop's level does not move outside regular hours; read once a session. */
  private levels = new Map<string, string | null>();
  private levelsSession: MarketSession | null = null;

  constructor(private readonly deps: GuardDeps) {
    this.orders = new GuardExitOrders({ db: deps.db, client: deps.client, log: deps.log, track: (o) => deps.actors.handleOrder(o) });
  }

  start(intervalMs = 2000): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass (tests and the timer); a pass in progress is waited for instead. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const watching = this.deps.watching ?? true;
    const session = this.deps.session();
    try {
      for (const exit of guardExits(this.deps.db)) await this.step(exit, watching ? session : 'regular');
      if (watching && guardSessionOf(session)) await this.watch(session);
    } catch (err) {
      if (err instanceof LeadershipLost) {
        this.stopped = true;
        this.deps.onLeadershipLost?.(err);
        return;
      }
      this.deps.log.warn({ event: 'guard_pass_failed', err: String(err) }, 'extended-hours guard: pass failed; trying again');
    }
  }

  /** Positions with stops on their closing side whose latest trade crossed the nearest level: their exit starts. */
  private async watch(session: MarketSession | null): Promise<void> {
    if (session !== this.levelsSession) this.levels = new Map();
    this.levelsSession = session;
    const watched: Array<{ symbol: string; position: string; levels: string[] }> = [];
    for (const [symbol, position] of this.deps.actors.ledgerPositions()) {
      if (position === '0' || isCrypto(symbol) || readGuardExit(this.deps.db, symbol)) continue;
      const rows = positionStopRows(this.deps.db, symbol, []).filter((r) => !r.cancel_requested && r.broker_order_id && stopAsk(r).side === exitSide(position));
      const levels = (await Promise.all(rows.map((r) => this.levelOf(r)))).filter((l): l is string => l !== null);
      if (levels.length > 0) watched.push({ symbol, position, levels });
    }
    if (watched.length === 0) return;
    const latest = await this.deps.latestTrades(watched.map((w) => w.symbol));
    for (const w of watched) {
      const d = decideGuard({ ...this.inputs(session), position: w.position, exit: null, levels: w.levels, latest: latest.get(w.symbol) ?? null, stopsGone: false, order: 'none' });
      if (d.type === 'start') this.begin(w.symbol, w.position, d, latest.get(w.symbol)!);
    }
  }

  /** The stops canceled (through their actors) and the exit recorded, in one transaction. */
  private begin(symbol: string, position: string, d: Extract<GuardDecision, { type: 'start' }>, trigger: string): void {
    const { db, log } = this.deps;
    const baseCid = guardClientOrderId(symbol, fillCount(db, symbol), this.deps.brokerNow(), d.session);
    const stops = db.transaction(() => {
      const ids: string[] = [];
      for (const row of positionStopRows(db, symbol, [])) {
        if (row.cancel_requested) continue;
        // An entry's fraction stop may have followed its entry's cancel already: waited for all the same.
        if (!readStopRow(db, row.client_order_id)?.cancel_requested) applyStopTransition(db, row.client_order_id, { type: 'cancelRequested' });
        ids.push(row.client_order_id);
      }
      const exit: GuardExit = { symbol, side: exitSide(position), baseCid, attempt: 1, cid: baseCid, orderId: null, limitPrice: null, placedAt: null, reprices: 0, pendingReplace: null, stops: ids, level: d.level, trigger, session: d.session, startedAt: new Date().toISOString() };
      writeGuardExit(db, exit);
      return ids;
    });
    log.warn({ event: 'guard_exit_started', symbol, position, level: d.level, trigger, session: d.session, client_order_id: baseCid, stops }, `${symbol} traded ${trigger} through its stop level ${d.level} outside regular hours: its stops are canceled and it is exited by a limit order`);
    void this.deps.kickStops();
  }

  /** One exit in progress: what its decision says next. */
  private async step(recorded: GuardExit, session: MarketSession | null): Promise<void> {
    const { db, log, actors } = this.deps;
    const now = Date.now();
    const exit = await this.orders.settle(recorded);
    const position = actors.ledgerPosition(exit.symbol);
    const stopsGone = exit.stops.every((id) => (readStopRow(db, id)?.status ?? 'done') === 'done');
    const order = exitOrderState(db, exit);
    const wantsPrice = guardSessionOf(session) !== null && stopsGone && position !== '0';
    const latest = wantsPrice ? ((await this.deps.latestTrades([exit.symbol])).get(exit.symbol) ?? null) : null;
    const d = decideGuard({ ...this.inputs(session), position, exit, levels: [], latest, stopsGone, order });
    switch (d.type) {
      case 'none':
      case 'wait':
        if (!stopsGone) void this.deps.kickStops();
        return;
      case 'finish':
        db.transaction(() => deleteGuardExit(db, exit.symbol));
        for (const id of exit.stops) {
          const entry = readStopRow(db, id)?.entry_order_id;
          if (entry) actors.positionClosed(entry);
        }
        log.info({ event: 'guard_exit_done', symbol: exit.symbol, client_order_id: exit.cid }, `${exit.symbol} exited outside regular hours`);
        return;
      case 'cancelExit':
        return this.orders.cancel(exit);
      case 'resume':
        actors.resumeStops(exit.symbol, exit.stops, () => deleteGuardExit(db, exit.symbol));
        log.warn({ event: 'guard_stops_resumed', symbol: exit.symbol, position, stops: exit.stops }, `regular hours: ${exit.symbol} still open after its extended-hours exit; its stops are placed again`);
        return;
      case 'send':
        return this.send(exit, order, position, d.limitPrice);
      case 'reprice':
        if (!d.same) {
          await this.orders.reprice(exit, d.limitPrice);
          return;
        }
        writeGuardExit(db, { ...exit, placedAt: now });
    }
  }

  /** Places the exit for what the broker lets go of the position; after an exit that ended unfilled, under a new id. */
  private async send(exit: GuardExit, order: 'none' | 'live' | 'ended', position: string, limitPrice: string): Promise<void> {
    // Its id may have been used already (a crash after the request left): that order, never a second one.
    if (order === 'none' && (await this.orders.find(exit))) return;
    const available = await fetchAvailableQty(this.deps.client, exit.symbol);
    const qty = normalize(D.min(available, new D(position).abs()));
    if (new D(qty).isZero()) return;
    let next = exit;
    if (order === 'ended') {
      const session = guardSessionOf(this.deps.session()) ?? exit.session;
      const cid = nextExitClientOrderId(exit, guardClientOrderId(exit.symbol, fillCount(this.deps.db, exit.symbol), this.deps.brokerNow(), session));
      next = { ...exit, baseCid: cid, cid, attempt: exit.attempt + 1, orderId: null, limitPrice: null, placedAt: null, reprices: 0, pendingReplace: null, session };
      writeGuardExit(this.deps.db, next);
    }
    await this.orders.place(next, qty, limitPrice);
  }

  private inputs(session: MarketSession | null) {
    return { session, now: Date.now(), repriceMs: this.deps.repriceMs, slippagePct: this.deps.slippagePct };
  }

  /** A stop's level: its order's stop price at the broker (a trailing stop's, as trailed), else the one confirmed at placement. */
  private async levelOf(row: StoredStopRow): Promise<string | null> {
    const id = row.broker_order_id!;
    if (!this.levels.has(id)) {
      const parsed = await this.deps.client.orders
        .getOrderByOrderID({ orderId: id })
        .then(parseOrder)
        .catch(() => null);
      // A failed read is not cached: tried again at the next pass.
      if (!parsed?.ok) return row.placed_stop_price;
      this.levels.set(id, parsed.value.stopPrice);
    }
    return this.levels.get(id) ?? row.placed_stop_price;
  }
}
