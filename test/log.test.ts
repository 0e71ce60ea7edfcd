import { describe, expect, it } from 'vitest';
import { captureLogger } from './support/log-capture.js';

describe('logger', () => {
  it('redacts keys, secrets and tokens wherever they appear', () => {
    const { log, text, lines } = captureLogger();
    log.info({ keyId: 'PKSECRETKEYID', secretKey: 'SUPERSECRET1' }, 'top level');
    log.info({ config: { alpaca: { keyId: 'PKSECRETKEYID', secretKey: 'SUPERSECRET1' }, api: { token: 'TOKEN123456' } } }, 'config');
    log.info({ req: { headers: { 'apca-api-key-id': 'PKSECRETKEYID', 'apca-api-secret-key': 'SUPERSECRET1', authorization: 'Bearer TOKEN123456' } } }, 'headers');
    log.info({ data: { key_id: 'PKSECRETKEYID', secret_key: 'SUPERSECRET1' } }, 'stream auth frame');
    log.info({ config: { notify: { webhook: { url: 'https://hooks.example/TOKEN123456', secret: 'SUPERSECRET1' }, telegram: { botToken: 'TOKEN123456', chatId: '42' } } } }, 'notify config');
    log.info({ telegram: { botToken: 'TOKEN123456' }, webhook: { secret: 'SUPERSECRET1' } }, 'channels');
    expect(lines()).toHaveLength(6);
    for (const secret of ['PKSECRETKEYID', 'SUPERSECRET1', 'TOKEN123456']) expect(text()).not.toContain(secret);
    expect(text()).toContain('[redacted]');
  });
});
