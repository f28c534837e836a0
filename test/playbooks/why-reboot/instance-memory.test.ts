import { describe, expect, it } from 'vitest';
import type { FleetInstance, FleetPort } from '../../../src/integrations/gce/fleet-port.js';
import {
  type InstanceMemory,
  recallInstance,
  rememberingListings,
} from '../../../src/playbooks/why-reboot/instance-memory.js';
import type { KnownInstance } from '../../../src/store/instance-repository.js';

const vm = (name: string, zone: string, id: string): FleetInstance => ({
  project: 'p1',
  zone,
  name,
  id,
  status: 'RUNNING',
  labels: {},
  onHostMaintenance: 'MIGRATE',
  upcomingMaintenance: null,
});

const arrayMemory = (rows: KnownInstance[] = []): InstanceMemory & { rows: KnownInstance[] } => ({
  rows,
  async find(q) {
    return rows.filter(
      (k) => k.project === q.project && k.name === q.name && (q.zone === null || k.zone === q.zone),
    );
  },
  async remember(list) {
    rows.push(...list);
  },
});

describe('the instance memory', () => {
  it("is fed by the fleet's instance listings (the /reboots view, the watch), and the listing is unchanged", async () => {
    const listing = {
      instances: [vm('web-1', 'us-central1-a', '11'), vm('web-2', 'us-central1-b', '12'), vm('odd', 'z', '')],
      unreachable: [],
    };
    const port: FleetPort = {
      async *pagesOfEntries() {},
      listInstances: async () => listing,
    };
    const memory = arrayMemory();
    const seenAt = new Date('2026-12-02T04:00:00Z');
    const wrapped = rememberingListings(port, memory, () => seenAt);
    expect(await wrapped.listInstances('p1')).toBe(listing);
    await expect
      .poll(() => memory.rows.map((k) => [k.zone, k.name, k.id, k.seenAt.toISOString()]))
      .toEqual([
        ['us-central1-a', 'web-1', '11', seenAt.toISOString()],
        ['us-central1-b', 'web-2', '12', seenAt.toISOString()],
      ]);
  });

  it('recalls a name only when it means one VM (a name in two zones is for the lookup to settle), never throws', async () => {
    const at = new Date('2026-12-01T00:00:00Z');
    const k = (zone: string, id: string): KnownInstance => ({
      project: 'p1',
      zone,
      name: 'web-1',
      id,
      creationTimestamp: null,
      seenAt: at,
    });
    const memory = arrayMemory([k('us-central1-a', '1'), k('europe-west1-b', '2')]);
    expect(await recallInstance(memory, { project: 'p1', zone: 'europe-west1-b', name: 'web-1' })).toEqual(
      k('europe-west1-b', '2'),
    );
    expect(await recallInstance(memory, { project: 'p1', zone: null, name: 'web-1' })).toBeNull();
    const broken: InstanceMemory = {
      find: () => Promise.reject(new Error('database is locked')),
      remember: async () => {},
    };
    expect(await recallInstance(broken, { project: 'p1', zone: null, name: 'web-1' })).toBeNull();
  });
});
