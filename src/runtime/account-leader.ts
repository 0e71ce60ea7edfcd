import { LockSession } from './lock-session.js';
import type { Logger } from '../log.js';
import { LEADERS_TABLE, ensureLeaderTable } from '../store/leader-table.js';
import { LeadershipLost } from '../store/leadership-lost.js';

/** What the account's runtime gives back once started: how to stop it. */
export interface LedAccount {
  close(reason: string): Promise<void>;
}

export interface AccountLeaderOptions {
  url: string;
  accountId: string;
  accountName: string;
  /** How this instance shows as the leader (CT_INSTANCE_NAME). */
  instance: string;
  /** CT_LEADER_TIMEOUT_S: a session silent this long is ended by the server, and its lock with it. */
  timeoutS: number;
  log: Logger;
  /** Became the leader under `epoch`: rehydrate, reconcile, start everything; called once per term. */
  lead(epoch: number): Promise<LedAccount>;
  /**
   * How many accounts this process leads already: a standby that leads others tries the lock less
   * often (and not at once), so a free account goes to the least busy instance and accounts spread.
   */
  ledHere?: () => number;
}

export type LeaderRole = 'standby' | 'starting' | 'leading' | 'stopping';

export interface LeaderStatus {
  role: LeaderRole;
  epoch: number | null;
  since: string | null;
  /** Why the last try failed (the database unreachable, …); null once a try succeeds. */
  error: string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One account's leadership (PostgreSQL): a session-level advisory lock keyed by the account id, held
 * on a connection of its own. The server ends that session when it stays silent past the timeout
 * (`idle_session_timeout`): a killed leader's lock frees at once (its socket closes), a stopped one's
 * after the timeout. Taking the lock bumps the account's epoch; the store fences every send with it
 * (Database.assertLeading). A leader whose session ends, or whose epoch moved on, steps down to standby.
 */
export class AccountLeader {
  private client: LockSession | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private led: LedAccount | null = null;
  private lostWake: (() => void) | null = null;
  private lost: string | null = null;
  private current: LeaderStatus = { role: 'standby', epoch: null, since: null, error: null };
  private readonly timeoutMs: number;
  /** How often the lock is tried (standby) and the session heard from (leader): well inside the timeout. */
  private readonly beatMs: number;

  constructor(private readonly opts: AccountLeaderOptions) {
    this.timeoutMs = opts.timeoutS * 1000;
    this.beatMs = Math.max(200, Math.min(1000, Math.floor(this.timeoutMs / 4)));
  }

  status(): LeaderStatus {
    return this.current;
  }

  private firstTried: (() => void) | null = null;
  /** Resolves once the lock was tried the first time (taken or not): the next account may start then. */
  readonly firstAttempt = new Promise<void>((resolve) => {
    this.firstTried = resolve;
  });

  /** The wait between two tries of a free lock: longer the more accounts this process already leads. */
  private tryEveryMs(): number {
    // The session must be heard from within the timeout: a busy instance's wait stays under it.
    return Math.min(this.beatMs * (1 + 3 * (this.opts.ledHere?.() ?? 0)), this.timeoutMs - this.beatMs);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Before an order leaves (the broker client's last step, after the store's epoch check): the lock
   * is this instance's while its session was heard from within the timeout, so an order may leave
   * only while the last answered query was sent less than half the timeout ago. An epoch read can
   * be stale: a leader stopped (SIGSTOP) with the read on its way back reads it once resumed, after
   * another instance took over. Not heard from lately, it waits for the next heartbeat (a busy or
   * slow moment) up to the timeout; a session lost, or still silent, throws LeadershipLost.
   */
  async assertLease(epoch: number): Promise<void> {
    const fresh = this.timeoutMs / 2;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const client = this.client;
      const silentMs = client ? Date.now() - client.heardAt() : null;
      if (this.lost || this.stopped || silentMs === null || this.current.epoch !== epoch) {
        const why = this.lost || this.stopped || silentMs === null ? `the leader session is gone (${this.lost ?? 'stopped'})` : `this instance's term is ${this.current.epoch ?? 'over'}`;
        throw new LeadershipLost(this.opts.accountId, epoch, null, why);
      }
      if (silentMs < fresh) return;
      if (Date.now() >= deadline) {
        throw new LeadershipLost(this.opts.accountId, epoch, null, `the leader session was last heard from ${silentMs} ms ago (the lock is held for ${this.timeoutMs} ms after)`);
      }
      await sleep(Math.min(50, this.beatMs));
    }
  }

  /** Told by the runtime (a fenced send): another instance leads; step down. */
  stepDown(reason: string): void {
    if (this.current.role !== 'leading' && this.current.role !== 'starting') return;
    this.lost ??= reason;
    this.lostWake?.();
  }

