/**
 * Ack latency of signed slash commands: opsbot in HTTP mode (real startOpsbot, fake Slack, SQLite store)
 * against a bare Bolt app (HTTPReceiver, same signing secret) that only acks, one after the other in the
 * same run, same load: 200 connections for 10 s (ACK_BENCH_SECONDS / ACK_BENCH_CONNECTIONS override).
 * Targets: opsbot p99 < 100 ms, and opsbot p99 <= 1.3 x bare p99.
 *
 * Each server runs in its own child process (so autocannon's CPU is not charged to it); the fake Slack that
 * receives opsbot's follow-up answers runs in a third. Run alone: `npx tsx bench/ack.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SIGNING_SECRET = 'bench-signing-secret-8c1d2e';
const BOT_TOKEN = 'xoxb-bench-token-777777';
const SELF = fileURLToPath(import.meta.url);

export interface AckFigures {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly requests: number;
  /** Requests sent, including those still in flight when the run stopped (the server may have handled them). */
  readonly sent: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly rps: number;
}

export interface AckBenchResult {
  readonly opsbot: AckFigures;
  readonly bare: AckFigures;
  readonly ratio: number;
  readonly followUps: {
    readonly answered: number;
    readonly auditRows: number | null;
    /** Commands sent during warm-up + measurement (non-2xx excluded): each one should leave an audit row. */
    readonly commands: number;
    /** commands - auditRows (null when the row count could not be read). */
    readonly droppedRows: number | null;
  };
  readonly pass: boolean;
  readonly settings: { readonly connections: number; readonly seconds: number };
}

// ------------------------------------------------------------------------------------------------------
// Child roles

const announce = (info: Record<string, unknown>) => process.stdout.write(`READY ${JSON.stringify(info)}\n`);

const runFakeRole = async (): Promise<void> => {
  const { startFakeSlack } = await import('../test/fakes/slack.js');
  const fake = await startFakeSlack({ token: BOT_TOKEN, maxResponseUrlUses: Number.MAX_SAFE_INTEGER });
  // The fake keeps every call; for a long run only counts matter, so trim the arrays as they grow.
  setInterval(() => {
    if (fake.responses.length > 1000) fake.responses.splice(0, fake.responses.length - 10);
  }, 500).unref();
  let answered = 0;
  const push = fake.responses.push.bind(fake.responses);
  fake.responses.push = (...items) => {
    answered += items.length;
    return push(...items);
  };
  const stats = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ answered, calls: fake.calls.length }));
  });
  await new Promise<void>((r) => stats.listen(0, '127.0.0.1', r));
  announce({
    apiUrl: fake.apiUrl,
    responseUrl: fake.responseUrl('bench'),
    statsPort: (stats.address() as AddressInfo).port,
  });
};

const runOpsbotRole = async (): Promise<void> => {
  const { startOpsbot } = await import('../src/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, `store:\n  dataDir: ${dir}/data\n`);
  const bot = await startOpsbot({
    env: {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: process.env.BENCH_SLACK_API_URL,
      PORT: '0',
      OPSBOT_LOG_LEVEL: process.env.OPSBOT_LOG_LEVEL ?? 'info',
    },
    configPath,
    host: '127.0.0.1',
    whyReboot: null,
  });
  announce({ port: bot.port });
  process.on('SIGTERM', async () => {
    await bot.stop();
    let auditRows: number | null = null;
    try {
      const { DatabaseSync } = await import('node:sqlite');
      const db = new DatabaseSync(join(dir, 'data', 'opsbot.sqlite'));
      auditRows = Number((db.prepare('select count(*) as n from audit_log').get() as { n: number }).n);
      db.close();
    } catch {
      // the count is informative only
    }
    process.stdout.write(`STOPPED ${JSON.stringify({ auditRows })}\n`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
};

const runBareRole = async (): Promise<void> => {
  const { App, LogLevel } = await import('@slack/bolt');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const app = new App({
    signingSecret: SIGNING_SECRET,
    token: BOT_TOKEN,
    botId: 'B0BARE',
    botUserId: 'U0BARE',
    logLevel: LogLevel.ERROR,
  });
  app.command('/opsbot', async ({ ack }) => {
    await ack();
  });
  await app.start(port);
  announce({ port });
};

// ------------------------------------------------------------------------------------------------------
// Driver

interface Child {
  readonly proc: ChildProcess;
  readonly info: Record<string, unknown>;
  readonly lines: string[];
}

const startChild = (role: string, env: Record<string, string> = {}): Promise<Child> =>
  new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', SELF], {
      env: { ...process.env, ACK_BENCH_ROLE: role, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const lines: string[] = [];
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.startsWith('READY ')) resolve({ proc, info: JSON.parse(line.slice(6)), lines });
        i = buf.indexOf('\n');
      }
    });
    proc.on('exit', (code) => reject(new Error(`bench child ${role} exited (${code}) before it was ready`)));
  });

const stopChild = (c: Child): Promise<void> =>
  new Promise((resolve) => {
    if (c.proc.exitCode !== null) return resolve();
    c.proc.removeAllListeners('exit');
    c.proc.on('exit', () => resolve());
    c.proc.kill('SIGTERM');
  });

