/**
 * /why-reboot, live, assembled once for every front end (the Slack command in main.ts, `opsbot why-reboot` in
 * src/cli/why-reboot.ts): collect the evidence over the GCE ports, then analyse it.
 */
import type { ComputePort, LoggingPort } from '../../integrations/gce/port.js';
import { analyze } from './analyze.js';
import { type CollectTimeouts, collectEvidence } from './collect.js';
import type { InstanceMemory } from './instance-memory.js';
import type { TimeWindow, WhyRebootReport } from './types.js';

export interface WhyRebootPorts {
  readonly compute: ComputePort;
  readonly logging: LoggingPort;
  /** What opsbot last saw of each VM (the store's `instances`): the id-keyed queries then start at once. */
  readonly memory?: InstanceMemory | undefined;
}

/** The `google` section of the config that /why-reboot reads. */
export interface WhyRebootSettings {
  readonly defaultProject?: string | undefined;
  readonly projects?: readonly string[] | undefined;
  readonly timeouts: CollectTimeouts;
  readonly journaldLog?: string | undefined;
}

export interface WhyRebootQuestion {
  readonly vm: string;
  readonly project?: string | null | undefined;
  readonly zone?: string | null | undefined;
  readonly window: TimeWindow;
  /** Called once the instance is known and its id-based queries have left (the CLI then opens its store). */
  readonly onInstance?: (() => void) | undefined;
}

export const investigateWhyReboot = async (
  ports: WhyRebootPorts,
  settings: WhyRebootSettings,
  question: WhyRebootQuestion,
  now: () => Date,
): Promise<WhyRebootReport> => {
  const evidence = await collectEvidence(
    {
      compute: ports.compute,
      logging: ports.logging,
      memory: ports.memory,
      now,
      timeouts: settings.timeouts,
      journaldLog: settings.journaldLog,
    },
    {
      vm: question.vm,
      project: question.project ?? undefined,
      zone: question.zone ?? undefined,
      window: question.window,
      defaultProject: settings.defaultProject,
      projects: settings.projects,
      onInstance: question.onInstance,
    },
  );
  return analyze(evidence, { now: now() });
};
