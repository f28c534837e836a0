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
});