const slashBody = (responseUrl: string): string =>
  new URLSearchParams({
    token: 'deprecated',
    team_id: 'T0BENCH',
    team_domain: 'bench',
    channel_id: 'C0BENCH',
    channel_name: 'bench',
    user_id: 'U0BENCH',
    user_name: 'bench',
    command: '/opsbot',
    text: 'help',
    api_app_id: 'A0BENCH',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: '1.2.3',
  }).toString();

const load = async (
  port: number,
  body: string,
  seconds: number,
  connections: number,
): Promise<AckFigures> => {
  const { signSlackRequest } = await import('../src/integrations/slack/verify.js');
  // One valid signature for the fixed body, timestamp fresh at the start (Slack allows 5 minutes).
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    ...signSlackRequest(SIGNING_SECRET, body, Date.now() / 1000),
  };
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/slack/events`,
    method: 'POST',
    headers,
    body,
    connections,
    duration: seconds,
    timeout: 10,
  });
  return {
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    sent: (r.requests as { sent?: number }).sent ?? r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    rps: r.requests.average,
  };
};

export const runAckBench = async (
  options: { seconds?: number; connections?: number; log?: (line: string) => void } = {},
): Promise<AckBenchResult> => {
  const seconds = options.seconds ?? Number(process.env.ACK_BENCH_SECONDS ?? 10);
  const connections = options.connections ?? Number(process.env.ACK_BENCH_CONNECTIONS ?? 200);
  const log = options.log ?? ((l: string) => console.log(l));
  const warm = Math.min(3, Math.max(1, Math.round(seconds / 5)));
  const fake = await startChild('fake');
  const body = slashBody(String(fake.info.responseUrl));
  let opsbot: AckFigures;
  let bare: AckFigures;
  let answered = 0;
  let auditRows: number | null = null;
  let warmCommands = 0;
  try {
    log(`ack bench: ${connections} connections, ${seconds} s each (+${warm} s warm-up), signed /opsbot help`);
    const ops = await startChild('opsbot', {
      BENCH_SLACK_API_URL: String(fake.info.apiUrl),
      // ACK_BENCH_PROFILE=dir writes a CPU profile of the opsbot process there.
      ...(process.env.ACK_BENCH_PROFILE
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.ACK_BENCH_PROFILE}` }
        : {}),
    });
    try {
      const warmUp = await load(Number(ops.info.port), body, warm, connections);
      warmCommands = warmUp.sent - warmUp.non2xx;
      opsbot = await load(Number(ops.info.port), body, seconds, connections);
    } finally {
      await stopChild(ops);
      const stopped = ops.lines.find((l) => l.startsWith('STOPPED '));
      if (stopped) auditRows = (JSON.parse(stopped.slice(8)) as { auditRows: number | null }).auditRows;
    }
    const stats = (await (await fetch(`http://127.0.0.1:${fake.info.statsPort}/`)).json()) as {
      answered: number;
    };
    answered = stats.answered;
    const bareChild = await startChild('bare');
    try {
      await load(Number(bareChild.info.port), body, warm, connections);
      bare = await load(Number(bareChild.info.port), body, seconds, connections);
    } finally {
      await stopChild(bareChild);
    }
  } finally {
    await stopChild(fake);
  }
  const ratio = bare.p99 > 0 ? opsbot.p99 / bare.p99 : Number.POSITIVE_INFINITY;
  const clean = (f: AckFigures) => f.non2xx === 0 && f.errors === 0 && f.timeouts === 0;
  const pass = opsbot.p99 < 100 && ratio <= 1.3 && clean(opsbot) && clean(bare);
  const row = (name: string, f: AckFigures) =>
    `  ${name.padEnd(8)} p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  max ${String(f.max).padStart(5)} ms  ${Math.round(f.rps)} req/s  ${f.requests} requests  non-2xx ${f.non2xx}  errors ${f.errors}`;
  log(row('opsbot', opsbot));
  log(row('bare', bare));
  const commands = warmCommands + opsbot.sent - opsbot.non2xx;
  const droppedRows = auditRows === null ? null : commands - auditRows;
  log(
    `  follow-up answers delivered to fake Slack: ${answered}; audit rows written: ${auditRows ?? 'n/a'} of ${commands} commands sent (warm-up included), dropped ${droppedRows ?? 'n/a'}`,
  );
  log(`  ratio opsbot/bare p99: ${ratio.toFixed(2)}  (target <= 1.30)   opsbot p99 target < 100 ms`);
  log(`  ${pass ? 'PASS' : 'FAIL'}`);
  return {
    opsbot,
    bare,
    ratio,
    followUps: { answered, auditRows, commands, droppedRows },
    pass,
    settings: { connections, seconds },
  };
};

const role = process.env.ACK_BENCH_ROLE;
if (role === 'fake') await runFakeRole();
else if (role === 'opsbot') await runOpsbotRole();
else if (role === 'bare') await runBareRole();
else if (process.argv[1] === SELF) {
  const r = await runAckBench();
  process.exitCode = r.pass ? 0 : 1;
}
