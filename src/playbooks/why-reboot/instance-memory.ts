import type { FleetPort } from '../../integrations/gce/fleet-port.js';
import type { KnownInstance, KnownInstanceQuery } from '../../store/instance-repository.js';
import type { FleetRestart } from '../fleet/types.js';

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

/**
 * A fleet port whose instance listings (the /reboots view, the watch's label filter) also feed the memory:
 * every VM listed is a sighting, so a later /why-reboot or /diag of it starts its id-keyed queries at once.
 * The listing's answer never waits for the memory, nor fails with it.
 */
export const rememberingListings = (port: FleetPort, memory: InstanceMemory, now: () => Date): FleetPort => ({
  pagesOfEntries: (query, signal) => port.pagesOfEntries(query, signal),
  async listInstances(project, signal) {
    const listing = await port.listInstances(project, signal);
    const seenAt = now();
    const sightings = listing.instances
      .filter((i) => i.id !== '')
      .map((i) => ({
        project: i.project,
        zone: i.zone,
        name: i.name,
        id: i.id,
        creationTimestamp: null,
        seenAt,
      }));
    if (sightings.length > 0) memory.remember(sightings).catch(() => undefined);
    return listing;
  },
});

/**
 * The restarts the fleet view and the watch found in the audit logs, as sightings: each entry names the VM
 * and carries the id it had then (seen at the restart's time, so a later lookup wins over it). These are the
 * VMs an incident asks about next. Never waits for the memory, nor fails with it.
 */
export const rememberRestarts = (memory: InstanceMemory, restarts: readonly FleetRestart[]): void => {
  const sightings = restarts.flatMap((r) =>
    r.instanceId && !Number.isNaN(Date.parse(r.at))
      ? [
          {
            project: r.project,
            zone: r.zone,
            name: r.name,
            id: r.instanceId,
            creationTimestamp: null,
            seenAt: new Date(r.at),
          },
        ]
      : [],
  );
  if (sightings.length > 0) memory.remember(sightings).catch(() => undefined);
};
