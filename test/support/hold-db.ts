import { openDatabase } from '../../src/store/database.js';
import { StartupRefusal } from '../../src/startup-refusal.js';

/**
 * `node --import tsx test/support/hold-db.ts <db path>`: opens the database like the bot does,
 * prints `held` on stdout and keeps it open until killed (SIGTERM closes it cleanly). A refusal
 * is printed as the bot prints it (`crazy-trade: <message>` on stderr) with the same exit code.
 */
const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: hold-db.ts <db path>\n');
  process.exit(64);
}

try {
  const db = await openDatabase(path);
  const keepAlive = setInterval(() => {}, 60_000);
  // Listening before saying `held`: a SIGTERM sent the moment the line arrives must close cleanly.
  process.on('SIGTERM', () => {
    clearInterval(keepAlive);
    void db.close().then(() => process.exit(0));
  });
  process.stdout.write(`held ${process.pid}\n`);
} catch (err) {
  if (err instanceof StartupRefusal) {
    process.stderr.write(`crazy-trade: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
