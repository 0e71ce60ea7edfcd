import { hostname } from 'node:os';
import { basename } from 'node:path';
import { z } from 'zod';
import { MAX_TRAIL_PERCENT } from './domain/protection.js';
import { AccountsFileError, exposedMode, formatMode, readAccountsFile, type AccountsFileContent } from './accounts-file.js';

/** Loopback hosts the status API may bind to without a token. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
/** The shortest CT_API_TOKEN accepted when the API listens beyond loopback. */
const MIN_EXPOSED_TOKEN = 24;
/** The shortest CT_API_TOKEN accepted at all, loopback included (any local process may guess). */
const MIN_TOKEN = 16;

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
      error: 'expected true or false',
    })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'on'].includes(v)));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return Number(v);
    });

/** A positive decimal kept as a string: money and percentages never go through floats. */
const decimal = (fallback: string, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > max) {
        ctx.addIssue({ code: 'custom', message: `expected a decimal above 0 and at most ${max}, got "${v}"` });
        return z.NEVER;
      }
      return v;
    });

const url = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      try {
        const u = new URL(v);
        if (!protocols.includes(u.protocol)) throw new Error('protocol');
        return v.replace(/\/+$/, '');
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL, got "${v}"` });
        return z.NEVER;
      }
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const INSTANCE_NAME = /^[A-Za-z0-9._@:-]{1,64}$/;

/** `<hostname>:<pid>`, the host name trimmed to what CT_INSTANCE_NAME accepts. */
function defaultInstanceName(): string {
  const pid = `:${process.pid}`;
  const host = hostname().replace(/[^A-Za-z0-9._@-]/g, '-').slice(0, 64 - pid.length) || 'host';
  return `${host}${pid}`;
}

/** Telegram's Bot API host (CT_TELEGRAM_API_URL overrides it, e.g. for a local receiver in tests). */
export const TELEGRAM_API_HOST = 'https://api.telegram.org';

/** Alpaca's market data host (docs "Market data": the same for paper and live). */
export const ALPACA_DATA_HOST = 'https://data.alpaca.markets';

const envSchema = z
  .object({
    APCA_API_KEY_ID: optionalString,
    APCA_API_SECRET_KEY: optionalString,
    ALPACA_PAPER: bool(true),
    ALPACA_API_URL: url(['http:', 'https:']),
    ALPACA_STREAM_URL: url(['ws:', 'wss:']),
    /** Market data (latest prices): Alpaca's data host for paper and live alike; never the trading host. */
    ALPACA_DATA_URL: url(['http:', 'https:']),
    CT_DEMO: bool(false),
    /** Demo mode only: the simulator's full fault mix and a careless outside trader (src/sim/faults.ts), to see the alarms work. */
    CT_DEMO_FAULTS: bool(false),
    CT_DB_PATH: z.string().min(1, 'must not be empty').default('./data/crazy-trade.db'),
    /** PostgreSQL instead of SQLite (CT_DB_PATH is then ignored). Never echoed: it may hold a password. */
    CT_DB_URL: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === '') return undefined;
        let ok = false;
        try {
          ok = ['postgres:', 'postgresql:'].includes(new URL(v).protocol);
        } catch {
          ok = false;
        }
        if (!ok) {
          ctx.addIssue({ code: 'custom', message: 'expected a postgres:// or postgresql:// URL' });
          return z.NEVER;
        }
        return v;
      }),
    /** How long a leader's database session may stay silent before PostgreSQL ends it (its leadership frees). */
    CT_LEADER_TIMEOUT_S: int(5, 2, 300),
    /** How this instance is shown as an account's leader. */
    CT_INSTANCE_NAME: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === '') return defaultInstanceName();
        if (!INSTANCE_NAME.test(v)) {
          ctx.addIssue({ code: 'custom', message: 'must be 1-64 letters, digits, ".", "_", "@", ":" or "-"' });
          return z.NEVER;
        }
        return v;
      }),
    /** Several accounts per process: a JSON or YAML file of account name → keys and settings. */
    CT_ACCOUNTS_FILE: optionalString,
    CT_API_HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
    CT_API_PORT: int(8080, 0, 65535),
    /** Connections the status API holds open at once; past it new ones are closed at accept. */
    CT_API_MAX_CONNECTIONS: int(256, 1, 100_000),
    CT_API_TOKEN: optionalString,
    /** The token's name: who a control action was taken by, in logs and notifications. */
    CT_API_TOKEN_NAME: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_", "@" or "-"').default('operator'),
    /** Host names the API answers to besides loopback and CT_API_HOST (DNS rebinding guard). */
    CT_API_ALLOWED_HOSTS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const names = (v ?? '').split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
        const bad = names.find((n) => !/^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(:\d{1,5})?$/.test(n));
        if (bad !== undefined) {
          ctx.addIssue({ code: 'custom', message: `expected comma-separated host names (e.g. dash.example.lan,192.168.1.20), got "${bad}"` });
          return z.NEVER;
        }
        return names;
      }),
    CT_POLL_MS: int(5000, 250, 86_400_000),
    /**
     * Requests to Alpaca's trading API per window, per account: `<requests>/<seconds>s`. Alpaca allows
     * 200 a minute (more on its Algo Trader Plus plan: 1000). Never set above your plan's: the broker
     * answers 429 and every request waits. Tests shorten the window to replay a busy minute in seconds.
     */
    CT_BROKER_RATE_LIMIT: z
      .string()
      .default('200/60s')
      .transform((v, ctx) => {
        const m = /^(\d{1,5})\/(\d{1,4})s$/.exec(v.trim());
        const maxRequests = m ? Number(m[1]) : NaN;
        const seconds = m ? Number(m[2]) : NaN;
        if (!(maxRequests >= 2 && maxRequests <= 10_000 && seconds >= 1 && seconds <= 3_600)) {
          ctx.addIssue({ code: 'custom', message: `expected <requests>/<seconds>s with 2..10000 requests and 1..3600 seconds (e.g. 200/60s), got "${v}"` });
          return z.NEVER;
        }
        return { maxRequests, intervalMs: seconds * 1000 };
      }),
    CT_RESYNC_WINDOW_S: int(900, 0, 604_800),
    // The activity event stream (GET /v2beta1/events/activities) as a source of fills; 0 turns it off.
    CT_EVENT_STREAM: bool(true),
    // While the event stream is live, trade_updates connected and no crypto fee is due, the poll runs every Nth CT_POLL_MS (1: never relaxed).
    CT_POLL_RELAX: int(6, 1, 60),
    CT_TRAIL_PERCENT: decimal('2', MAX_TRAIL_PERCENT),
    CT_COOLDOWN_MINUTES: int(30, 0, 10_080),
    CT_RATCHET_MS: int(5000, 250, 3_600_000),
    CT_MARKET_CLOCK_S: int(300, 1, 3_600),
    CT_PROTECT_GRACE_S: int(10, 0, 3_600),
    /** How long a stop this process sent with an unknown outcome may stay invisible by client order id before it is sent again. */
    CT_STOP_LOOKUP_GRACE_MS: int(10_000, 0, 600_000),
    /** Hours before Alpaca's aged-order deadline (GTC: 90 days) that a stop is replaced by a fresh order. */
    CT_REARM_BEFORE_H: decimal('24', 1_440),
    /** How often the stops' rows are read for one that is aging (no broker request). */
    CT_REARM_SCAN_MS: int(5000, 100, 3_600_000),
    // Opt-in: outside regular hours, a crossed stop level is exited by an extended-hours limit order.
    CT_EXTENDED_HOURS_GUARD: bool(false),
    CT_GUARD_SLIPPAGE_PCT: decimal('1', 50),
    CT_GUARD_REPRICE_S: int(60, 1, 3_600),
    CT_GUARD_CHECK_MS: int(2000, 100, 60_000),
    // Notifications (src/notify/). The webhook URL is never echoed: it may carry a token of its own.
    CT_WEBHOOK_URL: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === '') return undefined;
        let ok = false;
        try {
          ok = ['http:', 'https:'].includes(new URL(v).protocol);
        } catch {
          ok = false;
        }
        if (!ok) {
          ctx.addIssue({ code: 'custom', message: 'expected an http or https URL' });
          return z.NEVER;
        }
        return v;
      }),
    CT_WEBHOOK_SECRET: optionalString,
    CT_TELEGRAM_BOT_TOKEN: optionalString,
    CT_TELEGRAM_CHAT_ID: optionalString.refine((v) => v === undefined || /^(-?\d+|@[A-Za-z0-9_]{4,})$/.test(v), {
      message: 'expected a numeric chat id (e.g. -1001234567890) or @channelname',
    }),
    CT_TELEGRAM_API_URL: url(['http:', 'https:']),
    /** At most one notification request per channel this often (src/notify/delivery.ts). */
    CT_NOTIFY_BATCH_MS: int(3000, 100, 600_000),
    CT_INSPECT: bool(false),
    CT_INSPECT_PORT: int(8081, 0, 65535),
    // Testing only: SIGKILL the process at a named step (see src/runtime/crash-points.ts).
    CT_CRASH_AT: z
      .enum(['before_intent_commit', 'after_intent_commit', 'after_stop_post', 'after_guard_post', 'before_change_commit'], {
        error: 'expected before_intent_commit, after_intent_commit, after_stop_post, after_guard_post or before_change_commit',
      })
      .optional(),
    CT_ADOPT: z.enum(['protect', 'record'], { error: 'expected protect or record' }).default('protect'),
    CT_LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.CT_INSPECT && env.CT_INSPECT_PORT !== 0 && env.CT_INSPECT_PORT === env.CT_API_PORT) {
      ctx.addIssue({ code: 'custom', path: ['CT_INSPECT_PORT'], message: `must differ from CT_API_PORT (${env.CT_API_PORT})` });
    }
    if (env.CT_WEBHOOK_URL && !env.CT_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['CT_WEBHOOK_SECRET'], message: 'is required when CT_WEBHOOK_URL is set (the webhook body is signed with it)' });
    }
    if (Boolean(env.CT_TELEGRAM_BOT_TOKEN) !== Boolean(env.CT_TELEGRAM_CHAT_ID)) {
      const missing = env.CT_TELEGRAM_BOT_TOKEN ? 'CT_TELEGRAM_CHAT_ID' : 'CT_TELEGRAM_BOT_TOKEN';
      const set = env.CT_TELEGRAM_BOT_TOKEN ? 'CT_TELEGRAM_BOT_TOKEN' : 'CT_TELEGRAM_CHAT_ID';
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required when ${set} is set (set both for Telegram, or neither)` });
    }
    if (env.CT_API_TOKEN !== undefined && !/^[\x21-\x7e]+$/.test(env.CT_API_TOKEN)) {
      // Sent as `Authorization: Bearer <token>`: one run of visible ASCII. (The value is never echoed.)
      ctx.addIssue({ code: 'custom', path: ['CT_API_TOKEN'], message: 'must be visible ASCII characters without spaces' });
    }
    if (env.CT_API_TOKEN !== undefined && env.CT_API_TOKEN !== '' && env.CT_API_TOKEN.length < MIN_TOKEN && LOOPBACK.has(env.CT_API_HOST)) {
      ctx.addIssue({ code: 'custom', path: ['CT_API_TOKEN'], message: `must be at least ${MIN_TOKEN} characters (it has ${env.CT_API_TOKEN.length}), on loopback too: any local process may guess a short one; e.g. openssl rand -hex 16` });
    }
    if (!LOOPBACK.has(env.CT_API_HOST) && !env.CT_API_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['CT_API_HOST'], message: `"${env.CT_API_HOST}" is not loopback; set CT_API_TOKEN (${MIN_EXPOSED_TOKEN} characters or more) to expose the API` });
    } else if (!LOOPBACK.has(env.CT_API_HOST) && env.CT_API_TOKEN && env.CT_API_TOKEN.length < MIN_EXPOSED_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['CT_API_TOKEN'], message: `must be at least ${MIN_EXPOSED_TOKEN} characters when CT_API_HOST ("${env.CT_API_HOST}") is not loopback (it has ${env.CT_API_TOKEN.length})` });
    }
  });

