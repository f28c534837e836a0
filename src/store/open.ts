import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Pool } from 'pg';
import type { Logger } from '../core/logger.js';
import { DEFAULT_QUERY_TIMEOUT_MS } from '../core/store-settings.js';
import { KyselyAuditRepository } from './audit-repository.js';
import { KyselyChangeNoteRepository } from './change-note-repository.js';
import { KyselyChangeRequestRepository } from './change-request-repository.js';
import { guard, type RepoContext } from './context.js';
import { KyselyDeliveryRepository } from './delivery-repository.js';
import { buildScrubber, type ErrorContext, queryTimeoutError, StoreCause, toStoreError } from './errors.js';
import { KyselyInstanceRepository } from './instance-repository.js';
import { KyselyLockRepository } from './lock-repository.js';
import { migrationProvider } from './migrations.js';
import { CurrentSchemaPostgresDialect } from './pg-introspector.js';
import { KyselyPipelineRepository } from './pipeline-repository.js';
import type { DeliveryRepository, PipelineRepository } from './pipeline-types.js';
import type { Database, Engine } from './schema.js';
import { openSqliteFile } from './sqlite-driver.js';
import { DEFAULT_SQLITE_BUSY_TIMEOUT_MS, SQLITE_FILE_NAME } from './sqlite-file.js';
import type {
  AuditRepository,
  ChangeNoteRepository,
  ChangeRequestRepository,
  LockRepository,
  Store,
  StoreTx,
} from './types.js';
import { KyselyWatchRepository } from './watch-repository.js';

export { DEFAULT_SQLITE_BUSY_TIMEOUT_MS, SQLITE_FILE_NAME } from './sqlite-file.js';
export const DEFAULT_PG_POOL_MAX = 10;

export interface OpenStoreOptions {
  /** PostgreSQL connection string; when set (non-empty) PostgreSQL is used, else SQLite under dataDir. */
  readonly databaseUrl?: string | undefined;
  /** Directory for `opsbot.sqlite` (created if missing). */
  readonly dataDir: string;
  readonly logger?: Logger | undefined;
  /** Clock for lease expiry and change timestamps; defaults to the system clock. */
  readonly now?: (() => Date) | undefined;
  /** SQLite: how long a write waits for another process's write lock. */
  readonly busyTimeoutMs?: number | undefined;
  /** PostgreSQL: pool size per opsbot process (at least 2: migrating holds one connection for its lock). */
  readonly poolMax?: number | undefined;
  /**
   * PostgreSQL: a query with no answer for this long (once the store is open) rejects and its connection is
   * dropped; default DEFAULT_QUERY_TIMEOUT_MS. Migrating at open is not bounded (it waits for another
   * replica's migration).
   */
  readonly queryTimeoutMs?: number | undefined;
}

