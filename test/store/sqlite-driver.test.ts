import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/open.js';
import { openSqliteFile } from '../../src/store/sqlite-driver.js';

describe('SQLite engine', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'opsbot-sqlite-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps its data in <dataDir>/opsbot.sqlite, creating the directory, in WAL mode', async () => {
    const dataDir = path.join(root, 'nested', 'data');
    const store = await openStore({ dataDir });
    expect(store.engine).toBe('sqlite');
    await store.audit.record({
      at: new Date(0),
      actorId: 'cli:root',
      source: 'cli',
      command: 'why-reboot',
      args: 'vm-1',
      outcome: 'ok',
      correlationId: 'c1',
    });
    const file = path.join(dataDir, SQLITE_FILE_NAME);
    expect(existsSync(file)).toBe(true);
    // Another process (here: a plain connection) sees the committed row while opsbot keeps the file open.
    const peek = new DatabaseSync(file, { readOnly: true });
    try {
      expect(peek.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      expect(peek.prepare('select count(*) as n from audit_log').get()).toEqual({ n: 1 });
    } finally {
      peek.close();
    }
    await store.close();
  });

  it('adapts node:sqlite to the statement shape Kysely expects', () => {
    const db = openSqliteFile(path.join(root, 'a.sqlite'), { busyTimeoutMs: 1000 });
    try {
      db.exec('create table t (id integer primary key, v text, b integer)');
      const insert = db.prepare('insert into t (v) values (?)');
      expect(insert.reader).toBe(false);
      expect(insert.run(['x'])).toEqual({ changes: 1, lastInsertRowid: 1 });
      const returning = db.prepare('insert into t (v, b) values (?, ?) returning id, v, b');
      expect(returning.reader).toBe(true);
      // node:sqlite cannot bind booleans; Kysely may pass them.
      expect(returning.all(['y', true]).map((r) => ({ ...(r as object) }))).toEqual([
        { id: 2, v: 'y', b: 1 },
      ]);
      const select = db.prepare('select v from t where id > ? order by id');
      expect([...select.iterate([0])].map((r) => (r as { v: unknown }).v)).toEqual(['x', 'y']);
      // More statement shapes than the cache holds still run correctly.
      for (let i = 0; i < 100; i++) expect(db.prepare(`select ${i} as n`).all([])).toEqual([{ n: i }]);
      expect(db.prepare('select count(*) as n from t').all([])).toEqual([{ n: 2 }]);
    } finally {
      db.close();
    }
    expect(db.isOpen).toBe(false);
  });

  /**
   * Another process holds the fresh file's write lock (BEGIN IMMEDIATE, as a second opsbot migrating it does)
   * and lets go after `holdMs`, or when killed. Resolves once the lock is held.
   */
  const holdWriteLock = async (file: string, holdMs: number) => {
    const script = `
      const { DatabaseSync } = require('node:sqlite');
      const db = new DatabaseSync(${JSON.stringify(file)});
      db.exec('create table if not exists t (x)');
      db.exec('BEGIN IMMEDIATE');
      db.exec('insert into t values (1)');
      process.stdout.write('held\\n');
      setTimeout(() => db.exec('COMMIT'), ${holdMs});`;
    const child = spawn(process.execPath, ['--no-warnings', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout, 'data');
    return child;
  };

  it('waits for another process that holds the write lock of a fresh file before switching it to WAL', async () => {
    const file = path.join(root, 'fresh.sqlite');
    const holder = await holdWriteLock(file, 300);
    try {
      // SQLite answers "database is locked" at once here, without its busy handler: opsbot waits itself.
      const db = openSqliteFile(file, { busyTimeoutMs: 10_000 });
      try {
        expect(db.pragma('journal_mode')).toBe('wal');
        expect(db.prepare('select count(*) as n from t').all([])).toEqual([{ n: 1 }]);
      } finally {
        db.close();
      }
    } finally {
      holder.kill();
    }
  });

  it('gives up with SQLITE_BUSY once the busy timeout has passed', async () => {
    const file = path.join(root, 'held.sqlite');
    const holder = await holdWriteLock(file, 60_000);
    try {
      const t0 = performance.now();
      expect(() => openSqliteFile(file, { busyTimeoutMs: 200 })).toThrow(/database is locked/);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    } finally {
      holder.kill();
    }
  });
});
