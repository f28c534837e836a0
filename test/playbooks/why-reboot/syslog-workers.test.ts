import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import { scanSyslogFile } from '../../../src/playbooks/why-reboot/syslog-file.js';
import type { SegmentJob } from '../../../src/playbooks/why-reboot/syslog-scan-core.js';

/**
 * Scan workers that fail, in the ways a real one can: it cannot start at all, it stops right after claiming a
 * segment, or it stops after its first batch of lines went into the merge. node:worker_threads is replaced for
 * this file only (the other scan tests run real workers).
 */
type Behaviour = 'no-start' | 'claim-then-exit' | 'batch-then-exit';
const { behaviour, started } = vi.hoisted(() => ({
  behaviour: { now: 'no-start' as Behaviour },
  started: [] as string[],
}));

vi.mock('node:worker_threads', async () => {
  const { EventEmitter } = await import('node:events');
  class FakeWorker extends EventEmitter {
    constructor() {
      super();
      started.push(behaviour.now);
      if (behaviour.now === 'no-start')
        setImmediate(() => {
          this.emit('error', new Error('cannot start a worker here'));
          this.emit('exit', 1);
        });
    }
    postMessage(job: SegmentJob): void {
      const claims = new Int32Array(job.claims);
      setImmediate(() => {
        const seg = Atomics.add(claims, 0, 1);
        if (seg < job.cuts.length - 1) {
          this.emit('message', { type: 'claim', seg });
          if (behaviour.now === 'batch-then-exit')
            this.emit('message', {
              type: 'hits',
              seg,
              offsets: [0],
              lines: [0],
              texts: ['Jan  4 10:00:00 web-1 systemd-logind[1]: System is rebooting.'],
            });
        }
        this.emit('exit', 1);
      });
    }
    ref(): void {}
    unref(): void {}
    terminate(): Promise<number> {
      return Promise.resolve(1);
    }
  }
  return { Worker: FakeWorker, parentPort: null, workerData: null };
});

const dir = mkdtempSync(join(tmpdir(), 'opsbot-workers-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const path = join(dir, 'fallback.log');
const lines = Array.from({ length: 20_000 }, (_, i) => {
  const s = i % 60;
  const m = Math.floor(i / 60) % 60;
  const stamp = `Jan  4 ${String(10 + Math.floor(i / 3600)).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return `${stamp} web-1 ${i % 500 === 7 ? 'systemd-logind[456]: System is rebooting.' : `app[9]: request ${i} done`}`;
});
writeFileSync(path, `${lines.join('\n')}\n`);
const base = { referenceDate: new Date('2026-01-05T00:00:00Z'), chunkBytes: 64 * 1024 };

describe('a parallel scan whose workers fail', () => {
  beforeEach(() => {
    started.length = 0;
  });

  it('scans every segment on this thread when no worker starts, with the same result', async () => {
    const one = await scanSyslogFile(path, { ...base, threads: 1 });
    expect(one.events).toHaveLength(40);
    behaviour.now = 'no-start';
    for (const scanOnThisThread of [true, false]) {
      const par = await scanSyslogFile(path, { ...base, threads: 3, scanOnThisThread });
      expect(started.length).toBeGreaterThan(0);
      expect(par.events).toEqual(one.events);
      expect(par.linesScanned).toBe(one.linesScanned);
      expect(par.bytesScanned).toBe(one.bytesScanned);
      expect(par.stats?.workerSegments).toBe(0);
      expect(par.stats?.segments).toBeGreaterThan(1);
    }
  });

  it('rescans a segment a worker claimed and dropped before any of it was merged', async () => {
    const one = await scanSyslogFile(path, { ...base, threads: 1 });
    behaviour.now = 'claim-then-exit';
    const par = await scanSyslogFile(path, { ...base, threads: 3, scanOnThisThread: false });
    expect(par.events).toEqual(one.events);
    expect(par.linesScanned).toBe(one.linesScanned);
    expect(par.stats?.workerSegments).toBe(0);
  });

  it('fails the scan when a worker stops after part of its segment was merged', async () => {
    behaviour.now = 'batch-then-exit';
    const err = await scanSyslogFile(path, { ...base, threads: 3, scanOnThisThread: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toContain('fallback.log');
  });
});
