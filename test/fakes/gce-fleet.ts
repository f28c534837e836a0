/**
 * A fleet for the fleet view and the watch: thousands of VMs over several projects in the Compute fake
 * (labels, upcoming maintenance) and tens of thousands of audit entries in the Logging fake. System events
 * are the real iap-desktop captures moved to each VM and time (shape unchanged); activity entries are
 * stop/start operations logged twice (first + last), as Compute logs them. Known incidents sit on top of
 * deterministic background noise (live migrations, users stopping and starting VMs, other activity), so
 * tests can assert exact groups inside a realistic volume.
 */
import type { FakeCompute } from './gce-compute.js';
import { loadIapDesktopEntries } from './gce-corpus.js';
import type { FakeLogEntry, FakeLogging } from './gce-logging.js';

export interface FleetVm {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
  readonly labels: Record<string, string>;
}

export const FLEET_ZONES = ['us-central1-a', 'us-central1-b', 'europe-west1-b', 'europe-west1-c'] as const;

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const templates = new Map<string, FakeLogEntry>();
const template = (event: string): FakeLogEntry => {
  let t = templates.get(event);
  if (!t) {
    const [raw] = loadIapDesktopEntries(event);
    if (!raw) throw new Error(`corpus event ${event} missing`);
    t = raw;
    templates.set(event, t);
  }
  return t;
};

let seq = 0;
const target = (vm: FleetVm) => ({
  resourceName: `projects/${vm.project}/zones/${vm.zone}/instances/${vm.name}`,
  resource: { type: 'gce_instance', labels: { project_id: vm.project, instance_id: vm.id, zone: vm.zone } },
});

/** A real system_event capture (HostErrorEvent, AutomaticRestartEvent, ...) moved to this VM and time. */
export const systemEvent = (event: string, vm: FleetVm, at: Date): FakeLogEntry => {
  const e = clone(template(event)) as unknown as Record<string, unknown> & {
    protoPayload: Record<string, unknown>;
    logName: string;
    operation?: Record<string, unknown>;
  };
  const t = target(vm);
  e.protoPayload.resourceName = t.resourceName;
  e.resource = t.resource;
  e.logName = `projects/${vm.project}/logs/cloudaudit.googleapis.com%2Fsystem_event`;
  e.timestamp = at.toISOString();
  e.receiveTimestamp = new Date(at.getTime() + 900).toISOString();
  seq++;
  e.insertId = `f${seq.toString(36)}`;
  if (e.operation) e.operation = { ...e.operation, id: `systemevent-${at.getTime()}-${seq.toString(16)}` };
  return e as unknown as FakeLogEntry;
};

/** An activity operation (v1.compute.instances.<verb>) logged twice: first at `at`, last `tookMs` later. */
export const activityOp = (
  vm: FleetVm,
  verb: string,
  principal: string,
  at: Date,
  tookMs = 20_000,
): FakeLogEntry[] => {
  seq++;
  const op = `operation-${at.getTime()}-${seq.toString(16)}`;
  const t = target(vm);
  const base = (first: boolean, when: Date): FakeLogEntry => ({
    insertId: `a${seq.toString(36)}${first ? 'f' : 'l'}`,
    logName: `projects/${vm.project}/logs/cloudaudit.googleapis.com%2Factivity`,
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      authenticationInfo: { principalEmail: principal },
      serviceName: 'compute.googleapis.com',
      methodName: `v1.compute.instances.${verb}`,
      resourceName: t.resourceName,
      request: { '@type': `type.googleapis.com/compute.instances.${verb}` },
      ...(first ? {} : { status: {} }),
    },
    resource: t.resource,
    severity: 'NOTICE',
    timestamp: when.toISOString(),
    receiveTimestamp: new Date(when.getTime() + 700).toISOString(),
    operation: {
      id: op,
      producer: 'compute.googleapis.com',
      ...(first ? { first: true } : { last: true }),
    },
  });
  return [base(true, at), base(false, new Date(at.getTime() + tookMs))];
};

