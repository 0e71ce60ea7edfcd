import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Every path where a credential could travel. pino's redaction rewrites them before a line is
 * serialised, so a key or token never reaches a log file, whatever object a caller logs.
 */
export const REDACT_PATHS = [
  'key',
  'secret',
  'token',
  'keyId',
  'secretKey',
  'apiKey',
  'key_id',
  'secret_key',
  'authorization',
  '*.key',
  '*.secret',
  '*.token',
  '*.keyId',
  '*.secretKey',
  '*.apiKey',
  '*.key_id',
  '*.secret_key',
  '*.authorization',
  '*.headers["apca-api-key-id"]',
  '*.headers["apca-api-secret-key"]',
  '*.headers.authorization',
  'config.alpaca.keyId',
  'config.alpaca.secretKey',
  'config.api.token',
  'botToken',
  '*.botToken',
  'bot_token',
  '*.bot_token',
  'webhookSecret',
  '*.webhookSecret',
  'config.notify.webhook.secret',
  'config.notify.webhook.url',
  'config.notify.telegram.botToken',
];

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'crazy-trade' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
