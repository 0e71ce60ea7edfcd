import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/**
 * What the chaos checks read from the service's own books: the rows only (what is judged), the same
 * for either store; no rule of the service. The checks themselves (harness.ts `measure`) compare
 * them with the simulator's truth.
 */
export interface LedgerRows {
  /** Every row of `fills` a trade bust has not taken back (a corrected row carries its corrected terms). */
  fills: Array<{ order_id: string; symbol: string; side: string; qty: string; price: string }>;
  /** Every row of `fees` (the coin a crypto buy paid, positive). */
  fees: Array<{ symbol: string; qty: string }>;
  /** `cooldowns.exit_fill_id`, one per row. */
  cooldownIds: string[];
}

export interface LedgerSource {
  read(): Promise<LedgerRows>;
  close(): Promise<void>;
}

const FILLS = 'select order_id, symbol, side, qty, price from fills where busted = 0';
const FEES = 'select symbol, qty from fees';
const COOLDOWNS = 'select exit_fill_id from cooldowns';

/** The SQLite file a bot writes (CT_DB_PATH), opened read-only for each read. */
export function sqliteLedger(dbPath: string): LedgerSource {
  return {
    async read() {
      const db = new BetterSqlite3(dbPath, { readonly: true });
      try {
        return {
          fills: db.prepare(FILLS).all() as LedgerRows['fills'],
          fees: db.prepare(FEES).all() as LedgerRows['fees'],
          cooldownIds: (db.prepare(COOLDOWNS).all() as Array<{ exit_fill_id: string }>).map((r) => r.exit_fill_id),
        };
      } finally {
        db.close();
      }
    },
    async close() {},
  };
}

/** An account's schema on PostgreSQL (CT_DB_URL), read in one repeatable-read snapshot. */
export function pgLedger(url: string, schema: string): LedgerSource {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  let client: pg.Client | null = null;
  const connect = async () => {
    if (client) return client;
    const c = new pg.Client({ connectionString: url, application_name: 'crazy-trade chaos', options: `-c search_path=${schema}` });
    c.on('error', () => {
      if (client === c) client = null;
    });
    await c.connect();
    client = c;
    return c;
  };
  return {
    async read() {
      const c = await connect();
      await c.query('begin transaction isolation level repeatable read read only');
      try {
        const rows: LedgerRows = {
          fills: (await c.query(FILLS)).rows,
          fees: (await c.query(FEES)).rows,
          cooldownIds: (await c.query(COOLDOWNS)).rows.map((r) => r.exit_fill_id as string),
        };
        await c.query('commit');
        return rows;
      } catch (err) {
        await c.query('rollback').catch(() => undefined);
        throw err;
      }
    },
    async close() {
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
