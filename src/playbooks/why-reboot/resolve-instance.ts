/**
 * Which VM does the user mean? `web-1`, `zone/web-1`, `project/zone/web-1`, an API URL
 * (`https://www.googleapis.com/compute/v1/projects/P/zones/Z/instances/N`, `projects/P/zones/Z/instances/N`)
 * or a Cloud Console URL (`.../compute/instancesDetail/zones/Z/instances/N?project=P`).
 * With a zone: instances.get. Without: aggregatedList by name in every candidate project.
 */
import { AppError } from '../../core/errors.js';
import type { ComputePort, InstanceInfo, InstanceRef } from '../../integrations/gce/port.js';

export interface InstanceSpec {
  readonly project: string | null;
  readonly zone: string | null;
  readonly name: string;
}

export interface ResolveOptions {
  readonly project?: string | undefined;
  readonly zone?: string | undefined;
  readonly defaultProject?: string | undefined;
  readonly projects?: readonly string[] | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type ResolveResult =
  | { readonly kind: 'found'; readonly instance: InstanceInfo }
  | { readonly kind: 'ambiguous'; readonly candidates: InstanceRef[] }
  | { readonly kind: 'not-found'; readonly searched: string[] };

/** RFC 1035 label, as Compute Engine requires for instance names. */
const NAME_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ZONE_RE = /^[a-z]+(-[a-z]+)*\d+-[a-z]$/;
/** Project ids (optionally domain-scoped, `example.com:proj`) or project numbers. */
const PROJECT_RE = /^(([a-z0-9-]+\.)+[a-z]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$|^\d{1,20}$/;

const bad = (message: string): AppError => new AppError('bad_input', message);

const checkName = (name: string): string => {
  if (!NAME_RE.test(name)) {
    throw bad(
      `"${name.slice(0, 80)}" is not a Compute Engine instance name (lowercase letters, digits and hyphens, starting with a letter, at most 63 characters)`,
    );
  }
  return name;
};
const checkZone = (zone: string): string => {
  if (!ZONE_RE.test(zone))
    throw bad(`"${zone.slice(0, 80)}" is not a Compute Engine zone (like us-central1-a)`);
  return zone;
};
const checkProject = (project: string): string => {
  if (!PROJECT_RE.test(project)) throw bad(`"${project.slice(0, 80)}" is not a Google Cloud project id`);
  return project;
};

/** Parses what the user typed; throws AppError('bad_input') for anything that is not one of the forms. */
export const parseInstanceSpec = (input: string): InstanceSpec => {
  const spec = input.trim();
  if (spec === '')
    throw bad('which VM? Give an instance name, zone/name, project/zone/name or an instance URL');
  if (spec.length > 2048) throw bad('the instance reference is too long');
  if (/^https?:\/\//i.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw bad('the instance URL could not be parsed');
    }
    const path = decodeURIComponent(url.pathname);
    const api = /\/projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)\/?$/.exec(path);
    if (api) {
      return {
        project: checkProject(api[1] ?? ''),
        zone: checkZone(api[2] ?? ''),
        name: checkName(api[3] ?? ''),
      };
    }
    const console = /\/compute\/instancesDetail\/zones\/([^/]+)\/instances\/([^/]+)/.exec(path);
    if (console) {
      const project = url.searchParams.get('project');
      return {
        project: project ? checkProject(project) : null,
        zone: checkZone(console[1] ?? ''),
        name: checkName(console[2] ?? ''),
      };
    }
    throw bad('that URL does not point at a Compute Engine instance');
  }
  const partial = /^projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/.exec(spec);
  if (partial) {
    return {
      project: checkProject(partial[1] ?? ''),
      zone: checkZone(partial[2] ?? ''),
      name: checkName(partial[3] ?? ''),
    };
  }
  const parts = spec.split('/');
  if (parts.length === 1) return { project: null, zone: null, name: checkName(parts[0] ?? '') };
  if (parts.length === 2)
    return { project: null, zone: checkZone(parts[0] ?? ''), name: checkName(parts[1] ?? '') };
  if (parts.length === 3) {
    return {
      project: checkProject(parts[0] ?? ''),
      zone: checkZone(parts[1] ?? ''),
      name: checkName(parts[2] ?? ''),
    };
  }
  throw bad('use name, zone/name, project/zone/name or an instance URL');
};

