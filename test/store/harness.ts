import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import type { Engine } from '../../src/store/schema.js';
import type { Store } from '../../src/store/types.js';

/** Where one test's store lives: a temp dir (SQLite) or a schema (PostgreSQL). */
export interface StoreTarget {
  readonly engine: Engine;
  /** What a second process would pass to openStore to reach the same database. */
  readonly openOptions: { readonly databaseUrl?: string; readonly dataDir: string };
  open(opts?: { now?: () => Date }): Promise<Store>;
  dispose(): Promise<void>;
}

export interface EngineHarness {
  readonly engine: Engine;
  /**
   * A database of its own that no store has opened yet (a new directory / a fresh schema), gone after
   * dispose: for what only a fresh database shows (migrating it, several stores or processes opening it at once).
   */
  create(): Promise<StoreTarget>;
  /**
   * A migrated, empty database: the one this harness keeps for a file's tests, every table but the migration
   * history emptied for each test. Migrating a PostgreSQL schema costs a test ~1 s of database CPU and a dozen
   * connections; emptying it, one statement. Call `release` in afterAll.
   */
  migrated(): Promise<StoreTarget>;
  /** Drops the database `migrated` kept. */
  release(): Promise<void>;
}

const makeTarget = (
  engine: Engine,
  openOptions: StoreTarget['openOptions'],
  cleanup: () => Promise<void>,
): StoreTarget => {
  const opened: Store[] = [];
  return {
    engine,
    openOptions,
    async open(opts = {}) {
      const store = await openStore({ ...openOptions, ...(opts.now ? { now: opts.now } : {}) });
      opened.push(store);
      return store;
    },
    async dispose() {
      await Promise.allSettled(opened.map((s) => s.close()));
      await cleanup();
    },
  };
};

const sqliteTarget = async (): Promise<{ root: string; target: StoreTarget }> => {
  const root = await mkdtemp(path.join(tmpdir(), 'opsbot-store-'));
  // A directory that does not exist yet: openStore must create it.
  const dataDir = path.join(root, 'data');
  return {
    root,
    target: makeTarget('sqlite', { dataDir }, () => rm(root, { recursive: true, force: true })),
  };
};

const sqliteHarness = (): EngineHarness => ({
  engine: 'sqlite',
  async create() {
    return (await sqliteTarget()).target;
  },
  async migrated() {
    return (await sqliteTarget()).target;
  },
  async release() {},
});

/** DATABASE_URL with `search_path` pinned to `schema` through the libpq `options` parameter. */
export const urlWithSchema = (base: string, schema: string): string => {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
};

const adminQuery = async (baseUrl: string, query: string): Promise<void> => {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(query);
  } finally {
    await admin.end();
  }
};

/** A fresh PostgreSQL schema of its own for a test: its name and the URL that pins it (urlWithSchema). */
export const createTestSchema = async (baseUrl: string): Promise<{ schema: string; databaseUrl: string }> => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await adminQuery(baseUrl, `create schema ${schema}`);
  return { schema, databaseUrl: urlWithSchema(baseUrl, schema) };
};

export const dropTestSchema = (baseUrl: string, schema: string): Promise<void> =>
  adminQuery(baseUrl, `drop schema if exists ${schema} cascade`);

/** The migrated schema a PostgreSQL harness keeps, an open connection to it, and the statement that empties it. */
interface KeptSchema {
  readonly schema: string;
  readonly openOptions: StoreTarget['openOptions'];
  readonly admin: pg.Client;
  readonly empty: string;
}

const keepSchema = async (baseUrl: string): Promise<KeptSchema> => {
  const { schema, databaseUrl } = await createTestSchema(baseUrl);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'opsbot-store-pg-'));
  const openOptions = { databaseUrl, dataDir };
  await (await openStore(openOptions)).close();
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  // Every table the migrations made, but their history: reopening must find the schema current.
  const { rows } = await admin.query<{ name: string }>(
    "select tablename as name from pg_tables where schemaname = $1 and tablename not like 'kysely_migration%'",
    [schema],
  );
  const empty = `truncate ${rows.map((r) => `"${r.name}"`).join(', ')} restart identity cascade`;
  return { schema, openOptions, admin, empty };
};

const postgresHarness = (baseUrl: string): EngineHarness => {
  let kept: Promise<KeptSchema> | null = null;
  return {
    engine: 'postgres',
    async create() {
      const { schema, databaseUrl } = await createTestSchema(baseUrl);
      const root = await mkdtemp(path.join(tmpdir(), 'opsbot-store-pg-'));
      return makeTarget('postgres', { databaseUrl, dataDir: root }, async () => {
        await dropTestSchema(baseUrl, schema);
        await rm(root, { recursive: true, force: true });
      });
    },
    async migrated() {
      kept ??= keepSchema(baseUrl);
      const k = await kept;
      // Emptied before the test, not after: a test sees no rows whatever the one before it left.
      await k.admin.query(k.empty);
      return makeTarget('postgres', k.openOptions, async () => {});
    },
    async release() {
      const k = await kept?.catch(() => null);
      kept = null;
      if (!k) return;
      await k.admin.end().catch(() => undefined);
      await dropTestSchema(baseUrl, k.schema);
      await rm(k.openOptions.dataDir, { recursive: true, force: true });
    },
  };
};

/**
 * SQLite always; PostgreSQL too when DATABASE_URL is set. In CI (`CI` set, as `.ci/run` runs) the second engine
 * is required: without DATABASE_URL the suite fails here instead of passing on SQLite alone.
 */
export const engines = (env: NodeJS.ProcessEnv = process.env): EngineHarness[] => {
  const url = env.DATABASE_URL;
  if (url) return [sqliteHarness(), postgresHarness(url)];
  if (env.CI && env.CI !== 'false' && env.CI !== '0') {
    throw new Error(
      'CI is set but DATABASE_URL is not: the store contract must run on PostgreSQL too (.ci/run starts it).',
    );
  }
  return [sqliteHarness()];
};

/** A clock the test moves by hand. */
export const manualClock = (start: string) => {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    set(iso: string) {
      t = new Date(iso).getTime();
    },
  };
};
