/**
 * A protocol-faithful fake of the Compute Engine v1 REST API on loopback: instances.get, aggregated instances
 * list (filter `name = "x"`, paging, NO_RESULTS_ON_PAGE warnings; an unreachable zone fails the whole list
 * unless `returnPartialSuccess=true`, which lists the other zones and names it in `unreachables` with an
 * UNREACHABLE scope warning, as the real API does), serialPort (start/next as int64 strings, negative start = last N bytes,
 * a 1 MB ring buffer) and disks.get. Bearer auth, Google error bodies, recorded requests, latency per route,
 * injected failures.
 */
import {
  type FakeServerCore,
  type InjectedFailure,
  sendGoogleError,
  sendJson,
  startFakeServer,
} from './gce-http.js';

export type ComputeRoute =
  | 'instances.get'
  | 'instances.aggregatedList'
  | 'instances.serialPort'
  | 'disks.get';

export const SERIAL_BUFFER_BYTES = 1024 * 1024;

interface SerialBuffer {
  total: number; // bytes ever written
  buf: Buffer; // the last <= 1 MB of them
}

export interface FakeCompute extends FakeServerCore {
  /** Adds (or replaces) an instance; `instance` is instances.get JSON (name, id, status, ...). */
  addInstance(project: string, zone: string, instance: Record<string, unknown>): void;
  removeInstance(project: string, zone: string, name: string): void;
  addDisk(project: string, zone: string, disk: Record<string, unknown>): void;
  /** Appends to serial port 1 (the ring keeps the last 1 MB). */
  appendSerial(project: string, zone: string, name: string, text: string): void;
  /** Latency per route in ms. */
  readonly latencyMs: Partial<Record<ComputeRoute | '*', number>> & Record<string, number>;
  failNext(route: ComputeRoute, failure: InjectedFailure): void;
  /** aggregatedList page size (instances per page). */
  aggregatedPageSize: number;
  /** Zones ("us-east1-b") whose backend does not answer aggregatedList (an outage). */
  readonly unreachableZones: Set<string>;
}

const ZONE_URL = (project: string, zone: string): string =>
  `https://www.googleapis.com/compute/v1/projects/${project}/zones/${zone}`;

const NAME_FILTER = /^\s*name\s*(=|eq)\s*"?([^"\s]+)"?\s*$/;

