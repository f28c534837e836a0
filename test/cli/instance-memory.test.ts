import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCliInstanceMemory } from '../../src/cli/instance-memory.js';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/open.js';

describe("the CLI's instance memory", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'opsbot-cli-known-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  const settings = () => ({
    databaseUrl: undefined,
    dataDir,
    busyTimeoutMs: 1000,
    now: () => new Date('2026-12-02T04:00:00Z'),
  });
  const web1 = {
    project: 'p1',
    zone: 'us-central1-a',
    name: 'web-1',
    id: '42',
    creationTimestamp: null,
    seenAt: new Date('2026-12-02T04:00:00Z'),
  };

  it("remembers into the user's store at the end of the run, and the next run reads it", async () => {
    await (await openStore({ dataDir })).close();
    const first = openCliInstanceMemory(settings());
    expect(await first.find({ project: 'p1', zone: null, name: 'web-1' })).toEqual([]);
    await first.remember([web1]);
    await first.flush();
    const next = openCliInstanceMemory(settings());
    expect(await next.find({ project: 'p1', zone: null, name: 'web-1' })).toEqual([web1]);
  });

  it('creates no store for a hint alone (the audit row creates it)', async () => {
    const memory = openCliInstanceMemory(settings());
    expect(await memory.find({ project: 'p1', zone: null, name: 'web-1' })).toEqual([]);
    await memory.remember([web1]);
    await memory.flush();
    expect(existsSync(path.join(dataDir, SQLITE_FILE_NAME))).toBe(false);
  });
});
