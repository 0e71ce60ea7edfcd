import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALPACA_DATA_HOST, ConfigError, accountDbPath, loadConfig, redactDbUrl } from '../src/config.js';

describe('config', () => {
  it('applies DESIGN §5 defaults and runs in demo mode without keys', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('demo');
    expect(c.dbPath).toBe('./data/crazy-trade.db');
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8080, maxConnections: 256, token: undefined, tokenName: 'operator', allowedHosts: [] });
    expect(c.pollMs).toBe(5000);
    expect(c.trailPercent).toBe('2');
    expect(c.cooldownMinutes).toBe(30);
    expect(c.inspect.enabled).toBe(false);
    expect(c.adopt).toBe('protect');
    expect(c.logLevel).toBe('info');
  });

  it("CT_BROKER_RATE_LIMIT: Alpaca's 200 a minute by default; <requests>/<seconds>s; anything else names the variable", () => {
    expect(loadConfig({}).brokerRateLimit).toEqual({ maxRequests: 200, intervalMs: 60_000 });
    expect(loadConfig({ CT_BROKER_RATE_LIMIT: '1000/60s' }).brokerRateLimit).toEqual({ maxRequests: 1000, intervalMs: 60_000 });
    expect(loadConfig({ CT_BROKER_RATE_LIMIT: '50/15s' }).brokerRateLimit).toEqual({ maxRequests: 50, intervalMs: 15_000 });
    for (const bad of ['200', '200/min', '1/60s', '200/0s', '-5/60s', '200/60'])
      expect(() => loadConfig({ CT_BROKER_RATE_LIMIT: bad })).toThrow(/CT_BROKER_RATE_LIMIT: expected <requests>\/<seconds>s/);
  });

  it('the extended-hours guard is off unless asked for; its slippage and re-price interval are read when set', () => {
    expect(loadConfig({}).extendedHoursGuard).toEqual({ enabled: false, slippagePct: '1', repriceS: 60, checkMs: 2000 });
    expect(loadConfig({ CT_EXTENDED_HOURS_GUARD: '1', CT_GUARD_SLIPPAGE_PCT: '0.5', CT_GUARD_REPRICE_S: '30', CT_GUARD_CHECK_MS: '250' }).extendedHoursGuard).toEqual({ enabled: true, slippagePct: '0.5', repriceS: 30, checkMs: 250 });
  });

  it('CT_DEMO_FAULTS: off by default; 1 turns on the demo simulator\'s fault mix, in demo mode only', () => {
    expect(loadConfig({}).demoFaults).toBe(false);
    expect(loadConfig({}).stopLookupGraceMs).toBe(10_000);
    expect(loadConfig({}).notify.batchMs).toBe(3000);
    expect(loadConfig({}).rearmScanMs).toBe(5000);
    expect(loadConfig({ CT_REARM_SCAN_MS: '500' }).rearmScanMs).toBe(500);
    expect(loadConfig({ CT_NOTIFY_BATCH_MS: '1000' }).notify.batchMs).toBe(1000);
    expect(loadConfig({ CT_STOP_LOOKUP_GRACE_MS: '1500' }).stopLookupGraceMs).toBe(1500);
    expect(loadConfig({ CT_DEMO_FAULTS: '0' }).demoFaults).toBe(false);
    expect(loadConfig({ CT_DEMO_FAULTS: '1' })).toMatchObject({ mode: 'demo', demoFaults: true, warnings: [] });
    const real = loadConfig({ CT_DEMO_FAULTS: '1', APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's' });
    expect(real).toMatchObject({ mode: 'paper', demoFaults: false });
    expect(real.warnings).toEqual(['ignoring CT_DEMO_FAULTS: it acts in demo mode only (no broker keys, or CT_DEMO=1)']);
    expect(() => loadConfig({ CT_DEMO_FAULTS: 'lots' })).toThrow(/CT_DEMO_FAULTS: expected true or false/);
  });

  it('selects paper or live from ALPACA_PAPER once keys are set', () => {
    const keys = { APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's' };
    expect(loadConfig(keys).mode).toBe('paper');
    expect(loadConfig({ ...keys, ALPACA_PAPER: 'false' }).mode).toBe('live');
  });

  it('reads the activity event stream on, the poll relaxed to every 6th interval while the streams are up, unless told otherwise', () => {
    const keys = { APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's' };
    expect(loadConfig(keys)).toMatchObject({ eventStream: true, pollRelax: 6 });
    expect(loadConfig({ ...keys, CT_EVENT_STREAM: '0', CT_POLL_RELAX: '1' })).toMatchObject({ eventStream: false, pollRelax: 1 });
  });

  it('strips a trailing slash from URL overrides', () => {
    const c = loadConfig({ APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's', ALPACA_API_URL: 'http://127.0.0.1:9999/', ALPACA_STREAM_URL: 'ws://127.0.0.1:9999/stream' });
    expect(c.alpaca.apiUrl).toBe('http://127.0.0.1:9999');
    expect(c.alpaca.streamUrl).toBe('ws://127.0.0.1:9999/stream');
  });

  it.each([
    ['CT_POLL_MS', 'soon'],
    ['CT_POLL_MS', '10'],
    ['CT_API_PORT', '70000'],
    ['CT_TRAIL_PERCENT', '-1'],
    ['CT_TRAIL_PERCENT', 'abc'],
    ['CT_COOLDOWN_MINUTES', '1.5'],
    ['ALPACA_PAPER', 'maybe'],
    ['ALPACA_API_URL', 'ftp://example'],
    ['ALPACA_STREAM_URL', 'http://127.0.0.1/stream'],
    ['CT_LOG_LEVEL', 'loud'],
    ['CT_ADOPT', 'ignore'],
    ['CT_EXTENDED_HOURS_GUARD', 'maybe'],
    ['CT_GUARD_CHECK_MS', '10'],
    ['CT_STOP_LOOKUP_GRACE_MS', '-1'],
    ['CT_NOTIFY_BATCH_MS', '0'],
    ['CT_EVENT_STREAM', 'sometimes'],
    ['CT_POLL_RELAX', '0'],
    ['CT_POLL_RELAX', '61'],
    ['CT_GUARD_SLIPPAGE_PCT', '0'],
    ['CT_GUARD_SLIPPAGE_PCT', '1%'],
    ['CT_GUARD_SLIPPAGE_PCT', '60'],
    ['CT_GUARD_REPRICE_S', '0'],
    ['CT_GUARD_REPRICE_S', '1.5'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      expect((err as ConfigError).variable).toBe(name);
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('requires both halves of the key pair', () => {
    expect(() => loadConfig({ APCA_API_KEY_ID: 'k' })).toThrow(/APCA_API_SECRET_KEY/);
    expect(() => loadConfig({ APCA_API_SECRET_KEY: 's' })).toThrow(/APCA_API_KEY_ID/);
  });

  it('runs demo mode only on purpose: any broker variable without the key pair refuses to start', () => {
    expect(() => loadConfig({ ALPACA_API_URL: 'https://api.alpaca.markets' })).toThrow(/APCA_API_KEY_ID and APCA_API_SECRET_KEY are not set, but ALPACA_API_URL is/);
    expect(() => loadConfig({ ALPACA_PAPER: 'false' })).toThrow(ConfigError);
    expect(loadConfig({ CT_DEMO: '1' }).mode).toBe('demo');
    expect(loadConfig({}).warnings).toEqual([]);
  });

  it('names the right variable for near misses, never the values', () => {
    const env = { APCA_API_KEY: 'PKLIVE123', APCA_SECRET_KEY: 'topsecret', ALPACA_PAPER: 'false', ALPACA_API_URL: 'https://api.alpaca.markets' };
    let message = '';
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('APCA_API_KEY_ID');
      message = (err as Error).message;
    }
    expect(message).toContain('APCA_API_KEY is set: did you mean APCA_API_KEY_ID?');
    expect(message).toContain('APCA_SECRET_KEY is set: did you mean APCA_API_SECRET_KEY?');
    expect(message).not.toContain('\n');
    expect(message).not.toContain('PKLIVE123');
    expect(message).not.toContain('topsecret');
  });

  it('CT_DEMO=1 wins over broker variables and says what it ignores; unread broker variables are warned about', () => {
    const demo = loadConfig({ CT_DEMO: '1', APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's' });
    expect(demo.mode).toBe('demo');
    expect(demo.alpaca.keyId).toBeUndefined();
    expect(demo.warnings).toEqual(['CT_DEMO=1: demo mode on the embedded simulator; ignoring APCA_API_KEY_ID, APCA_API_SECRET_KEY']);
    const paper = loadConfig({ APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's', APCA_API_BASE_URL: 'https://api.alpaca.markets' });
    expect(paper.mode).toBe('paper');
    expect(paper.warnings).toEqual(['ignoring APCA_API_BASE_URL (did you mean ALPACA_API_URL?): not read by crazy-trade']);
  });

  it('keeps the inspector off the API port', () => {
    expect(() => loadConfig({ CT_INSPECT: '1', CT_INSPECT_PORT: '8080' })).toThrow(/CT_INSPECT_PORT/);
    expect(loadConfig({ CT_INSPECT: '1' }).inspect).toEqual({ enabled: true, port: 8081 });
  });

  it('refuses a non-loopback API host without a token', () => {
    expect(() => loadConfig({ CT_API_HOST: '0.0.0.0' })).toThrow(/CT_API_HOST/);
    expect(loadConfig({ CT_API_HOST: '0.0.0.0', CT_API_TOKEN: 't'.repeat(24) }).api.host).toBe('0.0.0.0');
  });
});

