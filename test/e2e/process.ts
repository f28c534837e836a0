import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `opsbot serve` as a real child process (bin/opsbot.js, as users run it): its JSON log lines are collected,
 * startup is awaited on the "opsbot started" line, and it can be stopped with any signal, SIGKILL included.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface OpsbotProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

/** A TCP port free right now (for a process that must come back on the same port after a restart). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

export const spawnOpsbot = async (o: {
  readonly configPath: string;
  readonly env: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}): Promise<OpsbotProcess> => {
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/opsbot.js'), 'serve', '--config', o.configPath],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        OPSBOT_LOG_LEVEL: 'info',
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  const onData = (buf: Buffer, carry: { rest: string }) => {
    carry.rest += buf.toString('utf8');
    const parts = carry.rest.split('\n');
    carry.rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  const out = { rest: '' };
  const err = { rest: '' };
  child.stdout?.on('data', (b: Buffer) => onData(b, out));
  child.stderr?.on('data', (b: Buffer) => onData(b, err));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForLine = (pred: (l: string) => boolean, timeoutMs = 30_000): Promise<string> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `opsbot process: no matching log line in ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `opsbot process exited (${code}) before the line; last lines:\n${lines.slice(-15).join('\n')}`,
          ),
        );
      });
    });
  };
  const started = await waitForLine((l) => l.includes('"opsbot started"'), o.startTimeoutMs ?? 60_000);
  const port = Number((JSON.parse(started) as { port: number }).port);
  return {
    child,
    port,
    lines,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    waitForLine,
  };
};
