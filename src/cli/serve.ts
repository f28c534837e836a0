import { parseArgs } from 'node:util';
import { resolveConfigPath } from '../core/config.js';
import { isAppError } from '../core/errors.js';
import { type CliCommand, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';

const USAGE = `Usage: opsbot serve [--config FILE]

Runs the Slack bot: Socket Mode (SLACK_APP_TOKEN) or HTTP mode (SLACK_SIGNING_SECRET, POST /slack/events),
plus /healthz, /readyz and /metrics on PORT (default 3000). SIGTERM drains commands in flight, then exits.

Options:
  --config FILE   config file (else OPSBOT_CONFIG; else built-in defaults)
  -h, --help      this help

Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, SLACK_API_URL, PORT, DATABASE_URL,
OPSBOT_LOG_LEVEL (each secret may also come from <NAME>_FILE).
`;

/** What `serve` needs of the composition root (src/main.ts), handed in by the process entry (src/cli.ts). */
export type StartServer = (options: {
  readonly env: CliIo['env'];
  readonly configPath: string | null;
  readonly signals: NodeJS.Process;
  readonly onShutdown: (code: number) => void;
}) => Promise<unknown>;

/** `opsbot serve`, starting the server through `loadStart` (loaded on demand: the CLI's other commands do not pay for it). */
export const serveCommand =
  (loadStart: () => Promise<StartServer>): CliCommand =>
  async (args, io) => {
    let parsed: ReturnType<typeof parseServeArgs>;
    try {
      parsed = parseServeArgs(args);
    } catch (err) {
      io.stderr.write(`opsbot serve: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (parsed.help) {
      io.stdout.write(USAGE);
      return EXIT_OK;
    }
    const startOpsbot = await loadStart();
    let done!: (code: number) => void;
    const exited = new Promise<number>((resolve) => {
      done = resolve;
    });
    try {
      await startOpsbot({
        env: io.env,
        configPath: resolveConfigPath(parsed.config, io.env),
        signals: process,
        onShutdown: (code) => done(code),
      });
    } catch (err) {
      if (isAppError(err) && err.code === 'config_invalid') {
        io.stderr.write(`opsbot serve: ${err.userMessage}\n`);
        return EXIT_USAGE;
      }
      // AppErrors (store, Slack) carry a safe message; anything else is summarised, never dumped.
      const msg = isAppError(err)
        ? err.userMessage
        : err instanceof Error
          ? err.message.split('\n')[0]
          : String(err);
      io.stderr.write(`opsbot serve: could not start: ${msg}\n`);
      return EXIT_FAILURE;
    }
    return exited;
  };

const parseServeArgs = (args: readonly string[]): { config?: string; help: boolean } => {
  const { values } = parseArgs({
    args: [...args],
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  return { ...(values.config !== undefined ? { config: values.config } : {}), help: values.help === true };
};
