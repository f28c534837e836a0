/**
 * Seeds for the Compute / Logging fakes from the real captures in /work/shared/corpus (see its README):
 * gcpdiag instances and serial output, iap-desktop and gcpdiag audit entries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeLogEntry } from './gce-logging.js';

export const CORPUS_DIR = process.env.OPSBOT_CORPUS_DIR ?? '/work/shared/corpus';

const readJson = (file: string): unknown => JSON.parse(readFileSync(join(CORPUS_DIR, file), 'utf8'));

export interface CorpusInstance {
  readonly project: string;
  readonly zone: string;
  readonly instance: Record<string, unknown>;
}

/** gcpdiag `gce5` instances (project gcpdiag-gce5-aaaa), as aggregatedList returned them. */
export const loadCorpusInstances = (): CorpusInstance[] => {
  const agg = readJson('gcpdiag/gce5-compute-instances-aggregated.json') as {
    items: Record<string, { instances?: Record<string, unknown>[] }>;
  };
  const out: CorpusInstance[] = [];
  for (const [scope, list] of Object.entries(agg.items)) {
    for (const instance of list.instances ?? []) {
      const link = String(instance.selfLink ?? '');
      const project = /\/projects\/([^/]+)\//.exec(link)?.[1] ?? 'gcpdiag-gce5-aaaa';
      out.push({ project, zone: scope.replace(/^zones\//, ''), instance });
    }
  }
  return out;
};

/** The whole text of a real Debian 11 boot on GCE's serial port 1. */
export const loadCorpusSerial = (which: 'valid' | 'faulty' = 'valid'): string =>
  (readJson(`gcpdiag/gce2-compute-serial-port-output-${which}-linux-ssh.json`) as { contents: string })
    .contents;

/** iap-desktop events, one file per event type (HostError, Reset, ...): anonymized project-1/instance-1. */
export const loadIapDesktopEntries = (event?: string): FakeLogEntry[] => {
  const files = readdirSync(join(CORPUS_DIR, 'iap-desktop')).filter(
    (f) => f.endsWith('.json') && (event === undefined || f === `${event}.json`),
  );
  return files.flatMap((f) => (readJson(`iap-desktop/${f}`) as { entries: FakeLogEntry[] }).entries);
};

/** gcpdiag's 169 real audit entries (ScheduledVMs, stop, preempted) of project gcpdiag-gce5-aaaa. */
export const loadGcpdiagAuditEntries = (): FakeLogEntry[] =>
  (readJson('gcpdiag/gce5-logging-entries-1.json') as { entries: FakeLogEntry[] }).entries;