/** A small deterministic PRNG (tests must not depend on Math.random). */
export const prng = (seed: number) => {
  let s = seed >>> 0;
  return (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
};

export interface FleetIncident {
  readonly cause: 'host-error' | 'preemption';
  readonly zone: string;
  readonly vms: readonly FleetVm[];
  readonly at: readonly Date[];
}

export interface Fleet {
  readonly projects: readonly string[];
  readonly vms: readonly FleetVm[];
  readonly entries: FakeLogEntry[];
  readonly incidents: readonly FleetIncident[];
  /** VMs with resourceStatus.upcomingMaintenance (first: MIGRATE, second: TERMINATE). */
  readonly maintenance: readonly FleetVm[];
  readonly window: { readonly from: Date; readonly to: Date };
}

export interface FleetOptions {
  readonly projects?: readonly string[];
  readonly vms?: number;
  /** Total audit entries in the window (background pads up to this many). */
  readonly entries?: number;
  /** End of the 24 h window. */
  readonly end: Date;
}

/**
 * Incidents (times relative to the end of the window, minus 26 h 29 min: 23:31 on a round `end` of 02:00):
 *  - 14 host errors in us-central1-a over two projects, one a minute or so apart (23:31 .. 23:36), each
 *    automatically restarted about 3 minutes later;
 *  - at the same time in us-central1-b, 6 host errors (23:33 .. 23:35): another zone, another group;
 *  - in us-central1-a again, 5 preemptions (23:32 .. 23:34): same zone and time, another cause;
 *  - 3 host errors in us-central1-a at 01:10: same zone and cause, but an hour later: another group.
 * The background has no host errors or preemptions, so these groups are exact.
 */
export const buildFleet = (o: FleetOptions): Fleet => {
  const projects = o.projects ?? ['fleet-prod-a', 'fleet-prod-b', 'fleet-prod-c'];
  const count = o.vms ?? 2000;
  const total = o.entries ?? 50_000;
  const to = o.end;
  const from = new Date(to.getTime() - 24 * 3600_000);
  const rnd = prng(42);
  const vms: FleetVm[] = [];
  for (let i = 0; i < count; i++) {
    vms.push({
      project: projects[i % projects.length] as string,
      zone: FLEET_ZONES[Math.floor(i / projects.length) % FLEET_ZONES.length] as string,
      name: `vm-${String(i).padStart(4, '0')}`,
      id: String(4000000000000000000n + BigInt(i)),
      labels: { env: i % 2 === 0 ? 'prod' : 'dev', team: `t${i % 5}` },
    });
  }
  const inZone = (zone: string) => vms.filter((v) => v.zone === zone);
  const base = to.getTime() - (2 * 3600_000 + 29 * 60_000); // 23:31 when `end` is 02:00
  const minute = 60_000;
  const entries: FakeLogEntry[] = [];
  const incidents: FleetIncident[] = [];
  const used = new Set<string>();
  const hostErrors = (zone: string, pick: FleetVm[], startMs: number, stepMs: number) => {
    const at: Date[] = [];
    pick.forEach((vm, k) => {
      used.add(vm.name);
      const t = new Date(startMs + k * stepMs);
      at.push(t);
      entries.push(systemEvent('HostErrorEvent', vm, t));
      entries.push(systemEvent('AutomaticRestartEvent', vm, new Date(t.getTime() + 3 * minute + 7_000)));
    });
    incidents.push({ cause: 'host-error', zone, vms: pick, at });
  };
  // us-central1-a, two projects, 23:31 .. 23:36 (14 VMs, 25 s apart)
  const zoneA = inZone('us-central1-a').filter((v) => v.project !== projects[2]);
  hostErrors('us-central1-a', zoneA.slice(0, 14), base, 25_000);
  // us-central1-b, overlapping in time: 23:33 .. 23:35
  hostErrors('us-central1-b', inZone('us-central1-b').slice(0, 6), base + 2 * minute, 25_000);
  // us-central1-a preemptions 23:32 .. 23:34 (no restart: Spot VMs stay down)
  const pre = inZone('us-central1-a').slice(20, 25);
  const preAt: Date[] = [];
  pre.forEach((vm, k) => {
    used.add(vm.name);
    const t = new Date(base + minute + k * 30_000);
    preAt.push(t);
    entries.push(systemEvent('InstancePreemptedEvent', vm, t));
  });
  incidents.push({ cause: 'preemption', zone: 'us-central1-a', vms: pre, at: preAt });
  // us-central1-a, an hour and a half later
  hostErrors('us-central1-a', inZone('us-central1-a').slice(30, 33), base + 99 * minute, 40_000);

  // Maintenance: two VMs with an upcoming window.
  const maintenance = [vms[100] as FleetVm, vms[101] as FleetVm];

  // Background up to `total`: live migrations (no restart), users stopping and starting VMs (a restart by a
  // person), location notices. Times avoid the incident hour so groups stay exact.
  const span = to.getTime() - from.getTime();
  const quiet = (t: number) => t < base - 30 * minute || t > base + 130 * minute;
  const when = (): number => {
    for (;;) {
      const t = from.getTime() + Math.floor(rnd() * (span - 40 * minute)) + minute;
      if (quiet(t)) return t;
    }
  };
  let i = 0;
  const cycles = new Map<string, number[]>();
  while (entries.length < total) {
    const vm = vms[i % vms.length] as FleetVm;
    i++;
    const r = rnd();
    const left = total - entries.length;
    if (r < 0.55 || left < 4) {
      entries.push(systemEvent('MigrateOnHostMaintenanceEvent', vm, new Date(when())));
    } else {
      // A VM is not stopped again while it is stopped: cycles of one VM never overlap.
      const busy = cycles.get(vm.name) ?? [];
      let t = when();
      while (busy.some((b) => Math.abs(b - t) < 10 * minute)) t = when();
      busy.push(t);
      cycles.set(vm.name, busy);
      const who = `oncall-${vm.name.slice(-1)}@example.com`;
      entries.push(...activityOp(vm, 'stop', who, new Date(t)));
      entries.push(...activityOp(vm, 'start', who, new Date(t + 90_000 + Math.floor(rnd() * 60_000))));
    }
  }
  return { projects, vms, entries, incidents, maintenance, window: { from, to } };
};

/** Puts the fleet in the fakes: every VM in Compute (labels, maintenance), every entry in Logging. */
export const seedFleet = (fleet: Fleet, fakes: { compute: FakeCompute; logging: FakeLogging }): void => {
  const m = new Set(fleet.maintenance.map((v) => v.name));
  fleet.vms.forEach((vm, k) => {
    const upcoming = m.has(vm.name);
    fakes.compute.addInstance(vm.project, vm.zone, {
      name: vm.name,
      id: vm.id,
      status: 'RUNNING',
      labels: vm.labels,
      scheduling: {
        automaticRestart: true,
        onHostMaintenance: upcoming && vm === fleet.maintenance[1] ? 'TERMINATE' : 'MIGRATE',
        preemptible: false,
      },
      ...(upcoming
        ? {
            resourceStatus: {
              upcomingMaintenance: {
                type: 'SCHEDULED',
                canReschedule: k % 2 === 0,
                windowStartTime: new Date(fleet.window.to.getTime() + 48 * 3600_000).toISOString(),
                windowEndTime: new Date(fleet.window.to.getTime() + 56 * 3600_000).toISOString(),
                maintenanceStatus: 'PENDING',
              },
            },
          }
        : {}),
    });
  });
  fakes.logging.addEntries(fleet.entries);
};
