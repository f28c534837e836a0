/**
 * Another opsbot process for the contract tests (not a test itself). Says `started`; on the first stdin line
 * it opens the store (racing the other writers to migrate a fresh database) and says `ready`; on the second
 * (change ids) it tries to approve every change while writing audit rows, and reports what it won and any
 * error.
 *
 * Run by plain `node` (which strips this file's types) over the compiled dist/ that vitest's globalSetup
 * keeps current, as a deployed opsbot runs: loading tsx and transforming src/ cost each writer ~1.4 CPU-seconds.
 */
import module from 'node:module';
import { createInterface } from 'node:readline';
import type * as OpenStore from '../../src/store/open.js';

module.enableCompileCache?.();
const { openStore } = (await import(
  new URL('../../dist/store/open.js', import.meta.url).href
)) as typeof OpenStore;

interface Job {
  readonly databaseUrl?: string;
  readonly dataDir: string;
  readonly writer: string;
  readonly rows: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const errors: string[] = [];
const describe = (err: unknown) =>
  err instanceof Error
    ? `${err.name}: ${err.message} ${String((err.cause as Error | undefined)?.message ?? '')}`
    : String(err);

const lines = createInterface({ input: process.stdin });
const input = lines[Symbol.asyncIterator]();
const nextLine = async (): Promise<string> => {
  const r = await input.next();
  if (r.done) process.exit(3);
  return r.value;
};
process.stdout.write(`${JSON.stringify({ started: true })}\n`);
// Every writer opens on the same signal, so their migrations of a fresh database really overlap.
await nextLine();

const store = await openStore({
  dataDir: job.dataDir,
  ...(job.databaseUrl ? { databaseUrl: job.databaseUrl } : {}),
}).catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ openError: describe(err) })}\n`);
  process.exit(2);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

const first = await nextLine();
lines.close();
const { ids } = JSON.parse(first) as { ids: string[] };

const wins: string[] = [];
const approve = async () => {
  for (const id of ids) {
    try {
      const r = await store.changes.transition(id, ['planned'], {
        status: 'approved',
        approvedBy: job.writer,
      });
      if (r) wins.push(id);
    } catch (err) {
      errors.push(describe(err));
    }
  }
};
const audit = async () => {
  for (let i = 0; i < job.rows; i++) {
    try {
      await store.audit.record({
        at: new Date(),
        actorId: job.writer,
        source: 'cli',
        command: 'concurrency',
        args: `row ${i}`,
        outcome: 'ok',
        correlationId: `${job.writer}-${i}`,
      });
    } catch (err) {
      errors.push(describe(err));
    }
  }
};
await Promise.all([approve(), audit()]);
await store.close();
process.stdout.write(`${JSON.stringify({ wins, errors })}\n`);
