import type { EpochMs } from './column-types.js';

/**
 * What opsbot last saw of each VM (project, zone, name -> instance id): written after every instance lookup
 * and by the fleet listing, read by /why-reboot and /diag to start the queries keyed by instance id at once
 * instead of after the lookup. A hint, never the truth: the lookup still runs and wins (a VM recreated under
 * the same name has a new id).
 */
export interface KnownInstancesTable {
  project: string;
  zone: string;
  name: string;
  instance_id: string;
  creation_timestamp: string | null;
  seen_at: EpochMs;
}

export interface InstanceTables {
  known_instances: KnownInstancesTable;
}
