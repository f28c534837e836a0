import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadChart, renderChart } from './go-template.js';

/** Helpers shared by the chart's static test (test/deploy) and its test against a running opsbot (test/e2e). */

export const CHART_DIR = fileURLToPath(new URL('../../deploy/helm/opsbot/', import.meta.url));
export const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

export type K8sDoc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read field by field in the tests
  spec?: any;
  data?: Record<string, string>;
  automountServiceAccountToken?: boolean;
};

export interface Rendered {
  readonly docs: readonly K8sDoc[];
  readonly notes: string;
  one(kind: string): K8sDoc;
  all(kind: string): K8sDoc[];
}

/**
 * Renders the chart with `values` over values.yaml and parses every manifest as YAML 1.1 (what the Kubernetes
 * API server reads). A YAML error in any document throws, naming the template.
 */
export const renderManifests = (values: Record<string, unknown> = {}, releaseName = 'opsbot'): Rendered => {
  const files = loadChart(CHART_DIR);
  const out = renderChart(files, { values, releaseName });
  const docs: K8sDoc[] = [];
  for (const [name, text] of out) {
    if (!name.endsWith('.yaml')) continue;
    for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true })) {
      if (doc.errors.length > 0)
        throw new Error(`${name}: ${doc.errors.map((e) => e.message).join('; ')}\n${text}`);
      const value = doc.toJS() as K8sDoc | null;
      if (value !== null) docs.push(value);
    }
  }
  const all = (kind: string) => docs.filter((d) => d.kind === kind);
  return {
    docs,
    notes: out.get('NOTES.txt') ?? '',
    all,
    one(kind) {
      const found = all(kind);
      if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
      return found[0] as K8sDoc;
    },
  };
};

// biome-ignore lint/suspicious/noExplicitAny: see K8sDoc
export const containerOf = (r: Rendered): any => r.one('Deployment').spec.template.spec.containers[0];

/** The container's environment as name -> value (every entry must be a plain value). */
export const envOf = (r: Rendered): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const e of containerOf(r).env as { name: string; value?: string; valueFrom?: unknown }[]) {
    if (e.value === undefined) throw new Error(`env ${e.name} is not a plain value`);
    env[e.name] = e.value;
  }
  return env;
};

/** Where each volume is mounted in the container, by volume name. */
export const mountsOf = (r: Rendered): Record<string, string> =>
  Object.fromEntries(
    (containerOf(r).volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.name, m.mountPath]),
  );

/** Instructions of the Dockerfile, continuation lines joined, comments dropped. */
export const readDockerfile = (): { instruction: string; args: string; stage: number }[] => {
  const lines = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ').split('\n');
  let stage = -1;
  const out: { instruction: string; args: string; stage: number }[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [instruction = '', ...rest] = line.split(/\s+/);
    if (instruction.toUpperCase() === 'FROM') stage += 1;
    out.push({ instruction: instruction.toUpperCase(), args: rest.join(' '), stage });
  }
  return out;
};

/** Everything optional switched on, several replicas on PostgreSQL, GitLab and GitHub configured. */
export const FULL_VALUES = {
  replicaCount: 3,
  secret: {
    name: 'opsbot-secrets',
    keys: [
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
      'DATABASE_URL',
      'GITLAB_TOKEN',
      'GITLAB_WEBHOOK_SECRET',
      'GITHUB_TOKEN',
      'GITHUB_WEBHOOK_SECRET',
    ],
  },
  config: {
    http: { drainTimeoutMs: 45_000 },
    forges: { gitlab: { host: 'https://gitlab.example.com' }, github: {} },
    targets: {
      versionlock: [
        { name: 'el7-prod', forge: 'gitlab', repo: 'infra/ansible', path: 'versionlock.list', format: 'yum' },
      ],
    },
    access: { commands: { versionlock: { groups: ['S0123SRE'] } } },
  },
  ingress: { enabled: true, className: 'nginx' },
  serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
  extraEnv: [{ name: 'SLACK_API_URL', value: 'https://slack-gov.com/api/' }],
};
