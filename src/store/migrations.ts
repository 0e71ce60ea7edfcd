import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Schema history, applied in key order by kysely's Migrator, on SQLite and PostgreSQL alike. Append
 * new entries; never edit one that has shipped. Where the two servers differ, the SQLite statement is
 * the one that shipped and PostgreSQL gets its equivalent: an auto-increment id is `serial`, epoch
 * milliseconds are `bigint`, SQLite's implicit `rowid` (insertion order) is an explicit `bigserial`.
 */
const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

/** An auto-increment integer primary key. */
function addId<T extends string>(db: Kysely<any>, table: CreateTableBuilder<T, any>): CreateTableBuilder<T, any> {
  return isPg(db) ? table.addColumn('id', 'serial', (c) => c.primaryKey()) : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** PostgreSQL has no implicit rowid: queries that order by insertion get an explicit one. */
function addRowid<T extends string>(db: Kysely<any>, table: CreateTableBuilder<T, any>): CreateTableBuilder<T, any> {
  return isPg(db) ? table.addColumn('rowid', 'bigserial') : table;
}

/** Epoch milliseconds: SQLite's integer is 64-bit, PostgreSQL's is not. */
const epochMs = (db: Kysely<any>) => (isPg(db) ? 'bigint' : 'integer');
const zeroDefault = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(0);

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await addId(db, db.schema.createTable('fills'))
        .addColumn('order_id', 'text', (c) => c.notNull())
        .addColumn('cum_qty', 'text', (c) => c.notNull())
        .addColumn('qty', 'text', (c) => c.notNull())
        .addColumn('price', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull().check(sql`side in ('buy','sell')`))
        .addColumn('exec_id', 'text')
        .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('stream','activity','order','inferred')`))
        .addColumn('filled_at', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('fills_identity', ['order_id', 'cum_qty'])
        .execute();
      await db.schema.createIndex('fills_symbol_id').on('fills').columns(['symbol', 'id']).execute();
      await db.schema.createIndex('fills_filled_at').on('fills').column('filled_at').execute();

      await db.schema
        .createTable('orders')
        .addColumn('order_id', 'text', (c) => c.primaryKey())
        .addColumn('client_order_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('asset_class', 'text', (c) => c.notNull())
        .addColumn('role', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('terminal', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('filled_qty', 'text', (c) => c.notNull().defaultTo('0'))
        .addColumn('filled_avg_price', 'text')
        .addColumn('stop_order_id', 'text')
        .addColumn('machine_version', 'integer', (c) => c.notNull())
        .addColumn('snapshot', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('orders_terminal').on('orders').column('terminal').execute();
      await db.schema.createIndex('orders_client_order_id').on('orders').column('client_order_id').execute();

      await addId(db, db.schema.createTable('order_history'))
        .addColumn('order_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('order_history_order').on('order_history').columns(['order_id', 'id']).execute();

      await addRowid(db, db.schema.createTable('intents'))
        .addColumn('client_order_id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('entry_order_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('pending','unknown','confirmed','rejected','done')`),
        )
        .addColumn('broker_order_id', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('intents_status').on('intents').column('status').execute();

      await db.schema
        .createTable('cooldowns')
        .addColumn('exit_fill_id', 'text', (c) => c.primaryKey())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('until', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cooldowns_symbol_until').on('cooldowns').columns(['symbol', 'until']).execute();

      await db.schema
        .createTable('sync_state')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_stop_orders': {
    // What the stop worker needs to act exactly once: the client order id of the order it is
    // placing now (a replacement gets a new, deterministic one), when it last sent it, and what
    // the broker confirmed.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('intents').addColumn('current_client_order_id', 'text').execute();
      await db.schema.alterTable('intents').addColumn('version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('intents').addColumn('sent_at', 'text').execute();
      await db.schema.alterTable('intents').addColumn('placed_qty', 'text').execute();
      await db.schema.alterTable('intents').addColumn('placed_stop_price', 'text').execute();
      await db.schema.alterTable('intents').addColumn('target_stop_price', 'text').execute();
      await db.schema.alterTable('intents').addColumn('next_attempt_at', epochMs(db), zeroDefault).execute();
      // Set when the position the stop protects is closed by another exit: the stop must go.
      await db.schema.alterTable('intents').addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      // How much exits took off this stop (FIFO): the stop wants the entry's quantity minus this.
      await db.schema.alterTable('intents').addColumn('cut_qty', 'text', (c) => c.notNull().defaultTo('0')).execute();
    },
  },
  '0003_intents_by_broker_order': {
    // A stop that filled while the service was down may be known only from a FILL activity, which
    // carries the broker's order id and no client order id: the intent that placed it is found by it.
    async up(db: Kysely<any>) {
      await db.schema.createIndex('intents_broker_order_id').on('intents').column('broker_order_id').execute();
    },
  },
  '0004_fills_by_symbol_time': {
    // Exits are judged in the broker's order of fills: a symbol's fills from a time on, and the
    // newest fill time per symbol at start.
    async up(db: Kysely<any>) {
      await db.schema.createIndex('fills_symbol_filled_at').on('fills').columns(['symbol', 'filled_at']).execute();
    },
  },
  '0005_reopen_non_final_orders': {
    // `done_for_day` and `stopped` were once taken for final (expired / canceled): such orders are
    // live again, so the next start rebuilds their actors from the broker and later fills count.
    async up(db: Kysely<any>) {
      if (isPg(db)) {
        await sql`update orders set terminal = 0
          where terminal = 1 and state in ('expired', 'canceled')
            and snapshot::jsonb #>> '{context,order,status}' in ('done_for_day', 'stopped')`.execute(db);
        return;
      }
      await sql`update orders set terminal = 0
        where terminal = 1 and state in ('expired', 'canceled')
          and json_extract(snapshot, '$.context.order.status') in ('done_for_day', 'stopped')`.execute(db);
    },
  },
  '0006_fees': {
    // Crypto fees taken in the coin (CFEE activities): a buy of q leaves q less the fee, so the
    // ledger's position is its fills less these. One row per activity. A database that already read
    // activities past its watermark (FILL only, then) reads the CFEEs up to that watermark once more.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('fees')
        .addColumn('activity_id', 'text', (c) => c.primaryKey())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('qty', 'text', (c) => c.notNull())
        .addColumn('price', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('fees_symbol_at').on('fees').columns(['symbol', 'at']).execute();
      await sql`insert into sync_state (key, value, updated_at)
        select 'fee_backfill_until', value, updated_at from sync_state where key = 'fill_watermark'`.execute(db);
    },
  },
  '0007_notifications': {
    // The notifications outbox (src/notify/): one row per event, written in the transaction of the
    // fact it reports, keyed by an id derived from that fact (a re-commit adds nothing); one delivery
    // row per configured channel, delivered at least once.
    async up(db: Kysely<any>) {
      await addRowid(db, db.schema.createTable('notifications'))
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notifications_created_at').on('notifications').column('created_at').execute();
      await db.schema
        .createTable('notification_deliveries')
        .addColumn('notification_id', 'text', (c) => c.notNull().references('notifications.id').onDelete('cascade'))
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', epochMs(db), zeroDefault)
        .addColumn('delivered_at', 'text')
        .addColumn('last_error', 'text')
        .addPrimaryKeyConstraint('notification_deliveries_pk', ['notification_id', 'channel'])
        .execute();
      await db.schema.createIndex('notification_deliveries_pending').on('notification_deliveries').columns(['channel', 'delivered_at']).execute();
    },
  },
  '0008_stop_trail': {
    // The trail percent a working trailing stop was placed with: the operator may change a stop's
    // trail (PATCH /stops/:entry_order_id), and the stop machine replaces an order whose trail differs.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('intents').addColumn('placed_trail_percent', 'text').execute();
    },
  },
  '0009_stop_expiry': {
    // Alpaca cancels a GTC order 90 days after it was created (aged-order policy): the working
    // order's `expires_at` as Alpaca said it, so the stop is re-armed (replaced) before then.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('intents').addColumn('expires_at', 'text').execute();
      // The re-arm scan (every few seconds) reads the stops nearest their deadline, not every live row.
      await db.schema.createIndex('intents_status_expires_at').on('intents').columns(['status', 'expires_at']).execute();
    },
  },
  '0010_stops_table': {
    // One name for the stop record in table, types and API: `intents` is now `stops`, its indexes
    // renamed with it (dropped and made again: SQLite has no ALTER INDEX ... RENAME).
    async up(db: Kysely<any>) {
      await db.schema.alterTable('intents').renameTo('stops').execute();
      for (const [old, name, columns] of [
        ['intents_status', 'stops_status', ['status']],
        ['intents_broker_order_id', 'stops_broker_order_id', ['broker_order_id']],
        ['intents_status_expires_at', 'stops_status_expires_at', ['status', 'expires_at']],
      ] as const) {
        await db.schema.dropIndex(old).execute();
        await db.schema.createIndex(name).on('stops').columns([...columns]).execute();
      }
    },
  },
  '0011_fill_execution_id': {
    // The broker's execution id of each fill, where a source tells it (trade_updates `execution_id`, the
    // activity event stream's trade `ref_id`): a later correction or bust names the execution it
    // changes, and must find its fill. Nullable: REST FILL activities carry none, and rows recorded
    // before this have none until a later report of the same fill fills it in. The activity event
    // stream is a source of its own (`event`): SQLite cannot change a CHECK, so the table is made
    // again with the same rows, ids and indexes.
    async up(db: Kysely<any>) {
      const sources = sql`source in ('stream','activity','order','inferred','event')`;
      if (isPg(db)) {
        await sql`do $$ declare r record; begin
          for r in select conname from pg_constraint
            where conrelid = 'fills'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%source%'
          loop execute format('alter table fills drop constraint %I', r.conname); end loop; end $$`.execute(db);
        await sql`alter table fills add constraint fills_source_check check (${sources})`.execute(db);
        await db.schema.alterTable('fills').addColumn('execution_id', 'text').execute();
      } else {
        await addId(db, db.schema.createTable('fills_next'))
          .addColumn('order_id', 'text', (c) => c.notNull())
          .addColumn('cum_qty', 'text', (c) => c.notNull())
          .addColumn('qty', 'text', (c) => c.notNull())
          .addColumn('price', 'text', (c) => c.notNull())
          .addColumn('symbol', 'text', (c) => c.notNull())
          .addColumn('side', 'text', (c) => c.notNull().check(sql`side in ('buy','sell')`))
          .addColumn('exec_id', 'text')
          .addColumn('source', 'text', (c) => c.notNull().check(sources))
          .addColumn('filled_at', 'text', (c) => c.notNull())
          .addColumn('recorded_at', 'text', (c) => c.notNull())
          .addColumn('execution_id', 'text')
          .addUniqueConstraint('fills_identity', ['order_id', 'cum_qty'])
          .execute();
        await sql`insert into fills_next (id, order_id, cum_qty, qty, price, symbol, side, exec_id, source, filled_at, recorded_at)
          select id, order_id, cum_qty, qty, price, symbol, side, exec_id, source, filled_at, recorded_at from fills`.execute(db);
        await db.schema.dropTable('fills').execute();
        await db.schema.alterTable('fills_next').renameTo('fills').execute();
        await db.schema.createIndex('fills_symbol_id').on('fills').columns(['symbol', 'id']).execute();
        await db.schema.createIndex('fills_filled_at').on('fills').column('filled_at').execute();
        await db.schema.createIndex('fills_symbol_filled_at').on('fills').columns(['symbol', 'filled_at']).execute();
      }
      await db.schema.createIndex('fills_execution_id').on('fills').column('execution_id').execute();
    },
  },
  '0012_fill_changes': {
    // Trade busts and corrections (the activity event stream's trade_bust / trade_correct): a busted
    // fill is marked, never deleted (`busted`); a corrected one carries its new qty and price
    // (`corrected`), the original kept in its history. `fill_changes` keeps every change event,
    // keyed by its own execution id (`ref_id`: applied once however often the stream repeats it),
    // with the terms before and after; `fill_id` is null while the fill it names is not in the
    // ledger yet (pending: applied when that execution id is recorded).
    async up(db: Kysely<any>) {
      await db.schema.alterTable('fills').addColumn('busted', 'integer', zeroDefault).execute();
      await db.schema.alterTable('fills').addColumn('corrected', 'integer', zeroDefault).execute();
      await db.schema
        .createTable('fill_changes')
        .addColumn('ref_id', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('bust','correct')`))
        .addColumn('previous_id', 'text', (c) => c.notNull())
        .addColumn('fill_id', 'integer')
        .addColumn('order_id', 'text')
        .addColumn('symbol', 'text')
        .addColumn('side', 'text')
        .addColumn('qty', 'text')
        .addColumn('price', 'text')
        .addColumn('old_qty', 'text')
        .addColumn('old_price', 'text')
        .addColumn('new_qty', 'text')
        .addColumn('new_price', 'text')
        .addColumn('executed_at', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .addColumn('applied_at', 'text')
        .execute();
      await db.schema.createIndex('fill_changes_previous_id').on('fill_changes').column('previous_id').execute();
      await db.schema.createIndex('fill_changes_fill_id').on('fill_changes').column('fill_id').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
