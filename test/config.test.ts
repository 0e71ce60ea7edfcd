import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config', () => {
  it('applies DESIGN §5 defaults and runs in demo mode without keys', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('demo');
    expect(c.dbPath).toBe('./data/crazy-trade.db');
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8080, token: undefined, tokenName: 'operator', allowedHosts: [] });
    expect(c.pollMs).toBe(5000);
    expect(c.trailPercent).toBe('2');
    expect(c.cooldownMinutes).toBe(30);
    expect(c.inspect.enabled).toBe(false);
    expect(c.adopt).toBe('protect');
    expect(c.logLevel).toBe('info');
  });

  it('selects paper or live from ALPACA_PAPER once keys are set', () => {
    const keys = { APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's' };
    expect(loadConfig(keys).mode).toBe('paper');
    expect(loadConfig({ ...keys, ALPACA_PAPER: 'false' }).mode).toBe('live');
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
    expect(loadConfig({}).notify).toEqual({ webhook: undefined, telegram: undefined });
    const c = loadConfig({ CT_WEBHOOK_URL: 'https://hooks.example.com/ct', CT_WEBHOOK_SECRET: 's3cret', CT_TELEGRAM_BOT_TOKEN: '1:abc', CT_TELEGRAM_CHAT_ID: '-1001234' });
    expect(c.notify).toEqual({
      webhook: { url: 'https://hooks.example.com/ct', secret: 's3cret' },
      telegram: { botToken: '1:abc', chatId: '-1001234', apiUrl: 'https://api.telegram.org' },
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
