/**
 * The three GCE fakes /diag talks to (Compute, Cloud Logging, Cloud Monitoring), seeded with a host scenario,
 * and a config file pointing opsbot at them (static token: nothing reaches Google's token host).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeCompute, startFakeCompute } from './gce-compute.js';
import { TEST_TOKEN } from './gce-env.js';
import { type FakeLogging, startFakeLogging } from './gce-logging.js';
import { type FakeMonitoring, startFakeMonitoring } from './gce-monitoring.js';
import { writeGceServeConfig } from './gce-serve-config.js';
import type { HostScenario } from './host-scenarios.js';

export interface DiagFakes {
  readonly compute: FakeCompute;
  readonly logging: FakeLogging;
  readonly monitoring: FakeMonitoring;
  readonly dir: string;
  /** A config file with google.endpoints.{compute,logging,monitoring} and a store under `dir`. */
  readonly configPath: string;
  seed(scenario: HostScenario): void;
  close(): Promise<void>;
}

/** `extraConfig`: more top-level config lines; `googleConfig`: more lines of the google section. */
export const startDiagFakes = async (
  extraConfig: readonly string[] = [],
  googleConfig: readonly string[] = [],
): Promise<DiagFakes> => {
  const [compute, logging, monitoring] = await Promise.all([
    startFakeCompute({ accessToken: TEST_TOKEN }),
    startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 50, emptyPagesBefore: 1 }),
    startFakeMonitoring({ accessToken: TEST_TOKEN, maxPageSize: 3, emptyPagesBefore: 1 }),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-diag-'));
  const configPath = writeGceServeConfig(
    dir,
    { compute, logging, monitoring },
    { google: googleConfig, extra: extraConfig },
  );
  return {
    compute,
    logging,
    monitoring,
    dir,
    configPath,
    seed(s) {
      compute.addInstance(s.target.project, s.target.zone, s.instance);
      logging.addEntries([...s.audit, ...s.guest]);
      monitoring.addSeries(s.series);
    },
    async close() {
      await Promise.all([compute.close(), logging.close(), monitoring.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