export type Mode = 'demo' | 'paper' | 'live';

export interface AlpacaConfig {
  keyId?: string;
  secretKey?: string;
  paper: boolean;
  apiUrl?: string;
  streamUrl?: string;
  dataUrl: string;
}

/** One watched Alpaca account: `default` from the environment, or an entry of CT_ACCOUNTS_FILE. */
export interface AccountConfig {
  /** 'default' when from the env; otherwise the CT_ACCOUNTS_FILE key (/^[a-z0-9][a-z0-9_-]{0,31}$/). */
  name: string;
  mode: Mode;
  alpaca: AlpacaConfig;
  trailPercent: string;
  cooldownMinutes: number;
  adopt: 'protect' | 'record';
}

export interface Config {
  /** With CT_ACCOUNTS_FILE: 'paper' if every account is paper, else 'live'. */
  mode: Mode;
  /** With CT_ACCOUNTS_FILE: the first account's (by name). */
  alpaca: AlpacaConfig;
  /** SQLite file (CT_DB_PATH); ignored when dbUrl is set. Several accounts: see accountDbPath(). */
  dbPath: string;
  /** CT_DB_URL: the store is PostgreSQL. Holds a password maybe: log it through redactDbUrl() only. */
  dbUrl?: string;
  /** CT_LEADER_TIMEOUT_S: how long a leader's session may stay silent before PostgreSQL ends it. */
  leaderTimeoutS: number;
  /** CT_INSTANCE_NAME (default `<hostname>:<pid>`): how this instance is shown as an account's leader. */
  instanceName: string;
  /** The accounts watched, at least one, sorted by name: `default` from the env, or CT_ACCOUNTS_FILE's. */
  accounts: AccountConfig[];
  /** allowedHosts: CT_API_ALLOWED_HOSTS, Host names answered besides loopback and the bind host. */
  api: { host: string; port: number; maxConnections: number; token?: string; tokenName: string; allowedHosts: string[] };
  pollMs: number;
  /** CT_BROKER_RATE_LIMIT: trading-API requests permitted per window, per account. */
  brokerRateLimit: { maxRequests: number; intervalMs: number };
  /** CT_RESYNC_WINDOW_S: activities this far behind the watermark are read again once a minute (Alpaca-API#176). */
  resyncWindowS: number;
  /** CT_EVENT_STREAM (on by default): fills from the activity event stream too (src/sync/event-stream.ts). */
  eventStream: boolean;
  /** CT_POLL_RELAX: the poll runs every this many CT_POLL_MS while both streams are healthy (src/sync/poll-timer.ts). */
  pollRelax: number;
  trailPercent: string;
  cooldownMinutes: number;
  ratchetMs: number;
  /** CT_MARKET_CLOCK_S: Alpaca's clock is read at least this often (and at each session boundary). */
  marketClockS: number;
  /** How long a position may stay uncovered by live stops before /health turns critical. */
  protectGraceS: number;
  /** CT_STOP_LOOKUP_GRACE_MS: a stop sent with an unknown outcome (5xx, timeout) and not found by its client order id is sent again after this long. */
  stopLookupGraceMs: number;
  /** CT_REARM_BEFORE_H in ms: a stop this close to Alpaca's aged-order deadline is re-armed. */
  rearmBeforeMs: number;
  /** CT_REARM_SCAN_MS: the stops' rows are read for one within CT_REARM_BEFORE_H of its deadline at most this often. */
  rearmScanMs: number;
  /** CT_EXTENDED_HOURS_GUARD (off by default), CT_GUARD_SLIPPAGE_PCT, CT_GUARD_REPRICE_S, CT_GUARD_CHECK_MS (the guard's pass interval): see src/protection/extended-hours-guard.ts. */
  extendedHoursGuard: { enabled: boolean; slippagePct: string; repriceS: number; checkMs: number };
  /** Notification channels (CT_WEBHOOK_*, CT_TELEGRAM_*); absent: not configured. */
  notify: {
    webhook?: { url: string; secret: string };
    telegram?: { botToken: string; chatId: string; apiUrl: string };
    /** CT_NOTIFY_BATCH_MS: at most one request per channel this often, carrying everything pending. */
    batchMs: number;
  };
  adopt: 'protect' | 'record';
  inspect: { enabled: boolean; port: number };
  logLevel: string;
  /** CT_DEMO_FAULTS: the demo's simulator starts with its full fault mix and a careless outside trader (demo mode only). */
  demoFaults: boolean;
  /** Broker variables set beside CT_DEMO=1 (ignored in demo mode) or not ones this service reads. */
  warnings: string[];
  crashAt?: 'before_intent_commit' | 'after_intent_commit' | 'after_stop_post' | 'after_guard_post' | 'before_change_commit';
}

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment (DESIGN §5). Throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  const broker = brokerVariables(env);
  let mode: Mode;
  let alpaca: AlpacaConfig;
  let accounts: AccountConfig[];
  const warnings: string[] = [];
  if (e.CT_ACCOUNTS_FILE !== undefined) {
    accounts = loadAccountsFile(e.CT_ACCOUNTS_FILE, e, env, broker, warnings);
    mode = accounts.every((a) => a.mode === 'paper') ? 'paper' : 'live';
    alpaca = { ...accounts[0]!.alpaca };
  } else {
    const demo = e.CT_DEMO || broker.length === 0;
    if (!demo) requireKeyPair(env, broker);
    mode = demo ? 'demo' : e.ALPACA_PAPER ? 'paper' : 'live';
    const unread = broker.filter((name) => !READ_BROKER_VARIABLES.has(name));
    if (demo && broker.length > 0) warnings.push(`CT_DEMO=1: demo mode on the embedded simulator; ignoring ${broker.join(', ')}`);
    if (!demo && unread.length > 0) warnings.push(`ignoring ${unread.map(withHint).join(', ')}: not read by crazy-trade`);
    alpaca = {
      keyId: demo ? undefined : e.APCA_API_KEY_ID,
      secretKey: demo ? undefined : e.APCA_API_SECRET_KEY,
      paper: e.ALPACA_PAPER,
      apiUrl: e.ALPACA_API_URL,
      streamUrl: e.ALPACA_STREAM_URL,
      dataUrl: e.ALPACA_DATA_URL ?? ALPACA_DATA_HOST,
    };
    accounts = [{ name: 'default', mode, alpaca: { ...alpaca }, trailPercent: e.CT_TRAIL_PERCENT, cooldownMinutes: e.CT_COOLDOWN_MINUTES, adopt: e.CT_ADOPT }];
  }
  if (e.CT_DEMO_FAULTS && mode !== 'demo') warnings.push('ignoring CT_DEMO_FAULTS: it acts in demo mode only (no broker keys, or CT_DEMO=1)');
  if (e.CT_DB_URL !== undefined && env.CT_DB_PATH !== undefined && env.CT_DB_PATH !== '') {
    warnings.push('ignoring CT_DB_PATH: CT_DB_URL is set, the store is PostgreSQL');
  }
  return {
    mode,
    alpaca,
    dbPath: e.CT_DB_PATH,
    dbUrl: e.CT_DB_URL,
    leaderTimeoutS: e.CT_LEADER_TIMEOUT_S,
    instanceName: e.CT_INSTANCE_NAME,
    accounts,
    api: { host: e.CT_API_HOST, port: e.CT_API_PORT, maxConnections: e.CT_API_MAX_CONNECTIONS, token: e.CT_API_TOKEN, tokenName: e.CT_API_TOKEN_NAME, allowedHosts: e.CT_API_ALLOWED_HOSTS },
    pollMs: e.CT_POLL_MS,
    brokerRateLimit: e.CT_BROKER_RATE_LIMIT,
    resyncWindowS: e.CT_RESYNC_WINDOW_S,
    eventStream: e.CT_EVENT_STREAM,
    pollRelax: e.CT_POLL_RELAX,
    trailPercent: e.CT_TRAIL_PERCENT,
    cooldownMinutes: e.CT_COOLDOWN_MINUTES,
    ratchetMs: e.CT_RATCHET_MS,
    marketClockS: e.CT_MARKET_CLOCK_S,
    protectGraceS: e.CT_PROTECT_GRACE_S,
    stopLookupGraceMs: e.CT_STOP_LOOKUP_GRACE_MS,
    rearmBeforeMs: Math.round(Number(e.CT_REARM_BEFORE_H) * 3_600_000),
    rearmScanMs: e.CT_REARM_SCAN_MS,
    extendedHoursGuard: { enabled: e.CT_EXTENDED_HOURS_GUARD, slippagePct: e.CT_GUARD_SLIPPAGE_PCT, repriceS: e.CT_GUARD_REPRICE_S, checkMs: e.CT_GUARD_CHECK_MS },
    notify: {
      webhook: e.CT_WEBHOOK_URL && e.CT_WEBHOOK_SECRET ? { url: e.CT_WEBHOOK_URL, secret: e.CT_WEBHOOK_SECRET } : undefined,
      telegram:
        e.CT_TELEGRAM_BOT_TOKEN && e.CT_TELEGRAM_CHAT_ID
          ? { botToken: e.CT_TELEGRAM_BOT_TOKEN, chatId: e.CT_TELEGRAM_CHAT_ID, apiUrl: e.CT_TELEGRAM_API_URL ?? TELEGRAM_API_HOST }
          : undefined,
      batchMs: e.CT_NOTIFY_BATCH_MS,
    },
    adopt: e.CT_ADOPT,
    inspect: { enabled: e.CT_INSPECT, port: e.CT_INSPECT_PORT },
    logLevel: e.CT_LOG_LEVEL,
    demoFaults: e.CT_DEMO_FAULTS && mode === 'demo',
    warnings,
    crashAt: e.CT_CRASH_AT,
  };
}