  async stop(reason = 'shutdown'): Promise<void> {
    this.stopped = true;
    this.firstTried?.();
    this.lost ??= reason;
    this.lostWake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log, accountName } = this.opts;
    while (!this.stopped) {
      try {
        await this.term();
      } catch (err) {
        this.current = { ...this.current, error: String(err) };
        log.warn({ event: 'leadership_error', account: accountName, err: String(err) }, `leadership of ${accountName}: ${String(err)}; retrying`);
      }
      await this.release();
      if (!this.stopped) await sleep(this.beatMs);
    }
  }

  /** One connection's life: wait for the lock, lead until it is lost, step down. */
  private async term(): Promise<void> {
    const { log, accountId, accountName, instance } = this.opts;
    this.lost = null;
    const client = await LockSession.open({
      url: this.opts.url,
      applicationName: `crazy-trade leader ${instance}`.slice(0, 63),
      connectTimeoutMs: this.timeoutMs,
      // The session dies when this process stops answering: that is what frees the lock.
      settings: { idle_session_timeout: String(this.timeoutMs), lock_timeout: String(this.timeoutMs), statement_timeout: String(this.timeoutMs * 2) },
    });
    this.client = client;
    client.onLost((reason) => this.onLost(reason));
    await ensureLeaderTable(client);

    const key = `crazy-trade:${accountId}`;
    let waiting = false;
    // Busy already: let an idle instance take this one first.
    if ((this.opts.ledHere?.() ?? 0) > 0) await this.pause(this.tryEveryMs());
    while (!this.stopped && !this.lost) {
      const got = (await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [key])).rows[0]?.ok;
      this.firstTried?.();
      this.firstTried = null;
      if (this.current.error) this.current = { ...this.current, error: null };
      if (got) break;
      if (!waiting) {
        waiting = true;
        const leader = (await client.query(`select leader, epoch::int8 as epoch from ${LEADERS_TABLE} where account_id = $1`, [accountId])).rows[0];
        log.info({ event: 'leadership_standby', account: accountName, leader: leader?.leader ?? null, epoch: leader ? Number(leader.epoch) : null }, `${accountName}: standby${leader ? `, led by ${leader.leader}` : ''}`);
      }
      await this.pause(this.tryEveryMs());
    }
    if (this.stopped || this.lost) return;

    const now = new Date().toISOString();
    const epoch = Number(
      (
        await client.query<{ epoch: string }>(
          `insert into ${LEADERS_TABLE} (account_id, account_name, epoch, leader, since, heartbeat_at) values ($1, $2, 1, $3, $4, $4)
           on conflict (account_id) do update set epoch = ${LEADERS_TABLE}.epoch + 1, account_name = excluded.account_name, leader = excluded.leader, since = excluded.since, heartbeat_at = excluded.heartbeat_at
           returning epoch`,
          [accountId, accountName, instance, now],
        )
      ).rows[0]!.epoch,
    );
    this.current = { role: 'starting', epoch, since: now, error: null };
    log.warn({ event: 'leadership_acquired', account: accountName, account_id: accountId, epoch, instance }, `${accountName}: this instance leads now (epoch ${epoch})`);

    const beat = this.heartbeat(client, epoch);
    try {
      this.led = await this.opts.lead(epoch);
      if (!this.lost && !this.stopped) this.current = { role: 'leading', epoch, since: now, error: null };
      await beat.untilLost;
    } finally {
      beat.stop();
      this.current = { role: 'stopping', epoch, since: now, error: null };
      const reason = this.lost ?? 'stopped';
      if (this.led) {
        const led = this.led;
        this.led = null;
        log.warn({ event: 'leadership_released', account: accountName, epoch, reason }, `${accountName}: no longer leading (${reason})`);
        await led.close(reason);
      }
      this.current = { role: 'standby', epoch: null, since: null, error: null };
    }
  }

  /**
   * Keeps the session heard from and checks the epoch is still ours, on the session's own thread
   * (a busy main thread does not lose the lock); resolves when leadership is lost.
   */
  private heartbeat(client: LockSession, epoch: number): { untilLost: Promise<void>; stop(): void } {
    const untilLost = new Promise<void>((resolve) => {
      this.lostWake = resolve;
      if (this.lost || this.stopped) return resolve();
      client.beat(
        `update ${LEADERS_TABLE} set heartbeat_at = to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') where account_id = $1 and epoch = $2`,
        [this.opts.accountId, epoch],
        this.beatMs,
      );
    });
    return { untilLost, stop: () => client.unbeat() };
  }

  private onLost(reason: string): void {
    if (this.lost) return;
    this.lost = reason;
    this.lostWake?.();
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.lostWake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.lostWake = null;
  }

  /** Ends the session: the advisory lock goes with it. */
  private async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.lostWake = null;
    if (!client) return;
    await client.close().catch(() => undefined);
  }
}