describe('notification channels', () => {
  const fail = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain('\n');
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('none by default; both channels when configured (Telegram on its public API unless overridden)', () => {
    expect(loadConfig({}).notify).toEqual({ webhook: undefined, telegram: undefined, batchMs: 3000 });
    const c = loadConfig({ CT_WEBHOOK_URL: 'https://hooks.example.com/ct', CT_WEBHOOK_SECRET: 's3cret', CT_TELEGRAM_BOT_TOKEN: '1:abc', CT_TELEGRAM_CHAT_ID: '-1001234' });
    expect(c.notify).toEqual({
      webhook: { url: 'https://hooks.example.com/ct', secret: 's3cret' },
      telegram: { botToken: '1:abc', chatId: '-1001234', apiUrl: 'https://api.telegram.org' },
      batchMs: 3000,
    });
    expect(loadConfig({ CT_TELEGRAM_BOT_TOKEN: '1:abc', CT_TELEGRAM_CHAT_ID: '@my_alerts', CT_TELEGRAM_API_URL: 'http://127.0.0.1:9/' }).notify.telegram?.apiUrl).toBe('http://127.0.0.1:9');
  });

  it('CT_WEBHOOK_URL must be an http(s) URL, and is never echoed (it may carry a token)', () => {
    for (const bad of ['ftp://hooks.example.com/T0KEN-42', 'not a url T0KEN-42']) {
      const err = fail({ CT_WEBHOOK_URL: bad, CT_WEBHOOK_SECRET: 's' });
      expect(err.variable).toBe('CT_WEBHOOK_URL');
      expect(err.message).not.toContain('T0KEN-42');
    }
  });

  it('CT_WEBHOOK_SECRET is required with CT_WEBHOOK_URL', () => {
    const err = fail({ CT_WEBHOOK_URL: 'https://hooks.example.com/T0KEN-42' });
    expect(err.variable).toBe('CT_WEBHOOK_SECRET');
    expect(err.message).not.toContain('T0KEN-42');
  });

  it('Telegram needs both the bot token and the chat id, and a plausible chat id', () => {
    expect(fail({ CT_TELEGRAM_BOT_TOKEN: '1:abc' }).variable).toBe('CT_TELEGRAM_CHAT_ID');
    expect(fail({ CT_TELEGRAM_CHAT_ID: '42' }).variable).toBe('CT_TELEGRAM_BOT_TOKEN');
    expect(fail({ CT_TELEGRAM_BOT_TOKEN: '1:abc', CT_TELEGRAM_CHAT_ID: 'my chat' }).variable).toBe('CT_TELEGRAM_CHAT_ID');
    expect(fail({ CT_TELEGRAM_BOT_TOKEN: '1:abc', CT_TELEGRAM_CHAT_ID: '42', CT_TELEGRAM_API_URL: 'ftp://x' }).variable).toBe('CT_TELEGRAM_API_URL');
    expect(fail({ CT_TELEGRAM_BOT_TOKEN: '1:abc-secret', CT_TELEGRAM_CHAT_ID: 'x y' }).message).not.toContain('abc-secret');
  });
});

