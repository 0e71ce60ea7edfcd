import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

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

/**
 * Lines for people when a person watches (stdout is a terminal): the time, the level and what
 * happened, the fields after it on the same line; JSON lines otherwise (pm2, systemd, files), which
 * is what log tools read. Redaction runs before either is written.
 */
function prettyStream(destination?: DestinationStream): DestinationStream {
  return pretty({ colorize: !destination && process.stdout.isTTY === true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app', sync: true, ...(destination ? { destination } : {}) });
}

/** Lines go to `destination` (stdout when absent), for people when `pretty` (default: stdout is a terminal). */
export function createLogger(level: string, destination?: DestinationStream, opts: { pretty?: boolean } = {}): Logger {
  if (opts.pretty ?? (!destination && process.stdout.isTTY === true)) destination = prettyStream(destination);
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
