import type { InstanceInfo, LogEntry } from '../../integrations/gce/port.js';

/**
 * The data model of /why-reboot, shared by the evidence collector (collect.ts), the guest-log scanner
 * (guest-log.ts, syslog-file.ts), the reasoning (analyze.ts) and the renderers (render-*.ts).
 */

export type Cause =
  | 'host-error'
  | 'host-maintenance'
  | 'preemption'
  | 'guest-shutdown'
  | 'guest-reboot'
  | 'kernel-panic'
  | 'user-reset'
  | 'user-stop'
  | 'scheduled-stop'
  | 'mig-recreate'
  | 'unknown';

export type Confidence = 'high' | 'medium' | 'low';

export type SourceName = 'instance' | 'audit-logs' | 'guest-logs' | 'serial-console' | 'syslog-file';

export interface SourceReport {
  readonly name: SourceName;
  readonly status: 'ok' | 'empty' | 'failed' | 'skipped';
  readonly reason: string | null; // why failed/skipped/empty, user-safe
  readonly items: number; // entries/lines/events found
  readonly durationMs: number | null;
  readonly detail?: string; // e.g. the file name, the Logging filter
}

/** What a guest log line means for restart analysis. */
export type GuestSignal =
  | 'boot' // "Linux version ...", "Command line: BOOT_IMAGE=..."
  | 'shutdown' // an orderly shutdown in progress (systemd "Reached target ... Shutdown", "System is powering down", rsyslogd exiting on signal 15)
  | 'reboot-request' // "Reached target ... Reboot", "systemd-logind: System is rebooting", shutdown -r, reboot: Restarting system
  | 'poweroff-request' // "System is powering down", "Power key pressed", "reboot: Power down"
  | 'kernel-panic' // "Kernel panic - not syncing"
  | 'oom' // "Out of memory: Kill(ed) process", "invoked oom-killer", "Memory cgroup out of memory"
  | 'lockup' // "blocked for more than N seconds", "soft lockup", "hard LOCKUP"
  | 'disk-full' // "No space left on device"
  | 'emergency-shell'; // "You are in emergency mode", "Entering emergency mode", rescue shell

/** A classified guest line. `S`: the classifier's signals (/why-reboot's by default; /diag adds host health). */
export interface GuestEvent<S extends string = GuestSignal> {
  readonly at: Date;
  readonly signal: S;
  readonly text: string; // the quoted line, trimmed to a sane length
  readonly source: 'guest-logs' | 'serial-console' | 'syslog-file';
  readonly ref: string; // where: "messages:1234", a Logging insertId, "serial@offset"
  readonly timeInferred: boolean; // classic syslog: year (and zone) were inferred
}

export interface TimeWindow {
  readonly from: Date;
  readonly to: Date;
}

/** Everything the collector (live) or the file loaders (offline) gathered. Analysis is a pure function of it. */
export interface Evidence<S extends string = GuestSignal> {
  readonly instance: InstanceInfo | null;
  readonly instanceName: string; // as asked, in case the instance no longer exists
  readonly project: string | null;
  readonly zone: string | null;
  readonly window: TimeWindow;
  readonly auditEntries: readonly LogEntry[]; // system_event + activity, any order
  readonly guestEvents: readonly GuestEvent<S>[]; // classified lines from Cloud Logging syslog/journald or files
  readonly serialEvents: readonly GuestEvent<S>[]; // classified lines from the serial console
  readonly sources: readonly SourceReport[];
  readonly notes: readonly string[]; // e.g. "syslog timestamps carry no year: assumed 2026 UTC"
}

export interface EvidenceItem {
  readonly source: SourceName;
  readonly at: string | null; // ISO 8601
  readonly text: string; // quoted: a log line, or "compute.instances.hostError by system"
  readonly ref?: string | null;
}

export interface Restart {
  readonly at: string; // ISO 8601: when the VM went down (or the event that explains it)
  readonly bootAt: string | null; // when it came back, if known
  readonly cause: Cause;
  readonly confidence: Confidence;
  readonly actor: string | null; // principal email for API calls, else null
  readonly downtimeSeconds: number | null;
  readonly summary: string; // one line
  readonly evidence: readonly EvidenceItem[];
  readonly nextSteps: readonly string[];
}

export interface TimelineItem {
  readonly at: string;
  readonly source: SourceName;
  readonly text: string;
  readonly kind: 'platform' | 'api' | 'guest' | 'serial' | 'instance';
}

export type Verdict =
  | Restart
  | { readonly cause: 'no-restart'; readonly summary: string; readonly confidence: Confidence };

export interface WhyRebootReport {
  readonly instance: {
    readonly name: string;
    readonly project: string | null;
    readonly zone: string | null;
    readonly id: string | null;
    readonly status: string | null;
    readonly lastStartTimestamp: string | null;
    readonly lastStopTimestamp: string | null;
  };
  readonly window: { readonly from: string; readonly to: string };
  readonly restarts: readonly Restart[]; // newest first
  readonly verdict: Verdict;
  readonly timeline: readonly TimelineItem[]; // newest first
  readonly sources: readonly SourceReport[];
  readonly notes: readonly string[];
  readonly links: readonly { readonly label: string; readonly url: string }[];
}
