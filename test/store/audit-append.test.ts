import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAuditRowToSqlite } from '../../src/store/audit-append.js';
import { findKnownInstancesInSqlite, rememberInstancesInSqlite } from '../../src/store/instance-file.js';
import { MIGRATION_NAMES } from '../../src/store/migration-names.js';
import { migrations } from '../../src/store/migrations.js';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/open.js';
import type { AuditRecord } from '../../src/store/types.js';

const entry = (command: string): AuditRecord => ({
  at: new Date('2026-12-02T01:00:00Z'),
  actorId: 'cli:root',
  source: 'cli',
  command,
  args: 'web-1 --syslog /var/log/syslog',
  target: 'web-1',
  outcome: 'ok',
  detail: 'verdict guest_reboot (offline)',
  correlationId: 'c-1',
  durationMs: 12.4,
});

describe("the CLI's direct audit append (node:sqlite, no Kysely)", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'opsbot-append-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('knows every migration by name, in order (a stale list would send every CLI run the slow way)', () => {
    expect(MIGRATION_NAMES).toEqual(migrations.map((m) => m.name));
  });

  it('writes the row the store writes, readable through the store', async () => {
    await (await openStore({ dataDir })).close();
    expect(appendAuditRowToSqlite(dataDir, entry('why-reboot'), { busyTimeoutMs: 1000 })).toBe(true);
    const store = await openStore({ dataDir });
    try {
      await store.audit.record(entry('diag'));
      const rows = await store.audit.list();
      const appended = rows.find((r) => r.command === 'why-reboot');
      const recorded = rows.find((r) => r.command === 'diag');
      expect(appended).toBeDefined();
      const { id: idA, command: _a, ...restA } = appended as AuditRecord;
      const { id: idB, command: _b, ...restB } = recorded as AuditRecord;
      expect(restA).toEqual(restB);
      expect(restA.durationMs).toBe(12);
      expect(idA).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(idB).not.toBe(idA);
    } finally {
      await store.close();
    }
  });

  it('writes nothing when there is no store file yet (the full open creates and migrates it)', () => {
    expect(appendAuditRowToSqlite(dataDir, entry('why-reboot'), { busyTimeoutMs: 1000 })).toBe(false);
  });

  it('writes nothing when a migration is pending or the file is newer than this opsbot', async () => {
    await (await openStore({ dataDir })).close();
    const file = path.join(dataDir, SQLITE_FILE_NAME);
    const db = new DatabaseSync(file);
    const last = MIGRATION_NAMES[MIGRATION_NAMES.length - 1] as string;
    db.prepare('DELETE FROM kysely_migration WHERE name = ?').run(last);
    db.close();
    expect(appendAuditRowToSqlite(dataDir, entry('why-reboot'), { busyTimeoutMs: 1000 })).toBe(false);
    const db2 = new DatabaseSync(file);
    db2
      .prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)')
      .run(last, new Date().toISOString());
    db2.prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)').run('9999_future', 'x');
    db2.close();
    expect(appendAuditRowToSqlite(dataDir, entry('why-reboot'), { busyTimeoutMs: 1000 })).toBe(false);
    const peek = new DatabaseSync(file, { readOnly: true });
    expect(peek.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 0 });
    peek.close();
  });
});

describe("the CLI's direct instance memory (node:sqlite, no Kysely)", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'opsbot-known-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  const web1 = (id: string, at: string) => ({
    project: 'p1',
    zone: 'us-central1-a',
    name: 'web-1',
    id,
    creationTimestamp: null,
    seenAt: new Date(at),
  });

  it('reads and writes the rows the store reads and writes', async () => {
    const store = await openStore({ dataDir });
    try {
      await store.instances.remember([web1('111', '2026-12-01T10:00:00Z')]);
      expect(
        findKnownInstancesInSqlite(
          dataDir,
          { project: 'p1', zone: null, name: 'web-1' },
          { busyTimeoutMs: 1000 },
        ),
      ).toEqual([web1('111', '2026-12-01T10:00:00Z')]);
      expect(
        rememberInstancesInSqlite(dataDir, [web1('222', '2026-12-01T11:00:00Z')], { busyTimeoutMs: 1000 }),
      ).toBe(true);
      // Older than what is stored: ignored, as the store's upsert does.
      expect(
        rememberInstancesInSqlite(dataDir, [web1('000', '2026-12-01T09:00:00Z')], { busyTimeoutMs: 1000 }),
      ).toBe(true);
      expect(await store.instances.find({ project: 'p1', zone: 'us-central1-a', name: 'web-1' })).toEqual([
        web1('222', '2026-12-01T11:00:00Z'),
      ]);
    } finally {
      await store.close();
    }
  });

  it('touches nothing without a current store file (no file, or a migration pending)', async () => {
    const q = { project: 'p1', zone: null, name: 'web-1' };
    expect(findKnownInstancesInSqlite(dataDir, q, { busyTimeoutMs: 1000 })).toBeNull();
    expect(
      rememberInstancesInSqlite(dataDir, [web1('1', '2026-12-01T10:00:00Z')], { busyTimeoutMs: 1000 }),
    ).toBe(false);
    await (await openStore({ dataDir })).close();
    const db = new DatabaseSync(path.join(dataDir, SQLITE_FILE_NAME));
    db.prepare('DELETE FROM kysely_migration WHERE name = ?').run(
      MIGRATION_NAMES[MIGRATION_NAMES.length - 1] as string,
    );
    db.close();
    expect(findKnownInstancesInSqlite(dataDir, q, { busyTimeoutMs: 1000 })).toBeNull();
    expect(
      rememberInstancesInSqlite(dataDir, [web1('1', '2026-12-01T10:00:00Z')], { busyTimeoutMs: 1000 }),
    ).toBe(false);
  });
});
