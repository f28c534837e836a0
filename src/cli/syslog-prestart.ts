import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWindow } from '../playbooks/why-reboot/request.js';
import { defaultScanThreads } from '../playbooks/why-reboot/syslog-scan-core.js';
import type { CliIo } from './io.js';

/** A window at least this long may cover most of a file: worth the workers. Shorter ones seek and read little. */
const LONG_WINDOW_MS = 7 * 86_400_000;

/** Size of a plain (not gzip) file, or null (unreadable, gzip: streamed on one thread). */
const plainSize = (path: string): number | null => {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const magic = Buffer.alloc(2);
    const n = readSync(fd, magic, 0, 2, 0);
    if (n === 2 && magic[0] === 0x1f && magic[1] === 0x8b) return null;
    return fstatSync(fd).size;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
};

/**
 * Starts the syslog scan's worker threads before the command has loaded, when its flags ask for a large
 * `--syslog` scan: a plain file big enough for several threads, and no window or a long one. They boot while
 * the command loads its modules and reads its other files; a guess that is wrong costs an idle thread (a short
 * window) or a later start (the scan then does more on its own thread). Never throws nor rejects: the command
 * reports bad flags itself. Resolves once the workers are started (node:worker_threads loads only then).
 */
export const prestartSyslogScan = (args: readonly string[], io: CliIo): Promise<void> => {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        syslog: { type: 'string', multiple: true },
        since: { type: 'string' },
        until: { type: 'string' },
      },
      strict: false,
      allowPositionals: true,
    });
    const files = (values.syslog ?? []).filter((f): f is string => typeof f === 'string');
    if (files.length === 0) return Promise.resolve();
    const since = typeof values.since === 'string' ? values.since : undefined;
    const until = typeof values.until === 'string' ? values.until : undefined;
    if (since !== undefined || until !== undefined) {
      const w = buildWindow(since, until, io.now());
      if (w.to.getTime() - w.from.getTime() < LONG_WINDOW_MS) return Promise.resolve();
    }
    let threads = 1;
    for (const f of files)
      threads = Math.max(threads, defaultScanThreads(plainSize(resolve(io.cwd, f)) ?? 0));
    if (threads > 1) {
      return import('../playbooks/why-reboot/syslog-workers.js').then(
        (m) => m.prestartScanWorkers(threads - 1),
        () => undefined,
      );
    }
  } catch {
    // An unreadable flag: the command says so.
  }
  return Promise.resolve();
};
