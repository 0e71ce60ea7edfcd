import type { AccountLeaderView, HostedAccount } from './host.js';

/**
 * An account as the API host serves it from the moment the port is bound, before its store or
 * broker is touched: "starting" (its `/health` says so, anything else answers 503) until the
 * composition root hands it the running account, then exactly that account. The port is bound
 * first so a port in use refuses the start before any request reaches the broker.
 */
export class AccountSlot implements HostedAccount {
  private target: HostedAccount | null = null;

  constructor(readonly name: string) {}

  /** The account now runs (or is led and stood by for): serve it. */
  serve(target: HostedAccount): void {
    this.target = target;
  }

  app() {
    return this.target?.app() ?? null;
  }

  leader(): Promise<AccountLeaderView | null> {
    return this.target?.leader() ?? Promise.resolve(null);
  }

  health() {
    return this.target?.health() ?? null;
  }

  role() {
    return this.target?.role() ?? 'starting';
  }

  problem() {
    return this.target?.problem?.() ?? null;
  }
}