/** The spec merged with explicit options; a contradiction is the user's mistake. */
export const mergeSpec = (
  spec: InstanceSpec,
  options: Pick<ResolveOptions, 'project' | 'zone'>,
): InstanceSpec => {
  const project = options.project ? checkProject(options.project) : null;
  const zone = options.zone ? checkZone(options.zone) : null;
  if (project && spec.project && project !== spec.project) {
    throw bad(`the VM reference names project ${spec.project} but --project is ${project}`);
  }
  if (zone && spec.zone && zone !== spec.zone) {
    throw bad(`the VM reference names zone ${spec.zone} but --zone is ${zone}`);
  }
  return { project: spec.project ?? project, zone: spec.zone ?? zone, name: spec.name };
};

/** Projects to search when the user named none: the configured default first, then the configured list. */
export const candidateProjects = (spec: InstanceSpec, options: ResolveOptions): string[] => {
  if (spec.project) return [spec.project];
  const all = [options.defaultProject, ...(options.projects ?? [])].filter((p): p is string => !!p);
  return [...new Set(all)];
};

const noProject = (): AppError =>
  bad('which project? Pass --project (or project/zone/name), or set google.defaultProject in the config');

export const resolveInstance = async (
  compute: ComputePort,
  input: string,
  options: ResolveOptions = {},
): Promise<ResolveResult> => {
  const spec = mergeSpec(parseInstanceSpec(input), options);
  const projects = candidateProjects(spec, options);
  if (projects.length === 0) throw noProject();

  if (spec.zone) {
    const zone = spec.zone;
    // With a zone but no project, try each candidate project in turn (usually one).
    const searched: string[] = [];
    const found: InstanceInfo[] = [];
    for (const project of projects) {
      searched.push(`${project}/${zone}/${spec.name}`);
      const inst = await compute.getInstance({ project, zone, name: spec.name }, options.signal);
      if (inst) found.push(inst);
    }
    if (found.length === 1 && found[0]) return { kind: 'found', instance: found[0] };
    if (found.length > 1) return { kind: 'ambiguous', candidates: found.map(refOf) };
    return { kind: 'not-found', searched };
  }

  const settled = await Promise.allSettled(
    projects.map((project) => compute.findInstancesByName(project, spec.name, options.signal)),
  );
  const found = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (found.length === 1 && found[0]) return { kind: 'found', instance: found[0] };
  if (found.length > 1) return { kind: 'ambiguous', candidates: found.map(refOf).sort(byRef) };
  // Nothing found: if a project could not be searched, the user must know why rather than read "not found".
  if (failures.length > 0) throw failures[0];
  return { kind: 'not-found', searched: projects.map((p) => `${p} (all zones)`) };
};

export const refOf = (i: InstanceRef): InstanceRef => ({ project: i.project, zone: i.zone, name: i.name });

const byRef = (a: InstanceRef, b: InstanceRef): number =>
  `${a.project}/${a.zone}`.localeCompare(`${b.project}/${b.zone}`);

export const formatRef = (r: InstanceRef): string => `${r.project}/${r.zone}/${r.name}`;

/** Throws the AppError a user sees for an unresolved name; returns the instance otherwise. */
export const assertResolved = (name: string, result: ResolveResult): InstanceInfo => {
  if (result.kind === 'found') return result.instance;
  if (result.kind === 'ambiguous') {
    throw new AppError(
      'ambiguous',
      `${result.candidates.length} instances are named ${name}; say which one: ${result.candidates.map(formatRef).join(', ')}`,
      { details: { candidates: result.candidates } },
    );
  }
  throw new AppError('not_found', `instance not found: ${name} (searched ${result.searched.join(', ')})`, {
    details: { searched: result.searched },
  });
};
