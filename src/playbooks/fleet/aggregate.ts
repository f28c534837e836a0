/**
 * Streaming aggregation of audit entries into VM restarts: pages go in as they arrive and are reduced at once
 * to the few signals a restart is made of (down / up / reset) per VM, so memory grows with the restarts, not
 * with the entries read. Classification is why-reboot's (`toAuditSignals`, `roleOf`), so both commands name a
 * cause the same way.
 */
import type { LogEntry } from '../../integrations/gce/port.js';
import { roleOf, toAuditSignals } from '../why-reboot/rules-audit.js';
import type { FleetCause, FleetGroup, FleetRestart } from './types.js';

interface VmSignal {
  readonly at: number;
  readonly kind: 'down' | 'up' | 'reset';
  readonly cause: FleetCause | null; // down only
  readonly how: string | null; // up only
  readonly actor: string;
  readonly method: string;
  readonly instanceId: string | null;
}

interface VmState {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly signals: VmSignal[];
  readonly seen: Set<string>; // operation keys: one operation logs first/last entries, maybe on two pages
}

/** A down without its up within this long is reported as not back (yet). */
const PAIR_WITHIN_MS = 6 * 3600_000;

export interface FleetAggregator {
  /** Feeds one page of audit entries of `project`. */
  addPage(project: string, entries: readonly LogEntry[]): void;
  /** Entries seen so far. */
  readonly entries: number;
  /** system_event methods that are neither restarts nor known info events (never dropped silently). */
  readonly otherPlatformEvents: ReadonlyMap<string, number>;
  /** The restarts of every VM, oldest first. */
  restarts(): FleetRestart[];
}

const VM_RESOURCE = /projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/;

const vmOf = (resourceName: string | null): { project: string; zone: string; name: string } | null => {
  const m = resourceName ? VM_RESOURCE.exec(resourceName) : null;
  return m ? { project: m[1] as string, zone: m[2] as string, name: m[3] as string } : null;
};

export const createFleetAggregator = (): FleetAggregator => {
  const vms = new Map<string, VmState>();
  const other = new Map<string, number>();
  let entries = 0;
  return {
    get entries() {
      return entries;
    },
    otherPlatformEvents: other,
    addPage(_project, page) {
      entries += page.length;
      for (const signal of toAuditSignals(page)) {
        const role = roleOf(signal);
        let kind: VmSignal['kind'];
        let cause: FleetCause | null = null;
        let how: string | null = null;
        if (role.kind === 'down') {
          kind = 'down';
          cause = role.cause;
        } else if (role.kind === 'up') {
          kind = 'up';
          how = role.how;
        } else if (role.kind === 'reset') {
          kind = 'reset';
        } else {
          if (role.what === 'other' && signal.log === 'system_event') {
            other.set(signal.method, (other.get(signal.method) ?? 0) + 1);
          }
          continue;
        }
        const vm = vmOf(signal.resourceName);
        if (!vm) continue;
        const key = `${vm.project}/${vm.zone}/${vm.name}`;
        let state = vms.get(key);
        if (!state) {
          state = { ...vm, signals: [], seen: new Set() };
          vms.set(key, state);
        }
        const opKey = `${signal.log}|${signal.method}|${signal.operationId ?? `${signal.ref}|${signal.at.toISOString()}`}`;
        if (state.seen.has(opKey)) continue;
        state.seen.add(opKey);
        state.signals.push({
          at: signal.at.getTime(),
          kind,
          cause,
          how,
          actor: signal.principal ?? (signal.log === 'system_event' ? 'system' : 'unknown'),
          method: signal.rawMethod,
          instanceId: signal.instanceId,
        });
      }
    },
    restarts() {
      const out: FleetRestart[] = [];
      for (const vm of vms.values()) out.push(...restartsOf(vm));
      return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    },
  };
};

const iso = (ms: number): string => new Date(ms).toISOString();

const restartsOf = (vm: VmState): FleetRestart[] => {
  const signals = [...vm.signals].sort((a, b) => a.at - b.at);
  const out: FleetRestart[] = [];
  const base = { project: vm.project, zone: vm.zone, name: vm.name };
  let pending: VmSignal | null = null;
  const emitDown = (down: VmSignal, upAt: number | null): void => {
    // A stop or delete that never comes back is a stopped VM, not a restart.
    if (upAt === null && (down.cause === 'stop' || down.cause === 'delete')) return;
    out.push({
      ...base,
      instanceId: down.instanceId,
      cause: down.cause ?? 'unknown',
      at: iso(down.at),
      upAt: upAt === null ? null : iso(upAt),
      downtimeMs: upAt === null ? null : upAt - down.at,
      actor: down.actor,
      method: down.method,
    });
  };
  for (const s of signals) {
    if (pending && s.at - pending.at > PAIR_WITHIN_MS) {
      emitDown(pending, null);
      pending = null;
    }
    if (s.kind === 'down') {
      if (pending) {
        // hostError then the MIG's halt, stop then delete...: the first down is the cause.
        continue;
      }
      pending = s;
    } else if (s.kind === 'up') {
      if (pending) {
        emitDown(pending, s.at);
        pending = null;
      } else if (s.how === 'automatic-restart') {
        out.push({
          ...base,
          instanceId: s.instanceId,
          cause: 'unknown',
          at: iso(s.at),
          upAt: iso(s.at),
          downtimeMs: null,
          actor: 'system',
          method: s.method,
        });
      }
    } else {
      if (pending) {
        emitDown(pending, s.at);
        pending = null;
      }
      out.push({
        ...base,
        instanceId: s.instanceId,
        cause: 'reset',
        at: iso(s.at),
        upAt: iso(s.at),
        downtimeMs: 0,
        actor: s.actor,
        method: s.method,
      });
    }
  }
  if (pending) emitDown(pending, null);
  return out;
};

/**
 * Restarts of one cause in one zone within `gapMs` of the previous one form a group (a chain: 14 host errors
 * a minute apart are one event even if the first and last are 14 minutes apart). Groups newest first.
 */
export const groupRestarts = (restarts: readonly FleetRestart[], gapMs = 5 * 60_000): FleetGroup[] => {
  const buckets = new Map<string, FleetRestart[]>();
  for (const r of restarts) {
    const k = `${r.cause}|${r.zone}`;
    let list = buckets.get(k);
    if (!list) {
      list = [];
      buckets.set(k, list);
    }
    list.push(r);
  }
  const groups: FleetGroup[] = [];
  for (const list of buckets.values()) {
    list.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.name.localeCompare(b.name)));
    let current: FleetRestart[] = [];
    let last = Number.NEGATIVE_INFINITY;
    const flush = (): void => {
      if (current.length === 0) return;
      const first = current[0] as FleetRestart;
      const end = current[current.length - 1] as FleetRestart;
      groups.push({
        key: `${first.cause}|${first.zone}|${first.at}`,
        cause: first.cause,
        zone: first.zone,
        projects: [...new Set(current.map((r) => r.project))].sort(),
        from: first.at,
        to: end.at,
        restarts: current,
      });
      current = [];
    };
    for (const r of list) {
      const t = Date.parse(r.at);
      if (t - last > gapMs) flush();
      current.push(r);
      last = t;
    }
    flush();
  }
  return groups.sort((a, b) =>
    a.from < b.from ? 1 : a.from > b.from ? -1 : b.restarts.length - a.restarts.length,
  );
};
