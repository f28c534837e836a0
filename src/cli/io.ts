import type { Env } from '../core/secrets.js';

/** What a CLI command may touch: injected so tests run commands in-process without patching globals. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Env;
  readonly cwd: string;
  readonly now: () => Date;
  /**
   * The process's SIGINT / SIGTERM, for a command that must clean up when interrupted (`opsbot amend` removes
   * its git workspace); a command that listens handles them itself while it does. Absent in tests run in
   * process.
   */
  readonly signals?: Pick<NodeJS.Process, 'once' | 'off'>;
}

export type CliCommand = (args: readonly string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1; // unexpected
export const EXIT_USAGE = 2; // bad arguments or unreadable / malformed input