export const startFakeCompute = async (
  options: { accessToken?: string; latencyMs?: Partial<Record<ComputeRoute | '*', number>> } = {},
): Promise<FakeCompute> => {
  const instances = new Map<string, Map<string, Map<string, Record<string, unknown>>>>(); // project -> zone -> name
  const disks = new Map<string, Record<string, unknown>>(); // project/zone/name
  const serial = new Map<string, SerialBuffer>(); // project/zone/name
  let aggregatedPageSize = 500;
  const unreachableZones = new Set<string>();

  const zonesOf = (project: string): Map<string, Map<string, Record<string, unknown>>> => {
    let z = instances.get(project);
    if (!z) {
      z = new Map();
      instances.set(project, z);
    }
    return z;
  };

  const core = await startFakeServer({
    accessToken: options.accessToken ?? 'fake-compute-token',
    serviceName: 'Compute Engine',
    match: (method, path) => {
      if (method !== 'GET') return null;
      let m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)\/serialPort$/.exec(path);
      if (m)
        return {
          route: 'instances.serialPort',
          params: { project: m[1] ?? '', zone: m[2] ?? '', name: m[3] ?? '' },
        };
      m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/.exec(path);
      if (m)
        return {
          route: 'instances.get',
          params: { project: m[1] ?? '', zone: m[2] ?? '', name: m[3] ?? '' },
        };
      m = /^\/compute\/v1\/projects\/([^/]+)\/aggregated\/instances$/.exec(path);
      if (m) return { route: 'instances.aggregatedList', params: { project: m[1] ?? '' } };
      m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/disks\/([^/]+)$/.exec(path);
      if (m)
        return { route: 'disks.get', params: { project: m[1] ?? '', zone: m[2] ?? '', name: m[3] ?? '' } };
      return null;
    },
    handle: ({ routed, res, query }) => {
      const p = routed.params as Record<string, string>;
      const project = p.project as string;
      switch (routed.route) {
        case 'instances.get': {
          const inst = instances
            .get(project)
            ?.get(p.zone as string)
            ?.get(p.name as string);
          if (!inst) {
            sendGoogleError(
              res,
              404,
              `The resource 'projects/${project}/zones/${p.zone}/instances/${p.name}' was not found`,
            );
            return;
          }
          sendJson(res, 200, inst);
          return;
        }
        case 'disks.get': {
          const disk = disks.get(`${project}/${p.zone}/${p.name}`);
          if (!disk) {
            sendGoogleError(
              res,
              404,
              `The resource 'projects/${project}/zones/${p.zone}/disks/${p.name}' was not found`,
            );
            return;
          }
          sendJson(res, 200, disk);
          return;
        }
        case 'instances.aggregatedList': {
          let nameFilter: string | null = null;
          if (query.filter) {
            const m = NAME_FILTER.exec(query.filter);
            if (!m) {
              sendGoogleError(
                res,
                400,
                `Invalid value for field 'filter': '${query.filter}'. Invalid list filter expression.`,
              );
              return;
            }
            nameFilter = m[2] as string;
          }
          const unreachable = [...zonesOf(project).keys()].filter((z) => unreachableZones.has(z)).sort();
          const partial = query.returnPartialSuccess === 'true';
          if (unreachable.length > 0 && !partial) {
            sendGoogleError(
              res,
              503,
              `The zone 'projects/${project}/zones/${unreachable[0]}' is currently unavailable. Retry with returnPartialSuccess=true to list the reachable zones.`,
            );
            return;
          }
          const all: { zone: string; inst: Record<string, unknown> }[] = [];
          for (const [zone, byName] of [...zonesOf(project)].sort(([a], [b]) => a.localeCompare(b))) {
            if (unreachableZones.has(zone)) continue;
            for (const inst of byName.values()) {
              if (nameFilter === null || inst.name === nameFilter) all.push({ zone, inst });
            }
          }
          const max = Math.min(Number(query.maxResults ?? 500), 500, aggregatedPageSize);
          const offset = query.pageToken ? Number(Buffer.from(query.pageToken, 'base64url').toString()) : 0;
          const page = all.slice(offset, offset + max);
          const items: Record<string, unknown> = {};
          for (const zone of zonesOf(project).keys()) {
            items[`zones/${zone}`] = {
              warning: {
                code: 'NO_RESULTS_ON_PAGE',
                message: `There are no results for scope 'zones/${zone}' on this page.`,
                data: [{ key: 'scope', value: `zones/${zone}` }],
              },
            };
          }
          for (const zone of unreachable) {
            items[`zones/${zone}`] = {
              warning: {
                code: 'UNREACHABLE',
                message: `Scope 'zones/${zone}' is unreachable.`,
                data: [{ key: 'scope', value: `zones/${zone}` }],
              },
            };
          }
          for (const { zone, inst } of page) {
            const scope = items[`zones/${zone}`] as { instances?: unknown[] };
            if (!scope.instances) items[`zones/${zone}`] = { instances: [inst] };
            else scope.instances.push(inst);
          }
          const out: Record<string, unknown> = {
            kind: 'compute#instanceAggregatedList',
            id: `projects/${project}/aggregated/instances`,
            items,
            selfLink: `https://www.googleapis.com/compute/v1/projects/${project}/aggregated/instances`,
          };
          if (unreachable.length > 0) out.unreachables = unreachable.map((z) => `zones/${z}`);
          if (offset + max < all.length)
            out.nextPageToken = Buffer.from(String(offset + max)).toString('base64url');
          sendJson(res, 200, out);
          return;
        }
        case 'instances.serialPort': {
          const key = `${project}/${p.zone}/${p.name}`;
          if (
            !instances
              .get(project)
              ?.get(p.zone as string)
              ?.get(p.name as string)
          ) {
            sendGoogleError(
              res,
              404,
              `The resource 'projects/${project}/zones/${p.zone}/instances/${p.name}' was not found`,
            );
            return;
          }
          const port = Number(query.port ?? 1);
          if (!Number.isInteger(port) || port < 1 || port > 4) {
            sendGoogleError(res, 400, "Invalid value for field 'port'");
            return;
          }
          const buffer = serial.get(key) ?? { total: 0, buf: Buffer.alloc(0) };
          const oldest = buffer.total - buffer.buf.length;
          let start = Number(query.start ?? 0);
          if (!Number.isFinite(start)) {
            sendGoogleError(res, 400, "Invalid value for field 'start'");
            return;
          }
          if (start < 0) start = buffer.total + start;
          start = Math.max(start, oldest, 0);
          start = Math.min(start, buffer.total);
          sendJson(res, 200, {
            kind: 'compute#serialPortOutput',
            contents: port === 1 ? buffer.buf.subarray(start - oldest).toString('utf8') : '',
            start: String(start),
            next: String(buffer.total),
            selfLink: `${ZONE_URL(project, p.zone as string)}/instances/${p.name}/serialPortOutput`,
          });
          return;
        }
      }
    },
  });
  for (const [route, ms] of Object.entries(options.latencyMs ?? {})) core.latencyMs[route] = ms as number;
  const fake = core as FakeCompute;
  Object.defineProperty(fake, 'aggregatedPageSize', {
    get: () => aggregatedPageSize,
    set: (v: number) => {
      aggregatedPageSize = v;
    },
  });
  Object.defineProperty(fake, 'unreachableZones', { value: unreachableZones });
  fake.addInstance = (project, zone, instance) => {
    const name = String(instance.name);
    let byName = zonesOf(project).get(zone);
    if (!byName) {
      byName = new Map();
      zonesOf(project).set(zone, byName);
    }
    byName.set(name, {
      kind: 'compute#instance',
      zone: ZONE_URL(project, zone),
      selfLink: `${ZONE_URL(project, zone)}/instances/${name}`,
      ...instance,
    });
  };
  fake.removeInstance = (project, zone, name) => {
    instances.get(project)?.get(zone)?.delete(name);
  };
  fake.addDisk = (project, zone, disk) => {
    disks.set(`${project}/${zone}/${String(disk.name)}`, disk);
  };
  fake.appendSerial = (project, zone, name, text) => {
    const key = `${project}/${zone}/${name}`;
    const cur = serial.get(key) ?? { total: 0, buf: Buffer.alloc(0) };
    const add = Buffer.from(text, 'utf8');
    const joined = Buffer.concat([cur.buf, add]);
    serial.set(key, {
      total: cur.total + add.length,
      buf:
        joined.length > SERIAL_BUFFER_BYTES ? joined.subarray(joined.length - SERIAL_BUFFER_BYTES) : joined,
    });
  };
  return fake;
};
