import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startBot, type BotProcess } from '../support/bot-process.js';
import { freshDatabase, startPgCluster } from '../support/pg-cluster.js';
import { taggingProxy, type TaggingProxy } from '../support/tagging-proxy.js';
import { PROTECT_GRACE_S, accountSchemaOf } from './broker-terms.js';
import { isOrderWrite, requestLogReader, sampleBook, type LoggedRequest } from './broker-watch.js';
import {
  KEY,
  SECRET,
  allOrders,
  isUp,
  measure,
  mulberry32,
  quiesce,
  sessionCloser,
  sim,
  startFaults,
  startSimProcess,
  type BrokerWatch,
  type ChaosFigures,
  type ChaosOptions,
  type Measured,
} from './harness.js';
import { pgLedger } from './ledger-source.js';

/**
 * Failover chaos (`npm run chaos -- --failover`): N instances on one PostgreSQL database against the
 * standalone simulator (faults, outside trader, fractional entries, session closes as in the SQLite
 * run). One leads the account, the others stand by. Each round the leader is found, lives a random
 * while, and is then SIGKILLed (and a fresh instance of the same name started in its place) or, about
 * one round in five, SIGSTOPped past the leader timeout and resumed: it must step down by itself and
 * send nothing meanwhile, as the simulator's request log shows (each process reaches the trading API
 * through its own tagging proxy, test/support/tagging-proxy.ts; the stream goes direct). Each round's takeover is timed, from the kill/stop to the next leader's
 * `leadership_acquired` line. Then traffic stops, the leader of the moment settles, and the same
 * invariants as the SQLite run are measured, on the PostgreSQL ledger.
 */
export interface FailoverOptions extends ChaosOptions {
  /** Instances up at once (default 3). */
  instances?: number;
  /** CT_LEADER_TIMEOUT_S of every instance (default 3). */
  leaderTimeoutS?: number;
  /** Share of rounds that SIGSTOP the leader instead of SIGKILLing it (default 0.2). */
  sigstopRate?: number;
  /** How long a round waits for the next leader before it counts as a violation (default 30 s). */
  takeoverLimitMs?: number;
  /** How long a resumed leader has to step down (default 15 s). */
  stepdownLimitMs?: number;
}

export interface FailoverFigures extends ChaosFigures {
  instances: number;
  /** Rounds whose takeover was seen (within takeoverLimitMs). */
  takeovers: number;
  takeover_ms_p50: number | null;
  takeover_ms_p99: number | null;
  takeover_ms_max: number | null;
  sigstop_rounds: number;
  /** SIGSTOP rounds whose leader, resumed, logged leadership_released within stepdownLimitMs. */
  stepdowns_after_resume: number;
  /** stop_send_fenced lines, every instance together. */
  fenced_sends: number;
  /** Requests to place, replace or cancel an order that reached the broker from a resumed old leader before it led again (each a violation). */
  writes_after_resume: number;
  /** Order writes at the broker that came through a process's tagging proxy, and any that did not (the checker's own sanity: should be 0). */
  order_writes_tagged: number;
  order_writes_untagged: number;
  /** Instances that ended by themselves (not by the round's signals) and were started again; see the progress lines. */
  self_exits: number;
  /** Leadership changes no round caused (a leader whose session ended while it was neither killed nor stopped). */
  unforced_takeovers: number;
  /**
   * Lines of a leader's work (fill_received, fee_recorded, cooldown_started, stop_placed, stop_canceled,
   * stop_ratchet) logged by an instance after a newer epoch was acquired elsewhere: a stale leader still at work.
   */
  stale_leader_lines: number;
}

interface Instance {
  name: string;
  /** Every process started under this name, the current one last. */
  lives: BotProcess[];
}

interface Round {
  round: number;
  how: 'SIGKILL' | 'SIGSTOP';
  victim: string;
  /** The victim process's X-Sim-Source tag in the simulator's request log. */
  victim_source: string;
  epoch: number;
  up_ms: number;
  at: number;
  takeover_ms: number | null;
  next_leader: string | null;
  next_epoch: number | null;
  /** SIGSTOP rounds: when it was resumed, and how long it took to log leadership_released. */
  resumed_at?: number;
  stepdown_ms?: number | null;
}

