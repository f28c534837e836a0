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

/**
 * `*.`-prefixed paths (one level under any top-level key) are applied by `redactNested` below, not by pino:
 * pino runs a wildcard-first path as a redactor over every value of every line (each string and number
 * cloned and re-serialised), which cost more than the rest of a line's serialisation together on the
 * slash-command path. The other paths stay with pino, which only looks at the keys they name.
 */
const WILDCARD_PREFIX = '*.';
const PINO_REDACT_PATHS = REDACT_PATHS.filter((p) => !p.startsWith(WILDCARD_PREFIX));
const CENSOR = '[REDACTED]';

/** A path tree: key -> subtree, or null for a leaf (the value at this key is censored). */
type PathTree = Map<string, PathTree | null>;

const splitPath = (path: string): string[] =>
  [...path.matchAll(/[^.[\]]+|\[("|')(.*?)\1\]/g)].map((m) => m[2] ?? m[0]);

const buildTree = (paths: readonly string[]): PathTree => {
  const root: PathTree = new Map();
  for (const path of paths) {
    const parts = splitPath(path);
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node.set(part, null);
        return;
      }
      let next = node.get(part);
      if (next === null) return; // a shorter path already censors all of it
      if (next === undefined) {
        next = new Map();
        node.set(part, next);
      }
      node = next;
    });
  }
  return root;
};

const NESTED_TREE = buildTree(
  REDACT_PATHS.filter((p) => p.startsWith(WILDCARD_PREFIX)).map((p) => p.slice(WILDCARD_PREFIX.length)),
);

/** Marks an `err` value already serialised (and censored) here, so pino's err serializer leaves it. */
const SERIALISED_ERR = Symbol('opsbot.serialisedErr');
const errSerializer = (err: unknown): unknown =>
  err !== null && typeof err === 'object' && SERIALISED_ERR in err
    ? err
    : pino.stdSerializers.err(err as Error);

/** `value` with every path of `tree` that it has censored: the same object when none, else a copy. */
const censorTree = (value: object, tree: PathTree): object => {
  let copy: Record<string, unknown> | null = null;
  for (const [key, sub] of tree) {
    if (!Object.hasOwn(value, key)) continue;
    const v = (value as Record<string, unknown>)[key];
    let next: unknown;
    if (sub === null) next = CENSOR;
    else if (v !== null && typeof v === 'object') next = censorTree(v, sub);
    else continue;
    if (next === v) continue;
    copy ??= { ...value };
    copy[key] = next;
  }
  return copy ?? value;
};

/**
 * Applies the `*.` paths to a line's fields (or a child's bindings), after the `err` serializer as pino
 * would: objects are copied only where something is censored, the caller's object is never changed.
 */
const redactNested = (obj: Record<string, unknown>): Record<string, unknown> => {
  let out: Record<string, unknown> | null = null;
  for (const key in obj) {
    const v = obj[key];
    if (v === null || typeof v !== 'object' || !Object.hasOwn(obj, key)) continue;
    const isErr = key === 'err' && !(SERIALISED_ERR in v);
    const base = isErr ? (pino.stdSerializers.err(v as Error) as object) : v;
    const censored = censorTree(base, NESTED_TREE);
    // Nothing to censor: pino serialises the original as usual.
    if (censored === base) continue;
    out ??= { ...obj };
    if (isErr) Object.defineProperty(censored, SERIALISED_ERR, { value: true, enumerable: false });
    out[key] = censored;
  }
  return out ?? obj;
};

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
  // Synchronous writes to stderr (pino's own default): a line is written when the call returns, so nothing is
  // lost on a crash, and lines never pile up in memory. The asynchronous mode writes at most 16 KiB per
  // event-loop turn: under sustained load (12k commands/s is ~4 MB/s of lines) its buffer grew without
  // bound, and every young-generation GC copied the waiting lines to the old generation.
  const dest = options.destination ?? pino.destination({ dest: 2, sync: true });
  const logger = pino(
    {
      name: options.name ?? 'opsbot',
      level: options.level ?? 'info',
      redact: { paths: PINO_REDACT_PATHS, censor: CENSOR },
      formatters: { log: redactNested, bindings: redactNested },
      serializers: { err: errSerializer },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbingStream(options.sanitizer, dest),
  );
  // pino applies formatters.bindings to the root's bindings only, not to a child's: redact those on the way
  // in. Children are created with Object.create(parent), so every descendant inherits this method.
  const pinoChild = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return pinoChild.call(this, redactNested(bindings), childOptions);
  } as Logger['child'];
  return logger;
};
