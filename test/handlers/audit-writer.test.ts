import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { createAuditWriter } from '../../src/handlers/pipeline.js';
import { type ErrorContext, toStoreError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import type { AuditRecord, Store } from '../../src/store/types.js';

const row = (i: number, over: Partial<AuditRecord> = {}): AuditRecord => ({
  at: new Date(Date.UTC(2026, 4, 3, 23, 0, 0) + i),
  actorId: 'U0ALICE',
  source: 'slack',
  command: 'opsbot',
  args: `help ${i}`,
  outcome: 'ok',
  correlationId: `c-${i}`,
  ...over,
});

const pgErrors: ErrorContext = { engine: 'postgres', scrub: (t) => t };

const captured = (): { logger: Logger; lines: () => Record<string, unknown>[] } => {
  const out: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void out.push(l) }) as unknown as Logger;
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
};

let store: Store | null = null;
let dir: string | null = null;
afterEach(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  store = null;
  dir = null;
});

const openTemp = async (): Promise<Store> => {
  dir = await mkdtemp(path.join(tmpdir(), 'opsbot-audit-writer-'));
  store = await openStore({ dataDir: dir });
  return store;
};

describe('audit writer', () => {
  it('writes a burst of 5,000 rows through the real store in multi-row batches, none lost', async () => {
    const s = await openTemp();
    let manyCalls = 0;
    let singleCalls = 0;
    const repo = {
      record: (e: AuditRecord) => {
        singleCalls += 1;
        return s.audit.record(e);
      },
      recordMany: (es: readonly AuditRecord[]) => {
        manyCalls += 1;
        return s.audit.recordMany(es);
      },
    };
    const { logger } = captured();
    const writer = createAuditWriter(repo, { logger });
    for (let i = 0; i < 5000; i++) writer.enqueue(row(i));
    await writer.flush();
    expect(manyCalls).toBeGreaterThan(0);
    expect(manyCalls).toBeLessThanOrEqual(10); // batches of up to 500 rows, not one statement per row
    expect(singleCalls).toBe(0);
    expect(writer.dropped).toBe(0);
    expect(writer.failed).toBe(0);
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path.join(dir as string, 'opsbot.sqlite'));
    expect((db.prepare('select count(*) as n from audit_log').get() as { n: number }).n).toBe(5000);
    db.close();
  });

  it('a batch the store refuses is retried row by row: only the bad row is lost, and it is logged and counted', async () => {
    const s = await openTemp();
    const { logger, lines } = captured();
    let errors = 0;
    const writer = createAuditWriter(s.audit, { logger, onError: () => errors++ });
    for (let i = 0; i < 10; i++) writer.enqueue(row(i, i === 4 ? { at: new Date('nope') } : {}));
    await writer.flush();
    const written = await s.audit.list({ limit: 100 });
    expect(written).toHaveLength(9);
    expect(written.map((r) => r.correlationId)).not.toContain('c-4');
    expect(writer.failed).toBe(1);
    expect(errors).toBe(1);
    const failure = lines().find((l) => l.msg === 'audit rows could not be written');
    expect(failure).toMatchObject({ rows: 1, correlationIds: ['c-4'] });
  });

  it('never drops silently: a full queue counts every dropped row and logs them in summaries, not one line per row', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const written: AuditRecord[] = [];
    const repo = {
      record: async (e: AuditRecord) => {
        await gate;
        written.push(e);
      },
      recordMany: async (es: readonly AuditRecord[]) => {
        await gate;
        written.push(...es);
      },
    };
    const { logger, lines } = captured();
    let errors = 0;
    let clock = 0;
    const writer = createAuditWriter(repo, {
      logger,
      onError: () => errors++,
      maxQueue: 100,
      maxBatch: 50,
      now: () => clock,
    });
    writer.enqueue(row(0)); // taken by the (blocked) writer on its next turn
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (let i = 1; i <= 1000; i++) {
      writer.enqueue(row(i));
      if (i % 250 === 0) clock += 600;
    }
    release();
    await writer.flush();
    expect(written.length + writer.dropped).toBe(1001);
    expect(writer.dropped).toBeGreaterThan(800);
    expect(errors).toBe(writer.dropped);
    const dropLines = lines().filter((l) => l.msg === 'audit queue full; rows dropped');
    expect(dropLines.length).toBeGreaterThanOrEqual(2);
    expect(dropLines.length).toBeLessThan(10);
    expect(dropLines.reduce((n, l) => n + Number(l.dropped), 0)).toBe(writer.dropped);
    expect(dropLines.at(-1)?.droppedTotal).toBe(writer.dropped);
  });

  it('while PostgreSQL does not answer, rows wait and are written in order once it does; none counted as failed', async () => {
    const written: AuditRecord[] = [];
    let down = true;
    let attempts = 0;
    const unavailable = () =>
      toStoreError(
        Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        pgErrors,
        'audit.record',
      );
    const repo = {
      record: async (e: AuditRecord) => {
        attempts += 1;
        if (down) throw unavailable();
        written.push(e);
      },
      recordMany: async (es: readonly AuditRecord[]) => {
        attempts += 1;
        if (down) throw unavailable();
        written.push(...es);
      },
    };
    const { logger, lines } = captured();
    let errors = 0;
    const writer = createAuditWriter(repo, {
      logger,
      onError: () => errors++,
      retryDelayMs: 5,
      maxRetryDelayMs: 20,
    });
    for (let i = 0; i < 5; i++) writer.enqueue(row(i));
    await expect.poll(() => attempts, { timeout: 5_000 }).toBeGreaterThanOrEqual(3); // tried again, and again
    expect(written).toHaveLength(0);
    down = false;
    writer.enqueue(row(5));
    await writer.flush();
    expect(written.map((r) => r.correlationId)).toEqual(['c-0', 'c-1', 'c-2', 'c-3', 'c-4', 'c-5']);
    expect(writer.failed).toBe(0);
    expect(errors).toBe(0);
    expect(
      lines().filter((l) => l.msg === 'the store does not answer; audit rows kept to write later'),
    ).toHaveLength(1);
    expect(lines().some((l) => l.msg === 'audit rows could not be written')).toBe(false);
  });
  it('a bug of ours thrown inside a store call is not taken for an outage: the row is counted lost once, not retried', async () => {
    let attempts = 0;
    const bug = () => toStoreError(new TypeError('not serializable'), pgErrors, 'audit.record');
    const repo = {
      record: async (_e: AuditRecord) => {
        attempts += 1;
        throw bug();
      },
    };
    const { logger, lines } = captured();
    let errors = 0;
    const writer = createAuditWriter(repo, { logger, onError: () => errors++, retryDelayMs: 5 });
    writer.enqueue(row(0));
    await writer.flush();
    expect(attempts).toBe(1);
    expect(writer.failed).toBe(1);
    expect(errors).toBe(1);
    expect(lines().some((l) => l.msg === 'the store does not answer; audit rows kept to write later')).toBe(
      false,
    );
  });
});