/** The broker variables this service reads; any other APCA_* / ALPACA_* name is someone's typo. */
const READ_BROKER_VARIABLES = new Set(['APCA_API_KEY_ID', 'APCA_API_SECRET_KEY', 'ALPACA_PAPER', 'ALPACA_API_URL', 'ALPACA_STREAM_URL', 'ALPACA_DATA_URL']);

/** Names people reach for, mostly from other Alpaca tools, and the one this service reads. */
const NEAR_MISSES: Record<string, string> = {
  APCA_API_KEY: 'APCA_API_KEY_ID',
  APCA_KEY_ID: 'APCA_API_KEY_ID',
  ALPACA_API_KEY: 'APCA_API_KEY_ID',
  ALPACA_API_KEY_ID: 'APCA_API_KEY_ID',
  ALPACA_KEY_ID: 'APCA_API_KEY_ID',
  APCA_SECRET_KEY: 'APCA_API_SECRET_KEY',
  APCA_API_SECRET: 'APCA_API_SECRET_KEY',
  ALPACA_SECRET_KEY: 'APCA_API_SECRET_KEY',
  ALPACA_API_SECRET_KEY: 'APCA_API_SECRET_KEY',
  ALPACA_API_SECRET: 'APCA_API_SECRET_KEY',
  APCA_API_BASE_URL: 'ALPACA_API_URL',
  ALPACA_BASE_URL: 'ALPACA_API_URL',
  APCA_API_STREAM_URL: 'ALPACA_STREAM_URL',
};

