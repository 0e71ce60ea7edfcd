import pg from 'pg';
import type { AccountConfig, Config } from './config.js';
import { redactDbUrl } from './config.js';
import type { Logger } from './log.js';
import type { Inspector } from './inspect/inspector.js';
import { StartupRefusal } from './startup-refusal.js';
import type { HostedAccount } from './api/host.js';
import { createBrokerClient } from './broker/client.js';
import { verifyCredentials } from './broker/credentials.js';
import { openPgDatabase } from './store/database-pg.js';
import { readLeaders } from './store/leader-table.js';
import { accountSchema } from './store/account-schema.js';
import { AccountLeader } from './runtime/account-leader.js';
import { startAccount, type Endpoints, type RunningAccount } from './account.js';

export interface LedAccountsDeps {
  config: Config & { dbUrl: string };
  log: Logger;
  logOf(account: AccountConfig): Logger;
  endpointsOf(account: AccountConfig): Endpoints;
  inspector: Inspector | null;
  onFatal(): void;
  onRefused(err: StartupRefusal): void;
  /** Told what to close at shutdown, in the order things were opened. */
  closers: Array<() => Promise<void> | void>;
  stopReason(): string;
}

/**
 * PostgreSQL (CT_DB_URL): every account is served by the API host at once (standing by, or
 * "starting" while its id is read), and led here when this instance holds its lock
 * (src/runtime/account-leader.ts): then its schema is opened fenced by the epoch, and its runtime
 * started (src/account.ts). Accounts are taken one at a time, so an instance that already leads one
 * leaves the next to an idle instance.
 */
export function startLedAccounts(deps: LedAccountsDeps): HostedAccount[] {
  const { config, log, closers } = deps;
  const dbUrl = config.dbUrl;
  log.info({ event: 'store_postgres', url: redactDbUrl(dbUrl), instance: config.instanceName }, `PostgreSQL at ${redactDbUrl(dbUrl)}; this instance is ${config.instanceName}`);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 1, idleTimeoutMillis: 10_000, application_name: 'crazy-trade api' });
  pool.on('error', () => undefined);
  closers.push(() => pool.end());
  const aborted = new AbortController();
  closers.push(() => aborted.abort());

  const slots = config.accounts.map((account) => ({ account, accountId: null as string | null, leader: null as AccountLeader | null, current: null as RunningAccount | null }));
  const ledHere = () => slots.filter((s) => s.leader && s.leader.status().role !== 'standby').length;

  void (async () => {
    for (const slot of slots) {
      const alog = deps.logOf(slot.account);
      const endpoints = deps.endpointsOf(slot.account);
      // The account's identity keys its lock and its schema: GET /v2/account (keys refused: exit 2).
      let who: { accountId: string } | null;
      try {
        who = await verifyCredentials(createBrokerClient(endpoints, { log: alog }), alog, aborted.signal);
      } catch (err) {
        if (err instanceof StartupRefusal) return deps.onRefused(err);
        throw err;
      }
      if (!who) return;
      const accountId = who.accountId;
      slot.accountId = accountId;
      const leader: AccountLeader = new AccountLeader({
        url: dbUrl,
        accountId,
        accountName: slot.account.name,
        instance: config.instanceName,
        timeoutS: config.leaderTimeoutS,
        log: alog,
        ledHere,
        lead: async (epoch) => {
          const schema = accountSchema(accountId);
          const db = await openPgDatabase({
            url: dbUrl,
            schema,
            applicationName: `crazy-trade ${config.instanceName}`.slice(0, 63),
            fence: { accountId, epoch },
            // A stopped leader's open transaction must not hold the takeover's epoch bump.
            settings: { idle_in_transaction_session_timeout: String(config.leaderTimeoutS * 1000) },
          });
          log.info({ event: 'store_opened', schema, account: slot.account.name, epoch }, 'database ready');
          let running: RunningAccount;
          try {
            running = await startAccount({
              config,
              account: slot.account,
              endpoints,
              db,
              log: alog,
              inspector: deps.inspector,
              onFatal: deps.onFatal,
              onRefused: deps.onRefused,
              onLeadershipLost: (err) => leader.stepDown(err.message),
              assertLease: () => leader.assertLease(epoch),
            });
          } catch (err) {
            await db.close();
            throw err;
          }
          slot.current = running;
          return {
            close: async (reason) => {
              slot.current = null;
              try {
                await running.close(reason);
              } finally {
                await db.close();
              }
            },
          };
        },
      });
      slot.leader = leader;
      leader.start();
      closers.push(() => leader.stop(deps.stopReason()));
      // One account at a time: the next one's first try knows whether this one was taken here.
      await leader.firstAttempt;
    }
  })().catch((err: unknown) => {
    log.fatal({ event: 'leadership_start_failed', err: String(err) }, `could not start the accounts: ${String(err)}`);
    deps.onFatal();
  });

  return slots.map((slot) => ({
    name: slot.account.name,
    app: () => slot.current?.app ?? null,
    health: () => slot.current?.health() ?? null,
    role: () => slot.leader?.status().role ?? 'starting',
    problem: () => (slot.leader ? slot.leader.status().error : 'reading the account from Alpaca (GET /v2/account)'),
    leader: async () => {
      if (!slot.accountId) return null;
      const rows = await readLeaders(pool).catch(() => []);
      const row = rows.find((r) => r.account_id === slot.accountId);
      return row ? { leader: row.leader, epoch: row.epoch, since: row.since, heartbeat_at: row.heartbeat_at } : null;
    },
  }));
}
