import type { KnownInstance, KnownInstanceQuery } from '../../store/instance-repository.js';

/**
 * What opsbot last saw of each VM: name -> instance id, remembered after every instance lookup (and by the
 * fleet listing). /why-reboot and /diag use it to start the queries keyed by instance id (audit logs by id,
 * guest logs, metrics) at once, concurrently with the lookup, instead of after it; the lookup still decides
 * (collect.ts). The store's `instances` repository is one; the CLI has one over the SQLite file
 * (src/cli/instance-memory.ts).
 */
export interface InstanceMemory {
  /** The remembered VMs of that name in the project (one zone, or every zone when zone is null). */
  find(query: KnownInstanceQuery): Promise<readonly KnownInstance[]>;
  /** Records sightings; the newest one per project, zone and name wins. */
  remember(instances: readonly KnownInstance[]): Promise<void>;
}

/**
 * The one VM the memory holds for that name, or null: none, several (a name in two zones: the lookup must
 * say which), or the memory failed (a hint is never worth an error).
 */
export const recallInstance = async (
  memory: InstanceMemory,
  query: KnownInstanceQuery,
): Promise<KnownInstance | null> => {
  try {
    const found = await memory.find(query);
    return found.length === 1 ? (found[0] ?? null) : null;
  } catch {
    return null;
  }
};
