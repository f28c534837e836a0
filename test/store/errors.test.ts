import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  type ErrorContext,
  isStoreUnavailable,
  queryTimeoutError,
  toStoreError,
} from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import type { AuditRecord, Store } from '../../src/store/types.js';
import { startTcpProxy, type TcpProxy, viaProxy } from '../fakes/tcp-proxy.js';
import { createTestSchema, dropTestSchema } from './harness.js';

/**
 * What "the database does not answer" means (`isStoreUnavailable`): the audit writer keeps such rows queued and
 * writes them again and again until it answers (up to 50,000 rows), so a bug of ours must never look like it.
 */

const pg: ErrorContext = { engine: 'postgres', scrub: (t) => t };
const sqlite: ErrorContext = { engine: 'sqlite', scrub: (t) => t };

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });
const sqlState = (code: string): Error =>
  Object.assign(new Error(`pg error ${code}`), { code, severity: 'FATAL' });

/** Node's "connection refused on every address" (autoSelectFamily): an AggregateError with an empty message. */
const refusedEverywhere = (): Error => {
  const e = new AggregateError(
    [
      withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    ],
    '',
  );
  return e;
};

const retried: [string, () => unknown][] = [
  ['connection refused', () => withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
  ['connection refused on every address (AggregateError)', refusedEverywhere],
  ['connection reset', () => withCode('read ECONNRESET', 'ECONNRESET')],
  ['connect timed out', () => withCode('connect ETIMEDOUT 10.0.0.5:5432', 'ETIMEDOUT')],
  ['broken pipe', () => withCode('write EPIPE', 'EPIPE')],
  ['host unreachable', () => withCode('connect EHOSTUNREACH 10.0.0.5:5432', 'EHOSTUNREACH')],
  ['network unreachable', () => withCode('connect ENETUNREACH 10.0.0.5:5432', 'ENETUNREACH')],
  ["pg's connection terminated unexpectedly", () => new Error('Connection terminated unexpectedly')],
  ["pg's connection terminated", () => new Error('Connection terminated')],
  [
    "pg's connect timeout",
    () =>
      new Error('Connection terminated due to connection timeout', {
        cause: new Error('Connection terminated unexpectedly'),
      }),
  ],
  ["pg-pool's checkout timeout", () => new Error('timeout exceeded when trying to connect')],
  [
    "pg's client after its connection failed",
    () => new Error('Client has encountered a connection error and is not queryable'),
  ],
  ["the store's own query deadline", () => queryTimeoutError(2_000)],
  ['SQLSTATE 08006 connection_failure', () => sqlState('08006')],
  ['SQLSTATE 08001 sqlclient_unable_to_establish_sqlconnection', () => sqlState('08001')],
  ['SQLSTATE 08003 connection_does_not_exist', () => sqlState('08003')],
  ['SQLSTATE 57P01 admin_shutdown', () => sqlState('57P01')],
  ['SQLSTATE 57P02 crash_shutdown', () => sqlState('57P02')],
  ['SQLSTATE 57P03 cannot_connect_now', () => sqlState('57P03')],
  ['SQLSTATE 53300 too_many_connections', () => sqlState('53300')],
];

const notRetried: [string, () => unknown][] = [
  ['a TypeError of ours', () => new TypeError("Cannot read properties of undefined (reading 'id')")],
  ['a plain Error of ours', () => new Error('at is not a valid Date')],
  ['a thrown string', () => 'boom'],
  ['a Kysely no-result error', () => Object.assign(new Error('no result'), { name: 'NoResultError' })],
  ['pg: a closed client (our close() came first)', () => new Error('Client was closed and is not queryable')],
  ['pg-pool: a pool already ended', () => new Error('Cannot use a pool after calling end on the pool')],
  ['an unknown errno-like code', () => withCode('something odd', 'ERR_INVALID_ARG_TYPE')],
  ['SQLSTATE 23505 unique_violation', () => sqlState('23505')],
  ['SQLSTATE 42P01 undefined_table', () => sqlState('42P01')],
  ['SQLSTATE 22P02 invalid_text_representation', () => sqlState('22P02')],
  ['SQLSTATE 57014 query_canceled', () => sqlState('57014')],
  ['SQLSTATE 40001 serialization_failure', () => sqlState('40001')],
  ['SQLSTATE 28P01 invalid_password', () => sqlState('28P01')],
  ['SQLSTATE 3D000 invalid_catalog_name', () => sqlState('3D000')],
];

describe('isStoreUnavailable: what the audit writer keeps and tries again', () => {
  it.each(retried)('PostgreSQL, %s: the database does not answer', (_name, make) => {
    const err = toStoreError(make(), pg, 'audit.recordMany');
    expect(err.code).toBe('store');
    expect(isStoreUnavailable(err)).toBe(true);
  });

  it.each(notRetried)('PostgreSQL, %s: refused or a bug, not retried', (_name, make) => {
    const err = toStoreError(make(), pg, 'audit.recordMany');
    expect(err.code).toBe('store');
    expect(isStoreUnavailable(err)).toBe(false);
  });

  it('SQLite is never "not answering": a refusal there is not retried', () => {
    expect(isStoreUnavailable(toStoreError(withCode('read ECONNRESET', 'ECONNRESET'), sqlite, 'x'))).toBe(
      false,
    );
    expect(isStoreUnavailable(toStoreError(new Error('database is locked'), sqlite, 'x'))).toBe(false);
  });

  it('an AppError of ours passes through, not unavailable; nor is anything that is not a store error', () => {
    const own = new AppError('bad_input', 'no such change');
    expect(toStoreError(own, pg, 'x')).toBe(own);
    expect(isStoreUnavailable(own)).toBe(false);
    expect(isStoreUnavailable(withCode('read ECONNRESET', 'ECONNRESET'))).toBe(false);
  });
});

const DATABASE_URL = process.env.DATABASE_URL;

describe.skipIf(!DATABASE_URL)('isStoreUnavailable on the real wire (PostgreSQL behind a TCP proxy)', () => {
  let proxy: TcpProxy;
  let store: Store;
  let schema: string;
  const dir = mkdtempSync(path.join(tmpdir(), 'opsbot-errors-'));
  const row = (id: string): AuditRecord => ({
    at: new Date(Date.UTC(2026, 4, 3, 23, 0, 0)),
    actorId: 'U0ALICE',
    source: 'slack',
    command: 'opsbot',
    args: 'help',
    outcome: 'ok',
    correlationId: id,
  });
  const failure = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => {
        throw new Error('expected the store call to fail');
      },
      (err: unknown) => err,
    );

  beforeAll(async () => {
    const made = await createTestSchema(DATABASE_URL as string);
    schema = made.schema;
    const base = new URL(DATABASE_URL as string);
    proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 5432) });
    store = await openStore({
      databaseUrl: viaProxy(made.databaseUrl, proxy),
      dataDir: dir,
      queryTimeoutMs: 500,
    });
  });
  afterEach(() => proxy.restore());
  afterAll(async () => {
    await store?.close();
    await proxy?.close();
    if (schema) await dropTestSchema(DATABASE_URL as string, schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it('every connection reset and new ones refused: unavailable', async () => {
    await store.audit.record(row('before-cut'));
    proxy.cut();
    expect(isStoreUnavailable(await failure(store.audit.record(row('cut'))))).toBe(true);
  });

  it("nothing answers (the store's own query deadline): unavailable", async () => {
    // Connections the previous test's cut left behind may fail once more: wait until a write goes through.
    await expect
      .poll(
        () =>
          store.audit.record(row('before-hole')).then(
            () => true,
            () => false,
          ),
        { timeout: 5_000 },
      )
      .toBe(true);
    proxy.blackhole();
    const err = await failure(store.audit.record(row('hole')));
    expect(isStoreUnavailable(err)).toBe(true);
  });

  it('a bug of ours inside a store call (a value pg cannot serialize): refused, not unavailable', async () => {
    const unserializable = {
      toJSON() {
        throw new TypeError('not serializable');
      },
    } as unknown as string;
    const err = await failure(store.audit.record({ ...row('bug'), args: unserializable }));
    expect(err).toMatchObject({ code: 'store', cause: { message: 'not serializable' } });
    expect(isStoreUnavailable(err)).toBe(false);
  });
});
