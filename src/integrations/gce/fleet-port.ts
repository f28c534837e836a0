/**
 * Fleet-wide reads (every VM of a project at once), in domain terms. The adapter (fleet-rest.ts) speaks plain
 * REST through google-auth-library; no SDK type crosses this file.
 */
import type { LogEntry } from './port.js';

/** What the fleet view needs to know about one instance, from one aggregated listing per project. */
export interface FleetInstance {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
  /** scheduling.onHostMaintenance: MIGRATE (live-migrates) | TERMINATE | null (unknown). */
  readonly onHostMaintenance: string | null;
  readonly upcomingMaintenance: {
    readonly type: string | null;
    readonly windowStartTime: string | null;
    readonly windowEndTime: string | null;
    readonly canReschedule: boolean | null;
    readonly maintenanceStatus: string | null;
  } | null;
}

export interface FleetAuditQuery {
  readonly project: string;
  /** A Cloud Logging filter with explicit timestamp bounds. */
  readonly filter: string;
  readonly pageSize?: number;
}

export interface FleetListing {
  readonly instances: readonly FleetInstance[];
  /** Zones the listing could not read (returnPartialSuccess warnings). */
  readonly unreachable: readonly string[];
}

export interface FleetPort {
  /** entries:list over one project, oldest first, one page at a time (empty pages with a token are followed). */
  pagesOfEntries(query: FleetAuditQuery, signal?: AbortSignal): AsyncIterable<readonly LogEntry[]>;
  /** aggregated/instances of a project, every page, returnPartialSuccess=true. */
  listInstances(project: string, signal?: AbortSignal): Promise<FleetListing>;
}
