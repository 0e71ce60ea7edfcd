import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config', () => {
  it('applies DESIGN §5 defaults and runs in demo mode without keys', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('demo');
    expect(c.dbPath).toBe('./data/crazy-trade.db');
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8080, token: undefined });
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
    const c = loadConfig({ ALPACA_API_URL: 'http://127.0.0.1:9999/', ALPACA_STREAM_URL: 'ws://127.0.0.1:9999/stream' });
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

  it('keeps the inspector off the API port', () => {
    expect(() => loadConfig({ CT_INSPECT: '1', CT_INSPECT_PORT: '8080' })).toThrow(/CT_INSPECT_PORT/);
    expect(loadConfig({ CT_INSPECT: '1' }).inspect).toEqual({ enabled: true, port: 8081 });
  });

  it('refuses a non-loopback API host without a token', () => {
    expect(() => loadConfig({ CT_API_HOST: '0.0.0.0' })).toThrow(/CT_API_HOST/);
    expect(loadConfig({ CT_API_HOST: '0.0.0.0', CT_API_TOKEN: 't' }).api.host).toBe('0.0.0.0');
  });
});
