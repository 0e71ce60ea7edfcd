import { streaming } from '@alpacahq/alpaca-trade-api';
import type { Logger } from '../log.js';
import type { StreamState } from '../domain/stream.js';
import { parseTradeUpdate } from './adapter.js';
import type { BrokerClient } from './client.js';
import type { TradeUpdateReport } from '../domain/reports.js';

export interface TradeUpdateFeedHandlers {
  onUpdate(update: TradeUpdateReport): void;
  /** The server acknowledged `listen` (first connect and every reconnect): time to reconcile. */
  onListening(): void;
  /** The server refused the credentials; the SDK stops the stream rather than retry bad keys. */
  onAuthRejected?(detail: string): void;
}

/**
 * One raw trade update from the stream: parsed and handed on, or (malformed) logged with its
 * reason and skipped; false when skipped. What reaches the actors has been through the adapter.
 */
export function deliverTradeUpdate(raw: unknown, log: Logger, onUpdate: (update: TradeUpdateReport) => void): boolean {
  const parsed = parseTradeUpdate(raw);
  if (!parsed.ok) {
    log.warn({ event: 'broker_payload_rejected', source: 'stream', reason: parsed.reason }, 'skipped a malformed trade update');
    return false;
  }
  onUpdate(parsed.value);
  return true;
}

/**
 * The trade_updates stream, via the SDK's TradingStream (it authenticates, re-listens after
 * reconnect, pings, and reconnects forever). This adds the service's view of it: a three-valued
 * state for /health, `stream_state` logs on change, and parsing into reports — a payload that does
 * not parse is logged with its reason and skipped.
 */
export class TradeUpdateFeed {
  private stream: streaming.TradingStream | null = null;
  private current: StreamState = 'down';
  private lastConnectedAt = Date.now();
  private watchdog: ReturnType<typeof setInterval> | null = null;

  /**
   * @param staleMs how long the stream may be away (reconnecting) before /health calls it down;
   * a connected socket that goes silent is caught by the SDK's ping/pong and reconnected.
   */
  constructor(
    private readonly client: BrokerClient,
    private readonly log: Logger,
    private readonly handlers: TradeUpdateFeedHandlers,
    private readonly staleMs = 30_000,
  ) {}

  get state(): StreamState {
    return this.current;
  }

  start(): void {
    if (this.stream) return;
    const stream = this.client.createStream();
    this.stream = stream;
    stream.onStateChange((s) => {
      if (s === streaming.STATE.WAITING_TO_RECONNECT || (s === streaming.STATE.CONNECTING && this.current !== 'down')) {
        this.setState(this.stale() ? 'down' : 'reconnecting');
      } else if (s === streaming.STATE.DISCONNECTED && this.stream === null) {
        this.setState('down');
      }
    });
    stream.on(streaming.EVENT.SUBSCRIPTION, () => {
      this.setState('connected');
      this.handlers.onListening();
    });
    stream.onError((message) => this.log.warn({ event: 'stream_error', message }, 'trade_updates stream error'));
    stream.onTradeUpdate((raw) => deliverTradeUpdate(raw, this.log, (u) => this.handlers.onUpdate(u)));
    // Marked once before connecting: the SDK sends `listen` after every (re)authentication.
    stream.subscribeTradeUpdates();
    this.log.info({ event: 'stream_state', state: 'connecting', url: this.client.streamUrl }, 'trade_updates stream connecting');
    this.lastConnectedAt = Date.now();
    this.watchdog = setInterval(() => {
      if (this.stale()) this.setState('down');
    }, Math.max(100, Math.floor(this.staleMs / 3)));
    this.watchdog.unref();
    stream.connect();
    void stream.whenAuthenticated().then((result) => {
      if (result.status !== streaming.STREAM_AUTH_STATUS.SERVER_REJECTED || this.stream !== stream) return;
      this.log.error({ event: 'stream_auth_rejected', message: result.message, code: result.code }, 'trade_updates stream refused the API keys');
      this.handlers.onAuthRejected?.(`${result.code ?? 'unauthorized'} on the trade_updates stream`);
    });
  }

  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const stream = this.stream;
    this.stream = null;
    stream?.disconnect();
    this.setState('down');
  }

  /** Away (not connected) for longer than the staleness limit. */
  private stale(): boolean {
    return this.current !== 'connected' && Date.now() - this.lastConnectedAt > this.staleMs;
  }

  private setState(next: StreamState): void {
    if (this.current === 'connected') this.lastConnectedAt = Date.now();
    if (next === this.current) return;
    this.log.info({ event: 'stream_state', state: next, previous: this.current }, `trade_updates stream ${next}`);
    this.current = next;
  }
}