/**
 * Opens the store and brings its schema up to date. SQLite (`<dataDir>/opsbot.sqlite`, WAL) unless
 * `databaseUrl` is set, then PostgreSQL, where several opsbot replicas may share one database and start at
 * the same moment. Every failure is an AppError('store') whose message and cause never carry the URL.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const url = opts.databaseUrl?.trim();
  const now = opts.now ?? (() => new Date());
  if (url) return openPostgres(url, opts, now);
  return openSqlite(opts, now);
}

const repositories = (ctx: RepoContext): StoreTx => ({
  audit: new KyselyAuditRepository(ctx),
  changes: new KyselyChangeRequestRepository(ctx),
  notes: new KyselyChangeNoteRepository(ctx),
  locks: new KyselyLockRepository(ctx),
});

class KyselyStore implements Store {
  readonly engine: Engine;
  readonly audit: AuditRepository;
  readonly changes: ChangeRequestRepository;
  readonly notes: ChangeNoteRepository;
  readonly locks: LockRepository;
  readonly pipelines: PipelineRepository;
  readonly deliveries: DeliveryRepository;
  readonly watch: KyselyWatchRepository;
  readonly instances: KyselyInstanceRepository;
  readonly #ctx: RepoContext;
  #closing: Promise<void> | null = null;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
    this.engine = ctx.errors.engine;
    const repos = repositories(ctx);
    this.audit = repos.audit;
    this.changes = repos.changes;
    this.notes = repos.notes;
    this.locks = repos.locks;
    this.pipelines = new KyselyPipelineRepository(ctx);
    this.deliveries = new KyselyDeliveryRepository(ctx);
    this.watch = new KyselyWatchRepository(ctx);
    this.instances = new KyselyInstanceRepository(ctx);
  }

  /**
   * SQLite: one connection for the process (Kysely's driver hands it out one user at a time), so the
   * transaction holds it from BEGIN IMMEDIATE (the file's write lock, waiting busy_timeout for another
   * process) to COMMIT. PostgreSQL: a pooled connection in a READ COMMITTED transaction.
   */
  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const ctx = this.#ctx;
    if (this.engine === 'postgres') {
      return ctx.db.transaction().execute((trx) => fn(repositories({ ...ctx, db: trx })));
    }
    return ctx.db.connection().execute(async (conn) => {
      await guard(ctx, 'begin', () => sql`begin immediate`.execute(conn));
      let result: T;
      try {
        result = await fn(repositories({ ...ctx, db: conn }));
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
      await guard(ctx, 'commit', () => sql`commit`.execute(conn));
      return result;
    });
  }

  async ping(): Promise<void> {
    await guard(this.#ctx, 'ping', () => sql`select 1`.execute(this.#ctx.db));
  }

  /** Idempotent; waits for queries in flight, then releases the file or the pool. */
  close(): Promise<void> {
    this.#closing ??= this.#ctx.db.destroy().catch((err: unknown) => {
      throw toStoreError(err, this.#ctx.errors, 'close');
    });
    return this.#closing;
  }
}

const appliedNames = (results: readonly { migrationName: string; status: string }[] | undefined): string[] =>
  (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);

// ---------------------------------------------------------------------------------------------------------
// SQLite

/**
 * Opens of the same file inside one process take turns: node:sqlite is synchronous, so a second opener
 * waiting on the first one's write lock would block the very thread the first one needs to finish.
 */
const sqliteOpenQueue = new Map<string, Promise<unknown>>();

const serialise = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
  const previous = sqliteOpenQueue.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => undefined);
  sqliteOpenQueue.set(key, settled);
  try {
    return await run;
  } finally {
    if (sqliteOpenQueue.get(key) === settled) sqliteOpenQueue.delete(key);
  }
};

