/**
 * A start the service must refuse rather than run unsafely: another process holds the database,
 * Alpaca refused the keys, the database was written by a newer version. The composition root
 * prints the message as one line on stderr and exits 2 (as for invalid configuration), so a
 * supervisor's logs say exactly why and a human can act on it.
 */
export class StartupRefusal extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'StartupRefusal';
  }
}
