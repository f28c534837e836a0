/** The fleet view as data: every VM restart in a window, grouped, and the upcoming maintenance. */

import type { DownCause } from '../why-reboot/rules-audit.js';

/** Why a VM went down: the why-reboot audit causes, a user's reset, or unknown (only the restart is logged). */
export type FleetCause = DownCause | 'reset' | 'unknown';

export const FLEET_CAUSES: readonly FleetCause[] = [
  'host-error',
  'preemption',
  'guest-shutdown',
  'host-maintenance',
  'mig-recreate',
  'mig-halt',
  'system-reset',
  'stop',
  'delete',
  'reset',
  'unknown',
];

/** Plural phrases for group headlines: "14 VMs in us-central1-a, host errors between 23:31 and 23:36". */
export const CAUSE_LABEL: Readonly<Record<FleetCause, string>> = {
  'host-error': 'host errors',
  preemption: 'preemptions',
  'guest-shutdown': 'shutdowns from inside the guest',
  'host-maintenance': 'terminations for host maintenance',
  'mig-recreate': 'recreations by a managed instance group',
  'mig-halt': 'restarts by a managed instance group',
  'system-reset': 'resets by the platform',
  stop: 'stops and starts',
  delete: 'deletions',
  reset: 'resets by a user',
  unknown: 'automatic restarts (what took them down is before the window)',
};

export interface FleetRestart {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly instanceId: string | null;
  readonly cause: FleetCause;
  /** When it went down (the first audit entry of the operation). */
  readonly at: string;
  /** When it was back (automaticRestart / start), null when not back in the window. */
  readonly upAt: string | null;
  readonly downtimeMs: number | null;
  /** Who did it: a principal email, or "system" for the platform. */
  readonly actor: string;
  readonly method: string;
}

export interface FleetGroup {
  /** Stable for a group as it grows later: cause|zone|first restart. */
  readonly key: string;
  readonly cause: FleetCause;
  readonly zone: string;
  readonly projects: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly restarts: readonly FleetRestart[];
}

export interface FleetMaintenance {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly type: string | null;
  readonly windowStart: string | null;
  readonly windowEnd: string | null;
  readonly canReschedule: boolean | null;
  /** onHostMaintenance=MIGRATE: the VM is live-migrated, no restart. null when not known. */
  readonly canLiveMigrate: boolean | null;
  readonly status: string | null;
}

export interface FleetSource {
  readonly project: string;
  readonly what: 'audit-logs' | 'instances';
  readonly status: 'ok' | 'failed' | 'partial';
  /** Audit entries read, or instances listed. */
  readonly items: number;
  readonly pages: number;
  readonly reason: string | null;
}

export interface FleetFilters {
  readonly labels: Readonly<Record<string, string>>;
  readonly cause: FleetCause | null;
}

export interface FleetReport {
  readonly window: { readonly from: string; readonly to: string };
  readonly projects: readonly string[];
  readonly filters: FleetFilters;
  readonly groups: readonly FleetGroup[];
  readonly restarts: number;
  readonly maintenance: readonly FleetMaintenance[];
  readonly sources: readonly FleetSource[];
  readonly notes: readonly string[];
}
