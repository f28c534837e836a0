import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A real `opsbot serve` child process for end-to-end suites: started with exactly the environment given (no
 * inheritance beyond PATH/HOME), its pino lines collected, its port read from the "opsbot started" line.
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface OpsbotProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Parsed JSON log lines (stderr) so far. */
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** The listening port, from the "opsbot started" log line. */
  port(timeoutMs?: number): Promise<number>;
  /** Waits until a log line matches, up to a deadline. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): void;
}

export const startOpsbotProcess = (
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { cwd?: string; bin?: string } = {},
): OpsbotProcess => {
  const child = spawn(process.execPath, [options.bin ?? `${REPO_ROOT}/bin/opsbot.js`, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  let partial = '';
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        // a non-JSON line (a usage message): kept in stderr()
      }
    }
    for (const w of waiters) w();
  });
  child.stdout.resume();
  let exitedNow = false;
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      exitedNow = true;
      for (const w of waiters) w();
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  const waitForLine: OpsbotProcess['waitForLine'] = (match, timeoutMs = 20_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find(match);
        if (hit) {
          done();
          resolve(hit);
        } else if (exitedNow) {
          done();
          reject(new Error(`opsbot exited before the expected log line; stderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitForLine,
    async port(timeoutMs) {
      const line = await waitForLine((l) => l.msg === 'opsbot started', timeoutMs);
      return line.port as number;
    },
    kill: (signal) => {
      if (!exitedNow) child.kill(signal);
    },
  };
};

/** Waits for `promise`, failing after `ms` with `what` (a deadline on a state change, never a fixed sleep). */
export const within = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/** One of several `opsbot serve` replicas of a suite: its stderr lines kept (and appended to $OPSBOT_E2E_LOGS). */
export interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly lines: string[];
}

/**
 * Starts `opsbot serve --config <configPath>` with PATH, `env` (HOME, tokens, DATABASE_URL, ...), an
 * ephemeral port and info logs; resolves once it logs "opsbot started", fails if it exits first or within
 * 30 s does not start.
 */
export const startReplica = async (
  name: string,
  configPath: string,
  env: Readonly<Record<string, string>>,
): Promise<Replica> => {
  const child = spawn(process.execPath, [`${REPO_ROOT}/bin/opsbot.js`, 'serve', '--config', configPath], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: '0', OPSBOT_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${lines.join('\n')}`)), 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (process.env.OPSBOT_E2E_LOGS) appendFileSync(process.env.OPSBOT_E2E_LOGS, `${name} ${line}\n`);
        if (line.includes('"opsbot started"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${lines.join('\n')}`));
    });
  });
  return { name, child, port, lines };
};

/** Sends the signal and waits for the replica to exit. */
export const signalReplica = async (r: Replica, signal: NodeJS.Signals): Promise<void> => {
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill(signal);
  await exited;
};

/** The replicas a suite has running, by name. */
export interface ReplicaPool {
  readonly replicas: Map<string, Replica>;
  /** Starts replica `name` with the suite's config and environment as they are now. */
  start(name: string): Promise<Replica>;
  /** SIGKILL, waits for the exit, forgets it. */
  kill(r: Replica): Promise<void>;
  /** SIGTERM, waits for the exit, forgets it. */
  stop(r: Replica): Promise<void>;
  /** Replica `name`; throws if it is not running. */
  get(name: string): Replica;
  /** At the end of a suite: every replica killed, its log lines printed first when OPSBOT_E2E_LOGS is set. */
  killAll(): void;
}

export const replicaPool = (o: {
  configPath: () => string;
  env: () => Record<string, string>;
}): ReplicaPool => {
  const replicas = new Map<string, Replica>();
  return {
    replicas,
    async start(name) {
      const r = await startReplica(name, o.configPath(), o.env());
      replicas.set(name, r);
      return r;
    },
    async kill(r) {
      await signalReplica(r, 'SIGKILL');
      replicas.delete(r.name);
    },
    async stop(r) {
      await signalReplica(r, 'SIGTERM');
      replicas.delete(r.name);
    },
    get(name) {
      const r = replicas.get(name);
      if (!r) throw new Error(`${name} is not running`);
      return r;
    },
    killAll() {
      for (const r of replicas.values()) {
        if (process.env.OPSBOT_E2E_LOGS) console.log(r.name, r.lines.join('\n'));
        r.child.kill('SIGKILL');
      }
    },
  };
};
