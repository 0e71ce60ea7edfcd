import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { ledgerPositions } from '../store/ledger.js';
import { openOrdersHolding } from '../store/order-holders.js';
import { assessCoverage, holderAsks, stopCoverOf, type CoverageReport, type Overprotection, type SymbolCoverage } from './coverage.js';
import { notifyPositionProtected, notifyPositionUnprotected } from '../notify/events.js';
import { guardExits } from '../store/guard-exits.js';
import { guardExitView, type GuardExitView } from './guard-exit-view.js';
import { positionSession, stopsActing, type MarketSession, type PositionSession } from '../domain/market-session.js';

/** Whether a position's stops can trigger in the session now (a state, never an alarm). */
export interface SessionFields {
  /** The position's session (crypto: `continuous`); null until Alpaca's clock was read. */
  session: PositionSession | null;
  stops_acting: boolean | null;
  /** `outside_regular_hours` when its stops cannot trigger now; else null. */
  stops_acting_reason: 'outside_regular_hours' | null;
}

/** A position not (fully) covered now, with the episode it belongs to (session fields: absent from views made by hand). */
export interface UnprotectedPosition extends Partial<SessionFields> {
  symbol: string;
  position: string;
  covered: string;
  uncovered: string;
  reason: string;
  /** When this uncovered episode started (ISO). */
  since: string;
  uncovered_for_s: number;
  /** Uncovered for longer than the grace period. */
  past_grace: boolean;
  /** Past the grace period and not left unprotected by configuration (CT_ADOPT=record). */
  critical: boolean;
}

export interface ProtectionView {
  unprotected: UnprotectedPosition[];
  overprotected: Array<Overprotection & Partial<SessionFields>>;
  critical: boolean;
  grace_s: number;
  /** The equity session now (null until known). */
  session?: MarketSession | null;
  /** Positions the extended-hours guard is exiting: their stops are canceled on purpose (a state, never an alarm). */
  guard_exits?: GuardExitView[];
}

export interface CoverageWatchDeps {
  db: Database;
  log: Logger;
  /** CT_PROTECT_GRACE_S: how long a position may wait for its stop before it is reported. */
  graceS: number;
  adopt: 'protect' | 'record';
  /** Signed positions per symbol (default: the fills ledger). */
  positions?: () => ReadonlyMap<string, string>;
  /** Epoch ms (tests pass a fake clock). */
  now?: () => number;
  /** The equity session now (broker/market-clock.ts); absent or null: unknown. */
  marketSession?: () => MarketSession | null;
}

interface Episode {
  since: number;
  logged: boolean;
}

const EMPTY: CoverageReport = { positions: [], unprotected: [], overprotected: [] };

/**
 * Watches that every ledger position is covered by live protective stops (every second, and on
 * demand). An uncovered episode starts when a position is first seen uncovered; past the grace
 * period it is logged once (`position_unprotected`) and, unless CT_ADOPT=record left it
 * unprotected on purpose, makes the service critical; its end is logged (`position_protected`).
 */