const withHint = (name: string) => (NEAR_MISSES[name] ? `${name} (did you mean ${NEAR_MISSES[name]}?)` : name);

/** Every APCA_* / ALPACA_* variable that is set (non-empty), sorted. */
function brokerVariables(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((name) => /^(APCA|ALPACA)_/.test(name) && env[name] !== undefined && env[name] !== '')
    .sort();
}

/**
 * Broker settings are there, so the user means a real account: an incomplete key pair must stop the
 * start rather than fall back to demo mode, where a live account would be protected by nothing.
 */
function requireKeyPair(env: Record<string, string | undefined>, broker: string[]): void {
  const missing = ['APCA_API_KEY_ID', 'APCA_API_SECRET_KEY'].filter((name) => !env[name]);
  if (missing.length === 0) return;
  const hints = broker.filter((name) => missing.includes(NEAR_MISSES[name] ?? '')).map((name) => `${name} is set: did you mean ${NEAR_MISSES[name]}?`);
  throw new ConfigError(
    missing[0]!,
    `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set, but ${broker.join(', ')} ${broker.length > 1 ? 'are' : 'is'}` +
      `${hints.length ? ` (${hints.join('; ')})` : ''}; set both keys for a real account, or unset every APCA_*/ALPACA_* variable (or set CT_DEMO=1) for demo mode`,
  );
}

