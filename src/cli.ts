#!/usr/bin/env node
import { pathToFileURL } from 'node:url';
import { type CliCommand, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli/io.js';

/**
 * `opsbot <command>`: the same playbooks as Slack, from a terminal. Each command lives in src/cli/<name>.ts
 * and is loaded on demand, so `opsbot versionlock` does not pay for the Bolt app or the cloud clients.
 */
/** Offline `--syslog` scans: their worker threads start at once, booting while the command loads. */
const prestartSyslog = (args: readonly string[], io: CliIo): void => {
  import('./cli/syslog-prestart.js').then(
    (m) => void m.prestartSyslogScan(args, io),
    () => undefined,
  );
};

const COMMANDS: Readonly<
  Record<
    string,
    {
      summary: string;
      load: () => Promise<CliCommand>;
      /** Work to start before the command's modules load (it must not throw). */
      prestart?: (args: readonly string[], io: CliIo) => void;
    }
  >
> = {
  serve: {
    summary: 'run the Slack bot (Socket Mode or HTTP) with webhooks, /healthz, /readyz and /metrics',
    load: async () =>
      (await import('./cli/serve.js')).serveCommand(async () => (await import('./main.js')).startOpsbot),
  },
  'why-reboot': {
    summary: 'explain why a Compute Engine VM restarted (live, or offline from exported logs)',
    prestart: prestartSyslog,
    load: async () => (await import('./cli/why-reboot.js')).runWhyReboot,
  },
  reboots: {
    summary: 'every VM restart in a window across projects, grouped by cause and time; upcoming maintenance',
    load: async () => (await import('./cli/reboots.js')).runReboots,
  },
  diag: {
    summary: 'host diagnostics of a Compute Engine VM (USE: CPU, memory, disks, network), live or from files',
    prestart: prestartSyslog,
    load: async () => (await import('./cli/diag.js')).runDiag,
  },
  versionlock: {
    summary: 'add or remove a yum/dnf versionlock entry in a local file and print the diff',
    load: async () => (await import('./cli/versionlock.js')).runVersionlock,
  },
  'tf-import': {
    summary: 'add a Terraform import block to a local file and print the diff',
    load: async () => (await import('./cli/tf-import.js')).runTfImport,
  },
  pipeline: {
    summary: "print an MR's newest pipeline: stages, jobs, durations, failed jobs' log tails",
    load: async () => (await import('./cli/pipeline.js')).runPipeline,
  },
  amend: {
    summary:
      "apply a diff to someone's open MR / PR branch with git (a commit, or --amend) and push it safely",
    load: async () => (await import('./cli/amend.js')).runAmend,
  },
  'config-schema': {
    summary: 'print the JSON Schema of the config file',
    load: async () => (await import('./cli/config-schema.js')).runConfigSchema,
  },
};

export const buildUsage = (): string => {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: opsbot <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run `opsbot <command> --help` for a command's options.",
    'Config: --config FILE or OPSBOT_CONFIG; secrets from the environment (see README).',
    '',
  ].join('\n');
};

export const runCli = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(buildUsage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write('opsbot 0.1.0\n');
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`opsbot: unknown command "${name}"\n\n${buildUsage()}`);
    return EXIT_USAGE;
  }
  try {
    command.prestart?.(rest, io);
    return await (await command.load())(rest, io);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`opsbot ${name}: ${message}\n`);
    return EXIT_FAILURE;
  }
};

/** Runs `opsbot` with this process's arguments and streams; the exit code goes to process.exitCode. */
export const runProcessCli = async (): Promise<void> => {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    signals: process,
  });
  // `serve` has shut down (drained, cut-off users told, audit written, store closed): work abandoned at the
  // drain deadline (an upstream request still waiting for its own timeout) must not hold the exit. The timer
  // is unref'd: it only fires if something is still keeping the process alive, after the last log lines flush.
  if (process.argv[2] === 'serve') setTimeout(() => process.exit(), 250).unref();
};

// `tsx src/cli.ts ...` and `node dist/cli.js ...` run directly; bin/opsbot.js (whatever name the install gave
// its link: .bin/opsbot, /usr/local/bin/opsbot, npx) imports this module and calls runProcessCli itself.
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) await runProcessCli();