export class CoverageWatch {
  private readonly episodes = new Map<string, Episode>();
  private report: CoverageReport = EMPTY;
  private exits: GuardExitView[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private failing = false;

  constructor(private readonly deps: CoverageWatchDeps) {}

  start(intervalMs = 1000): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the store now, updates the episodes and returns the view. */
  check(): ProtectionView {
    const { db } = this.deps;
    const positions = this.deps.positions?.() ?? ledgerPositions(db);
    const rows = db.all(
      db.kysely
        .selectFrom('stops')
        .select(['symbol', 'payload', 'status', 'placed_qty', 'attempts', 'last_error', 'cancel_requested', 'cut_qty', 'broker_order_id', 'version'])
        .where('status', '!=', 'done'),
    );
    const stops = rows.map(stopCoverOf);
    const exits = guardExits(db);
    this.exits = exits.map(guardExitView);
    const opts = { adopt: this.deps.adopt, guarded: new Set(exits.map((e) => e.symbol)) };
    let report = assessCoverage(positions, stops, opts);
    // Where other open orders hold the rest, the reason names them: one query for those symbols only.
    const asks = holderAsks(report);
    if (asks.length > 0) report = assessCoverage(positions, stops, opts, openOrdersHolding(db, asks));
    const now = this.now();
    this.track(report, now);
    this.report = report;
    return this.view(now);
  }

  /** The view as of the last check (episode ages as of now). */
  current(): ProtectionView {
    return this.view(this.now());
  }

  private tick(): void {
    try {
      this.check();
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.deps.log.warn({ event: 'coverage_check_failed', err: String(err) }, 'could not check stop coverage');
      this.failing = true;
    }
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private track(report: CoverageReport, now: number): void {
    const graceMs = this.deps.graceS * 1000;
    for (const u of report.unprotected) {
      let ep = this.episodes.get(u.symbol);
      if (!ep) this.episodes.set(u.symbol, (ep = { since: now, logged: false }));
      if (ep.logged || now - ep.since <= graceMs) continue;
      ep.logged = true;
      this.deps.log.warn(
        { event: 'position_unprotected', symbol: u.symbol, position: u.position, covered: u.covered, uncovered: u.uncovered, reason: u.reason, since: new Date(ep.since).toISOString(), grace_s: this.deps.graceS },
        `position ${u.symbol} uncovered ${u.uncovered} of ${u.position.replace('-', '')} for more than ${this.deps.graceS} s: ${u.reason}`,
      );
      this.tell(() => notifyPositionUnprotected(this.deps.db, { ...u, reason: u.reason ?? 'no_stop', since: new Date(ep.since).toISOString(), graceS: this.deps.graceS }, new Date(now)));
    }
    const still = new Set(report.unprotected.map((u) => u.symbol));
    for (const [symbol, ep] of this.episodes) {
      if (still.has(symbol)) continue;
      this.episodes.delete(symbol);
      if (!ep.logged) continue;
      const forS = Math.round((now - ep.since) / 1000);
      this.logCured(symbol, report, forS);
      const p = report.positions.find((x) => x.symbol === symbol);
      const since = new Date(ep.since).toISOString();
      this.tell(() => notifyPositionProtected(this.deps.db, { symbol, position: p?.position ?? '0', covered: p?.covered ?? '0', since, uncoveredForS: forS, closed: !p }, new Date(now)));
    }
  }

  /** A notification (its own transaction); failing to write one never fails a check. */
  private tell(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.deps.log.warn({ event: 'notification_write_failed', err: String(err) }, 'could not record a coverage notification');
    }
  }

  private logCured(symbol: string, report: CoverageReport, forS: number): void {
    const p = report.positions.find((x) => x.symbol === symbol);
    this.deps.log.info(
      { event: 'position_protected', symbol, position: p?.position ?? '0', covered: p?.covered ?? '0', uncovered_for_s: forS },
      p ? `position ${symbol} covered again after ${forS} s` : `position ${symbol} closed after ${forS} s uncovered`,
    );
  }

  private view(now: number): ProtectionView {
    const graceMs = this.deps.graceS * 1000;
    const market = this.deps.marketSession?.() ?? null;
    const fields = (symbol: string): SessionFields => {
      const session = positionSession(symbol, market);
      return { session, ...stopsActing(session) };
    };
    const unprotected = this.report.unprotected.map((u) => ({ ...unprotectedAt(u, this.episodes.get(u.symbol)?.since ?? now, now, graceMs), ...fields(u.symbol) }));
    const overprotected = this.report.overprotected.map((o) => ({ ...o, ...fields(o.symbol) }));
    return { unprotected, overprotected, critical: unprotected.some((u) => u.critical), grace_s: this.deps.graceS, session: market, ...(this.exits.length > 0 ? { guard_exits: this.exits } : {}) };
  }
}

function unprotectedAt(u: SymbolCoverage, since: number, now: number, graceMs: number): Omit<UnprotectedPosition, keyof SessionFields> {
  const pastGrace = now - since > graceMs;
  const reason = u.reason ?? 'no_stop';
  return {
    symbol: u.symbol,
    position: u.position,
    covered: u.covered,
    uncovered: u.uncovered,
    reason,
    since: new Date(since).toISOString(),
    uncovered_for_s: Math.floor((now - since) / 1000),
    past_grace: pastGrace,
    critical: pastGrace && reason !== 'adopt_record',
  };
}