// ---------------------------------------------------------------------------------------------
// Several accounts: CT_ACCOUNTS_FILE

/** Account names: they become SQLite file names and labels, so short and plain. */
const ACCOUNT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** A string the file must give (a secret: the value is never echoed). */
const secretString = z
  .string({ error: (iss) => (iss.input === undefined ? 'required' : 'expected a string (quote it)') })
  .refine((v) => v !== '', 'must not be empty')
  // Sent in HTTP headers: one run of visible ASCII (a stray space or newline from a paste fails here, not at Alpaca).
  .refine((v) => /^[\x21-\x7e]+$/.test(v), 'must be visible ASCII characters without spaces');

/** Numbers are accepted where the env takes a numeric string (YAML `cooldown_minutes: 30`). */
const numberOrString = z
  .union([z.string(), z.number()], { error: 'expected a number or a string' })
  .optional()
  .transform((v) => (v === undefined ? undefined : String(v)));

const fileBool = (fallback: boolean) =>
  z.unknown().optional().transform((v, ctx) => {
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && ['true', '1', 'yes', 'on'].includes(v)) return true;
    if (typeof v === 'string' && ['false', '0', 'no', 'off'].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected true or false' });
    return z.NEVER;
  });

/** One account's entry; the env values (CT_TRAIL_PERCENT, CT_COOLDOWN_MINUTES, CT_ADOPT) are the defaults. */
function accountSchema(defaults: { trailPercent: string; cooldownMinutes: number; adopt: 'protect' | 'record' }) {
  const options = z.strictObject(
    {
      trail_percent: numberOrString.pipe(decimal(defaults.trailPercent, MAX_TRAIL_PERCENT)),
      cooldown_minutes: numberOrString.pipe(int(defaults.cooldownMinutes, 0, 10_080)),
      adopt: z.enum(['protect', 'record'], { error: 'expected protect or record' }).default(defaults.adopt),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping (trail_percent, cooldown_minutes, adopt)' : undefined) },
  );
  return z.strictObject(
    {
      key_id: secretString,
      secret_key: secretString,
      paper: fileBool(true),
      api_url: url(['http:', 'https:']),
      stream_url: url(['ws:', 'wss:']),
      data_url: url(['http:', 'https:']),
      options: options.nullish(),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping with key_id and secret_key' : undefined) },
  );
}

/**
 * "accounts.main.options.adopt: expected protect or record (line 7, column 14)": unknown keys first,
 * they explain the rest. The file holds secrets and a typo can turn one into a key (`{ key_id: PK…,
 * SECRET }`), so no key or value from the file is ever quoted: the path in our own names, the line
 * and the column.
 */
function describeIssue(issues: z.core.$ZodIssue[], account: string, locate: AccountsFileContent['locate']): string {
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  const at = [account, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  const path = ['accounts', ...at].join('.');
  const where = (w: string) => (w ? ` (${w})` : '');
  if (issue.code === 'unrecognized_keys') {
    const known = issue.path.length === 0 ? 'key_id, secret_key, paper, api_url, stream_url, data_url, options' : 'trail_percent, cooldown_minutes, adopt';
    const first = locate(at, issue.keys[0]);
    const what = issue.keys.length > 1 ? `${issue.keys.length} unknown keys, the first` : 'an unknown key';
    return `${path}: ${what}${first ? ` at ${first}` : ''} (expected ${known})`;
  }
  // Messages shared with the environment's checks end with the value (", got …"): not from this file.
  const message = issue.message.replace(/, got [\s\S]*$/, '');
  return `${path}: ${message}${where(locate(at) || locate(at.slice(0, -1)))}`;
}

type EnvData = z.output<typeof envSchema>;

function loadAccountsFile(path: string, e: EnvData, env: Record<string, string | undefined>, broker: string[], warnings: string[]): AccountConfig[] {
  if (e.CT_DEMO) throw new ConfigError('CT_DEMO', 'cannot be combined with CT_ACCOUNTS_FILE: demo mode runs on the embedded simulator, each account of the file needs its own keys');
  for (const name of ['APCA_API_KEY_ID', 'APCA_API_SECRET_KEY']) {
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(name, 'must not be set with CT_ACCOUNTS_FILE (which account would it belong to?): give each account its key_id and secret_key in the file, and unset it');
    }
  }
  let content;
  try {
    content = readAccountsFile(path);
  } catch (err) {
    if (err instanceof AccountsFileError) throw new ConfigError('CT_ACCOUNTS_FILE', err.message);
    throw err;
  }
  const fail = (detail: string): never => {
    throw new ConfigError('CT_ACCOUNTS_FILE', detail);
  };
  const data = content.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail(`accounts: expected a mapping of account names to their settings (e.g. main: { key_id: ..., secret_key: ... })`);
  const entries = Object.entries(data as Record<string, unknown>);
  if (entries.length === 0) fail(`accounts: none; at least one account is needed`);

  const schema = accountSchema({ trailPercent: e.CT_TRAIL_PERCENT, cooldownMinutes: e.CT_COOLDOWN_MINUTES, adopt: e.CT_ADOPT });
  const accounts: AccountConfig[] = [];
  const keyOwners = new Map<string, string>();
  for (const [name, value] of entries) {
    if (!ACCOUNT_NAME.test(name)) {
      const at = content.locate([], name);
      fail(`accounts: a bad account name${at ? ` at ${at}` : ''}: expected 1-32 of a-z, 0-9, "_" or "-", starting with a letter or digit`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) fail(describeIssue(parsed.error.issues, name, content.locate));
    const a = parsed.data!;
    // The same Alpaca account twice would get two stops for every entry. (The key is never echoed.)
    const owner = keyOwners.get(a.key_id);
    if (owner !== undefined) fail(`accounts.${name}.key_id: the same key as account "${owner}"; each account needs its own keys`);
    keyOwners.set(a.key_id, name);
    accounts.push({
      name,
      mode: a.paper ? 'paper' : 'live',
      alpaca: { keyId: a.key_id, secretKey: a.secret_key, paper: a.paper, apiUrl: a.api_url, streamUrl: a.stream_url, dataUrl: a.data_url ?? ALPACA_DATA_HOST },
      trailPercent: a.options?.trail_percent ?? e.CT_TRAIL_PERCENT,
      cooldownMinutes: a.options?.cooldown_minutes ?? e.CT_COOLDOWN_MINUTES,
      adopt: a.options?.adopt ?? e.CT_ADOPT,
    });
  }
  accounts.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));

  if (exposedMode(content.mode)) {
    warnings.push(`CT_ACCOUNTS_FILE ${path} is readable by other users (mode ${formatMode(content.mode!)}); it holds secret keys: chmod 600 it`);
  }
  // The file gives every account's keys, paper flag and URLs: the env's broker variables mean nothing now.
  const ignored = broker.filter((n) => n !== 'APCA_API_KEY_ID' && n !== 'APCA_API_SECRET_KEY');
  if (ignored.length > 0) {
    warnings.push(`ignoring ${ignored.map(withHint).join(', ')}: CT_ACCOUNTS_FILE gives each account's keys, paper, api_url, stream_url and data_url`);
  }
  return accounts;
}

/**
 * The SQLite file of one account: CT_DB_PATH itself for the lone `default` account (as before
 * CT_ACCOUNTS_FILE); otherwise one file per account beside it, `./data/crazy-trade.db` →
 * `./data/crazy-trade.main.db`.
 */
export function accountDbPath(dbPath: string, account: string, accountsCount: number): string {
  if (account === 'default' && accountsCount === 1) return dbPath;
  if (dbPath === ':memory:') return dbPath;
  const base = basename(dbPath);
  const stem = base.toLowerCase().endsWith('.db') ? base.slice(0, -3) : base;
  return `${dbPath.slice(0, dbPath.length - base.length)}${stem}.${account}.db`;
}

/**
 * A database URL fit for a log line: the password (in the user info, or a `password=` / `sslpassword=`
 * query parameter) becomes `***`. Something that is not a URL at all comes back as `***` entirely.
 */
export function redactDbUrl(dbUrl: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(dbUrl);
  if (!m) return '***';
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  let shown = authority;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) shown = `${userinfo.slice(0, colon)}:***${authority.slice(at)}`;
  }
  return `${scheme}${shown}${rest.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***')}`;
}