/** Runs loadConfig expecting a ConfigError; checks it is one line and quotes none of `secrets`. */
function configError(env: Record<string, string>, secrets: string[] = []): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    for (const secret of secrets) expect(message).not.toContain(secret);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('database and leadership settings', () => {
  it('defaults: SQLite, a 5 s leader timeout, <hostname>:<pid> as the instance name, one default account', () => {
    const c = loadConfig({});
    expect(c.dbUrl).toBeUndefined();
    expect(c.leaderTimeoutS).toBe(5);
    expect(c.instanceName).toMatch(/^[A-Za-z0-9._@:-]{1,64}$/);
    expect(c.instanceName.endsWith(`:${process.pid}`)).toBe(true);
    if (/^[A-Za-z0-9._@-]{1,40}$/.test(hostname())) expect(c.instanceName).toBe(`${hostname()}:${process.pid}`);
    expect(c.accounts).toEqual([
      { name: 'default', mode: 'demo', alpaca: c.alpaca, trailPercent: '2', cooldownMinutes: 30, adopt: 'protect' },
    ]);
  });

  it('the default account mirrors the env settings', () => {
    const c = loadConfig({
      APCA_API_KEY_ID: 'k',
      APCA_API_SECRET_KEY: 's',
      ALPACA_PAPER: 'false',
      ALPACA_API_URL: 'http://127.0.0.1:9/',
      CT_TRAIL_PERCENT: '3.5',
      CT_COOLDOWN_MINUTES: '5',
      CT_ADOPT: 'record',
    });
    expect(c.accounts).toEqual([
      {
        name: 'default',
        mode: 'live',
        alpaca: { keyId: 'k', secretKey: 's', paper: false, apiUrl: 'http://127.0.0.1:9', streamUrl: undefined, dataUrl: ALPACA_DATA_HOST },
        trailPercent: '3.5',
        cooldownMinutes: 5,
        adopt: 'record',
      },
    ]);
    expect(c.mode).toBe('live');
    expect(c.alpaca).toEqual(c.accounts[0]!.alpaca);
  });

  it('accepts postgres:// and postgresql:// URLs in CT_DB_URL, and says CT_DB_PATH is ignored', () => {
    expect(loadConfig({ CT_DB_URL: 'postgres://ct:pw@db:5432/ct' }).dbUrl).toBe('postgres://ct:pw@db:5432/ct');
    expect(loadConfig({ CT_DB_URL: 'postgresql://localhost/ct' }).dbUrl).toBe('postgresql://localhost/ct');
    expect(loadConfig({ CT_DB_URL: 'postgres://localhost/ct' }).warnings).toEqual([]);
    expect(loadConfig({ CT_DB_URL: 'postgres://localhost/ct', CT_DB_PATH: './x.db' }).warnings).toEqual(['ignoring CT_DB_PATH: CT_DB_URL is set, the store is PostgreSQL']);
  });

  it('a bad CT_DB_URL is refused without echoing it (it may hold a password)', () => {
    for (const bad of ['mysql://ct:Hunter2Pw@db/ct', 'http://ct:Hunter2Pw@db/ct', 'ct:Hunter2Pw@db/ct', 'not a url Hunter2Pw']) {
      const err = configError({ CT_DB_URL: bad }, ['Hunter2Pw', bad]);
      expect(err.variable).toBe('CT_DB_URL');
      expect(err.message).toBe('invalid configuration: CT_DB_URL: expected a postgres:// or postgresql:// URL');
    }
  });

  it('redactDbUrl hides the password, and only the password', () => {
    expect(redactDbUrl('postgres://ct:Hunter2Pw@db.lan:5432/ct')).toBe('postgres://ct:***@db.lan:5432/ct');
    expect(redactDbUrl('postgresql://ct@db/ct')).toBe('postgresql://ct@db/ct');
    expect(redactDbUrl('postgres://db/ct?sslmode=require')).toBe('postgres://db/ct?sslmode=require');
    expect(redactDbUrl('postgres://ct:@db/ct')).toBe('postgres://ct:***@db/ct');
    for (const [url, shown] of [
      ['postgres://ct:Hunter2Pw@db/ct', 'postgres://ct:***@db/ct'],
      ['postgres://ct:Hun%40ter2Pw@db/ct', 'postgres://ct:***@db/ct'],
      ['postgres://ct:Hun@ter2Pw@db/ct', 'postgres://ct:***@db/ct'],
      ['postgres://ct:Hunter2Pw:x@db/ct', 'postgres://ct:***@db/ct'],
      ['postgres://ct@db/ct?password=Hunter2Pw&sslmode=require', 'postgres://ct@db/ct?password=***&sslmode=require'],
      ['postgres://db/ct?sslmode=verify-full&sslpassword=Hunter2Pw', 'postgres://db/ct?sslmode=verify-full&sslpassword=***'],
      ['host=db password=Hunter2Pw', '***'],
    ] as const) {
      expect(redactDbUrl(url)).toBe(shown);
      expect(redactDbUrl(url)).not.toContain('Hunter2Pw');
      expect(redactDbUrl(url)).not.toContain('ter2Pw');
    }
  });

  it('CT_LEADER_TIMEOUT_S is an integer from 2 to 300', () => {
    expect(loadConfig({ CT_LEADER_TIMEOUT_S: '2' }).leaderTimeoutS).toBe(2);
    expect(loadConfig({ CT_LEADER_TIMEOUT_S: '300' }).leaderTimeoutS).toBe(300);
    for (const bad of ['1', '301', '2.5', 'soon', '-5']) expect(configError({ CT_LEADER_TIMEOUT_S: bad }).variable).toBe('CT_LEADER_TIMEOUT_S');
  });

  it('CT_INSTANCE_NAME: 1-64 of letters, digits and . _ @ : -', () => {
    expect(loadConfig({ CT_INSTANCE_NAME: 'box-1.lan:4242' }).instanceName).toBe('box-1.lan:4242');
    expect(loadConfig({ CT_INSTANCE_NAME: 'ops@blue_2' }).instanceName).toBe('ops@blue_2');
    for (const bad of ['has space', 'x'.repeat(65), 'a/b', 'ünï']) expect(configError({ CT_INSTANCE_NAME: bad }).variable).toBe('CT_INSTANCE_NAME');
  });

  it('accountDbPath: CT_DB_PATH for the lone default account, one file per account otherwise', () => {
    expect(accountDbPath('./data/crazy-trade.db', 'default', 1)).toBe('./data/crazy-trade.db');
    expect(accountDbPath('./data/crazy-trade.db', 'main', 1)).toBe('./data/crazy-trade.main.db');
    expect(accountDbPath('./data/crazy-trade.db', 'main', 2)).toBe('./data/crazy-trade.main.db');
    expect(accountDbPath('./data/crazy-trade.db', 'default', 2)).toBe('./data/crazy-trade.default.db');
    expect(accountDbPath('/var/lib/ct/store.sqlite', 'ira', 2)).toBe('/var/lib/ct/store.sqlite.ira.db');
    expect(accountDbPath('ct.db', 'a-1', 2)).toBe('ct.a-1.db');
  });
});

