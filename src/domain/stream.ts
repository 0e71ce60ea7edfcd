/** The trade_updates stream as the service reports it (/health, metrics). */
export type StreamState = 'connected' | 'reconnecting' | 'down';