async function openSqlite(opts: OpenStoreOptions, now: () => Date): Promise<Store> {
  const errors: ErrorContext = { engine: 'sqlite', scrub: (t) => t };
  const dir = path.resolve(opts.dataDir);
  const file = path.join(dir, SQLITE_FILE_NAME);
  return serialise(file, async () => {
    let db: Kysely<Database> | null = null;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const database = openSqliteFile(file, {
        busyTimeoutMs: opts.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
      });
      db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
      // BEGIN IMMEDIATE takes the write lock up front (waiting busy_timeout for another process), so two
      // processes starting on a fresh file cannot both create the tables.
      await sql`begin immediate`.execute(db);
      const result = await new Migrator({
        db,
        provider: migrationProvider('sqlite'),
        disableTransactions: true,
      }).migrateToLatest();
      if (result.error !== undefined) {
        await sql`rollback`.execute(db).catch(() => undefined);
        throw result.error;
      }
      await sql`commit`.execute(db);
      const applied = appliedNames(result.results);
      opts.logger?.info({ engine: 'sqlite', file, applied }, 'store opened');
      return new KyselyStore({ db, now, errors });
    } catch (err) {
      await db?.destroy().catch(() => undefined);
      throw toStoreError(err, errors, 'open');
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

async function openPostgres(url: string, opts: OpenStoreOptions, now: () => Date): Promise<Store> {
  const scrub = buildScrubber(url);
  const errors: ErrorContext = { engine: 'postgres', scrub };
  // pg is loaded only for PostgreSQL: a SQLite store (the CLI's audit row, say) does not pay for it.
  const pg = await import('pg');
  const bound = { queryTimeoutMs: 0 }; // none while migrating; set once open
  /**
   * A connection that stops answering (a failover, a dropped network: nothing resets it) would hold its query,
   * and the pool client under it, forever. Past the bound the socket is destroyed: pg rejects every query on
   * it, the client emits 'error' (logged below) and the pool drops it on release; the next query connects
   * again. Only the promise form Kysely and the migration use is bounded.
   */
  class BoundedClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's query() has a dozen overloads; this one passes them through
    override query(...args: any[]): any {
      // biome-ignore lint/suspicious/noExplicitAny: see above
      const result = (pg.Client.prototype.query as (...a: any[]) => any).apply(this, args);
      const ms = bound.queryTimeoutMs;
      if (ms <= 0 || typeof result?.then !== 'function') return result;
      const timer = setTimeout(() => {
        const stream = (this as unknown as { connection?: { stream?: { destroy(err?: Error): void } } })
          .connection?.stream;
        stream?.destroy(queryTimeoutError(ms));
      }, ms);
      timer.unref();
      return (result as Promise<unknown>).finally(() => clearTimeout(timer));
    }
  }
  let pool: Pool;
  try {
    pool = new pg.Pool({
      Client: BoundedClient,
      connectionString: url,
      max: Math.max(2, opts.poolMax ?? DEFAULT_PG_POOL_MAX),
      // Connecting is bounded like a query (a dropped network answers no SYN either), at most 10 s.
      connectionTimeoutMillis: Math.min(10_000, opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS),
      idleTimeoutMillis: 30_000,
      application_name: 'opsbot',
    });
  } catch (err) {
    throw toStoreError(err, errors, 'open');
  }
  // A connection lost (a failover, a network cut, a database restart) must not crash the process. pg emits
  // 'error' on the client itself, idle in the pool or checked out (a query or a transaction in flight, whose
  // queries reject with it), and on the pool too for an idle one: an 'error' nobody listens to is thrown. The
  // pool drops the client (idle, or on its release) and the next query connects again.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      opts.logger?.warn({ err: new StoreCause(err, scrub) }, 'database connection lost');
    });
  });
  pool.on('error', () => undefined); // the same error, already logged by the client's listener
  const db = new Kysely<Database>({ dialect: new CurrentSchemaPostgresDialect({ pool }) });
  try {
    const applied = await migratePostgres(db, pool);
    bound.queryTimeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    opts.logger?.info({ engine: 'postgres', applied }, 'store opened');
    return new KyselyStore({ db, now, errors });
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw toStoreError(err, errors, 'open');
  }
}

/**
 * Replicas starting together: the first takes a session advisory lock (per schema) and migrates; the others
 * wait on the lock, then find nothing to do. Kysely's own table creation checks are not race-free, so they
 * run inside our lock too.
 */
async function migratePostgres(db: Kysely<Database>, pool: Pool): Promise<string[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const res = await client.query<{ schema: string | null }>('select current_schema() as schema');
    const schema = res.rows[0]?.schema;
    if (!schema) {
      throw new Error(
        'no schema on the search_path exists; create it or fix search_path in the connection options',
      );
    }
    const key = `opsbot.migrations.${schema}`;
    await client.query('select pg_advisory_lock(hashtext($1))', [key]);
    try {
      const result = await new Migrator({
        db,
        provider: migrationProvider('postgres'),
        migrationTableSchema: schema,
      }).migrateToLatest();
      if (result.error !== undefined) throw result.error;
      return appliedNames(result.results);
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch((err: unknown) => {
        // Dropping the connection releases the session lock.
        broken = err instanceof Error ? err : new Error(String(err));
      });
    }
  } catch (err) {
    broken ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken);
  }
}