const LEAD_EVENTS = new Set(['leadership_acquired', 'leadership_standby', 'leadership_released']);
/** A leader's work, as its log lines show it (see FailoverFigures.stale_leader_lines). */
const STALE_EVENTS = new Set(['fill_received', 'fee_recorded', 'cooldown_started', 'stop_placed', 'stop_canceled', 'stop_ratchet']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alive = (b: BotProcess) => b.proc.exitCode === null && b.proc.signalCode === null;
const at = (l: Record<string, any>) => Date.parse(l.time);

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

async function until<T>(fn: () => Promise<T | null | undefined> | T | null | undefined, timeoutMs: number, everyMs = 50): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

export async function runFailoverChaos(opts: FailoverOptions): Promise<FailoverFigures | { skip: string }> {
  const t0 = Date.now();
  const rand = mulberry32(opts.seed);
  const minUp = opts.minUpMs ?? 400;
  const maxUp = opts.maxUpMs ?? 3000;
  const n = opts.instances ?? 3;
  const timeoutS = opts.leaderTimeoutS ?? 3;
  const sigstopRate = opts.sigstopRate ?? 0.2;
  const takeoverLimitMs = opts.takeoverLimitMs ?? 30_000;
  const stepdownLimitMs = opts.stepdownLimitMs ?? 15_000;
  const say = opts.progress ?? (() => undefined);
  const sessionEvery = opts.sessionEvery ?? 25;
  const sessionClosedMs = opts.sessionClosedMs ?? 2000;

  const started = await startPgCluster({ name: 'chaos' });
  if ('skip' in started) return { skip: started.skip };
  const cluster = started.cluster;
  const dir = mkdtempSync(join(tmpdir(), 'ct-chaos-failover-'));
  const instances: Instance[] = [];
  const every = () => instances.flatMap((i) => i.lives.map((b) => ({ name: i.name, bot: b })));
  let db: Awaited<ReturnType<typeof freshDatabase>> | null = null;
  let simProc: Awaited<ReturnType<typeof startSimProcess>> | null = null;
  let client: pg.Client | null = null;
  let ledger: ReturnType<typeof pgLedger> | null = null;
  let watch: BrokerWatch | null = null;
  /** Each process's tagging proxy: its requests carry its tag at the broker. */
  const proxies = new Map<BotProcess, TaggingProxy>();
  /** Processes SIGSTOPped right now. */
  const stoppedNow = new Set<BotProcess>();
  try {
    db = await freshDatabase(cluster);
    simProc = await startSimProcess(opts.seed, opts.fractionalRate ?? 0.25);
    const url = simProc.url;
    const accountId = String((await sim(url, 'GET', '/v2/account')).id);
    const env = {
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      ALPACA_API_URL: simProc.url,
      ALPACA_STREAM_URL: simProc.streamUrl,
      ALPACA_DATA_URL: simProc.dataUrl,
      CT_DB_URL: db.url,
      CT_LEADER_TIMEOUT_S: String(timeoutS),
      CT_API_PORT: '0',
      CT_POLL_MS: '1000',
      CT_RATCHET_MS: '1000',
      CT_PROTECT_GRACE_S: String(PROTECT_GRACE_S),
      CT_LOG_LEVEL: 'info',
    };
    const launch = async (inst: Instance) => {
      const proxy = await taggingProxy(url, `${inst.name}#${inst.lives.length}`);
      const b = startBot({ ...env, ALPACA_API_URL: proxy.url, CT_INSTANCE_NAME: inst.name });
      proxies.set(b, proxy);
      void b.exited.then(() => proxy.close());
      inst.lives.push(b);
      return b;
    };
    const current = (inst: Instance) => inst.lives[inst.lives.length - 1]!;
    client = new pg.Client({ connectionString: db.url, application_name: 'crazy-trade chaos' });
    client.on('error', () => undefined);
    await client.connect();
    const leaderRow = async (): Promise<{ leader: string; epoch: number } | null> => {
      const r = await client!.query(`select leader, epoch::int8 as epoch from crazy_trade.leaders where account_id = $1`, [accountId]).catch(() => null);
      const row = r?.rows[0];
      return row ? { leader: String(row.leader), epoch: Number(row.epoch) } : null;
    };
    const lastLeadEvent = (b: BotProcess) => {
      for (let k = b.lines.length - 1; k >= 0; k--) if (LEAD_EVENTS.has(b.lines[k]!.event)) return b.lines[k]!;
      return undefined;
    };
    /** The alive process whose last leadership line is an acquisition, the newest epoch if several, and that the leaders row names. */
    const findLeader = async () => {
      const leading = instances
        .map((inst) => ({ inst, bot: current(inst), last: lastLeadEvent(current(inst)) }))
        .filter((c) => alive(c.bot) && c.last?.event === 'leadership_acquired')
        .sort((a, b) => Number(b.last!.epoch) - Number(a.last!.epoch));
      const top = leading[0];
      if (!top) return null;
      const row = await leaderRow();
      if (!row || row.leader !== top.inst.name || row.epoch !== Number(top.last!.epoch)) return null;
      return { inst: top.inst, bot: top.bot, epoch: Number(top.last!.epoch), since: at(top.last!) };
    };
    /** Every instance but the leader is up and standing by. */
    const standbysReady = (leader: BotProcess) => instances.every((inst) => current(inst) === leader || lastLeadEvent(current(inst))?.event === 'leadership_standby');
    /** The first leadership_acquired at or after `from` by any process but `victim`. */
    const nextAcquired = (from: number, victim: BotProcess) => {
      let best: { name: string; line: Record<string, any> } | null = null;
      for (const { name, bot } of every()) {
        if (bot === victim) continue;
        const l = bot.lines.find((x) => x.event === 'leadership_acquired' && at(x) >= from);
        if (l && (!best || at(l) < at(best.line))) best = { name, line: l };
      }
      return best;
    };

    /** Processes that ended without one of the rounds' signals (a fatal error, say): not an invariant, reported. */
    const selfExits: string[] = [];
    await startFaults(url, opts.doneForDayRate);
    const sessions = sessionCloser(url, sessionEvery, sessionClosedMs, say);
    /** An instance that ended by itself (not by one of the rounds' signals) is reported and started again; true when none had. */
    const revive = async (when: string) => {
      let none = true;
      for (const inst of instances) {
        const b = current(inst);
        if (b.proc.exitCode === null && b.proc.signalCode === null) continue;
        none = false;
        const how = await b.exited;
        selfExits.push(`${when}: ${inst.name} (process ${inst.lives.length - 1}) exited by itself (${how.signal ?? `code ${how.code}`}); last lines: ${b.lines.slice(-3).map((l) => l.event ?? l.msg).join(', ')}`);
        say(`${when}: ${inst.name} exited by itself (${how.signal ?? `code ${how.code}`}); starting it again`);
        await launch(inst);
      }
      return none;
    };
    for (let k = 0; k < n; k++) instances.push({ name: `chaos-${String.fromCharCode(97 + k)}`, lives: [] });
    // The broker's book sampled from the start: a bot is up while any instance is (isUp) and not stopped.
    const upNow = () => instances.map(current).find((b) => isUp(b) && !stoppedNow.has(b))?.proc.pid ?? null;
    watch = { sampler: sampleBook(url, upNow), log: requestLogReader(url), rules: {} };
    for (const inst of instances) await launch(inst);
    say(`${n} instances started (${instances.map((i) => i.name).join(', ')}) on ${accountSchemaOf(accountId)}, leader timeout ${timeoutS} s`);

    const rounds: Round[] = [];
    const violations: string[] = [];
    for (let i = 1; i <= opts.kills; i++) {
      await sessions.before(i, 'round');
      await revive(`round ${i}`);
      const leader = await until(findLeader, takeoverLimitMs, 100);
      if (!leader) {
        violations.push(`round ${i}: no leader within ${takeoverLimitMs / 1000} s`);
        say(`round ${i}: no leader within ${takeoverLimitMs / 1000} s`);
        continue;
      }
      // The others up and standing by, so a round times the takeover, not a process start.
      if (!(await until(async () => (await revive(`round ${i}`)) && standbysReady(leader.bot), 30_000, 100))) say(`round ${i}: not every standby ready after 30 s; going on`);
      const up = Math.round(minUp + rand() * (maxUp - minUp));
      const stop = rand() < sigstopRate;
      const holdMs = timeoutS * 1000 + 1000 + Math.round(rand() * 2000);
      await sleep(up);
      const victim = (await until(findLeader, takeoverLimitMs, 100)) ?? leader;
      if (victim.bot !== leader.bot) say(`round ${i}: the leader changed during the up-time (${leader.inst.name} → ${victim.inst.name})`);
      const round: Round = { round: i, how: stop ? 'SIGSTOP' : 'SIGKILL', victim: victim.inst.name, victim_source: proxies.get(victim.bot)!.tag, epoch: victim.epoch, up_ms: up, at: Date.now(), takeover_ms: null, next_leader: null, next_epoch: null };
      rounds.push(round);
      const takeover = () => until(() => nextAcquired(round.at, victim.bot), takeoverLimitMs, 50);
      let next: Awaited<ReturnType<typeof takeover>>;
      if (!stop) {
        victim.bot.proc.kill('SIGKILL');
        await victim.bot.exited;
        await launch(victim.inst);
        next = await takeover();
      } else {
        victim.bot.proc.kill('SIGSTOP');
        stoppedNow.add(victim.bot);
        const waiting = takeover();
        await sleep(holdMs);
        round.resumed_at = Date.now();
        victim.bot.proc.kill('SIGCONT');
        stoppedNow.delete(victim.bot);
        next = await waiting;
        const released = await until(() => victim.bot.lines.find((l) => l.event === 'leadership_released' && at(l) >= round.resumed_at!), stepdownLimitMs, 50);
        round.stepdown_ms = released ? at(released) - round.resumed_at : null;
        if (!released) violations.push(`round ${i}: ${victim.inst.name} (epoch ${victim.epoch}), resumed after ${holdMs} ms stopped, did not log leadership_released within ${stepdownLimitMs / 1000} s`);
      }
      if (next) {
        round.takeover_ms = at(next.line) - round.at;
        round.next_leader = next.name;
        round.next_epoch = Number(next.line.epoch);
      } else {
        violations.push(`round ${i}: no takeover within ${takeoverLimitMs / 1000} s of the ${round.how} of ${victim.inst.name} (epoch ${victim.epoch})`);
      }
      say(
        `round ${i}/${opts.kills}: ${round.how} ${victim.inst.name} (epoch ${victim.epoch}) after ${up} ms up` +
          (stop ? `, resumed after ${holdMs} ms, stepped down ${round.stepdown_ms === null ? 'NOT within the limit' : `${round.stepdown_ms} ms after`}` : '') +
          `; ${next ? `${next.name} leads (epoch ${round.next_epoch}) after ${round.takeover_ms} ms` : 'no takeover'}`,
      );
    }

    // Quiesce as the SQLite run does; the leader of the moment brings everything in.
    await quiesce(url, sessions);
    const quiet = Date.now();
    const deadline = Date.now() + (opts.settleMs ?? 90_000);
    ledger = pgLedger(db.url, accountSchemaOf(accountId));
    const cooldownLines = () => every().flatMap(({ bot }) => bot.lines.filter((l) => l.event === 'cooldown_started'));
    let measured: Measured;
    for (;;) {
      await sleep(1000);
      const leader = await findLeader();
      const reconciled = leader?.bot.lines.some((l) => l.event === 'reconcile_done' && at(l) - l.duration_ms > quiet && at(l) >= leader.since) ?? false;
      measured = await measure(url, ledger, cooldownLines(), opts.kills, sessions.closes(), t0, watch);
      if (reconciled && measured.settled) break;
      if (Date.now() > deadline) {
        if (!leader) violations.push('settle: no leader at the end');
        else if (!reconciled) violations.push(`settle: the leader ${leader.inst.name} did not reconcile after traffic stopped`);
        break;
      }
    }
    await watch.sampler.stop();
    for (const inst of instances) {
      const b = current(inst);
      if (alive(b)) continue;
      const how = await b.exited;
      selfExits.push(`settle: ${inst.name} (process ${inst.lives.length - 1}) exited by itself (${how.signal ?? `code ${how.code}`}); last lines: ${b.lines.slice(-3).map((l) => l.event ?? l.msg).join(', ')}`);
    }
    // Leadership that changed hands with no kill or stop of the round behind it (the leader's session
    // ended on its own): not an invariant by itself, counted and listed.
    const caused = new Set(rounds.map((r) => r.next_epoch));
    const unforced = every()
      .flatMap(({ name, bot }) => bot.lines.filter((l) => l.event === 'leadership_acquired').map((l) => ({ name, epoch: Number(l.epoch), time: String(l.time) })))
      .filter((a) => a.epoch > 1 && !caused.has(a.epoch))
      .sort((a, b) => a.epoch - b.epoch);
    for (const a of unforced) {
      const before = every().find(({ bot }) => bot.lines.some((l) => l.event === 'leadership_acquired' && Number(l.epoch) === a.epoch - 1));
      const lost = before?.bot.lines.find((l) => l.event === 'leadership_released' && Number(l.epoch) === a.epoch - 1);
      say(`epoch ${a.epoch}: ${a.name} took over at ${a.time} with no kill or stop; epoch ${a.epoch - 1} (${before?.name ?? '?'}) ${lost ? `stepped down at ${lost.time}: ${lost.reason}` : 'logged no leadership_released'}`);
    }
    const finalLeader = await leaderRow();
    say(`settled: ${finalLeader ? `${finalLeader.leader} leads (epoch ${finalLeader.epoch})` : 'no leader row'}`);
    await Promise.all(
      every()
        .filter(({ bot }) => alive(bot))
        .map(async ({ bot }) => {
          bot.proc.kill('SIGTERM');
          const gone = await Promise.race([bot.exited.then(() => true), sleep(15_000).then(() => false)]);
          if (!gone) bot.proc.kill('SIGKILL');
          await bot.exited;
        }),
    );

    // A resumed old leader sends nothing, as the broker saw it: no request to place, replace or cancel
    // an order arrives through its proxy from its SIGCONT until it leads again. Only the end of that
    // window (its next leadership_acquired line, if any) is taken from its log; the sends are the broker's.
    const log = await watch.log.refresh();
    const same = (q: LoggedRequest) => `${q.method} ${q.path} ${q.client_order_id ?? ''}`;
    let writesAfterResume = 0;
    for (const r of rounds.filter((x) => x.how === 'SIGSTOP')) {
      const bot = [...proxies].find(([, p]) => p.tag === r.victim_source)![0];
      const again = bot.lines.find((l) => l.event === 'leadership_acquired' && Number(l.epoch) > r.epoch && at(l) >= r.resumed_at!);
      const end = again ? at(again) : Infinity;
      const mine = log.filter((q) => q.source === r.victim_source && isOrderWrite(q));
      const sentBefore = new Set(mine.filter((q) => q.at < r.at).map(same));
      for (const q of mine.filter((x) => x.at >= r.resumed_at! && x.at < end)) {
        writesAfterResume += 1;
        violations.push(
          `round ${r.round}: ${r.victim} (epoch ${r.epoch}), resumed, sent ${q.method} ${q.path}${q.client_order_id ? ` (${q.client_order_id})` : ''} ` +
            `${q.at - r.resumed_at!} ms after its SIGCONT, answered ${q.status}${sentBefore.has(same(q)) ? '; it had sent the same request before its SIGSTOP' : ''}`,
        );
      }
    }
    const writes = log.filter(isOrderWrite);
    for (const line of selfExits) say(line);
    // One leader per epoch.
    const byEpoch = new Map<number, string[]>();
    for (const { name, bot } of every()) {
      for (const l of bot.lines.filter((x) => x.event === 'leadership_acquired')) byEpoch.set(Number(l.epoch), [...(byEpoch.get(Number(l.epoch)) ?? []), name]);
    }
    for (const [epoch, names] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
      if (names.length > 1) violations.push(`epoch ${epoch} acquired ${names.length} times: ${names.join(', ')}`);
    }

    // Work an instance logged as the account's leader after a newer epoch had been acquired elsewhere
    // (a stale leader writing the shared books, or answered by the broker): not an invariant by
    // itself, counted, and summed up per stale term.
    const acquisitions = every()
      .flatMap(({ bot }) => bot.lines.filter((l) => l.event === 'leadership_acquired'))
      .map((l) => ({ epoch: Number(l.epoch), at: at(l) }));
    const staleTerms = new Map<string, { n: number; first: number; last: number; events: Map<string, number> }>();
    for (const { name, bot } of every()) {
      let epoch: number | null = null;
      for (const l of bot.lines) {
        if (l.event === 'leadership_acquired') epoch = Number(l.epoch);
        else if (l.event === 'leadership_standby') epoch = null;
        else if (epoch !== null && STALE_EVENTS.has(l.event)) {
          const newer = acquisitions.filter((a) => a.epoch > epoch! && a.at < at(l));
          if (newer.length === 0) continue;
          const since = Math.min(...newer.map((a) => a.at));
          const key = `${name} epoch ${epoch}`;
          const t = staleTerms.get(key) ?? { n: 0, first: at(l) - since, last: 0, events: new Map<string, number>() };
          t.n += 1;
          t.last = at(l) - since;
          t.events.set(l.event, (t.events.get(l.event) ?? 0) + 1);
          staleTerms.set(key, t);
        }
      }
    }
    for (const [key, t] of staleTerms) {
      say(`${key}, no longer leading: ${t.n} lines from ${t.first} to ${t.last} ms after the takeover (${[...t.events].map(([e, k]) => `${k} ${e}`).join(', ')})`);
    }

    const times = rounds.map((r) => r.takeover_ms).filter((x): x is number => x !== null).sort((a, b) => a - b);
    const stopped = rounds.filter((r) => r.how === 'SIGSTOP');
    const { violations: base, ...rest } = measured.figures;
    const out: FailoverFigures = {
      ...rest,
      seconds: Math.round((Date.now() - t0) / 1000),
      instances: n,
      takeovers: times.length,
      takeover_ms_p50: percentile(times, 0.5),
      takeover_ms_p99: percentile(times, 0.99),
      takeover_ms_max: times.length ? times[times.length - 1]! : null,
      sigstop_rounds: stopped.length,
      stepdowns_after_resume: stopped.filter((r) => r.stepdown_ms !== null && r.stepdown_ms !== undefined).length,
      fenced_sends: every().reduce((s, { bot }) => s + bot.lines.filter((l) => l.event === 'stop_send_fenced').length, 0),
      writes_after_resume: writesAfterResume,
      order_writes_tagged: writes.filter((q) => q.source !== null).length,
      order_writes_untagged: writes.filter((q) => q.source === null).length,
      self_exits: selfExits.length,
      unforced_takeovers: unforced.length,
      stale_leader_lines: [...staleTerms.values()].reduce((a, t) => a + t.n, 0),
      violations: [...base, ...violations],
    };
    if (process.env.CT_CHAOS_KEEP) {
      writeFileSync(join(dir, 'orders.json'), JSON.stringify(await allOrders(url), null, 1));
      writeFileSync(join(dir, 'rounds.json'), JSON.stringify(rounds, null, 1));
      writeFileSync(
        join(dir, 'logs.jsonl'),
        every()
          .map(({ name, bot }, k) => bot.lines.map((l) => JSON.stringify({ instance: name, run: k, ...l })).join('\n'))
          .join('\n'),
      );
      // The service's books as they ended (the cluster goes with the run): every table of the account's schema.
      const tables = (await client.query(`select table_name from information_schema.tables where table_schema = $1 order by table_name`, [accountSchemaOf(accountId)])).rows;
      const books: Record<string, unknown[]> = { 'crazy_trade.leaders': (await client.query('select * from crazy_trade.leaders')).rows };
      for (const { table_name } of tables) books[table_name] = (await client.query(`select * from ${accountSchemaOf(accountId)}."${table_name}"`)).rows;
      writeFileSync(join(dir, 'books.json'), JSON.stringify(books, null, 1));
      writeFileSync(join(dir, 'stderr.txt'), every().map(({ name, bot }, k) => `--- ${name} #${k}\n${bot.stderr()}`).join('\n'));
    }
    return out;
  } finally {
    await watch?.sampler.stop().catch(() => undefined);
    for (const { bot } of every()) {
      if (alive(bot)) {
        bot.proc.kill('SIGCONT');
        bot.proc.kill('SIGKILL');
      }
    }
    await Promise.all(every().map(({ bot }) => bot.exited));
    await Promise.all([...proxies.values()].map((p) => p.close()));
    await ledger?.close();
    await client?.end().catch(() => undefined);
    simProc?.proc.kill('SIGTERM');
    await db?.drop().catch(() => undefined);
    await cluster.stop();
    if (process.env.CT_CHAOS_KEEP) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