describe('CT_ACCOUNTS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-accounts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** Writes `text` to a fresh file with the given extension, mode 0600 unless told. */
  const file = (ext: string, text: string, mode = 0o600): string => {
    const path = join(dir, `accounts-${++n}${ext}`);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const SECRET = 'SeCrEt0123456789abcdef';
  const json = (accounts: unknown) => file('.json', JSON.stringify(accounts));

  it('reads JSON: one account per entry, sorted by name, defaults from the env', () => {
    const path = json({
      zeta: { key_id: 'PKZ', secret_key: SECRET, paper: false, api_url: 'http://127.0.0.1:9/', options: { trail_percent: 1.5, cooldown_minutes: '10', adopt: 'record' } },
      alpha: { key_id: 'PKA', secret_key: 'sa' },
    });
    const c = loadConfig({ CT_ACCOUNTS_FILE: path, CT_TRAIL_PERCENT: '4', CT_COOLDOWN_MINUTES: '60' });
    expect(c.accounts).toEqual([
      {
        name: 'alpha',
        mode: 'paper',
        alpaca: { keyId: 'PKA', secretKey: 'sa', paper: true, apiUrl: undefined, streamUrl: undefined, dataUrl: ALPACA_DATA_HOST },
        trailPercent: '4',
        cooldownMinutes: 60,
        adopt: 'protect',
      },
      {
        name: 'zeta',
        mode: 'live',
        alpaca: { keyId: 'PKZ', secretKey: SECRET, paper: false, apiUrl: 'http://127.0.0.1:9', streamUrl: undefined, dataUrl: ALPACA_DATA_HOST },
        trailPercent: '1.5',
        cooldownMinutes: 10,
        adopt: 'record',
      },
    ]);
    expect(c.mode).toBe('live');
    expect(c.alpaca).toEqual(c.accounts[0]!.alpaca);
    expect(c.trailPercent).toBe('4');
    expect(c.warnings).toEqual([]);
  });

  it('reads YAML (.yaml and .yml); all paper accounts make the top-level mode paper', () => {
    const text = [
      'main:',
      '  key_id: PKMAIN',
      `  secret_key: ${SECRET}`,
      '  paper: true',
      '  api_url: http://127.0.0.1:9999/',
      '  stream_url: ws://127.0.0.1:9999/stream',
      '  data_url: http://127.0.0.1:9998',
      '  options:',
      '    trail_percent: "2.25"',
      '    cooldown_minutes: 0',
      '    adopt: record',
      'ira:',
      '  key_id: "0123"',
      '  secret_key: s2',
      '',
    ].join('\n');
    for (const ext of ['.yaml', '.yml', '.conf']) {
      const c = loadConfig({ CT_ACCOUNTS_FILE: file(ext, text) });
      expect(c.accounts.map((a) => a.name)).toEqual(['ira', 'main']);
      expect(c.accounts[1]).toEqual({
        name: 'main',
        mode: 'paper',
        alpaca: { keyId: 'PKMAIN', secretKey: SECRET, paper: true, apiUrl: 'http://127.0.0.1:9999', streamUrl: 'ws://127.0.0.1:9999/stream', dataUrl: 'http://127.0.0.1:9998' },
        trailPercent: '2.25',
        cooldownMinutes: 0,
        adopt: 'record',
      });
      expect(c.accounts[0]!.alpaca.keyId).toBe('0123');
      expect(c.mode).toBe('paper');
      expect(c.alpaca.keyId).toBe('0123');
    }
  });

  it('an extension other than .json/.yaml/.yml is tried as JSON first', () => {
    const c = loadConfig({ CT_ACCOUNTS_FILE: file('', JSON.stringify({ main: { key_id: 'k', secret_key: 's' } })) });
    expect(c.accounts.map((a) => a.name)).toEqual(['main']);
  });

  it.each([
    ['an unknown key (a typo)', { main: { key_id: 'k', secert_key: SECRET } }, 'accounts.main: an unknown key at line 1, column 23 (expected key_id, secret_key, paper, api_url, stream_url, data_url, options)'],
    ['an unknown option', { main: { key_id: 'k', secret_key: SECRET, options: { trail: '2' } } }, 'accounts.main.options: an unknown key at line 1, column '],
    ['a missing secret', { main: { key_id: 'k' } }, 'accounts.main.secret_key: required (line 1, column 9)'],
    ['a missing key id', { main: { secret_key: SECRET } }, 'accounts.main.key_id: required'],
    ['an empty secret', { main: { key_id: 'k', secret_key: '' } }, 'accounts.main.secret_key: must not be empty'],
    ['a secret with a space', { main: { key_id: 'k', secret_key: `${SECRET} ` } }, 'accounts.main.secret_key: must be visible ASCII characters without spaces'],
    ['a numeric secret', { main: { key_id: 'k', secret_key: 12345678901234567890 } }, 'accounts.main.secret_key: expected a string (quote it)'],
    ['an account that is not a mapping', { main: SECRET }, 'accounts.main: expected a mapping with key_id and secret_key'],
    ['bad paper', { main: { key_id: 'k', secret_key: SECRET, paper: 'maybe' } }, 'accounts.main.paper: expected true or false'],
    ['a bad api_url', { main: { key_id: 'k', secret_key: SECRET, api_url: 'ftp://x' } }, 'accounts.main.api_url: expected a http: or https: URL (line 1, column '],
    ['a bad stream_url', { main: { key_id: 'k', secret_key: SECRET, stream_url: 'http://x' } }, 'accounts.main.stream_url: expected a ws: or wss: URL (line 1, column '],
    ['a bad trail_percent', { main: { key_id: 'k', secret_key: SECRET, options: { trail_percent: 80 } } }, 'accounts.main.options.trail_percent: expected a decimal above 0 and at most 50 (line 1, column '],
    ['a bad cooldown_minutes', { main: { key_id: 'k', secret_key: SECRET, options: { cooldown_minutes: 1.5 } } }, 'accounts.main.options.cooldown_minutes: expected an integer from 0 to 10080 (line 1, column '],
    ['a bad adopt', { main: { key_id: 'k', secret_key: SECRET, options: { adopt: 'ignore' } } }, 'accounts.main.options.adopt: expected protect or record'],
    ['an upper-case name', { Main: { key_id: 'k', secret_key: SECRET } }, 'accounts: a bad account name at line 1, column 2'],
    ['a name with a dot', { 'a.b': { key_id: 'k', secret_key: SECRET } }, 'accounts: a bad account name at line 1, column 2'],
    ['a name too long', { ['a'.repeat(33)]: { key_id: 'k', secret_key: SECRET } }, 'accounts: a bad account name at line 1, column 2'],
    ['no accounts', {}, 'accounts: none; at least one account is needed'],
    ['a list instead of a mapping', [{ key_id: 'k', secret_key: SECRET }], 'accounts: expected a mapping of account names to their settings'],
    ['the same key twice', { a: { key_id: 'k', secret_key: SECRET }, b: { key_id: 'k', secret_key: SECRET } }, 'accounts.b.key_id: the same key as account "a"'],
  ])('refuses %s, naming the path and never the secret', (_what, accounts, detail) => {
    const err = configError({ CT_ACCOUNTS_FILE: json(accounts) }, [SECRET, '12345678901234567890']);
    expect(err.variable).toBe('CT_ACCOUNTS_FILE');
    expect(err.message).toContain(`invalid configuration: CT_ACCOUNTS_FILE: ${detail}`);
    // No key or value of the file but our own names (and the account's, when it is a valid one).
    const ours = new Set(['key_id', 'secret_key', 'paper', 'api_url', 'stream_url', 'data_url', 'options', 'trail_percent', 'cooldown_minutes', 'adopt', 'main', 'a', 'b', 'k']);
    const fromFile = (v: unknown): string[] => (v !== null && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [...(Array.isArray(v) ? [] : [k]), ...fromFile(x)]) : [String(v)]);
    for (const text of fromFile(accounts).filter((t) => !ours.has(t) && t !== '')) expect(err.message).not.toContain(`"${text}"`);
    const withoutOurs = [...ours].filter((o) => o.length > 2).reduce((m, o) => m.split(o).join('·'), err.message);
    for (const text of fromFile(accounts).filter((t) => !ours.has(t) && t.length >= 3 && !/^\d/.test(t))) expect(withoutOurs).not.toContain(text);
  });

  it("a typo that makes the secret a key (YAML `{ key_id: PK…, SECRET }`) names the line and column, never the key", () => {
    const path = file('.yaml', `# accounts\nmain: { key_id: PKTESTKEYID123, ${SECRET} }\n`);
    const err = configError({ CT_ACCOUNTS_FILE: path }, [SECRET, 'PKTESTKEYID123']);
    expect(err.message).toBe(`invalid configuration: CT_ACCOUNTS_FILE: accounts.main: an unknown key at line 2, column 33 (expected key_id, secret_key, paper, api_url, stream_url, data_url, options)`);
  });

  it('an unreadable or missing file names the path and the error code', () => {
    const missing = join(dir, 'nope', 'accounts.yaml');
    expect(configError({ CT_ACCOUNTS_FILE: missing }).message).toBe(`invalid configuration: CT_ACCOUNTS_FILE: cannot read ${missing}: ENOENT`);
    expect(configError({ CT_ACCOUNTS_FILE: dir }).message).toBe(`invalid configuration: CT_ACCOUNTS_FILE: cannot read ${dir}: not a regular file`);
  });

  it('parse errors give the position, never the text around it (it may be a secret)', () => {
    const badJson = file('.json', `{"main": {"key_id": "k",\n "secret_key": ${SECRET}}}`);
    const e1 = configError({ CT_ACCOUNTS_FILE: badJson }, [SECRET, 'SeCrEt']);
    expect(e1.message).toMatch(new RegExp(`^invalid configuration: CT_ACCOUNTS_FILE: cannot parse ${badJson} as JSON`));
    const trailing = file('.json', `{"main": {"key_id": "k", "secret_key": "${SECRET}",}}`);
    expect(configError({ CT_ACCOUNTS_FILE: trailing }, [SECRET]).message).toBe(`invalid configuration: CT_ACCOUNTS_FILE: cannot parse ${trailing} as JSON (line 1, column 65)`);
    const badYaml = file('.yaml', `main:\n  key_id: k\n secret_key:${SECRET}\n`);
    expect(configError({ CT_ACCOUNTS_FILE: badYaml }, [SECRET, 'SeCrEt']).message).toBe(
      `invalid configuration: CT_ACCOUNTS_FILE: cannot parse ${badYaml} as YAML: bad indent at line 3, column 1`,
    );
    const duplicate = file('.yml', `main:\n  key_id: k\n  secret_key: ${SECRET}\n  secret_key: ${SECRET}\n`);
    expect(configError({ CT_ACCOUNTS_FILE: duplicate }, [SECRET]).message).toBe(
      `invalid configuration: CT_ACCOUNTS_FILE: cannot parse ${duplicate} as YAML: duplicate key at line 4, column 3`,
    );
    const neither = file('.txt', `main: {key_id: k, secret_key: ${SECRET}`);
    expect(configError({ CT_ACCOUNTS_FILE: neither }, [SECRET]).message).toMatch(/cannot parse .* as JSON or YAML/);
    expect(configError({ CT_ACCOUNTS_FILE: file('.yaml', '') }).message).toContain('expected a mapping of account names');
  });

  it('CT_DEMO=1 cannot be combined with it', () => {
    const path = json({ main: { key_id: 'k', secret_key: SECRET } });
    const err = configError({ CT_ACCOUNTS_FILE: path, CT_DEMO: '1' }, [SECRET]);
    expect(err.variable).toBe('CT_DEMO');
    expect(err.message).toContain('CT_ACCOUNTS_FILE');
    expect(loadConfig({ CT_ACCOUNTS_FILE: path, CT_DEMO: '0' }).mode).toBe('paper');
  });

  it('keys in the env beside it are ambiguous: refused, and never echoed', () => {
    const path = json({ main: { key_id: 'k', secret_key: SECRET } });
    const keyId = configError({ CT_ACCOUNTS_FILE: path, APCA_API_KEY_ID: 'PKENV123' }, ['PKENV123', SECRET]);
    expect(keyId.variable).toBe('APCA_API_KEY_ID');
    expect(keyId.message).toContain('CT_ACCOUNTS_FILE');
    expect(configError({ CT_ACCOUNTS_FILE: path, APCA_API_SECRET_KEY: 'envsecret' }, ['envsecret']).variable).toBe('APCA_API_SECRET_KEY');
    // Other broker variables are read per account from the file: warned about, not used.
    const c = loadConfig({ CT_ACCOUNTS_FILE: path, ALPACA_PAPER: 'false', ALPACA_API_URL: 'http://127.0.0.1:9' });
    expect(c.accounts[0]!.alpaca.apiUrl).toBeUndefined();
    expect(c.accounts[0]!.mode).toBe('paper');
    expect(c.warnings).toEqual(["ignoring ALPACA_API_URL, ALPACA_PAPER: CT_ACCOUNTS_FILE gives each account's keys, paper, api_url, stream_url and data_url"]);
  });

  it.skipIf(process.platform === 'win32')('warns when the file is readable by other users', () => {
    const path = file('.json', JSON.stringify({ main: { key_id: 'k', secret_key: SECRET } }), 0o644);
    expect(loadConfig({ CT_ACCOUNTS_FILE: path }).warnings).toEqual([
      `CT_ACCOUNTS_FILE ${path} is readable by other users (mode 0644); it holds secret keys: chmod 600 it`,
    ]);
    chmodSync(path, 0o640);
    expect(loadConfig({ CT_ACCOUNTS_FILE: path }).warnings).toEqual([
      `CT_ACCOUNTS_FILE ${path} is readable by other users (mode 0640); it holds secret keys: chmod 600 it`,
    ]);
    chmodSync(path, 0o600);
    expect(loadConfig({ CT_ACCOUNTS_FILE: path }).warnings).toEqual([]);
    chmodSync(path, 0o400);
    expect(loadConfig({ CT_ACCOUNTS_FILE: path }).warnings).toEqual([]);
  });

  it('works with SQLite (one file per account) and with PostgreSQL', () => {
    const path = json({ main: { key_id: 'k1', secret_key: 's1' }, ira: { key_id: 'k2', secret_key: 's2' } });
    const sqlite = loadConfig({ CT_ACCOUNTS_FILE: path });
    expect(sqlite.dbUrl).toBeUndefined();
    expect(sqlite.accounts.map((a) => accountDbPath(sqlite.dbPath, a.name, sqlite.accounts.length))).toEqual(['./data/crazy-trade.ira.db', './data/crazy-trade.main.db']);
    const pg = loadConfig({ CT_ACCOUNTS_FILE: path, CT_DB_URL: 'postgres://ct:pw@db/ct' });
    expect(pg.dbUrl).toBe('postgres://ct:pw@db/ct');
    expect(pg.accounts).toHaveLength(2);
  });
});
