import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/core/config.js';
import { readSecrets, SECRET_ENV_NAMES } from '../../src/core/secrets.js';
import {
  CHART_DIR,
  containerOf,
  envOf,
  FULL_VALUES,
  mountsOf,
  readDockerfile,
  renderManifests,
} from './chart.js';
import { HelmFail } from './go-template.js';

/**
 * deploy/helm/opsbot without the helm binary: values against values.schema.json (ajv, draft-07 as Helm uses),
 * every template rendered by test/deploy/go-template.ts and parsed as YAML, then the manifests checked against
 * opsbot itself: the config schema (loadConfig), the secret names (src/core/secrets.ts), the ports and paths.
 * test/e2e/deploy.test.ts runs `opsbot serve` with the rendered Deployment's environment and probes.
 */

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
const defaults = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

const withValues = (over: Record<string, unknown>) => ({ ...structuredClone(defaults), ...over });

const tmp = mkdtempSync(join(tmpdir(), 'opsbot-chart-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ConfigMap's opsbot.yaml, loaded by opsbot's own loader (as `opsbot serve` would at startup). */
const loadRenderedConfig = (values: Record<string, unknown>) => {
  const r = renderManifests(values);
  const text = r.one('ConfigMap').data?.['opsbot.yaml'];
  if (!text) throw new Error('the ConfigMap has no opsbot.yaml');
  const path = join(tmp, `opsbot-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return { r, config: loadConfig({}, path) };
};

describe('values.schema.json', () => {
  it('accepts the chart defaults and the full example', () => {
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(withValues(FULL_VALUES)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('lists exactly the secrets opsbot reads (src/core/secrets.ts)', () => {
    expect([...schema.properties.secret.properties.keys.items.enum].sort()).toEqual(
      [...SECRET_ENV_NAMES].sort(),
    );
  });

  it.each([
    ['several replicas without PostgreSQL', { replicaCount: 2 }],
    [
      'a secret name opsbot does not read',
      { secret: { name: 'x', keys: ['SLACK_BOT_TOKEN', 'SLACK_TOKEN'] } },
    ],
    ['no bot token', { secret: { name: 'x', keys: ['SLACK_SIGNING_SECRET'] } }],
    ['a store path (the chart sets it)', { config: { store: { dataDir: '/var/lib/opsbot' } } }],
    ['an http port (the chart sets it)', { config: { http: { port: 8080 } } }],
    ['a misspelt top-level key', { replicas: 2 }],
    ['a secret passed as a plain environment variable', { extraEnv: [{ name: 'SLACK_BOT_TOKEN_FILE' }] }],
  ])('refuses %s', (_label, over) => {
    expect(validate(withValues(over))).toBe(false);
  });
});

describe('rendered manifests', () => {
  it('renders every template to valid YAML objects with names, labels and matching selectors', () => {
    for (const values of [{}, FULL_VALUES]) {
      const r = renderManifests(values);
      for (const d of r.docs) {
        expect(d.apiVersion, d.kind).toMatch(/^[a-z0-9.]*\/?v\d/);
        expect(d.metadata.name.length).toBeLessThanOrEqual(63);
        expect(d.metadata.labels?.['app.kubernetes.io/name']).toBe('opsbot');
        expect(d.metadata.labels?.['app.kubernetes.io/version']).toBe('0.1.0');
      }
      const deploy = r.one('Deployment');
      const podLabels = deploy.spec.template.metadata.labels;
      expect(podLabels).toMatchObject(deploy.spec.selector.matchLabels);
      expect(podLabels).toMatchObject(r.one('Service').spec.selector);
      expect(podLabels).toMatchObject(r.one('PodDisruptionBudget').spec.selector.matchLabels);
      expect(r.notes).toContain('opsbot');
    }
  });

  it('by default: one replica on SQLite with a volume claim, Recreate, no Ingress and no ServiceMonitor', () => {
    const r = renderManifests();
    expect(r.docs.map((d) => d.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'PersistentVolumeClaim',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const deploy = r.one('Deployment');
    expect(deploy.spec.replicas).toBe(1);
    expect(deploy.spec.strategy.type).toBe('Recreate');
    const data = deploy.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data');
    expect(data.persistentVolumeClaim.claimName).toBe(r.one('PersistentVolumeClaim').metadata.name);
  });

  it('with PostgreSQL: several replicas rolling one at a time, Ingress and ServiceMonitor on request', () => {
    const r = renderManifests(FULL_VALUES);
    const deploy = r.one('Deployment');
    expect(deploy.spec.replicas).toBe(3);
    expect(deploy.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(r.all('PersistentVolumeClaim')).toEqual([]);
    expect(r.one('Ingress').spec.ingressClassName).toBe('nginx');
    expect(r.one('ServiceMonitor').metadata.labels?.release).toBe('prometheus');
    expect(r.one('ServiceMonitor').spec.selector.matchLabels).toEqual(
      r.one('Deployment').spec.selector.matchLabels,
    );
  });

  it('refuses several replicas on SQLite when rendering, with the reason', () => {
    expect(() => renderManifests({ replicaCount: 2 })).toThrow(HelmFail);
    expect(() => renderManifests({ replicaCount: 2 })).toThrow(
      /needs PostgreSQL: add DATABASE_URL to secret.keys/,
    );
  });

  it('exposes only Slack and the forge webhooks through the Ingress, to the Service port that reaches opsbot', () => {
    const r = renderManifests(FULL_VALUES);
    const rule = r.one('Ingress').spec.rules[0];
    const paths = rule.http.paths as {
      path: string;
      pathType: string;
      backend: { service: { name: string; port: { name: string } } };
    }[];
    expect(paths.map((p) => p.path)).toEqual(['/slack/events', '/webhooks/gitlab', '/webhooks/github']);
    for (const p of paths) {
      expect(p.pathType).toBe('Exact');
      expect(p.backend.service.name).toBe(r.one('Service').metadata.name);
      expect(p.backend.service.port.name).toBe('http');
    }
    expect(r.one('Service').spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
    expect(containerOf(r).ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
  });
});

describe('the manifests against opsbot', () => {
  it('the ConfigMap is a config opsbot loads, with the data dir on the data volume and the port the pod exposes', () => {
    for (const values of [{}, FULL_VALUES]) {
      const { r, config } = loadRenderedConfig(values);
      const env = envOf(r);
      expect(config.store.dataDir).toBe(mountsOf(r).data);
      expect(config.http.port).toBe(containerOf(r).ports[0].containerPort);
      expect(env.PORT).toBe(String(config.http.port));
      expect(env.OPSBOT_CONFIG).toBe(`${mountsOf(r).config}/opsbot.yaml`);
      expect(Object.keys(r.one('ConfigMap').data ?? {})).toEqual(['opsbot.yaml']);
    }
    const { config } = loadRenderedConfig(FULL_VALUES);
    expect(config.targets.versionlock[0]?.name).toBe('el7-prod');
    expect(config.access.commands.versionlock?.groups).toEqual(['S0123SRE']);
  });

  it('a config opsbot refuses fails the chart test too (the check is real)', () => {
    expect(() => loadRenderedConfig({ config: { slack: { mode: 'websocket' } } })).toThrow(/slack.mode/);
  });

  it('passes every secret as a <NAME>_FILE path into the mounted Secret, and opsbot reads them from there', () => {
    const r = renderManifests(FULL_VALUES);
    const env = envOf(r);
    const mount = mountsOf(r).secrets as string;
    const secretVolume = r
      .one('Deployment')
      .spec.template.spec.volumes.find((v: { name: string }) => v.name === 'secrets').secret;
    expect(secretVolume.secretName).toBe('opsbot-secrets');
    const keys = FULL_VALUES.secret.keys;
    expect(secretVolume.items).toEqual(keys.map((k) => ({ key: k, path: k })));
    // No secret value in the environment, only file paths; nothing else but the config path and the port.
    const secretVars = Object.keys(env).filter((n) => n.endsWith('_FILE'));
    expect(secretVars.sort()).toEqual(keys.map((k) => `${k}_FILE`).sort());
    for (const n of Object.keys(env)) {
      expect(SECRET_ENV_NAMES as readonly string[]).not.toContain(n);
    }
    expect(Object.keys(env).filter((n) => !n.endsWith('_FILE'))).toEqual([
      'OPSBOT_CONFIG',
      'PORT',
      'SLACK_API_URL',
    ]);
    // The pod's files, laid out under a temp dir: readSecrets finds every key through its *_FILE variable.
    const files = new Map(keys.map((k) => [`${mount}/${k}`, `value-of-${k.toLowerCase()}`]));
    const secrets = readSecrets(env, (p) => {
      const v = files.get(p);
      if (v === undefined) throw new Error(`no file ${p}`);
      return v;
    });
    expect(Object.keys(secrets).sort()).toEqual([...keys].sort());
    expect(secrets.SLACK_BOT_TOKEN).toBe('value-of-slack_bot_token');
  });

  it('gives the pod longer than the drain timeout after SIGTERM, whatever drainTimeoutMs is', () => {
    for (const drainTimeoutMs of [undefined, 0, 10_000, 45_000, 600_000]) {
      const values = drainTimeoutMs === undefined ? {} : { config: { http: { drainTimeoutMs } } };
      const { r, config } = loadRenderedConfig(values);
      const grace = r.one('Deployment').spec.template.spec.terminationGracePeriodSeconds;
      expect(typeof grace).toBe('number');
      expect(grace * 1000).toBeGreaterThan(config.http.drainTimeoutMs);
    }
    expect(
      renderManifests({ terminationGracePeriodSeconds: 120 }).one('Deployment').spec.template.spec,
    ).toMatchObject({ terminationGracePeriodSeconds: 120 });
    expect(() => renderManifests({ terminationGracePeriodSeconds: 10 })).toThrow(
      /longer than config.http.drainTimeoutMs/,
    );
  });

  it('runs restricted: non-root, read-only root filesystem, no privilege escalation, no capabilities', () => {
    const r = renderManifests();
    const pod = r.one('Deployment').spec.template.spec;
    const c = containerOf(r);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(r.one('ServiceAccount').automountServiceAccountToken).toBe(false);
    // What opsbot writes (the store, temp files) is on a volume; the secrets and config are mounted read-only.
    const mounts = c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    expect(
      mounts
        .filter((m) => !m.readOnly)
        .map((m) => m.mountPath)
        .sort(),
    ).toEqual(['/data', '/tmp']);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
  });

  it('agrees with the Dockerfile: Node version, user, port, config path, data volume, tini as PID 1', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    const docker = readDockerfile();
    const arg = docker.find((d) => d.instruction === 'ARG' && d.args.startsWith('NODE_VERSION='));
    expect(arg?.args).toBe(`NODE_VERSION=${pkg.devDependencies.node}`);
    const froms = docker.filter((d) => d.instruction === 'FROM').map((d) => d.args);
    expect(froms.length).toBeGreaterThanOrEqual(2); // multi-stage
    for (const f of froms) expect(f).toMatch(/^node:\$\{NODE_VERSION\}-/);
    const final = docker.filter((d) => d.stage === froms.length - 1);
    const get = (i: string) => final.filter((d) => d.instruction === i).map((d) => d.args);
    const r = renderManifests();
    const pod = r.one('Deployment').spec.template.spec;
    expect(get('USER')).toEqual([`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`]);
    expect(get('EXPOSE')).toEqual([String(containerOf(r).ports[0].containerPort)]);
    expect(get('VOLUME')).toEqual([`["${mountsOf(r).data}"]`]);
    expect(get('ENV').join(' ')).toContain(`OPSBOT_CONFIG=${envOf(r).OPSBOT_CONFIG}`);
    expect(get('ENTRYPOINT')).toEqual(['["/usr/bin/tini", "--", "node", "/app/bin/opsbot.js"]']);
    expect(get('CMD')).toEqual(['["serve"]']);
    expect(containerOf(r).args).toEqual(['serve']);
    // Production dependencies only in what the runtime copies.
    const install = docker.filter((d) => d.instruction === 'RUN' && d.args.includes('npm ci --omit=dev'));
    expect(install).toHaveLength(1);
    expect(froms.some((f) => f.endsWith(' AS deps'))).toBe(true);
    expect(get('COPY')).toContain('--from=deps /app/node_modules ./node_modules');
    expect(get('COPY').filter((c) => c.startsWith('--from=build'))).toEqual([
      '--from=build /src/dist ./dist',
    ]);
    // The image's default config is one opsbot loads, with its store on the volume.
    const baked = loadConfig({}, 'deploy/docker/opsbot.yaml');
    expect(baked.store.dataDir).toBe('/data');
    expect(baked.http.port).toBe(3000);
  });
});
