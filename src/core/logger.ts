import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object. */
const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'headers["x-gitlab-token"]',
  '*.headers["x-gitlab-token"]',
  'headers["private-token"]',
  '*.headers["private-token"]',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'signingSecret',
  'privateKey',
];

/**
 * Scrubs every registered secret value from any string, wherever it hides (an SDK error message, a URL,
 * a nested request body). Used as the final step of every log line, so a new field cannot leak.
 */
export class SecretSanitizer {
  private values: string[] = [];

  register(...values: readonly (string | undefined | null)[]): void {
    for (const v of values) if (v && v.length >= 6 && !this.values.includes(v)) this.values.push(v);
    // Longest first, so a secret containing another is scrubbed whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    return out;
  }

  get size(): number {
    return this.values.length;
  }
}

/** A destination wrapper that scrubs each serialised line before it is written. */
const scrubbingStream = (sanitizer: SecretSanitizer, dest: DestinationStream): DestinationStream => ({
  write(line: string) {
    dest.write(sanitizer.scrub(line));
  },
});

export interface LoggerOptions {
  readonly level?: string;
  readonly sanitizer: SecretSanitizer;
  readonly destination?: DestinationStream;
  readonly name?: string;
}

export const buildLogger = (options: LoggerOptions): Logger => {
  const dest = options.destination ?? pino.destination({ dest: 2, sync: false });
  return pino(
    {
      name: options.name ?? 'opsbot',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      serializers: { err: pino.stdSerializers.err },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbingStream(options.sanitizer, dest),
  );
};
